"""timm/<name> and torchvision/<name> models (repro/tasks/image/external.py): built from scratch with the
data's classes and input channels, small inputs work, spec checks accept them and reject unknown names."""

import pytest
import torch

from repro.cli import SPEC_DIR, main
from repro.errors import UserError
from repro.spec import load_spec
from repro.spec.overrides import OverrideError, parse_overrides, resolve_overridden
from repro.tasks.image.models import build_model

# torchvision's resnet18 has 11,689,512 parameters with 1000 classes (its model card); the classifier is
# Linear(512, K) and the stem Conv2d(C, 64, 7x7, bias=False)
RESNET18_1000 = 11_689_512


def resnet18_params(classes: int, channels: int) -> int:
    return RESNET18_1000 - (512 * 1000 + 1000) + (512 * classes + classes) - 64 * 3 * 49 + 64 * channels * 49


@pytest.mark.parametrize("name", ["timm/resnet18", "torchvision/resnet18"])
@pytest.mark.parametrize(("channels", "size", "classes"), [(1, 28, 10), (3, 32, 7)])
def test_resnet18_trains_a_step_on_small_images(name, channels, size, classes, one_thread):
    model = build_model({"name": name}, classes, channels, seed=0)
    assert sum(p.numel() for p in model.parameters()) == resnet18_params(classes, channels)
    x, y = torch.randn(4, channels, size, size), torch.arange(4) % classes
    out = model(x)
    assert out.shape == (4, classes)
    torch.nn.functional.cross_entropy(out, y).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_channels_last_and_bf16_as_the_loop_uses_them(one_thread):
    model = build_model({"name": "timm/resnet18"}, 10, 3, seed=0).to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.shape == (2, 10) and out.dtype == torch.bfloat16


def test_same_seed_same_weights_and_kwargs_reach_the_library():
    a = build_model({"name": "timm/resnet18", "drop_rate": 0.3}, 10, 3, seed=1)
    b = build_model({"name": "timm/resnet18", "drop_rate": 0.3}, 10, 3, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert a.drop_rate == 0.3


@pytest.mark.parametrize("cfg", [{"name": "timm/resnet18", "pretrained": True},
                                 {"name": "torchvision/resnet18", "weights": "DEFAULT"},
                                 {"name": "timm/not_a_model"}])
def test_no_downloads_and_unknown_names_are_user_errors(cfg):
    with pytest.raises(UserError, match="from scratch|list the names"):
        build_model(cfg, 10, 3)


def _resolve(*texts):
    spec = load_spec(SPEC_DIR / "label_smoothing.yaml")
    return resolve_overridden(spec, "smoke", parse_overrides(list(texts)))


def test_spec_checks_accept_library_models():
    configs = _resolve("model={name: timm/resnet18, drop_rate: 0.1}")
    assert {cfg.model.name for cfg in configs.values()} == {"timm/resnet18"}
    assert {cfg.model.name for cfg in _resolve("model={name: torchvision/resnet18}").values()} == {
        "torchvision/resnet18"}


@pytest.mark.parametrize(("text", "words"), [
    ("model={name: timm/resnet1800}", ["model.name", "unknown timm model", "timm.list_models"]),
    ("model={name: torchvision/resnet1800}", ["unknown torchvision model", "list_models"]),
    ("model={name: resnet1800}", ["unknown model", "timm/<name>", "torchvision/<name>"]),
])
def test_unknown_model_names_are_one_line_saying_how_to_find_names(text, words):
    with pytest.raises(OverrideError) as err:
        _resolve(text)
    message = str(err.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_cli_exits_2_with_one_line_on_an_unknown_timm_model(tmp_path, capsys):
    argv = ["run", "label_smoothing", "--profile", "smoke", "--set", "model={name: timm/resnet1800}",
            "--results-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "timm.list_models" in err
