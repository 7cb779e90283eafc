"""Chapter 2's numbers: the measurements on a :class:`~.run.Result`, :data:`CLAIM`,
:func:`numbers` (the single source of every number the notebook, the table and the summary quote)
and :func:`paper_vs_ours`.

Statistics (``overparam.stats``): recovery rates and other shares of (seed, node) pairs get exact
binomial intervals; quantities with one value per seed (loss, fan-out share, ratios) are means over
seeds with bootstrap intervals. Diverged members are excluded everywhere; zero valid runs gives NaN.
"""

from __future__ import annotations

import torch

from .. import stats
from ..stats import Estimate
from .run import Result, Width

__all__ = [
    "CLAIM", "recovered", "node_rates", "estimates", "numbers", "paper_vs_ours",
    "fanout_shares", "fanout_ratios", "final_eval_losses",
]

CLAIM = (
    "A two-layer ReLU student trained on a teacher's outputs specializes: its nodes align with the "
    "teacher's nodes (activation correlation > 0.95), strong teacher nodes first and weak ones late, "
    "and over-realization (more student than teacher nodes) recovers more teacher nodes, while "
    "student nodes that do not specialize keep small fan-out weights."
)


def _step_index(result: Result, when: str | int) -> int:
    if when == "final":
        return -1
    if when == "early":
        return result.sweep.early_index
    return result.sweep.index(int(when))


def _valid(w: Width, like: torch.Tensor) -> torch.Tensor:
    """``~w.diverged`` broadcast to ``like`` (seed axis first)."""
    return (~w.diverged).reshape(-1, *([1] * (like.ndim - 1))).expand_as(like)


def recovered(result: Result, multi: int, when: str | int = "final") -> torch.Tensor:
    """``(E, m)`` bool: teacher node recovered (best student correlation > threshold) at ``when``
    (``"final"``, ``"early"`` or a recorded step), for every member (diverged ones included: mask
    them with ``Width.diverged``)."""
    corr = result.sweep.at(multi).corr[_step_index(result, when)]
    return corr.amax(-1) > result.config.threshold


def _share(result: Result, multi: int, when: str | int = "final", nodes: slice = slice(None)) -> Estimate:
    """Share of (valid seed, teacher node) pairs recovered, over the teacher nodes ``nodes``."""
    r = recovered(result, multi, when)[:, nodes]
    return stats.share_ci(r, _valid(result.sweep.at(multi), r))


def node_rates(result: Result, multi: int, when: str | int = "final") -> list[Estimate]:
    """Recovery rate of each teacher node over the valid seeds, with its binomial interval."""
    return [_share(result, multi, when, slice(j, j + 1)) for j in range(result.config.m)]


def fanout_shares(w: Width, threshold: float) -> torch.Tensor:
    """``(E,)``: per seed, the share of the student's squared fan-out norm carried by specialized
    nodes (best correlation > threshold); near 1 is the L-shape."""
    energy = w.fanout.double().square()
    return (energy * (w.best_corr > threshold)).sum(1) / energy.sum(1).clamp_min(1e-30)


def fanout_ratios(w: Width, threshold: float) -> torch.Tensor:
    """``(E,)``: per seed, the mean fan-out norm of non-specialized student nodes over that of the
    specialized ones (NaN when one group is empty). Small values are the L-shape."""
    spec = w.best_corr > threshold
    fo = w.fanout.double()
    return (fo * ~spec).sum(1) / (~spec).sum(1) / ((fo * spec).sum(1) / spec.sum(1))


def final_eval_losses(w: Width) -> torch.Tensor:
    """``(E,)``: the final evaluation loss of each seed."""
    return w.eval_loss[-1]


