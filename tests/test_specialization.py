"""Chapter 2 (student specialization, Tian 2020): the phenomenon at smoke size (on ``numbers()``),
the correlation measure, the teacher and the fan-out measures against closed forms, config
validation, determinism, and the notebook's glued numbers.

Margins were set from the smoke run measured before writing these tests (seed 0, 4 seeds):
recovery 1x 0.65 vs 10x 1.00; weakest half 0.42 vs 1.00; early (5% of training) strongest half
0.50 vs weakest half 0.00 at 10x; fan-out share on specialized nodes at 10x 0.91; final evaluation
loss 1x / 10x about 18-20.
"""

from __future__ import annotations

import ast
import math

import pytest
import torch

from overparam import specialization as spec
from overparam.models import DeepReLUMLP

#: Overrides at ``smoke`` that make every run diverge (the contract test): a step size 100x the
#: preset's; the runs blow up within a few steps, so 100 steps suffice.
DIVERGING = {"lr": 10.0, "steps": 100}


@pytest.fixture(scope="module")
def result(smoke_result):
    return smoke_result("specialization")


@pytest.fixture(scope="module")
def nums(result):
    return spec.numbers(result)


def test_overrealization_recovers_more_teacher_nodes(nums):
    assert nums["diverged"] == 0 and nums["runs"] == 16
    assert nums["rate_hi"] >= nums["rate_lo"] + 0.15
    # the gain is on the weak teacher nodes, and there the 95% intervals separate
    assert nums["weak_hi"] >= nums["weak_lo"] + 0.25
    assert nums["weak_hi_lo"] > nums["weak_lo_hi"], (nums["weak_lo_hi"], nums["weak_hi_lo"])
    assert nums["weak_hi_n"] == 4 * 3  # 4 seeds x the weakest 3 of m=5 teacher nodes


def test_strong_teacher_nodes_are_learned_first(nums):
    assert nums["early_strong_hi"] >= nums["early_weak_hi"] + 0.25, (nums["early_strong_hi"], nums["early_weak_hi"])


def test_lshape_and_loss(result, nums):
    cfg = result.config
    assert nums["fanshare_hi"] >= 0.75
    assert nums["loss_ratio"] >= 3 and nums["loss_ratio_lo"] > 1
    assert nums["loss_lo"] > nums["loss_hi"]
    # shapes of the recorded quantities
    T, E, hi = len(result.sweep.steps), cfg.seeds, cfg.multis[-1]
    w = result.sweep.at(hi)
    assert w.corr.shape == (T, E, cfg.m, hi * cfg.m)
    assert w.eval_loss.shape == (T, E)
    assert w.best_corr.shape == w.fanout.shape == (E, hi * cfg.m)
    assert result.sweep.diverged.shape == (len(cfg.multis), E)


def test_fanout_measures_closed_form():
    """Seed 0: nodes with corr (0.99, 0.5, 0.97), fan-out (3, 1, 1): share (9+1)/11, ratio 1/2.
    Seed 1: every node specialized: share 1, ratio NaN (no non-specialized node)."""
    w = spec.Width(
        multi=1, width=3, train_loss=torch.zeros(1, 2), eval_loss=torch.tensor([[1.0, 1.0], [0.2, 0.4]]),
        corr=torch.zeros(2, 2, 3, 3), best_corr=torch.tensor([[0.99, 0.5, 0.97], [0.99, 0.98, 0.96]]),
        fanout=torch.tensor([[3.0, 1.0, 1.0], [1.0, 1.0, 1.0]]), params={}, diverged=torch.tensor([False, False]),
    )
    torch.testing.assert_close(spec.fanout_shares(w, 0.95), torch.tensor([10 / 11, 1.0], dtype=torch.float64))
    ratios = spec.fanout_ratios(w, 0.95)
    assert ratios[0].item() == pytest.approx(0.5) and math.isnan(ratios[1].item())
    torch.testing.assert_close(spec.final_eval_losses(w), torch.tensor([0.2, 0.4]))


def test_correlation_measure():
    g = torch.Generator().manual_seed(0)
    h = torch.relu(torch.randn(2, 500, 3, generator=g))
    s = torch.cat([2.0 * h[..., :1] + 1.0, torch.zeros(2, 500, 1), h[..., 1:2]], dim=-1)
    c = spec.activation_correlation(h, s)
    assert c.shape == (2, 3, 3)
    torch.testing.assert_close(c[:, 0, 0], torch.ones(2), atol=1e-5, rtol=0)  # affine copy: 1
    torch.testing.assert_close(c[:, :, 1], torch.zeros(2, 3))  # dead node: 0
    torch.testing.assert_close(c[:, 1, 2], torch.ones(2), atol=1e-5, rtol=0)
    assert float(c.abs().max()) <= 1 + 1e-5


