"""`python -m repro ...` (also what torchrun runs) is the `repro` command."""

import sys

from repro.cli import main

sys.exit(main())
