"""Script entry point: `python benchmarks/cpu_step_speed.py [options]`
(== `python -m repro.bench.cpu_step_speed [options]`).

The benchmark code is repro/bench/cpu_step_speed.py (installed with the package).
"""

from repro.bench.cpu_step_speed import main

if __name__ == "__main__":
    main()
