"""tricks-repro: the `repro` command and its experiments (see repro/cli.py)."""

__version__ = "0.1.0"   # fallback when the package is not installed (repro.cli.package_version)
