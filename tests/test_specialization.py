"""Chapter 2 (student specialization, Tian 2020): the phenomenon at smoke size (on ``numbers()``),
the update against autograd, the correlation measure, the teacher and the fan-out measures against
closed forms, config validation, determinism, and the notebook's glued numbers.

The claims are tested as the intervals say them: two conditions differ when their 95% intervals
separate (``a_lo > b_hi``); "no L-shape" is "the fan-out ratio's interval lies between 0.1 and 1".
"""

from __future__ import annotations

import ast
import math

import pytest
import torch

from overparam import specialization as spec
from overparam.chapter import derive_seed
from overparam.models import DeepReLUMLP

#: Overrides at ``smoke`` that make every run diverge (the contract test): a step size 100x the
#: preset's; the runs blow up within a few steps, so 100 steps (lr*T = 1000) suffice.
DIVERGING = {"lr": 10.0, "flow_time": 1000.0}

#: Overrides that shrink the sample-complexity and multi-layer parts to a token size (for tests of
#: the two-layer sweep).
TINY = {"sc_ns": (15, 30), "sc_compare_n": 15, "sc_seeds": 2, "sc_flow_time": 2.0, "deep_n": 128, "deep_epochs": 2,
        "deep_seeds": 2}


@pytest.fixture(scope="module")
def result(smoke_result):
    return smoke_result("specialization")


@pytest.fixture(scope="module")
def nums(result):
    return spec.numbers(result)


def test_overrealization_recovers_more_teacher_nodes(nums):
    assert nums["diverged"] == 0 and nums["runs"] == 4 * 12
    assert nums["recovery_final_multi10"] >= nums["recovery_final_multi1"]
    # the gain is on the weak teacher nodes, and there the 95% intervals separate
    assert nums["recovery_final_multi10_weak_lo"] > nums["recovery_final_multi1_weak_hi"]
    assert nums["recovery_final_multi10_weak_n"] == 6 * 3  # 6 seeds x the weakest 3 of m=5 teacher nodes
    for k in (1, 2, 5, 10):
        assert nums[f"recovery_final_multi{k}_n"] == 6 * 5


def test_strong_teacher_nodes_are_learned_first(nums):
    assert nums["early_time"] == pytest.approx(5) and nums["flow_time"] == pytest.approx(100)
    assert nums["recovery_early_multi10_strong_lo"] > nums["recovery_early_multi10_weak_hi"]


def test_no_lshape_at_this_scale(nums):
    """Non-specialized student nodes keep a sizeable fan-out (no L), yet less than specialized ones."""
    assert 0.1 < nums["lshape_fanout_ratio_lo"] and nums["lshape_fanout_ratio_hi"] < 1
    assert nums["lshape_fanout_ratio_n"] == 12  # 2 decays x 6 seeds at 10x
    assert nums["lshape_bin4_lo"] > nums["lshape_bin0_hi"]  # fan-out rises with correlation


def test_augmentation_recovers_from_fewer_samples(nums):
    """Teacher-aware augmented inputs recover more teacher nodes than plain Gaussian inputs at the
    headline N (smoke: N = 30, d = 20, m = 5); the 95% intervals separate."""
    assert nums["sc_compare_n"] == 30 and nums["sc_diverged"] == 0
    assert nums["sc_recovery_augmented_n"] == nums["sc_recovery_plain_n"] == 8 * 5
    assert nums["sc_recovery_augmented_lo"] > nums["sc_recovery_plain_hi"]


def test_lowest_layer_specializes_first(nums):
    """Multi-layer teacher at smoke: the lowest hidden layer's teacher nodes are recovered more often
    than those of the two layers above it (intervals separate)."""
    assert nums["deep_diverged"] == 0 and nums["deep_recovery_l0_multi2_n"] == 4 * 5
    for l in (1, 2):
        assert nums["deep_recovery_l0_multi2_lo"] > nums[f"deep_recovery_l{l}_multi2_hi"]


