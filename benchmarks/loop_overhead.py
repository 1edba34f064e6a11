"""Script entry point: `python benchmarks/loop_overhead.py [options]`
(== `python -m repro.bench.loop_overhead [options]`).

The benchmark code is repro/bench/loop_overhead.py (installed with the package).
"""

from repro.bench.loop_overhead import main

if __name__ == "__main__":
    main()
