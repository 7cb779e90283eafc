"""The hand-written fast path of TwoLayerReLU (``loss_and_grads``) equals the autograd path to 1e-6
(float64) in every case it covers, and declines (returns None) the cases it does not cover."""

from __future__ import annotations

import importlib
import itertools

import pytest
import torch

from overparam import _fastpath, models, reference
from overparam.train import loss_per_member, train

train_module = importlib.import_module("overparam.train")

DT = torch.float64


def autograd_loss_and_grads(model, params, x, y, loss):
    leaves = {k: params[k].detach().clone().requires_grad_(True) for k in model.trainable}
    lv = loss_per_member(model.forward({**params, **leaves}, x), y, loss)
    grads = torch.autograd.grad(lv.sum(), [leaves[k] for k in model.trainable])
    return lv.detach(), dict(zip(model.trainable, grads))


def problem(E, n, d, per_x, per_y, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((E, n, d) if per_x else (n, d), generator=g, dtype=DT)
    y = torch.sign(torch.randn((E, n) if per_y else (n,), generator=g, dtype=DT))
    return x, y


CASES = list(
    itertools.product(
        ["mse", "sse", "hinge", "logistic"],  # loss
        [False, True],  # bias
        [False, True],  # train_output
        [False, True],  # per-member x
        [False, True],  # per-member y
        [1.0, "ntk"],  # output_scale
    )
)


@pytest.mark.parametrize("loss, bias, train_output, per_x, per_y, scale", CASES)
def test_fast_path_equals_autograd(loss, bias, train_output, per_x, per_y, scale):
    model = models.TwoLayerReLU(d=4, width=7, bias=bias, train_output=train_output, output_scale=scale, init_scale=0.8)
    E, n = 11, 17
    params = model.init(E, seed=1, dtype=DT)
    x, y = problem(E, n, 4, per_x, per_y)
    want_loss, want = autograd_loss_and_grads(model, params, x, y, loss)
    # the default chunking (one chunk here), 3 members per chunk (a ragged last chunk), 1 member per chunk
    for chunk_bytes in (None, 3 * n * 7 * 8, 1):
        got_loss, got = _fastpath.two_layer_loss_and_grads(model, params, x, y, loss, chunk_bytes=chunk_bytes)
        assert set(got) == set(model.trainable)
        torch.testing.assert_close(got_loss, want_loss, atol=1e-6, rtol=1e-6)
        for k in want:
            assert got[k].shape == params[k].shape
            torch.testing.assert_close(got[k], want[k], atol=1e-6, rtol=1e-6)
    # the public method gives the same
    got_loss, got = model.loss_and_grads(params, x, y, loss)
    torch.testing.assert_close(got_loss, want_loss, atol=1e-6, rtol=1e-6)


def test_fast_path_at_relu_kinks_matches_autograd():
    """Pre-activations exactly 0 (integer data): the subgradient convention equals autograd's (0)."""
    model = models.TwoLayerReLU(d=2, width=6, bias=True)
    params = {
        "w": torch.tensor([[[1.0, -1.0], [0.0, 1.0], [2.0, 0.0], [1.0, 1.0], [-1.0, 0.0], [0.0, 0.0]]], dtype=DT),
        "b": torch.tensor([[0.0, -1.0, 0.0, 1.0, 0.0, 0.0]], dtype=DT),
        "a": torch.tensor([[1.0, -2.0, 0.5, 1.0, -1.0, 3.0]], dtype=DT),
    }
    x = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [-1.0, 2.0]], dtype=DT)
    y = torch.tensor([1.0, -1.0, 1.0, 0.5], dtype=DT)
    for loss in ("mse", "hinge"):
        want_loss, want = autograd_loss_and_grads(model, params, x, y, loss)
        got_loss, got = model.loss_and_grads(params, x, y, loss)
        torch.testing.assert_close(got_loss, want_loss)
        for k in want:
            torch.testing.assert_close(got[k], want[k])


