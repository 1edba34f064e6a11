"""Image classification: datasets, models and the task plugin."""
