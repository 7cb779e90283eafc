"""Chapter 3's numbers: ``CLAIM``, ``numbers(result)`` (every number the prose, the table and the
summary quote) and ``paper_vs_ours(result)``.

Diverged runs are excluded from every statistic; a statistic over zero valid runs is NaN. Means over
seeds carry a bootstrap interval and shares a binomial one (:mod:`overparam.stats`). ``_lo`` /
``_hi`` in a key's *name* (e.g. ``train_small_lo``) mean the smallest / largest n of the grid; the
interval of that number is ``train_small_lo_lo`` / ``train_small_lo_hi``.
"""

from __future__ import annotations

import math

import torch

from .. import stats
from ..stats import Estimate
from .run import Result, Threshold, Toy

__all__ = ["CLAIM", "numbers", "paper_vs_ours", "threshold_n", "toy_angles"]

CLAIM = (
    "From a small initialisation, the neurons of a two-layer ReLU network first align with the few "
    "extremal vectors of G(w) = (1/n) sum_i y_i relu(w.x_i); this can stop training at a point that is "
    "not a global minimum, and on noisy linear data, once n exceeds an optimization threshold, the "
    "network stops interpolating and its test loss drops to near the noise level, while a large "
    "initialisation keeps interpolating."
)

NAN = float("nan")


def threshold_n(thr: Threshold) -> float:
    """The smallest n in the grid whose mean converged small-init train loss is at least half the
    mean OLS train loss (the network no longer interpolates); NaN if none (or no converged run)."""
    for i, n in enumerate(thr.n_grid):
        ok = thr.converged[i, 0]
        if ok.any() and float(thr.train[i, 0][ok].mean()) >= 0.5 * float(thr.ols_train[i].mean()):
            return float(n)
    return NAN


