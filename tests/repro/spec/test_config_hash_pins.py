"""Config hashes of existing runs must not change (a finished job is skipped by its config hash).

The values were computed on main before issue #13 re-layered repro/ (commit be41314); a change here
means every finished job would run again.

Re-pinned once on purpose: issue #17 re-sized every cpu profile (commit 7f943e7); the smoke and paper
configs kept their hashes, and the cpu records committed with that re-run carry the new ones. The
noam_transformer cpu rows changed once more on purpose (its re-size to d = 128, 13k pairs, greedy
decoding, session 6 of #17) and again in session 7 (10k pairs, 668 steps, to fit 45 minutes); its
records were re-run each time.
"""

from __future__ import annotations

import hashlib

import pytest

from repro.spec import SPEC_DIR, config_hash, load_spec, resolve

# 174 rows before the optimizer suite (issue #16), unchanged; + 72 of its 4 specs x 6 arms x 3 profiles; +
# 35 of the schedule spec (issue #27): 7 arms x 5 profiles; + 80 of the budget-doubling profiles cpu_x2
# (issue #29), with label_smoothing's and mixup's cpu arms re-sized to the plateau; then (session 10 of #29)
# amp, freezeout, label_smoothing, mixup and snapshot_ensembles re-sized again, their cpu and cpu_x2 rows
# only; then (session 11) linear_scaling's 8 cpu and cpu_x2 rows (3,000 images, 40 epochs); then (session
# 14) the optimizer suite's tuned AdamW in every profile (its grid scored on training loss) and the image
# tasks' cpu and cpu_x2 rows (MLP 48 epochs; CNN 1,600 images in batches of 32, 64 epochs), textcls 48
# epochs; then (session 16) the language model's cpu and cpu_x2 rows (250 verses, 80 epochs); then (session
# 17) ulmfit_wordnet's cpu and cpu_x2 rows (40 epochs; the pinned freez row below too)
ALL_CONFIGS = (361, "7fd13b6fa6fe479bf0eb39a1d5947545eaa742fbf9ca08b45c7658ac33632922")
PINNED = {
    ("amp", "cpu", "bf16"):
        "fb841724b7147cf8f54f6416676e9121f5b123e1c3252c64155295cfec285c6b",
    ("freezeout", "cpu", "densenet_cubic_t50"):
        "d23cac9e6ba30f316ecc7a315ca448c74b3d345d8aa5cc2043fa22a3942aa929",
    ("label_smoothing", "cpu", "smoothed"):
        "7dfaff9ba73cd814c3716516d4939e078c1a899e9b1bd94220f1b49075339360",
    ("mixup", "smoke", "mixup"):
        "461d008df6d0e4ac34bd92e1ab26ad86b146bffa78af6913120887688e80e577",
    ("noam_transformer", "cpu", "noam"):
        "370262e0af6d9542a4256e7f47b0d16486f2ff53b156e0f85c3a7325b8026f6a",
    ("schedules", "cpu", "step"):
        "f0a03ce85aa659c1085df9617340fbbaa189ec25e3deb1d54d8c504488dfa2cc",
    ("snapshot_ensembles", "cpu", "indep_full"):
        "7e9dde1eb785e7abc2b4ba3ffe8f26427c72908cc3920a3cfe98b3a77df25537",
    ("ulmfit_wordnet", "cpu", "freez"):
        "ed664699c5d8f915cfd0344589547c7f9c8ef993cf791e9caa0542275577e3b7",
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
