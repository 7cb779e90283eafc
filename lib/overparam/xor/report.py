"""Chapter 1's numbers: :func:`numbers` (every number the prose, the table and the summary quote),
:func:`paper_vs_ours` and :data:`CLAIM`. Diverged runs are excluded from every statistic."""

from __future__ import annotations

import math

from .. import stats
from ..stats import Estimate
from .measures import RANDOM_COSINE, exploration_theory, pos_explored_theory
from .run import Mnist, Result, Sweep

__all__ = ["CLAIM", "numbers", "paper_vs_ours", "test_error", "zero_share", "bad_share", "full_share",
           "explore_mean", "split_test_error", "n_diverged"]

CLAIM = (
    "On the XOR-detection problem, gradient descent on a wider 3-layer conv net (more channels k) "
    "reaches global minima that generalize better: at initialization more filters means every "
    "pattern is detected by some filter (exploration), training clusters the filters on the "
    "pattern directions, and the share of zero-training-error runs with nonzero test error falls with k."
)


# --------------------------------------------------------------------------------------------
# Per-width estimates (width index i of a sweep); the figures use the same functions
# --------------------------------------------------------------------------------------------


def test_error(sw: Sweep, i: int, zero_train_only: bool = False) -> Estimate:
    """Mean test error at width ``ks[i]`` over the non-diverged runs (or the zero-training-error ones)."""
    return stats.mean_ci(sw.test_err[i], sw.zero_train[i] if zero_train_only else ~sw.diverged[i])


def zero_share(sw: Sweep, i: int) -> Estimate:
    """Share of the non-diverged runs at ``ks[i]`` that reached zero training error."""
    return stats.share_ci(sw.zero_train[i], ~sw.diverged[i])


def bad_share(sw: Sweep, i: int) -> Estimate:
    """Among the zero-training-error runs at ``ks[i]``, the share with nonzero test error (bad global minima)."""
    return stats.share_ci(sw.bad[i], sw.zero_train[i])


def full_share(sw: Sweep, i: int) -> Estimate:
    """Share of the non-diverged runs at ``ks[i]`` whose init explored all four patterns."""
    return stats.share_ci(sw.explore_init[i] == 1, ~sw.diverged[i])


def explore_mean(sw: Sweep, i: int) -> Estimate:
    """Mean share of explored patterns at init, width ``ks[i]``."""
    return stats.mean_ci(sw.explore_init[i], ~sw.diverged[i])


def split_test_error(sw: Sweep, i: int, explored: bool) -> Estimate:
    """Mean test error at ``ks[i]`` of the runs whose w filters did (``explored``) or did not detect
    both positive patterns at init."""
    pe = sw.pos_explored_init[i]
    return stats.mean_ci(sw.test_err[i], (pe if explored else ~pe) & ~sw.diverged[i])


def n_diverged(sub: Sweep | Mnist | None) -> tuple[int, int]:
    """``(diverged runs, all runs)`` of a sub-experiment (``(0, 0)`` when it was skipped)."""
    return (0, 0) if sub is None else (int(sub.diverged.sum()), sub.diverged.numel())


# --------------------------------------------------------------------------------------------
# numbers()
# --------------------------------------------------------------------------------------------


def numbers(result: Result) -> dict[str, float]:
    """Every number the chapter quotes, as floats; estimates with ``_lo``, ``_hi``, ``_n`` (95%)."""
    cfg = result.config
    out = {"d": cfg.d, "n": cfg.n_train, "seeds": cfg.seeds, "steps": cfg.steps, "lr": cfg.lr,
           "sigma": cfg.init_scale, "pplus": cfg.p_plus, "pminus": cfg.p_minus,
           "seconds": result.seconds["total"], "clust_random": RANDOM_COSINE}
    _main_numbers(out, result.main)
    if result.large is not None:
        _large_numbers(out, result.large, cfg.n_test_samples)
    if result.mnist is not None:
        _mnist_numbers(out, result.mnist, cfg)
    return {k: float(v) for k, v in out.items()}


def _main_numbers(out: dict, sw: Sweep) -> None:
    k0, k1 = sw.ks[0], sw.ks[-1]
    out.update(k_small=k0, k_large=k1, diverged=n_diverged(sw)[0], explore_theory_small=exploration_theory(k0),
               pos_theory_small=pos_explored_theory(k0), check_diff=_max_abs_diff(sw))
    for tag, i in (("small", 0), ("large", -1)):
        stats.put(out, f"test_{tag}", test_error(sw, i))
        stats.put(out, f"test_zero_{tag}", test_error(sw, i, zero_train_only=True))
        stats.put(out, f"zero_{tag}", zero_share(sw, i))
        stats.put(out, f"bad_{tag}", bad_share(sw, i))
        stats.put(out, f"explore_{tag}", explore_mean(sw, i))
        stats.put(out, f"full_{tag}", full_share(sw, i))
        stats.put_mean(out, f"clust_{tag}", sw.clustering_final[i], ~sw.diverged[i])
    stats.put_share(out, "pos_small", sw.pos_explored_init[0], ~sw.diverged[0])
    stats.put(out, "te_full_small", split_test_error(sw, 0, True))
    stats.put(out, "te_miss_small", split_test_error(sw, 0, False))