def toy_angles(params: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Angle of each toy neuron's ``(w_j, b_j)`` and its output mass ``|a_j| ||(w_j, b_j)||``."""
    w, b, a = params["w"][..., 0], params["b"], params["a"]
    return torch.atan2(b, w), torch.sqrt(b**2 + w**2) * a.abs()


def _median(values: torch.Tensor, valid: torch.Tensor) -> float:
    v = values[valid]
    return float(v.median()) if v.numel() else NAN


def _toy_numbers(toy: Toy) -> dict[str, float | Estimate]:
    ok = ~toy.diverged
    top = toy.ext["max"][0] if len(toy.ext["max_G"]) else torch.zeros(2)
    top_ang = float(torch.atan2(top[1], top[0]))
    shown_ok = bool(ok[toy.shown])
    k = int(toy.align.argmax()) if shown_ok else 0
    ang, wt = toy_angles(toy.snaps[k])
    diff = torch.remainder(ang - top_ang + math.pi, 2 * math.pi) - math.pi
    ang_f, wt_f = toy_angles(toy.params)  # (S, m)
    final = toy.loss[-1]
    return {
        "toy_loss0": stats.mean_ci(toy.loss[0], ok),
        "toy_loss": stats.mean_ci(final, ok),
        "toy_loss_min": float(final[ok].min()) if ok.any() else NAN,
        "toy_grad": float(toy.grad[-1][ok].max()) if ok.any() else NAN,
        "toy_top_angle": top_ang,
        "toy_nmax": float(len(toy.ext["max_G"])),
        "toy_nmin": float(len(toy.ext["min_G"])),
        "toy_final_angle": stats.mean_ci((ang_f * wt_f).sum(1) / wt_f.sum(1), ok),
        # One seed (the first that did not diverge): its peak alignment and where its mass sits then.
        "toy_peak": float(toy.align.max()) if shown_ok else NAN,
        "toy_peak_step": float(toy.snap_steps[k]) if shown_ok else NAN,
        "toy_end": float(toy.align[-1]) if shown_ok else NAN,
        "toy_share": float((wt * (diff.abs() < 0.05)).sum() / wt.sum()) if shown_ok else NAN,
        "toy_diverged": float(toy.diverged.sum()),
    }


def _threshold_numbers(result: Result) -> dict[str, float | Estimate]:
    thr, ext = result.threshold, result.extremal
    ok, conv = ~thr.diverged, thr.converged
    out: dict[str, float | Estimate] = {}
    for tag, i in (("lo", 0), ("hi", len(thr.n_grid) - 1)):
        out[f"n_{tag}"] = float(thr.n_grid[i])
        for k, name in ((0, "small"), (1, "large")):
            out[f"train_{name}_{tag}"] = stats.mean_ci(thr.train[i, k], ok[i, k])
            out[f"test_{name}_{tag}"] = stats.mean_ci(thr.test[i, k], ok[i, k])
            out[f"conv_{name}_{tag}"] = stats.share_ci(conv[i, k], ok[i, k])
            out[f"train_{name}_{tag}_conv"] = stats.mean_ci(thr.train[i, k], conv[i, k])
        out[f"ols_train_{tag}"] = stats.mean_ci(thr.ols_train[i])
        out[f"ols_test_{tag}"] = stats.mean_ci(thr.ols_test[i])
        out[f"next_{tag}"] = stats.mean_ci(ext.n_max[i] + ext.n_min[i])
        out[f"cosbeta_{tag}"] = stats.mean_ci(ext.cos_beta[i])
        out[f"early_{tag}"] = stats.mean_ci(ext.align_early[i], ~ext.diverged[i])
        out[f"final_{tag}"] = stats.mean_ci(ext.align_final[i], ~ext.diverged[i])
    out["early_mean"] = stats.mean_ci(ext.align_early, ~ext.diverged)
    out["final_mean"] = stats.mean_ci(ext.align_final, ~ext.diverged)
    return out


def _convergence_numbers(thr: Threshold) -> dict[str, float | Estimate]:
    ok, conv = ~thr.diverged, thr.converged
    unconv = ok & ~conv  # valid runs that did not pass the check
    thr_n = threshold_n(thr)
    means = [stats.mean_ci(thr.test[i, 0], conv[i, 0]) for i in range(len(thr.n_grid))]
    worst = int(torch.tensor([m.value for m in means]).nan_to_num(nan=-math.inf).argmax())
    above = torch.tensor([n >= thr_n for n in thr.n_grid]) if not math.isnan(thr_n) else torch.zeros(len(thr.n_grid), dtype=torch.bool)
    return {
        "threshold_n": thr_n,
        "runs": float(ok.numel()),
        "conv_share": stats.share_ci(conv, ok),
        "unconverged": float(unconv.sum()),
        "unconv_small": float(unconv[:, 0].sum()),
        "unconv_large": float(unconv[:, 1].sum()),
        "unconv_small_above": float(unconv[above, 0].sum()),
        "threshold_diverged": float(thr.diverged.sum()),
        "move_small": _median(thr.weight_move[:, 0], ok[:, 0]),
        "move_large": _median(thr.weight_move[:, 1], ok[:, 1]),
        "gfinal_med": _median(thr.grad, conv),
        "gfinal_max": float(thr.grad[conv].max()) if conv.any() else NAN,
        "gavg_med": _median(thr.grad_avg, conv),
        "worst_n": float(thr.n_grid[worst]) if not math.isnan(means[worst].value) else NAN,
        "worst_test": means[worst],
    }


def _config_numbers(result: Result) -> dict[str, float]:
    cfg = result.config
    names = ("toy_width", "toy_steps", "toy_lr", "toy_seeds", "toy_init", "d", "noise", "width", "seeds", "steps",
             "small_init", "large_init", "lr_small", "lr_large", "grad_tol", "plateau_tol", "starts")
    out = {k: float(getattr(cfg, k)) for k in names}
    out["toy_lr_ratio"] = cfg.toy_lr / 2e-3  # the code's lr 1e-3 on a loss twice ours
    out["noise_level"] = result.threshold.noise_level
    out["seconds"] = float(result.seconds["total"])
    return out


def estimates(result: Result) -> dict[str, float | Estimate]:
    """Every number of the chapter: an :class:`~overparam.stats.Estimate` where it is estimated from
    runs (with its interval), else a float."""
    thr = result.threshold
    out = {**_config_numbers(result), **_toy_numbers(result.toy), **_threshold_numbers(result),
           **_convergence_numbers(thr)}
    out["extremal_diverged"] = float(result.extremal.diverged.sum())
    out["diverged"] = out["toy_diverged"] + out["threshold_diverged"]
    return out


def numbers(result: Result) -> dict[str, float]:
    """The chapter's numbers as floats (glued as ``align_<key>``); each estimate also gives
    ``<key>_lo``, ``<key>_hi`` (95% interval) and ``<key>_n`` (valid runs)."""
    out: dict[str, float] = {}
    for key, value in estimates(result).items():
        if isinstance(value, Estimate):
            stats.put(out, key, value)
        else:
            out[key] = float(value)
    return out


def paper_vs_ours(result: Result) -> list[dict]:
    """Rows for :func:`overparam.book.comparison_table` (ours with 95% intervals)."""
    cfg, e = result.config, estimates(result)
    toy_scale = f"width {cfg.toy_width}, {cfg.toy_steps} steps at lr {cfg.toy_lr:g}, {cfg.toy_seeds} seeds"
    thr_scale = (f"d={cfg.d}, noise {cfg.noise:g}, width {cfg.width}, n in {list(cfg.n_grid)}, "
                 f"{cfg.seeds} seeds, {cfg.steps} GD steps")
    lo, hi = f"n={e['n_lo']:.0f}", f"n={e['n_hi']:.0f}"
    valid = e["runs"] - e["threshold_diverged"]
    return [
        {"quantity": "3 points: final train loss (global min 0)",
         "paper": "> 0, GD does not reach a global minimum (arXiv 2401.10791, 3-points example; code no_convergence.py)",
         "ours": f"{e['toy_loss']:.3g}", "scale": toy_scale},
        {"quantity": "3 points: final gradient norm (max over seeds)", "paper": "-> 0 (stationary point; qualitative)",
         "ours": e["toy_grad"], "scale": toy_scale},
        {"quantity": "3 points: share of output mass within 0.05 rad of the top extremal vector (end of early phase, one seed)",
         "paper": "neurons concentrate on extremal vectors (qualitative, polar animation)", "ours": e["toy_share"], "scale": toy_scale},
        {"quantity": f"small init: train loss at {lo} / {hi}",
         "paper": "~0 below the optimization threshold, ~noise level above (arXiv 2410.02348, experiments; qualitative here)",
         "ours": f"{e['train_small_lo']:.3g} / {e['train_small_hi']:.3g}", "scale": thr_scale},
        {"quantity": f"small init: test loss at {lo} / {hi} (noise level {e['noise_level']:.3g})",
         "paper": "drops at the threshold, close to the OLS/ground-truth level above it (qualitative here)",
         "ours": f"{e['test_small_lo']:.3g} / {e['test_small_hi']:.3g}", "scale": thr_scale},
        {"quantity": f"large init: train / test loss at {hi}",
         "paper": "keeps interpolating (train ~0), worse test loss (qualitative)",
         "ours": f"{e['train_large_hi']:.3g} / {e['test_large_hi']:.3g}", "scale": thr_scale},
        {"quantity": "optimization threshold (first n where converged small-init nets stop interpolating)",
         "paper": "exists; its value depends on d, noise and init (not taken from the paper)",
         "ours": e["threshold_n"], "scale": thr_scale},
        {"quantity": f"extremal vectors of G (maximisers + minimisers) at {lo} / {hi}",
         "paper": "concentrate on the population ones (+-beta*) as n grows (Thm 3.1)",
         "ours": f"{e['next_lo']:.3g} / {e['next_hi']:.3g}", "scale": f"{cfg.starts} ascent starts per sign"},
        {"quantity": f"cos(top maximiser of G, beta*) at {hi}", "paper": "-> 1 as n grows (Thm 3.1)",
         "ours": f"{e['cosbeta_hi']:.3g}", "scale": thr_scale},
        {"quantity": "unconverged runs (mean gradient / loss plateau check; diverged runs excluded)", "paper": "not reported",
         "ours": f"{e['unconverged']:.0f} of {valid:.0f}", "scale": thr_scale},
        {"quantity": "diverged runs (3 points; threshold sweep)", "paper": "not reported",
         "ours": f"{e['toy_diverged']:.0f} of {cfg.toy_seeds}; {e['threshold_diverged']:.0f} of {e['runs']:.0f}",
         "scale": f"{toy_scale}; {thr_scale}"},
    ]