def test_augmented_inputs_follow_official_construction():
    """Per teacher node: k points on its boundary and k moved by +-alpha w (alpha in [2, 4]), every
    point rescaled to norm std sqrt(d); the moved points lie on the two sides of the boundary."""
    cfg = spec.config("smoke", sc_seeds=2)
    t = spec.sample_teacher(cfg)
    x = spec.augmented_inputs(t["W0"], t["b0"], 31, 1.5, 2.0, 2.0, torch.Generator().manual_seed(0))
    m, d, k = cfg.sc_m, cfg.sc_d, 3  # ceil(31 / 15) = 3 points per node and kind
    assert x.shape == (2, 3 * m * k, d)
    torch.testing.assert_close(x.norm(dim=-1), torch.full((2, 3 * m * k), 1.5 * d ** 0.5, dtype=torch.float64))
    for j in range(m):
        block = x[:, 3 * k * j:3 * k * (j + 1)].reshape(2, 3, k, d)
        cos = torch.einsum("sqkd,sd->sqk", block, t["W0"][:, j]) / block.norm(dim=-1)
        assert cos[:, 0].abs().max() < 0.05  # boundary: w.x = -b (0.1), small against the norm
        assert cos[:, 1].min() > 0.1 and cos[:, 2].max() < -0.1