def _large_numbers(out: dict, sw: Sweep, n_samples: int) -> None:
    out.update(dl=sw.d, dl_k_small=sw.ks[0], dl_k_large=sw.ks[-1], dl_n_samples=n_samples,
               dl_sampled_diff=_max_abs_diff(sw), dl_diverged=n_diverged(sw)[0])
    for tag, i in (("small", 0), ("large", -1)):
        stats.put(out, f"dl_test_{tag}", test_error(sw, i))
        stats.put(out, f"dl_bad_{tag}", bad_share(sw, i))


def _mnist_numbers(out: dict, m: Mnist, cfg) -> None:
    out.update(mn_k_small=m.ks[0], mn_k_wide=m.ks[1], mn_n_train=m.n_train, mn_n_test=m.n_test,
               mn_seeds=cfg.mnist_seeds, mn_steps=cfg.mnist_steps, mn_diverged=n_diverged(m)[0])
    for tag, i in (("small", 0), ("wide", 1)):
        ok = ~m.diverged[i]
        stats.put_mean(out, f"mn_test_{tag}", m.test_err[i], ok)
        stats.put_mean(out, f"mn_train_{tag}", m.train_err[i], ok)
        stats.put_mean(out, f"mn_cos_{tag}", m.cos_trained[i], ok)
        stats.put_mean(out, f"mn_cos_{tag}_init", m.cos_init[i], ok)


def _max_abs_diff(sw: Sweep) -> float:
    """Largest |independent check - pattern-set test error| of the widest net over its valid runs (NaN if none)."""
    ok = ~sw.diverged[-1]
    diff = (sw.check_err - sw.test_err[-1]).abs()[ok]
    return float(diff.max()) if bool(ok.any()) else math.nan


# --------------------------------------------------------------------------------------------
# Paper vs ours
# --------------------------------------------------------------------------------------------


def paper_vs_ours(result: Result) -> list[dict]:
    """Rows for the closing table: the paper's statement (with where), our number with its 95%
    interval, our scale; the last row counts the diverged runs."""
    cfg, sw = result.config, result.main
    k0, k1 = sw.ks[0], sw.ks[-1]
    scale = f"d={cfg.d}, n={cfg.n_train}, p+={cfg.p_plus:g}, p-={cfg.p_minus:g}, {cfg.seeds} seeds, {cfg.steps} GD steps"

    def row(quantity, paper, est, scale=scale):
        return {"quantity": quantity, "paper": paper, "ours": est if isinstance(est, str) else f"{est:.3g}", "scale": scale}

    rows = [
        row(f"mean test error, k={k0}", "higher for small k (experiments, qualitative)", test_error(sw, 0)),
        row(f"mean test error, k={k1}", "near 0 for large k (experiments, qualitative)", test_error(sw, -1)),
        row(f"share of runs with zero training error, k={k0}", "not reported", zero_share(sw, 0)),
        row(f"bad global minima among zero-train-error runs, k={k0}",
            "constant probability for k=2 (theorem on the small network)", bad_share(sw, 0)),
        row(f"bad global minima among zero-train-error runs, k={k1}",
            "0 w.h.p. for k >= 120 (theorem on the large network)", bad_share(sw, -1)),
        row(f"exploration at init (share of patterns detected), k={k0}",
            "large k explores every pattern (analysis, qualitative)",
            f"{explore_mean(sw, 0):.3g}; our derivation 1-(3/4)^k = {exploration_theory(k0):.3f}"),
        row(f"clustering after training (weighted cosine), k={k1}",
            "filters cluster on the patterns (analysis, qualitative)",
            stats.mean_ci(sw.clustering_final[-1], ~sw.diverged[-1]), scale + f"; random directions: {RANDOM_COSINE:.3f}"),
    ]
    rows += _large_rows(result.large) + _mnist_rows(result.mnist, cfg)
    rows.append(row("diverged runs (excluded from every statistic)", "not applicable", _diverged_text(result), "all parts"))
    return rows


def _large_rows(sw: Sweep | None) -> list[dict]:
    if sw is None:
        return []
    return [{"quantity": f"mean test error at d={sw.d}, k={sw.ks[0]} vs k={sw.ks[-1]}", "paper": "not reported",
             "ours": f"{test_error(sw, 0):.3g} vs {test_error(sw, -1):.3g}",
             "scale": f"d={sw.d}, k in {tuple(sw.ks)}, same n, p, seeds, steps"}]


def _mnist_rows(m: Mnist | None, cfg) -> list[dict]:
    if m is None:
        return []
    ok = ~m.diverged

    def est(x, i):
        return f"{stats.mean_ci(x[i], ok[i]):.3g}"

    scale = (f"digits {cfg.mnist_classes}, {m.n_train} train / {m.n_test} test images, "
             f"{cfg.mnist_seeds} seeds, {cfg.mnist_steps} GD steps")
    return [
        {"quantity": f"MNIST test error, k={m.ks[0]} vs k={m.ks[1]} (reduced)",
         "paper": "wide net generalizes better (MNIST experiment)",
         "ours": f"{est(m.test_err, 0)} vs {est(m.test_err, 1)}", "scale": scale},
        {"quantity": f"MNIST clustering (cosine to {m.ks[0]} centres), wide: trained vs init",
         "paper": "trained filters cluster (MNIST experiment, qualitative)",
         "ours": f"{est(m.cos_trained, 1)} vs {est(m.cos_init, 1)}", "scale": "same"},
    ]


def _diverged_text(result: Result) -> str:
    parts = [(f"d={result.config.d}", result.main), (f"d={result.config.d_large}", result.large), ("MNIST", result.mnist)]
    return "; ".join(f"{a} of {b} ({name})" for name, sub in parts if sub is not None for a, b in [n_diverged(sub)])