def estimates(result: Result) -> dict[str, Estimate]:
    """Every estimate of :func:`numbers`, as :class:`~overparam.stats.Estimate` (value, interval, n)."""
    cfg, sw = result.config, result.sweep
    lo, hi = cfg.multis[0], cfg.multis[-1]
    wlo, whi = sw.at(lo), sw.at(hi)
    strong, weak = slice(None, cfg.m // 2), slice(cfg.m // 2, None)
    est = {f"rate_x{mu}": _share(result, mu) for mu in cfg.multis}
    est |= {
        "rate_lo": _share(result, lo), "rate_hi": _share(result, hi),
        "rate_lo_early": _share(result, lo, "early"), "rate_hi_early": _share(result, hi, "early"),
        "weak_lo": _share(result, lo, nodes=weak), "weak_hi": _share(result, hi, nodes=weak),
        "strong_lo": _share(result, lo, nodes=strong),
        "early_strong_hi": _share(result, hi, "early", strong), "early_weak_hi": _share(result, hi, "early", weak),
    }
    spec_hi = whi.best_corr > cfg.threshold
    est["specfrac_hi"] = stats.share_ci(spec_hi, _valid(whi, spec_hi))
    for key, w in (("fanshare_lo", wlo), ("fanshare_hi", whi)):
        est[key] = stats.mean_ci(fanout_shares(w, cfg.threshold), ~w.diverged)
    est["fanratio_hi"] = stats.mean_ci(fanout_ratios(whi, cfg.threshold), ~whi.diverged)
    est["loss_lo"] = stats.mean_ci(final_eval_losses(wlo), ~wlo.diverged)
    est["loss_hi"] = stats.mean_ci(final_eval_losses(whi), ~whi.diverged)
    ratio = final_eval_losses(wlo).double() / final_eval_losses(whi).double()  # paired: same teacher, data
    est["loss_ratio"] = stats.mean_ci(ratio, ~wlo.diverged & ~whi.diverged)
    return est


def numbers(result: Result) -> dict[str, float]:
    """Every number the chapter quotes: config scalars, the estimates (``key``, ``key_lo``,
    ``key_hi``, ``key_n``) and the divergence counts (``diverged`` of ``runs``)."""
    cfg, sw = result.config, result.sweep
    out = {
        "d": cfg.d, "m": cfg.m, "c": cfg.c, "p": cfg.decay, "n_train": cfg.n_train, "n_eval": cfg.n_eval,
        "seeds": cfg.seeds, "steps": cfg.steps, "lr": cfg.lr, "threshold": cfg.threshold,
        "multi_lo": cfg.multis[0], "multi_hi": cfg.multis[-1], "width_hi": cfg.widths[-1],
        "early_step": int(sw.steps[sw.early_index]), "seconds": result.seconds["total"],
        "diverged": int(sw.diverged.sum()), "runs": sw.diverged.numel(),
    }
    out = {k: float(v) for k, v in out.items()}
    for key, est in estimates(result).items():
        stats.put(out, key, est)
    return out


def paper_vs_ours(result: Result) -> list[dict]:
    """Rows of the closing table (see :func:`overparam.book.comparison_table`)."""
    cfg, est = result.config, estimates(result)
    lo, hi = cfg.multis[0], cfg.multis[-1]
    scale = (
        f"d={cfg.d}, m={cfg.m}, c={cfg.c}, p={cfg.decay:g}, N={cfg.n_train}, "
        + ("GD" if cfg.batch_size is None else f"SGD batch {cfg.batch_size}")
        + f", lr {cfg.lr:g}, {cfg.steps} steps, {cfg.seeds} seeds"
    )
    fig_rate = "two-layer recovery figure (success rate per teacher node, epoch 5 vs 100, 32 seeds, m=20)"
    rows = [
        {
            "quantity": f"teacher nodes recovered (corr > {cfg.threshold:g}), {mu}x, end",
            "paper": f"qualitative: rises with over-realization; {fig_rate}" if i == 0 else "qualitative (same figure)",
            "ours": f"{est[f'rate_x{mu}']:.3g}",
        }
        for i, mu in enumerate(cfg.multis)
    ]
    rows += [
        {"quantity": f"recovery of the weakest half of teacher nodes, {lo}x vs {hi}x, end",
         "paper": "qualitative: weak nodes need over-realization (same figure)",
         "ours": f"{est['weak_lo']:.3g} vs {est['weak_hi']:.3g}"},
        {"quantity": f"recovery at {100 * cfg.early_fraction:g}% of training, strongest vs weakest half, {hi}x",
         "paper": "qualitative: strong nodes first (dotted lines of the same figure)",
         "ours": f"{est['early_strong_hi']:.3g} vs {est['early_weak_hi']:.3g}"},
        {"quantity": f"share of squared fan-out norm on specialized student nodes, {hi}x (mean over seeds)",
         "paper": "qualitative: L-shape (L-shape figure, m=10, p in {0,1,2})",
         "ours": f"{est['fanshare_hi']:.3g}"},
        {"quantity": f"final evaluation MSE, {lo}x vs {hi}x",
         "paper": "qualitative: lower with more over-realization (convergence figure, log scale)",
         "ours": f"{est['loss_lo']:.2e} vs {est['loss_hi']:.2e}"},
        {"quantity": "diverged runs (excluded from every statistic)", "paper": "not reported",
         "ours": f"{int(result.sweep.diverged.sum())} of {result.sweep.diverged.numel()}"},
    ]
    return [{**r, "scale": scale} for r in rows]
