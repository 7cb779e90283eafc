"""Chapter 3 (early alignment, optimization threshold; arXiv 2410.02348 and 2401.10791).

The phenomenon at the smoke preset (the shared ``smoke_result`` run), on ``alignment.numbers``, with
margins set from the measured values (smoke, seed 0: toy loss 0.0875 with gradient norm ~3e-7;
small-init train loss ~1e-12 at n=8 and ~0.1 at n=128 against OLS ~0.11; test loss ~0.5 -> ~0.14;
large-init test loss ~0.23 at n=128; extremal vectors ~50 -> ~2.3).
"""

from __future__ import annotations

import importlib
import math

import pytest
import torch

from overparam import alignment, data, models, train

#: Overrides at ``smoke`` that make every trained run (toy and threshold sweep) diverge.
DIVERGING = {"toy_lr": 100.0, "toy_init": 10.0, "lr_small": 50.0, "lr_large": 50.0}

#: A run of a few seconds (determinism and divergence tests).
TINY = dict(toy_steps=200, toy_width=20, frames=4, n_grid=(8, 16), steps=300, seeds=2, starts=16, ascent_steps=20)


@pytest.fixture(scope="module")
def nums(smoke_result):
    return alignment.numbers(smoke_result("alignment"))


def test_grad_norm_matches_autograd():
    torch.manual_seed(0)
    for bias, x in ((True, torch.randn(7, 3, dtype=torch.float64)), (False, torch.randn(2, 7, 3, dtype=torch.float64))):
        m = models.TwoLayerReLU(d=3, width=9, bias=bias, init_scale=0.7, output_init="balanced")
        p = m.init(2, seed=1, dtype=torch.float64)
        y = torch.randn(7, dtype=torch.float64)
        leaves = {k: v.clone().requires_grad_(True) for k, v in p.items()}
        ref = train.loss_per_member(m.forward(leaves, x), y, "mse")
        grads = torch.autograd.grad(ref.sum(), [leaves[k] for k in m.trainable])
        expect = sum(g.square().flatten(1).sum(1) for g in grads).sqrt()
        torch.testing.assert_close(alignment.grad_norm(m, p, x, y), expect)


def test_extremal_vectors_of_linear_population():
    # Large n: G ~ beta.w / 2, so one maximiser ~ beta and one minimiser ~ -beta.
    x, y, beta = data.linear_teacher(4000, 3, noise=0.1, seed=3, members=1)
    ext = alignment.extremal_vectors(x.double(), y.double(), starts=16, steps=200)[0]
    assert len(ext["max_G"]) == 1 and len(ext["min_G"]) == 1
    assert float(ext["max"][0] @ beta.double()) > 0.99
    assert float(ext["min"][0] @ beta.double()) < -0.99
    assert abs(float(ext["max_G"][0]) - 0.5) < 0.05  # G(beta) = ||beta|| / 2


def test_toy_stalls_above_global_minimum(nums):
    assert nums["toy_diverged"] == 0
    # Global minimum is 0; measured plateau 0.0875 for every seed, gradient norm ~3e-7.
    assert nums["toy_loss_min"] > 0.05
    assert nums["toy_grad"] < 1e-4
    # Neurons first gather on the maximiser of G (measured peak score 0.99998).
    assert nums["toy_peak"] > 0.99
    assert nums["toy_nmin"] == 0  # all labels positive: G >= 0 has no negative minimiser


def test_threshold_small_init(nums):
    assert nums["threshold_diverged"] == 0
    # Interpolation below the threshold, none above it (measured ~1e-12 and ~0.1 vs OLS ~0.11).
    assert nums["train_small_lo_hi"] < 1e-3
    assert nums["train_small_hi_lo"] > 0.5 * nums["ols_train_hi"]
    assert nums["conv_small_hi"] >= 2 / 3
    # Test loss drops with n and beats the large initialization above the threshold: the intervals separate.
    assert nums["test_small_hi_hi"] < nums["test_small_lo_lo"]
    assert nums["test_small_hi_hi"] < nums["test_large_hi_lo"]
    assert nums["test_small_hi"] < 1.5 * nums["ols_test_hi"]
    # Fewer extremal vectors with more data (measured ~50 -> ~2.3), top one close to beta*.
    assert nums["next_hi_hi"] < 0.25 * nums["next_lo_lo"]
    assert nums["cosbeta_hi"] > 0.8
    assert nums["early_hi"] > 0.95
    assert not math.isnan(nums["threshold_n"])


