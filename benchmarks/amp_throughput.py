"""Script entry point: `python benchmarks/amp_throughput.py [options]` == `repro bench amp [options]`.

The benchmark code is repro/bench/amp_throughput.py (installed with the package).
"""

import sys

from repro.bench.command import main

if __name__ == "__main__":
    sys.exit(main(["amp", *sys.argv[1:]]))
