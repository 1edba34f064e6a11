"""Script entry point: `python benchmarks/scaling.py [options]` == `python -m repro.bench.scaling [options]`.

The benchmark code is repro/bench/scaling.py (installed with the package).
"""

from repro.bench.scaling import main

if __name__ == "__main__":
    main()