def test_fast_path_declines_what_it_does_not_cover():
    model = models.TwoLayerReLU(d=3, width=4, outputs=2)
    p = model.init(2, dtype=DT)
    assert model.loss_and_grads(p, torch.randn(5, 3, dtype=DT), torch.randn(5, 2, dtype=DT), "mse") is None
    model = models.TwoLayerReLU(d=3, width=4)
    p = model.init(2, dtype=DT)
    x = torch.randn(5, 3, dtype=DT)
    assert model.loss_and_grads(p, x, torch.randn(5, dtype=DT), "l1") is None
    assert model.loss_and_grads(p, x.float(), torch.randn(5, dtype=DT), "mse") is None  # mixed dtypes
    assert model.loss_and_grads(p, x, torch.randn(6, dtype=DT), "mse") is None  # y does not match x


@pytest.mark.parametrize("loss", ["mse", "sse", "hinge", "logistic"])
@pytest.mark.parametrize("bias, train_output, per_x", [(False, True, False), (True, True, False), (True, False, True), (False, True, True)])
def test_trainer_fast_equals_autograd_over_steps(loss, bias, train_output, per_x):
    model = models.TwoLayerReLU(d=3, width=8, bias=bias, train_output=train_output, init_scale=0.6)
    E, n = 5, 24
    params = model.init(E, seed=2, dtype=DT)
    x, y = problem(E, n, 3, per_x, per_y=per_x, seed=3)
    lr = 0.1 / n if loss == "sse" else 0.1
    kw = dict(steps=15, lr=lr, loss=loss, record_steps=range(16), progress=False)
    slow = train(model, params, x, y, fast=False, **kw)
    fast = train(model, params, x, y, fast=True, **kw)
    torch.testing.assert_close(fast.loss, slow.loss, atol=1e-6, rtol=1e-6)
    for k in params:
        torch.testing.assert_close(fast.params[k], slow.params[k], atol=1e-6, rtol=1e-6)


