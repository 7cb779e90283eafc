"""Chapter 3 (early alignment, optimization threshold; arXiv 2410.02348 and 2401.10791).

The phenomenon at the smoke preset (the shared ``smoke_result`` run), on ``alignment.numbers``. Margins
come from the intervals that ``numbers()`` gives (two conditions differ when their 95% intervals
separate), or from closed forms (the toy's plateau is the affine least-squares loss).
"""

from __future__ import annotations

import importlib
import math

import pytest
import torch

from overparam import alignment, data, models, train

#: Overrides at ``smoke`` that make every trained run (toy and threshold sweep) diverge.
DIVERGING = {"toy_lr": 100.0, "toy_init": 10.0, "lr": 50.0}

#: A run of a few seconds (determinism and divergence tests).
TINY = dict(toy_steps=200, toy_width=20, frames=4, n_grid=(8, 16), width=12, steps=300, seeds=2, scale_n=8,
            scales=(1.0,), starts=16, ascent_steps=20)

_report = importlib.import_module("overparam.alignment.report")


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


def test_toy_stalls_at_the_affine_least_squares_fit(nums):
    assert nums["toy_diverged"] == 0
    # Global minimum is 0; the plateau is the loss of the least-squares line (closed form), reached by
    # every seed, with a vanishing gradient, and the network's outputs are that line's values.
    assert nums["toy_plateau_ls"] > 0.05
    assert abs(nums["toy_plateau"] - nums["toy_plateau_ls"]) < 1e-4
    assert nums["toy_ls_gap"] < 1e-3
    assert nums["toy_grad"] < 1e-4
    # One maximiser of G on the circle (grid count), none negative; neurons gather on it first.
    assert nums["toy_grid_nmax"] == 1 and nums["toy_nmin"] == 0
    assert nums["toy_peak"] > 0.99


def test_toy_large_init_reaches_the_global_minimum():
    # Exercise 2's solution: with lambda = 1 the early phase is too short to align, and GD fits the points.
    r = alignment.run(alignment.config("smoke", **{**TINY, "toy_steps": 6000, "toy_width": 100}, toy_init=1.0),
                      device="cpu", progress=False)
    n = alignment.numbers(r)
    assert n["toy_diverged"] == 0 and n["toy_plateau_hi"] < 0.01 * n["toy_plateau_ls"]


def test_crossing_interpolates_in_log_n():
    assert _report._crossing((8, 16, 32), (0.0, 0.25, 0.75)) == pytest.approx(16 * math.sqrt(2))
    assert _report._crossing((8, 16), (0.6, 1.0)) == 8.0
    assert math.isinf(_report._crossing((8, 16), (0.0, 0.4)))


def test_transition_small_init(nums, smoke_result):
    cfg = smoke_result("alignment").config
    lo, hi = cfg.n_grid[0], cfg.n_grid[-1]
    assert nums["threshold_diverged"] == 0
    assert nums["params"] >= 4 * nums["n_max"]  # over-parameterized at every n
    # Most seeds interpolate at the smallest n, fewer at the largest: the binomial intervals separate.
    assert nums[f"interp_share_n{lo}_lo"] > nums[f"interp_share_n{hi}_hi"]
    # The share crosses 1/2 inside the grid, bootstrap interval included.
    assert lo <= nums["threshold_n_lo"] <= nums["threshold_n"] <= nums["threshold_n_hi"] < hi
    # Above it the test loss is below the large init's on the same data (paired ratio > 1) but above OLS.
    assert nums[f"large_over_small_n{hi}_lo"] > 1
    assert nums[f"test_over_ols_n{hi}_lo"] > 1


def test_large_init_interpolates_at_every_n(nums, smoke_result):
    cfg = smoke_result("alignment").config
    hi = cfg.n_grid[-1]
    for n in cfg.n_grid:
        assert nums[f"interp_large_n{n}"] >= 0.5
    assert nums[f"interp_large_n{hi}_lo"] > nums[f"interp_share_n{hi}_hi"]


def test_top_maximiser_and_alignment(nums):
    # The top maximiser of G turns toward beta* with n: intervals separate.
    assert nums["cos_beta_large_n_lo"] > nums["cos_beta_small_n_hi"]
    # Neurons sit on the ascent's end points at the end of the early phase, random directions do not.
    assert nums["align_score_lo"] > nums["align_random_hi"]
    assert nums["align_score"] > 0.99
    # The ascent is stopped: doubling its steps moves the kept quantities less than their interval.
    assert nums["cos_shift"] < nums["cos_beta_large_n_hi"] - nums["cos_beta_large_n_lo"]
    assert nums["align_shift"] < nums["align_score"] - nums["align_random"]


