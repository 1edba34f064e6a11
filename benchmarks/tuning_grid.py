"""Script entry point: `python benchmarks/tuning_grid.py [options]`
(== `python -m repro.bench.tuning_grid [options]`).

The benchmark code is repro/bench/tuning_grid.py (installed with the package).
"""

from repro.bench.tuning_grid import main

if __name__ == "__main__":
    main()