def test_trainer_fast_path_sgd_and_chunks_equal_autograd(monkeypatch):
    """Minibatch SGD (per-member batches, (E, b, d)) and several chunks through the trainer."""
    monkeypatch.setattr(_fastpath, "_CPU_CHUNK_BYTES", 2 * 9 * 8 * 8)  # two members per chunk
    model = models.TwoLayerReLU(d=4, width=9, bias=True, output_scale="ntk")
    params = model.init(7, seed=5, dtype=DT)
    x, y = problem(7, 30, 4, per_x=False, per_y=False, seed=6)
    kw = dict(steps=20, lr=0.2, batch_size=8, seed=1, record_steps=range(0, 21, 5), progress=False)
    slow = train(model, params, x, y, fast=False, **kw)
    fast = train(model, params, x, y, fast=True, **kw)
    torch.testing.assert_close(fast.loss, slow.loss, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(fast.params["w"], slow.params["w"], atol=1e-6, rtol=1e-6)


def test_fast_trainer_equals_the_per_model_loop():
    """The same numbers as one nn.Module per member with torch.optim.SGD (what bench/ compares with)."""
    model = models.TwoLayerReLU(d=5, width=12, output_scale="ntk", init_scale=0.5)
    params = model.init(4, seed=7, dtype=DT)
    x, y = problem(4, 40, 5, per_x=False, per_y=False, seed=8)
    modules = [mod.to(DT) for mod in reference.modules_from_params(model, params)]
    ref = reference.train_loop(modules, x, y, steps=30, lr=0.1, loss="mse")
    res = train(model, params, x, y, steps=30, lr=0.1, loss="mse", record_steps=range(31), progress=False)
    torch.testing.assert_close(res.loss, ref, atol=1e-6, rtol=1e-6)


def test_fast_path_does_not_touch_params_and_reuses_no_output_buffers():
    model = models.TwoLayerReLU(d=3, width=5, bias=True)
    params = model.init(3, seed=0, dtype=DT)
    before = {k: v.clone() for k, v in params.items()}
    x, y = problem(3, 10, 3, per_x=False, per_y=False)
    l1, g1 = model.loss_and_grads(params, x, y, "mse")
    saved = {k: v.clone() for k, v in g1.items()}
    model.loss_and_grads(params, 2 * x, y, "mse")  # a second call must not overwrite the first's grads
    for k in params:
        assert torch.equal(params[k], before[k])
    for k in g1:
        assert torch.equal(g1[k], saved[k])


@pytest.mark.parametrize("loss, bias, per_x, per_y, scale", [(lo, b, px, py, sc) for lo, b, to, px, py, sc in CASES if to])
def test_loss_only_path_equals_the_forward(loss, bias, per_x, per_y, scale):
    """``two_layer_loss`` (the trainer's full loss) equals ``loss_per_member(model.forward)``, in one
    chunk, ragged chunks and one member per chunk."""
    model = models.TwoLayerReLU(d=4, width=7, bias=bias, output_scale=scale, init_scale=0.8)
    E, n = 11, 17
    params = model.init(E, seed=3, dtype=DT)
    x, y = problem(E, n, 4, per_x, per_y, seed=4)
    want = loss_per_member(model.forward(params, x), y, loss)
    for chunk_bytes in (None, 3 * n * 7 * 8, 1):
        torch.testing.assert_close(_fastpath.two_layer_loss(model, params, x, y, loss, chunk_bytes=chunk_bytes), want)
    assert _fastpath.two_layer_loss(model, params, x, y, "l1") is None


@pytest.mark.parametrize("fast", [True, False])
def test_trainer_full_loss_in_member_chunks(monkeypatch, fast):
    """The recorded SGD losses (full loss without gradients) are the same with the evaluation split
    into chunks of two members (fast=False: model.forward per chunk) as in one pass."""
    model = models.TwoLayerReLU(d=4, width=9, bias=True, output_scale="ntk")
    params = model.init(7, seed=5, dtype=DT)
    x, y = problem(7, 30, 4, per_x=True, per_y=True, seed=6)
    kw = dict(steps=12, lr=0.2, batch_size=8, seed=1, record_steps=range(0, 13, 3), progress=False, fast=fast)
    whole = train(model, params, x, y, **kw)
    monkeypatch.setattr(train_module, "LOSS_CHUNK_BYTES", {"cpu": 2 * model.forward_numel(1, 30) * 8, "cuda": 1})
    monkeypatch.setattr(_fastpath, "_CPU_CHUNK_BYTES", 2 * 9 * 30 * 8)
    chunked = train(model, params, x, y, **kw)
    torch.testing.assert_close(chunked.loss, whole.loss, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(chunked.params["w"], whole.params["w"], atol=1e-12, rtol=1e-12)


def test_memory_guard_counts_chunks_on_the_fast_path(monkeypatch):
    """A run whose full (E, n, m) forward would exceed the memory limit is accepted on the fast path
    (which never holds it) and refused on the autograd path (which does)."""
    from overparam import device

    model = models.TwoLayerReLU(d=4, width=100)
    params = model.init(200, seed=0)  # one full forward: 2 x 200 x 1000 x 100 floats = 160 MB
    x, y = problem(200, 1000, 4, per_x=False, per_y=False)
    x, y = x.float(), y.float()
    monkeypatch.setattr(device, "MEMORY_LIMIT_GB", 0.1)
    res = train(model, params, x, y, steps=1, lr=0.1, progress=False)
    assert res.loss.shape == (2, 200)
    with pytest.raises(ValueError, match="memory limit"):
        train(model, params, x, y, steps=1, lr=0.1, progress=False, fast=False)


def test_huge_finite_parameters_are_not_divergence():
    """The divergence check sums each member's parameters: a sum that overflows float32 while every
    entry is finite is rechecked exactly and not reported (inputs 0: the loss stays finite)."""
    model = models.TwoLayerReLU(d=3, width=4, init_scale=1.0)
    params = model.init(2, seed=0)
    params["w"][0, 0, :2] = 3e38  # finite, but the row sum overflows
    x, y = torch.zeros(5, 3), torch.ones(5)
    res = train(model, params, x, y, steps=2, lr=0.1, record_steps=[0, 1, 2], progress=False)
    assert res.diverged_at.tolist() == [-1, -1]
    assert torch.isinf(res.params["w"][0].sum())
