"""Unit tests of the library core: shapes, the batched trainer against per-model references,
validation errors, determinism, divergence reports and the MNIST checksum."""

from __future__ import annotations

import shutil

import pytest
import torch

from overparam import data, models, reference
from overparam.chapter import from_preset
from overparam.train import DivergenceError, log_steps, loss_per_member, train



@pytest.fixture(autouse=True)
def float64_by_default():
    """These tests compare against references in float64; the default is restored afterwards, so
    no other test module runs under it (the chapters' code is float32)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


# ---------------------------------------------------------------------------- shapes
@pytest.mark.parametrize(
    "model, x, out_shape",
    [
        (models.TwoLayerReLU(d=5, width=7), torch.randn(11, 5), (3, 11)),
        (models.TwoLayerReLU(d=5, width=7, outputs=4, bias=True), torch.randn(3, 11, 5), (3, 11, 4)),
        (models.XORConvNet(k=6), data.xord_all_inputs(3), (3, 64)),
        (models.ConvNet(k=2), torch.rand(4, 1, 10, 10), (3, 4)),
        (models.DeepReLUMLP((5, 8, 6, 2)), torch.randn(11, 5), (3, 11, 2)),
        (models.DeepReLUMLP((5, 8, 1)), torch.randn(11, 5), (3, 11)),
    ],
)
def test_forward_shapes(model, x, out_shape):
    params = model.init(3, seed=1, dtype=torch.float64)
    assert all(v.shape[0] == 3 for v in params.values())
    assert model.forward(params, x.double()).shape == out_shape


def test_balanced_init_is_balanced():
    model = models.TwoLayerReLU(d=2, width=50, bias=True, output_init="balanced", init_scale=1e-3)
    p = model.init(4, seed=0)
    norms = torch.sqrt(p["w"].square().sum(-1) + p["b"].square())
    torch.testing.assert_close(p["a"].abs(), norms)
    assert (p["a"] > 0).any() and (p["a"] < 0).any()


def test_xord_labels_and_count():
    x = data.xord_all_inputs(4)
    y = data.xord_labels(x)
    assert x.shape == (256, 4, 2)
    # negatives: every position holds a P- pattern: 2^4 of the 4^4 inputs
    assert int((y == -1).sum()) == 16


# ---------------------------------------------------------------------------- trainer vs per-model reference
@pytest.mark.parametrize("loss", ["mse", "sse", "logistic"])
def test_batched_trainer_equals_per_model_loop_two_layer(loss):
    model = models.TwoLayerReLU(d=4, width=9, bias=True, output_init="gaussian", init_scale=0.5)
    params = model.init(4, seed=3, dtype=torch.float64)
    x = data.gaussian_inputs(20, 4, seed=1).double()
    y = torch.sign(torch.randn(20, generator=torch.Generator().manual_seed(0))).double()
    steps, lr = 25, (0.05 if loss != "sse" else 0.05 / 20)
    ref = reference.train_loop(reference.modules_from_params(model, params), x, y, steps=steps, lr=lr, loss=loss)
    for fast in (False, True):
        res = train(model, params, x, y, steps=steps, lr=lr, loss=loss, record_steps=range(steps + 1), progress=False, fast=fast)
        torch.testing.assert_close(res.loss, ref, atol=1e-6, rtol=1e-6)


def test_batched_trainer_equals_per_model_loop_xor_hinge():
    model = models.XORConvNet(k=5, init_scale=0.1)
    params = model.init(3, seed=2, dtype=torch.float64)
    x = data.xord_all_inputs(3).double()
    y = data.xord_labels(x)
    ref_modules = reference.modules_from_params(model, params)
    ref = reference.train_loop(ref_modules, x, y, steps=30, lr=0.05, loss="hinge")
    res = train(model, params, x, y, steps=30, lr=0.05, loss="hinge", record_steps=range(31), progress=False)
    torch.testing.assert_close(res.loss, ref, atol=1e-6, rtol=1e-6)
    for e, module in enumerate(ref_modules):
        w = module.conv.weight.detach()[:, 0, :]
        torch.testing.assert_close(torch.cat([res.params["w"][e], res.params["u"][e]]), w, atol=1e-6, rtol=1e-6)


def test_gradients_equal_per_model_autograd():
    """One step's gradients of the batched loss equal each model's own gradient (to 1e-6)."""
    model = models.TwoLayerReLU(d=3, width=6, bias=True, init_scale=0.7)
    params = model.init(5, seed=4, dtype=torch.float64)
    x = torch.randn(13, 3)
    y = torch.randn(13)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss_per_member(model.forward(leaves, x), y, "mse").sum().backward()
    for e, module in enumerate(reference.modules_from_params(model, params)):
        reference.module_loss(module(x), y, "mse").backward()
        torch.testing.assert_close(leaves["w"].grad[e], module.fc.weight.grad, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(leaves["b"].grad[e], module.fc.bias.grad, atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(leaves["a"].grad[e], module.a.grad, atol=1e-6, rtol=1e-6)


def test_per_member_data_equals_separate_runs():
    model = models.TwoLayerReLU(d=3, width=5)
    params = model.init(2, seed=0, dtype=torch.float64)
    x, y, _ = data.linear_teacher(15, 3, seed=5, members=2)
    both = train(model, params, x.double(), y.double(), steps=10, lr=0.1, progress=False)
    for e in range(2):
        one = train(model, {k: v[e : e + 1] for k, v in params.items()}, x[e].double(), y[e].double(), steps=10, lr=0.1, progress=False)
        torch.testing.assert_close(both.final_loss[e : e + 1], one.final_loss)


def test_sgd_runs_and_is_deterministic():
    model = models.TwoLayerReLU(d=3, width=5)
    params = model.init(3, seed=0, dtype=torch.float64)
    x, y, _ = data.linear_teacher(40, 3, seed=5)
    a = train(model, params, x, y, steps=50, lr=0.05, batch_size=8, seed=7, progress=False)
    b = train(model, params, x, y, steps=50, lr=0.05, batch_size=8, seed=7, progress=False)
    c = train(model, params, x, y, steps=50, lr=0.05, batch_size=8, seed=8, progress=False)
    torch.testing.assert_close(a.loss, b.loss, rtol=0, atol=0)
    assert not torch.equal(a.loss, c.loss)
    assert a.final_loss.mean() < a.loss[0].mean()


def test_same_seed_same_numbers():
    model = models.XORConvNet(k=4)
    assert torch.equal(model.init(2, seed=9)["w"], model.init(2, seed=9)["w"])
    assert not torch.equal(model.init(2, seed=9)["w"], model.init(2, seed=10)["w"])
    assert torch.equal(data.gaussian_inputs(5, 2, seed=3), data.gaussian_inputs(5, 2, seed=3))


def test_records_metrics_and_snapshots():
    model = models.TwoLayerReLU(d=2, width=4)
    params = model.init(3, seed=0)
    x, y, _ = data.linear_teacher(10, 2, seed=0)
    res = train(
        model, params, x, y, steps=20, lr=0.1, record_steps=[0, 5, 20], snapshot_steps=[0, 20],
        metrics={"norm": lambda p: p["w"].flatten(1).norm(dim=1)}, progress=False,
    )
    assert res.steps.tolist() == [0, 5, 20]
    assert res.loss.shape == (3, 3) and res.metrics["norm"].shape == (3, 3)
    assert res.snapshot_steps == [0, 20] and len(res.snapshots) == 2
    assert torch.equal(res.snapshots[0]["w"], params["w"])
    assert torch.equal(res.snapshots[1]["w"], res.params["w"].cpu())
    assert log_steps(1000, 20)[0] == 0 and log_steps(1000, 20)[-1] == 1000


# ---------------------------------------------------------------------------- divergence
def test_divergence_is_reported_with_members_and_steps():
    model = models.TwoLayerReLU(d=3, width=10, init_scale=1.0)
    params = model.init(3, seed=0)
    x, y, _ = data.linear_teacher(30, 3, seed=0)
    lr = torch.tensor([0.01, 50.0, 0.01], dtype=params["w"].dtype)
    with pytest.raises(DivergenceError, match="member 1 at step") as info:
        train(model, params, x, y, steps=200, lr=lr, progress=False)
    assert info.value.members == [1]
    masked = train(model, params, x, y, steps=200, lr=lr, progress=False, on_divergence="mask")
    assert masked.diverged.tolist() == [False, True, False]
    assert torch.isfinite(masked.final_loss[[0, 2]]).all()


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: models.TwoLayerReLU(d=0, width=3), r"d must be an integer in \[1, inf\]; got 0"),
        (lambda: models.TwoLayerReLU(d=2, width=3, init_scale=-1.0), "init_scale must be a finite number"),
        (lambda: models.TwoLayerReLU(d=2, width=3, output_init="zeros"), "output_init must be one of"),
        (lambda: models.XORConvNet(k=0), "k must be an integer"),
        (lambda: models.DeepReLUMLP((5,)), "sizes must have at least 2 entries"),
        (lambda: data.xord_all_inputs(11), r"d must be an integer in \[1, 10\]"),
        (lambda: data.corrupt_labels(torch.ones(4), 1.5), r"fraction must be a finite number in \[0, 1\]"),
        (lambda: data.mnist_split(classes=(3, 3)), "classes must be distinct"),
        (lambda: data.mnist_split(classes=(1,), pm1=True), "pm1=True needs exactly two classes"),
        (lambda: data.mnist_split(n_train=10**6), "n_train must be an integer"),
        (lambda: data.mnist_split(source="internet"), "source must be one of"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_trainer_validates_its_arguments():
    model = models.TwoLayerReLU(d=3, width=4)
    p = model.init(2)
    x, y = torch.randn(10, 3), torch.randn(10)
    with pytest.raises(ValueError, match="steps must be an integer"):
        train(model, p, x, y, steps=-1, lr=0.1)
    with pytest.raises(ValueError, match="lr must be a finite number"):
        train(model, p, x, y, steps=1, lr=0.0)
    with pytest.raises(ValueError, match="loss must be one of"):
        train(model, p, x, y, steps=1, lr=0.1, loss="l1")
    with pytest.raises(ValueError, match=r"y must have shape \(10,\) or \(2, 10\)"):
        train(model, p, x, torch.randn(9), steps=1, lr=0.1)
    with pytest.raises(ValueError, match="x has 5 members"):
        train(model, p, torch.randn(5, 10, 3), y, steps=1, lr=0.1)
    with pytest.raises(ValueError, match="batch_size must be an integer in"):
        train(model, p, x, y, steps=1, lr=0.1, batch_size=11)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 3\) or \(E=2, n, 3\); got \(10,\)"):
        train(model, p, torch.randn(10), y, steps=1, lr=0.1)
    with pytest.raises(ValueError, match="device must be one of"):
        from overparam import resolve_device

        resolve_device("tpu")


def test_from_preset_rejects_unknown_names_and_checks_fields():
    import dataclasses

    from overparam.chapter import ChapterConfig, Int, param

    @dataclasses.dataclass(frozen=True, repr=False)
    class C(ChapterConfig):
        n: int = param(1, Int(1, 10), "a count")

    presets = {"smoke": C(1), "book": C(2), "paper": C(3)}
    assert from_preset(presets, "book", n=5).n == 5
    with pytest.raises(ValueError, match="preset must be one of"):
        from_preset(presets, "huge")
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['m'\]"):
        from_preset(presets, "book", m=1)
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 10\]; got 11"):
        from_preset(presets, "book", n=11)
    assert repr(C(4)) == "C(\n    n=4,\n)"


# ---------------------------------------------------------------------------- data
def test_mnist_offline_split_is_disjoint_and_seeded():
    s = data.mnist_split(seed=0)
    assert s.x_train.shape == (8000, 784) and s.x_test.shape == (2000, 784)
    assert 0.0 <= float(s.x_train.min()) and float(s.x_train.max()) <= 1.0
    train_rows = {r.numpy().tobytes() for r in s.x_train}
    assert not any(r.numpy().tobytes() in train_rows for r in s.x_test[:300])
    two = data.mnist_split(classes=(0, 1), n_train=100, n_test=50, seed=1, unit_norm=True, pm1=True)
    assert set(two.y_train.tolist()) == {1.0, -1.0}
    torch.testing.assert_close(two.x_train.norm(dim=1), torch.ones(100, dtype=two.x_train.dtype))
    again = data.mnist_split(classes=(0, 1), n_train=100, n_test=50, seed=1, unit_norm=True, pm1=True)
    assert torch.equal(two.x_train, again.x_train)


def test_mnist_refuses_a_corrupted_file(tmp_path):
    src = data._offline_dir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(src / name, tmp_path / name)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").chmod(0o644)
    with open(tmp_path / "t10k-labels-idx1-ubyte.gz", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="failed its checksum"):
        data.mnist_split(data_dir=tmp_path)


def test_full_mnist_is_opt_in(tmp_path):
    with pytest.raises(ValueError, match="download_mnist"):
        data.mnist_split(source="full", data_dir=tmp_path)


def test_corrupt_labels_fraction():
    y = torch.ones(2, 1000)
    z = data.corrupt_labels(y, 0.4, seed=0)
    wrong = (z != y).double().mean().item()
    assert 0.15 < wrong < 0.25  # 40% re-drawn, about half of those flip
    assert torch.equal(data.corrupt_labels(y, 0.0), y)