def test_init_scale(nums):
    last = int(nums["scale_count"]) - 1
    # A larger init (same data, lr and steps) fits the training set further: intervals separate.
    assert nums["scale_train_l0_lo"] > nums[f"scale_train_l{last}_hi"]


def test_large_init_is_paired_to_zero_output():
    cfg = alignment.config("smoke", **TINY)
    p = importlib.import_module("overparam.alignment.run")._init(cfg, 8, torch.device("cpu"))
    net = models.TwoLayerReLU(d=cfg.d, width=cfg.width)
    f = net.forward(p, torch.randn(5, cfg.d))
    S = cfg.seeds
    assert f[S:2 * S].abs().max() < 1e-6 and f[:S].abs().max() > 0  # large-init members output exactly 0
    assert f[2 * S:].abs().max() > 0  # the init-scale members (at scale_n) are balanced, not paired


def test_diverged_runs_never_count_as_converged():
    r = alignment.run(alignment.config("smoke", **TINY, **DIVERGING), device="cpu", progress=False)
    thr = r.threshold
    assert thr.diverged.all() and r.toy.diverged.all()
    assert not (thr.converged & thr.diverged).any()
    nums = alignment.numbers(r)
    assert math.isnan(nums["threshold_n"]) and math.isnan(nums["toy_plateau"]) and nums["toy_plateau_n"] == 0
    assert math.isnan(nums["train_small_n16"]) and nums["conv_small_n"] == 0 and nums["interp_share_n8_n"] == 0
    assert nums["unconverged"] == 0 and nums["threshold_diverged"] == thr.diverged.numel()


def test_determinism():
    cfg = alignment.config("smoke", **TINY)
    a = alignment.run(cfg, device="cpu", progress=False)
    b = alignment.run(cfg, device="cpu", progress=False)
    assert torch.equal(a.toy.loss, b.toy.loss)
    assert torch.equal(a.threshold.train, b.threshold.train) and torch.equal(a.threshold.test, b.threshold.test)
    assert torch.equal(a.extremal.cos_beta, b.extremal.cos_beta) and torch.equal(a.scales.train, b.scales.train)
    c = alignment.run(cfg.replace(seed=1), device="cpu", progress=False)
    assert not torch.equal(a.threshold.test, c.threshold.test)


@pytest.mark.parametrize(
    "field, value",
    [("toy_width", 1), ("toy_init", -1.0), ("frames", 100), ("n_grid", (32, 8)), ("n_grid", ()), ("width", 7),
     ("width", 10), ("large_init", 1e-7), ("lr", 0.0), ("noise", 0.0), ("steps", 0), ("grad_tol", -1.0),
     ("seeds", 1.5), ("scale_n", 7), ("scales", (1e-7,))],
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
    assert abs(g["align_toy_plateau"] - g["align_toy_plateau_ls"]) < 1e-4 and g["align_toy_grad"] < 1e-4
    assert g["align_interp_share_n8_lo"] > g["align_interp_share_n64_hi"]
    assert g["align_threshold_n_lo"] <= g["align_threshold_n"] <= g["align_threshold_n_hi"]
    assert g["align_cos_beta_large_n"] > g["align_cos_beta_small_n"]
    assert g["align_align_score_lo"] > g["align_align_random_hi"]
    assert "align_table" in g and "align_claim" in g


def test_norm_growth_rate_is_sign_a_times_G():
    # Exercise 3's solution: with f ~ 0 and balanced init, d log||w_j||/dt = sign(a_j) G(w_j / ||w_j||).
    m = models.TwoLayerReLU(d=3, width=16, init_scale=1e-6, output_init="balanced")
    p = m.init(1, seed=4, dtype=torch.float64)
    x, y, _ = data.linear_teacher(40, 3, noise=0.5, seed=5)
    x, y = x.double(), y.double()
    _, g = train.loss_and_grads(m, p, x, y, "mse")
    w, a = p["w"][0], p["a"][0]
    rate = -(w * g["w"][0]).sum(-1) / w.square().sum(-1)  # d log||w_j|| / dt under gradient flow
    G = alignment.G_values((w / w.norm(dim=-1, keepdim=True))[None], x[None], y[None])[0]
    torch.testing.assert_close(rate, torch.sign(a) * G, rtol=1e-4, atol=1e-9)
    assert (torch.sign(a) * G < 0).any()  # some neurons shrink
