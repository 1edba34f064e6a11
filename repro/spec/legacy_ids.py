"""Spec ids before 'the file name is the id' (0.1): still accepted for one release, with a note."""

from __future__ import annotations

import sys

# old id -> the file stem that is the id now (repro/specs/<id>.yaml)
LEGACY_IDS = {
    "label-smoothing": "label_smoothing",
    "linear-scaling": "linear_scaling",
    "noam-transformer": "noam_transformer",
    "snapshot-ensembles": "snapshot_ensembles",
    "ulmfit-amazon": "ulmfit_amazon",
    "ulmfit-wordnet": "ulmfit_wordnet",
}


def current_id(spec_id: str) -> str:
    """The spec's id now (records written before the rename carry the old one)."""
    return LEGACY_IDS.get(spec_id, spec_id)


def renamed(name: str) -> str | None:
    """The new name of an old spec name given on the command line (with a one-line note on stderr)."""
    new = LEGACY_IDS.get(name.removesuffix(".yaml"))
    if new is not None:
        print(f"note: spec name {name!r} is deprecated and will be removed in the next release; "
              f"use {new!r} (the file name is the spec's id)", file=sys.stderr)
    return new
