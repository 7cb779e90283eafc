"""Chapter 4 (Arora et al. 2019): the phenomenon at smoke size, the trained curve against the kernel
prediction at large width, the paired initialization the chapter uses, divergence handling, config
validation, determinism, and the notebook's glued numbers."""

from __future__ import annotations

import math

import pytest
import torch

from overparam import gram, models

#: Overrides that make every run diverge at ``smoke``. No step size makes this ReLU network's loss
#: explode (ReLUs die or the loss catapults back), so: a huge unpaired initialization (the loss is
#: above the trainer's ``max_loss`` at step 0) and a step beyond 2 / lambda_max (the kernel
#: prediction is unstable and grows).
DIVERGING = {"kappa": 1e5, "symmetric_init": False, "lr_scale": 5.0}


@pytest.fixture(scope="module")
def smoke(smoke_result):
    return smoke_result("gram")


@pytest.fixture(scope="module")
def nums(smoke):
    return gram.numbers(smoke)


# Margins below were set from a first measurement of the smoke preset (n = 200, m = 256, 60 steps,
# 2 seeds): loss(K)/loss(0) = 0.010 (true) vs 0.65 (random); bound 0.63 vs 4.6; test error 0.00 vs
# 0.48; ||W(K) - W(0)||_F 4.5 vs 7.8.


def test_true_labels_train_faster_than_random(smoke, nums):
    assert nums["loss_frac_true_n"] == nums["loss_frac_random_n"] == 2
    assert nums["loss_frac_random"] - nums["loss_frac_true"] > 0.3, nums
    assert nums["loss_frac_true_hi"] < nums["loss_frac_random_lo"]  # the intervals separate
    # every intermediate level sits in between, in order (mean over seeds)
    tr = smoke.training
    fr = torch.stack([tr.loss_fraction(float(p)).mean() for p in tr.levels])
    assert torch.all(fr[1:] > fr[:-1]), fr


def test_bound_grows_with_corruption_and_is_vacuous_for_random_labels(smoke, nums):
    b = smoke.training.bound.mean(0)  # (levels,)
    assert torch.all(b[1:] > b[:-1]), b
    assert nums["bound_true"] < 1.0 < nums["bound_random"]
    assert nums["bound_random"] - nums["bound_true"] > 1.0
    # the bound (for a loss in [0, 1]) holds for the true labels' test loss here
    assert nums["test_loss_true_hi"] < nums["bound_true"]
    assert nums["test_error_random"] - nums["test_error_true"] > 0.3
    assert 0.0 < nums["first_vacuous"] < 1.0


def test_distance_from_init_grows_with_corruption(smoke, nums):
    assert nums["dist_random"] > 1.3 * nums["dist_true"], nums
    # and stays below its k -> infinity value sqrt(y^T H^-1 y) (we stop long before convergence)
    assert torch.all(smoke.training.distance[-1] < smoke.training.distance_bound)


def test_kernel_spectrum_separates_true_and_random_labels(smoke, nums):
    assert nums["top10_true"] > 0.5 > 0.1 > nums["top10_random"]
    assert nums["lambda_min"] > 0
    sw = smoke.sweep
    torch.testing.assert_close(sw.projections.sum(-1), torch.full((sw.levels.numel(),), nums["n"], dtype=torch.float64))


def test_nothing_diverges_at_smoke(nums):
    assert nums["training_diverged"] == nums["prediction_diverged"] == 0
    assert nums["valid_runs"] == nums["training_runs"] == 6


# Tolerance for the kernel prediction (Theorem 4.1): at n = 40, m = 4096, 60 GD steps we measured
# max_k |loss(k) - predicted(k)| / loss(0) ~ 0.02 (random labels, worst); we require < 0.05, and that
# the deviation at m = 4096 is below the one at m = 256 (it shrinks like 1/sqrt(m)).
WIDE, NARROW, CURVE_TOL = 4096, 256, 0.05


