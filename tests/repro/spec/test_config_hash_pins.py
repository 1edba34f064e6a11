"""Config hashes of existing runs must not change (a finished job is skipped by its config hash).

The values were computed on main before issue #13 re-layered repro/ (commit be41314); a change here
means every finished job would run again.
"""

from __future__ import annotations

import hashlib

import pytest

from repro.spec import SPEC_DIR, config_hash, load_spec, resolve

# 174 rows before the optimizer suite (issue #16), unchanged; + 72 of its 4 specs x 6 arms x 3 profiles
ALL_CONFIGS = (246, "f9eba786ce0bd09ddb2ddeccc2e8943851e17ff1b1695c56c43511c25fadd52c")
PINNED = {
    ("amp", "cpu", "bf16"):
        "d0068fd8903a84ad468c8f15d16332d691349b4f331a67b63f2ec4077ad1f261",
    ("freezeout", "cpu", "densenet_cubic_t50"):
        "0068462347c21aa7f38fa8b4187da85d499e212b0c6d904cb78c8db126abe4b1",
    ("label_smoothing", "cpu", "smoothed"):
        "26fe8a23488a67b81ce4f7596acae3c5d707c8c22025761b3952f595150d6145",
    ("mixup", "smoke", "mixup"):
        "461d008df6d0e4ac34bd92e1ab26ad86b146bffa78af6913120887688e80e577",
    ("noam_transformer", "cpu", "noam"):
        "80f0691587257ffaf482ffb48ea60f613568f80f4ee439595549d2b1b3442ade",
    ("snapshot_ensembles", "cpu", "indep_full"):
        "86091d63e74b8d1f3dddb334543be4669dff28b52e30d18446cb4f8e464577dd",
    ("ulmfit_wordnet", "cpu", "freez"):
        "b25371d88e90cdc8fda25ee56c85a602b6a4ebde5cc7e8f04b94cf5a112a8bc9",
}


@pytest.mark.parametrize(("stem", "profile", "arm"), sorted(PINNED))
def test_config_hash_of_a_resolved_config_is_unchanged(stem, profile, arm):
    cfg = resolve(load_spec(SPEC_DIR / f"{stem}.yaml"), profile)[arm]
    assert config_hash(cfg) == PINNED[stem, profile, arm]


def test_config_hashes_of_every_arm_of_every_profile_are_unchanged():
    rows = []
    for path in sorted(SPEC_DIR.glob("*.yaml")):
        spec = load_spec(path)
        for profile in sorted(spec.profiles):
            rows += [f"{path.stem}/{profile}/{arm}={config_hash(cfg)}"
                     for arm, cfg in sorted(resolve(spec, profile).items())]
    assert (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest()) == ALL_CONFIGS