def test_teacher_follows_official_construction():
    cfg = spec.config("smoke", seeds=3)
    t = spec.make_teacher(cfg)
    assert t["W0"].shape == (3, cfg.m, cfg.d) and t["W1"].shape == (3, cfg.c, cfg.m)
    torch.testing.assert_close(t["W0"].norm(dim=-1), torch.ones(3, cfg.m, dtype=torch.float64))
    assert torch.all(t["b0"] == cfg.bias) and torch.all(t["b1"] == cfg.bias)
    for e in range(3):  # distinct first-layer rows, distinct fan-out rows
        assert len({tuple(r.tolist()) for r in t["W0"][e]}) == cfg.m
        assert len({tuple(r.tolist()) for r in t["W1"][e]}) == cfg.c
    # fan-out of node j (1-based) is a grid value divided by j**p
    grid = torch.tensor(spec.WEIGHT_CHOICES, dtype=torch.float64)
    undone = t["W1"] * torch.arange(1, cfg.m + 1, dtype=torch.float64).pow(cfg.decay)
    assert torch.all((undone[..., None] - grid).abs().amin(-1) < 1e-9)
    # a student equal to the teacher recovers every teacher node
    x = torch.randn(3, 400, cfg.d, dtype=torch.float64)
    h = DeepReLUMLP((cfg.d, cfg.m, cfg.c)).activations(t, x)[0]
    assert torch.all(spec.activation_correlation(h, h).amax(-1) > 0.999)


def test_separate_vectors_redraws_duplicates():
    """With a 2-column grid there are only 80 nonzero vectors: 60 rows force many redraws."""
    v = spec.separate_vectors(2, 60, 2, torch.Generator().manual_seed(1))
    for e in range(2):
        rows = {tuple(r.tolist()) for r in v[e]}
        assert len(rows) == 60 and (0.0, 0.0) not in rows


@pytest.mark.parametrize(
    "override, field",
    [
        ({"d": 0}, "d"),
        ({"multis": (1, 0)}, "multis"),
        ({"multis": (2, 2)}, "multis"),
        ({"multis": ()}, "multis"),
        ({"threshold": 1.0}, "threshold"),
        ({"decay": -1.0}, "decay"),
        ({"lr": 0.0}, "lr"),
        ({"batch_size": 10_000}, "batch_size"),
        ({"frames": 100}, "frames"),
        ({"seeds": 0}, "seeds"),
        ({"early_fraction": 1.0}, "early_fraction"),
        ({"d": 2, "m": 100}, "m must be at most 80"),
        ({"m": 1, "c": 9}, "c must be at most 8"),
    ],
)
def test_config_validation(override, field):
    with pytest.raises(ValueError, match=field):
        spec.config("smoke", **override)


def test_config_presets_and_unknown_fields():
    assert set(spec.PRESETS) == {"smoke", "book", "paper"}
    with pytest.raises(ValueError, match="preset"):
        spec.config("huge")
    with pytest.raises(ValueError, match="unknown"):
        spec.config("smoke", width=3)
    with pytest.raises(ValueError, match="cfg"):
        spec.run({"d": 3}, device="cpu")
    assert "\n    multis=(1, 2, 5, 10),\n" in repr(spec.config("book"))  # one field per line


def test_determinism():
    cfg = spec.config("smoke", multis=(2,), steps=40, seeds=2, records=5)
    a = spec.run(cfg, device="cpu", progress=False)
    b = spec.run(cfg, device="cpu", progress=False)
    assert torch.equal(a.sweep.at(2).corr, b.sweep.at(2).corr)
    assert torch.equal(a.sweep.at(2).eval_loss, b.sweep.at(2).eval_loss)
    na, nb = spec.numbers(a), spec.numbers(b)
    assert na.keys() == nb.keys()
    for k in na.keys() - {"seconds"}:
        assert na[k] == nb[k] or (math.isnan(na[k]) and math.isnan(nb[k])), k


def _glued(ex, name):
    """A glued value, whether stored as text/plain or under papermill's record mime prefix."""
    value = ex.glue[name]
    if isinstance(value, dict):
        text = next(v for k, v in value.items() if k.endswith("text/plain"))
        value = ast.literal_eval("".join(text) if isinstance(text, list) else text)
    return value


@pytest.mark.notebook
def test_notebook_smoke_claims(smoke_notebook):
    ex = smoke_notebook("02_student_specialization")
    g = {k: _glued(ex, k) for k in ex.glue if k.startswith("spec_") and k not in ("spec_table", "spec_claim")}
    assert g["spec_diverged"] == 0
    assert g["spec_rate_hi"] >= g["spec_rate_lo"] + 0.15
    assert g["spec_weak_hi"] >= g["spec_weak_lo"] + 0.25
    assert g["spec_early_strong_hi"] >= g["spec_early_weak_hi"] + 0.25
    assert g["spec_fanshare_hi"] >= 0.75
    assert g["spec_loss_ratio"] >= 3
    assert g["spec_rate_hi_lo"] <= g["spec_rate_hi"] <= g["spec_rate_hi_hi"]
    assert "spec_table" in ex.glue and "spec_claim" in ex.glue
