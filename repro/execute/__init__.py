"""Execute jobs: here (local.py, N at once), on a Ray cluster (ray_cluster.py), under torchrun
(torchrun.py); dispatch.py picks one; progress.py says how jobs go (a bar weighted by their expected cost);
session.py is one `repro run` (what to train, its plan: plan_text.py); until_decided.py its looks.
"""