def test_deep_grads_teacher_and_student():
    g = torch.Generator().manual_seed(0)
    layers = [(torch.randn(2, o, i, generator=g, dtype=torch.float64), torch.randn(2, o, generator=g, dtype=torch.float64))
              for i, o in ((4, 5), (5, 3), (3, 2))]
    x, y = torch.randn(2, 7, 4, generator=g, dtype=torch.float64), torch.randn(2, 7, 2, generator=g, dtype=torch.float64)
    loss, grads = spec.mlp_grads(layers, x, y)
    ps = [(W.clone().requires_grad_(), b.clone().requires_grad_()) for W, b in layers]
    ref = (spec.mlp_forward(ps, x)[-1] - y).square().mean((1, 2))
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach())
    for (W, b), (dW, db) in zip(ps, grads):
        torch.testing.assert_close(dW, W.grad)
        torch.testing.assert_close(db, b.grad)
    # teacher: each node's median pre-activation on the evaluation inputs is 0, so a lowest-layer node
    # is active on half of them (above: at most half, ties at the median stay inactive); outputs standardized
    cfg = spec.config("smoke", deep_seeds=2)
    xe = torch.randn(2, 1001, cfg.deep_d, generator=g, dtype=torch.float64) * cfg.deep_std
    hs = spec.mlp_forward(spec.deep_teacher(cfg, xe), xe)
    active = [(h > 0).double().mean(1) for h in hs[1:-1]]
    torch.testing.assert_close(active[0], torch.full_like(active[0], 500 / 1001), atol=1.01 / 1001, rtol=0)
    assert all(float(a.max()) <= 501 / 1001 for a in active)
    torch.testing.assert_close(hs[-1].mean(1), torch.zeros(2, cfg.deep_c, dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(hs[-1].std(1), torch.ones(2, cfg.deep_c, dtype=torch.float64))
    # student: nn.Linear's default bound 1/sqrt(fan_in), times deep_student_scale
    W0, b0 = spec.deep_student(cfg, 2)[0]
    assert W0.shape == (2, 2 * cfg.deep_widths[0], cfg.deep_d)
    bound = cfg.deep_student_scale / cfg.deep_d ** 0.5 + 1e-6
    assert W0.abs().max() <= bound and b0.abs().max() <= bound and W0.abs().max() > 0.9 * bound


def test_key_data_and_paper_column(result, nums):
    """The key figure is drawn from JSON data alone; with a stored paper record every row gets its
    ``paper_preset`` cell from the same row builder."""
    import json

    import matplotlib.pyplot as plt

    data = json.loads(json.dumps(spec.key_data(result)))
    assert [p["p"] for p in data["panels"]] == list(result.config.decays) and data["seeds"] == result.config.seeds
    assert data["panels"][0]["curves"][-1]["final"] == [e.value for e in spec.node_rates(result, 10, "final", 0.0)]
    fig = spec.plot_key(data)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == len(result.config.decays)
    plt.close(fig)
    record = {"config": result.config.as_dict(), "numbers": nums}
    rows = spec.paper_vs_ours(result, paper=record)
    assert all(r["paper_preset"] == r["ours"] for r in rows)
    assert {"sample_complexity", "deep_lowest", "cifar10", "recovery_final"} <= {r["id"] for r in rows}
    cifar = next(r for r in rows if r["id"] == "cifar10")
    assert cifar["reproduced"] == "no" and cifar["why"].startswith("not run")
    assert "seeds" in spec.scale(result.config)


def test_loss_and_shapes(result, nums):
    cfg = result.config
    assert nums["loss_ratio_lo"] > 1 and nums["loss_lo"] > nums["loss_hi"]
    T, E, hi = len(result.sweep.steps), cfg.members, cfg.multis[-1]
    w = result.sweep.at(hi)
    assert w.corr.shape == (T, E, cfg.m, hi * cfg.m)
    assert w.eval_loss.shape == w.train_loss.shape == (T, E)
    assert w.best_corr.shape == w.fanout.shape == (E, hi * cfg.m)
    assert result.sweep.diverged.shape == (len(cfg.multis), E)
    torch.testing.assert_close(result.sweep.flow, result.sweep.steps.double() * cfg.lr)
    # the step is small enough that gradient descent follows the flow: the recorded training loss
    # rises by more than 5% in at most 1% of the recorded intervals (steps 0.2-0.3 oscillate at p=0)
    assert nums["loss_pairs"] == len(cfg.multis) * E * (T - 1)
    assert nums["loss_rises"] <= 0.01 * nums["loss_pairs"]


def test_grads_match_autograd():
    g = torch.Generator().manual_seed(0)
    E, N, d, n, c = 2, 30, 4, 6, 3
    W0, b0, W1, b1 = (torch.randn(*s, generator=g, dtype=torch.float64) for s in ((E, n, d), (E, n), (E, c, n), (E, c)))
    x, y = torch.randn(E, N, d, generator=g, dtype=torch.float64), torch.randn(E, N, c, generator=g, dtype=torch.float64)
    loss, *gr = spec.grads(W0, b0, W1, b1, x, y)
    ps = [t.clone().requires_grad_() for t in (W0, b0, W1, b1)]
    out = DeepReLUMLP((d, n, c)).forward(dict(zip(("W0", "b0", "W1", "b1"), ps)), x)
    ref = (out - y).square().sum((1, 2)) / (2 * N)
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach())
    for a, p in zip(gr, ps):
        torch.testing.assert_close(a, p.grad)


def test_training_loop_is_plain_gd_per_width():
    """The batched loop (widths concatenated, decays x seeds on the member axis) equals plain GD with
    :func:`spec.grads` on each width separately, from the same start."""
    cfg = spec.config("smoke", multis=(1, 2), decays=(0.0, 1.5), seeds=2, flow_time=3 * 0.1, early_time=0.1, records=3, **TINY)
    res = spec.run(cfg, device="cpu", progress=False)
    t = {k: v.float() for k, v in spec.make_teacher(cfg).items()}
    from overparam import data as _data

    x = _data.gaussian_inputs(cfg.n_train, cfg.d, std=cfg.data_std, seed=derive_seed(cfg.seed, "train_inputs"), members=cfg.seeds)
    x = x.float().repeat(2, 1, 1)
    y = DeepReLUMLP((cfg.d, cfg.m, cfg.c)).forward(t, x)
    for multi in cfg.multis:
        n = multi * cfg.m
        p = DeepReLUMLP((cfg.d, n, cfg.c), init_scale=cfg.student_scale).init(cfg.seeds, seed=derive_seed(cfg.seed, "student_init", multi))
        W0, W1 = p["W0"].repeat(2, 1, 1), p["W1"].repeat(2, 1, 1)
        b0, b1 = torch.zeros(4, n), torch.zeros(4, cfg.c)
        for _ in range(cfg.steps):
            _, g0, gb0, g1, gb1 = spec.grads(W0, b0, W1, b1, x, y)
            W0, b0, W1, b1 = W0 - cfg.lr * g0, b0 - cfg.lr * gb0, W1 - cfg.lr * g1, b1 - cfg.lr * gb1
        got = res.sweep.at(multi).params
        for key, ref in (("W0", W0), ("b0", b0), ("W1", W1), ("b1", b1)):
            torch.testing.assert_close(got[key], ref, atol=1e-6, rtol=1e-4)


def test_lshape_measures_closed_form(result):
    """Seed 0: nodes with corr (0.99, 0.5, 0.97), fan-out (3, 1, 1): ratio 1/2. Seed 1: every node
    specialized: ratio NaN (no non-specialized node). Binned fan-out: relative to the teacher's mean."""
    w = spec.Width(
        multi=1, width=3, train_loss=torch.zeros(1, 2), eval_loss=torch.tensor([[1.0, 1.0], [0.2, 0.4]]),
        corr=torch.zeros(2, 2, 3, 3), best_corr=torch.tensor([[0.995, 0.3, 0.97], [0.999, 0.98, 0.96]]),
        fanout=torch.tensor([[3.0, 1.0, 1.0], [1.0, 1.0, 1.0]]), params={}, diverged=torch.tensor([False, False]),
    )
    ratios = spec.fanout_ratios(w, 0.95)
    assert ratios[0].item() == pytest.approx(0.5) and math.isnan(ratios[1].item())
    torch.testing.assert_close(spec.final_eval_losses(w), torch.tensor([0.2, 0.4]))

    class _R:  # a stand-in Result: only sweep.teacher_fanout is read
        class sweep:
            teacher_fanout = torch.tensor([[2.0, 2.0], [1.0, 1.0]])

    b = spec.binned_fanout(_R, w)
    assert b.shape == (2, len(spec.BINS) - 1)
    assert b[0, 0].item() == pytest.approx(0.5) and b[0, 4].item() == pytest.approx(1.5) and b[0, 3].item() == pytest.approx(0.5)
    assert math.isnan(b[0, 1].item()) and math.isnan(b[1, 0].item())
    assert spec.student_params(10, 100, 10) == 100 * 11 + 10 * 101


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
    cfg = spec.config("smoke", seeds=3, decays=(0.0, 1.5))
    t = spec.make_teacher(cfg)
    E = 6
    assert t["W0"].shape == (E, cfg.m, cfg.d) and t["W1"].shape == (E, cfg.c, cfg.m)
    torch.testing.assert_close(t["W0"].norm(dim=-1), torch.ones(E, cfg.m, dtype=torch.float64))
    assert torch.all(t["b0"] == cfg.bias) and torch.all(t["b1"] == cfg.bias)
    for e in range(E):  # distinct first-layer rows, distinct fan-out rows
        assert len({tuple(r.tolist()) for r in t["W0"][e]}) == cfg.m
        assert len({tuple(r.tolist()) for r in t["W1"][e]}) == cfg.c
    # decay-major members: seed s has the same grid draw at every decay; node j's fan-out is divided by j**p
    j = torch.arange(1, cfg.m + 1, dtype=torch.float64)
    torch.testing.assert_close(t["W0"][:3], t["W0"][3:])
    torch.testing.assert_close(t["W1"][3:], t["W1"][:3] / j.pow(1.5))
    grid = torch.tensor(spec.WEIGHT_CHOICES, dtype=torch.float64)
    assert torch.all((t["W1"][:3, ..., None] - grid).abs().amin(-1) < 1e-9)
    # a student equal to the teacher recovers every teacher node
    x = torch.randn(E, 400, cfg.d, dtype=torch.float64)
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
        ({"decays": (-1.0,)}, "decays"),
        ({"decays": (1.5, 0.0)}, "decays"),
        ({"early_time": 300.0}, "early_time"),
        ({"lr": 0.0}, "lr"),
        ({"batch_size": 10_000}, "batch_size"),
        ({"frames": 100}, "frames"),
        ({"seeds": 0}, "seeds"),
        ({"d": 2, "m": 100}, "m must be at most 80"),
        ({"sc_ns": (30, 50)}, "sc_ns"),
        ({"sc_compare_n": 45}, "sc_compare_n"),
        ({"sc_batch": 100}, "sc_batch"),
        ({"deep_batch": 100_000}, "deep_batch"),
        ({"deep_widths": ()}, "deep_widths"),
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
    # time is gradient-flow time: the paper's SGD runs 100 x 1000 steps at lr 0.01, early = epoch 5
    paper, book = spec.config("paper"), spec.config("book")
    assert (paper.steps, paper.early_step, paper.members) == (100_000, 5_000, 6 * 32)
    assert paper.flow_time == 1000 and paper.early_time == 50
    assert book.flow_time / book.early_time == paper.flow_time / paper.early_time == 20  # the paper's ratio
    assert book.main_decay == paper.main_decay == 1.5 and {0.0, 1.5, 2.5} <= set(book.decays)
    assert spec.estimate_seconds(paper, "cuda") < 600
    # the README's sample-complexity sweep and the multi-layer setup of the official code
    assert (paper.sc_d, paper.sc_m, paper.sc_decay, paper.sc_ns[0], paper.sc_ns[-1]) == (100, 5, 1.0, 30, 1110)
    assert (paper.sc_lr * 5000 * 20, paper.sc_batch, paper.sc_seeds) == (paper.sc_flow_time, 16, 32)
    assert paper.deep_widths == (50, 75, 100, 125) and (paper.deep_d, paper.deep_std, paper.deep_multis) == (20, 10.0, (2, 5))
    assert (paper.deep_epochs, paper.deep_drop, paper.deep_lr, paper.deep_lr2, paper.deep_seeds) == (200, 20, 0.2, 0.1, 10)


def test_determinism():
    cfg = spec.config("smoke", multis=(2,), flow_time=12.0, early_time=3.0, seeds=2, records=5, **TINY)
    a = spec.run(cfg, device="cpu", progress=False)
    b = spec.run(cfg, device="cpu", progress=False)
    assert torch.equal(a.sweep.at(2).corr, b.sweep.at(2).corr)
    assert torch.equal(a.sweep.at(2).eval_loss, b.sweep.at(2).eval_loss)
    assert torch.equal(a.samples.best_corr, b.samples.best_corr) and torch.equal(a.deep.best_corr, b.deep.best_corr)
    na, nb = spec.numbers(a), spec.numbers(b)
    assert na.keys() == nb.keys()
    for k in na.keys() - {"seconds"}:
        assert na[k] == nb[k] or (math.isnan(na[k]) and math.isnan(nb[k])), k


def test_sgd_minibatches_are_deterministic():
    """The ``paper`` preset's path (SGD, batch 16, indices drawn in chunks of steps) on a tiny problem;
    the sample-complexity part trains every N in one ensemble, each member drawing from its own N."""
    cfg = spec.config("smoke", multis=(2,), decays=(1.5,), seeds=2, batch_size=16, lr=0.01, flow_time=6.0,
                      early_time=1.0, records=4, sc_batch=16, sc_lr=0.01, sc_flow_time=3.0, sc_seeds=2,
                      deep_n=128, deep_epochs=2, deep_seeds=2)
    assert cfg.steps == 600
    a, b = (spec.run(cfg, device="cpu", progress=False) for _ in range(2))
    assert torch.equal(a.sweep.at(2).params["W0"], b.sweep.at(2).params["W0"])
    assert not bool(a.sweep.diverged.any()) and a.sweep.at(2).train_loss[-1].max() < a.sweep.at(2).train_loss[0].min()
    assert torch.equal(a.samples.best_corr, b.samples.best_corr) and not bool(a.samples.diverged.any())


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
    assert g["spec_recovery_final_multi10_weak_lo"] > g["spec_recovery_final_multi1_weak_hi"]
    assert g["spec_recovery_early_multi10_strong_lo"] > g["spec_recovery_early_multi10_weak_hi"]
    assert 0.1 < g["spec_lshape_fanout_ratio_lo"] and g["spec_lshape_fanout_ratio_hi"] < 1
    assert g["spec_loss_ratio_lo"] > 1
    assert g["spec_sc_recovery_augmented_lo"] > g["spec_sc_recovery_plain_hi"]
    assert g["spec_deep_recovery_l0_multi2_lo"] > g["spec_deep_recovery_l1_multi2_hi"]
    assert g["spec_recovery_final_multi10_lo"] <= g["spec_recovery_final_multi10"] <= g["spec_recovery_final_multi10_hi"]
    assert "spec_table" in ex.glue and "spec_claim" in ex.glue
