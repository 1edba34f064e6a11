"""Script entry point: `python benchmarks/stats_calibration.py [--reps N]`
(== `python -m repro.bench.stats_calibration`).

The simulation code is repro/bench/stats_calibration.py (installed with the package).
"""

from repro.bench.stats_calibration import main

if __name__ == "__main__":
    main()