def test_wide_network_follows_the_kernel_prediction():
    base = dict(n_train=40, corruption=(0.0, 1.0), seeds=1, steps=60, sweep=2)
    wide = gram.numbers(gram.run(gram.config("smoke", width=WIDE, **base), device="cpu", progress=False))
    narrow = gram.numbers(gram.run(gram.config("smoke", width=NARROW, **base), device="cpu", progress=False))
    assert wide["curve_error_max"] < CURVE_TOL, wide
    assert wide["curve_error_max"] < narrow["curve_error_max"]
    assert wide["gram_deviation"] < narrow["gram_deviation"]


def test_paired_init_gives_zero_output():
    model = models.TwoLayerReLU(d=5, width=8, output_init="sign", train_output=False, output_scale="ntk")
    p = models.paired_init(model.init(3, seed=1, dtype=torch.float64))
    x = torch.randn(7, 5, dtype=torch.float64)
    assert float(model.forward(p, x).abs().max()) < 1e-12  # zero up to summation order


def test_the_chapter_starts_from_zero_output(smoke):
    # u(0) = 0 (paired init), so the initial loss is 1/2 ||y||^2 = n / 2 for every run
    n = smoke.spectrum.n
    torch.testing.assert_close(smoke.training.loss[0], torch.full_like(smoke.training.loss[0], n / 2), rtol=1e-5, atol=0)


def test_diverged_runs_are_flagged_and_excluded():
    r = gram.run(gram.config("smoke", n_train=30, width=16, steps=5, corruption=(0.0, 1.0), seeds=1, sweep=2,
                             **DIVERGING), device="cpu", progress=False)
    assert bool(r.training.diverged.all()) and bool(r.prediction.diverged.all())
    nums = gram.numbers(r)
    assert nums["training_diverged"] == nums["prediction_diverged"] == 2
    assert nums["loss_frac_true_n"] == 0 and math.isnan(nums["loss_frac_true"])
    assert math.isnan(nums["curve_error_max"])
    assert "2 of 2" in gram.paper_vs_ours(r)[-1]["ours"]


def test_determinism():
    cfg = gram.config("smoke", n_train=30, width=32, steps=5, corruption=(0.0, 1.0), seeds=1, sweep=2)
    a = gram.run(cfg, device="cpu", progress=False)
    b = gram.run(cfg, device="cpu", progress=False)
    torch.testing.assert_close(a.training.loss, b.training.loss, rtol=0, atol=0)
    torch.testing.assert_close(a.training.bound, b.training.bound, rtol=0, atol=0)
    na, nb = gram.numbers(a), gram.numbers(b)
    na.pop("seconds"), nb.pop("seconds")  # wall time: the one number that may differ
    assert na == pytest.approx(nb, nan_ok=True, rel=0, abs=0)


@pytest.mark.parametrize(
    "field, value",
    [("corruption", (0.0, 1.5)), ("corruption", (0.5, 0.2)), ("width", 33), ("lr_scale", 12.0), ("lr_scale", 0.0),
     ("classes", (3, 3)), ("n_train", 5), ("sweep", 41), ("kappa", 0.0), ("steps", 0), ("dtype", "float16")],
)
def test_config_validation(field, value):
    with pytest.raises(ValueError, match=field):
        gram.config("book", **{field: value})


def test_unknown_override_and_preset():
    with pytest.raises(ValueError, match="unknown config field"):
        gram.config("book", widht=10)
    with pytest.raises(ValueError, match="preset"):
        gram.config("huge")


@pytest.mark.notebook
def test_notebook_glue(smoke_notebook):
    g = smoke_notebook("04_gram_matrix").glue
    assert g["gram_loss_frac_true"] + 0.3 < g["gram_loss_frac_random"]
    assert g["gram_loss_frac_true_hi"] < g["gram_loss_frac_random_lo"]
    assert g["gram_bound_true"] < 1.0 < g["gram_bound_random"]
    assert g["gram_test_error_random"] > g["gram_test_error_true"] + 0.3
    assert g["gram_dist_random"] > g["gram_dist_true"]
    assert g["gram_lambda_min"] > 0
    assert g["gram_training_diverged"] == 0
    assert isinstance(g["gram_claim"], str) and "Gram" in g["gram_claim"]