def test_large_init_keeps_fitting(nums):
    assert nums["train_large_lo_hi"] < 1e-3
    assert nums["train_large_hi_hi"] < 0.5 * nums["train_small_hi_lo"]  # measured ~0.025 vs ~0.1


def test_large_init_is_paired_to_zero_output():
    cfg = alignment.config("smoke", **TINY)
    p = importlib.import_module("overparam.alignment.run")._init(cfg, 8, torch.device("cpu"))
    net = models.TwoLayerReLU(d=cfg.d, width=cfg.width)
    f = net.forward(p, torch.randn(5, cfg.d))
    S = cfg.seeds
    assert f[S:].abs().max() < 1e-6 and f[:S].abs().max() > 0  # large-init members output exactly 0


def test_diverged_runs_never_count_as_converged():
    r = alignment.run(alignment.config("smoke", **TINY, **DIVERGING), device="cpu", progress=False)
    thr = r.threshold
    assert thr.diverged.all() and r.toy.diverged.all()
    assert not (thr.converged & thr.diverged).any()
    nums = alignment.numbers(r)
    assert math.isnan(nums["threshold_n"]) and math.isnan(nums["toy_loss"]) and nums["toy_loss_n"] == 0
    assert math.isnan(nums["train_small_hi"]) and nums["conv_small_hi_n"] == 0
    assert nums["unconverged"] == 0 and nums["threshold_diverged"] == thr.diverged.numel()


def test_determinism():
    cfg = alignment.config("smoke", **TINY)
    a = alignment.run(cfg, device="cpu", progress=False)
    b = alignment.run(cfg, device="cpu", progress=False)
    assert torch.equal(a.toy.loss, b.toy.loss)
    assert torch.equal(a.threshold.train, b.threshold.train) and torch.equal(a.threshold.test, b.threshold.test)
    assert torch.equal(a.extremal.n_max, b.extremal.n_max)
    c = alignment.run(cfg.replace(seed=1), device="cpu", progress=False)
    assert not torch.equal(a.threshold.test, c.threshold.test)


@pytest.mark.parametrize(
    "field, value",
    [("toy_width", 1), ("toy_init", -1.0), ("frames", 100), ("n_grid", (32, 8)), ("n_grid", ()), ("width", 7),
     ("large_init", 1e-7), ("lr_small", 0.0), ("noise", 0.0), ("steps", 0), ("grad_tol", -1.0), ("seeds", 1.5)],
)
def test_config_validation(field, value):
    with pytest.raises(ValueError, match=field):
        alignment.config("smoke", **{field: value})


def test_config_unknown_field_and_preset():
    with pytest.raises(ValueError, match="widht"):
        alignment.config("book", widht=10)
    with pytest.raises(ValueError, match="preset"):
        alignment.config("huge")
    with pytest.raises(ValueError, match="Config"):
        alignment.run({"seed": 0})


@pytest.mark.notebook
def test_notebook_smoke(smoke_notebook):
    g = smoke_notebook("03_early_alignment").glue
    assert g["align_toy_loss"] > 0.05 and g["align_toy_grad"] < 1e-4
    assert g["align_train_small_lo"] < 1e-3
    assert g["align_train_small_hi"] > 0.5 * g["align_ols_train_hi"]
    assert g["align_test_small_hi"] < g["align_test_small_lo"]
    assert g["align_test_small_hi"] < g["align_test_large_hi"]
    assert g["align_next_hi"] < g["align_next_lo"]
    assert not math.isnan(g["align_threshold_n"])
    assert g["align_test_small_hi_lo"] <= g["align_test_small_hi"] <= g["align_test_small_hi_hi"]
    assert "align_table" in g and "align_claim" in g
