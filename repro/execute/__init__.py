"""Execute jobs: here (local.py, N at once), on a Ray cluster (ray_cluster.py), under torchrun
(torchrun.py); dispatch.py picks one; progress.py says how jobs ended.
"""
