"""What chapter 5 states: ``CLAIM``, ``numbers(result)`` (every number the prose, the closing table
and the summary quote) and ``paper_vs_ours(result)``."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import stats
from .run import Result

__all__ = ["CLAIM", "numbers", "paper_vs_ours", "width_key"]

CLAIM = (
    "Among classifiers with zero training error, the fraction with true error above eps0 falls like "
    "int_{eps0} Q (1-eps)^n / int Q (1-eps)^n, exponentially in n, and the learning curve this implies "
    "depends on the error density Q only, not on the number of parameters."
)

#: Above this many values a bootstrap interval is not computed (scipy's BCa jackknife needs an
#: (n, n) array); the estimate then gets the interval (-inf, inf). Not reached at smoke or book.
MAX_BOOTSTRAP = 20000


def width_key(result: Result, wi: int) -> str:
    """Keys by role: ``"small"`` = ``widths[0]``, ``"large"`` = ``widths[-1]``, else ``"w<width>"``."""
    widths = result.config.widths
    return "small" if wi == 0 else "large" if wi == len(widths) - 1 else f"w{widths[wi]}"


def _put_mean(out: dict, key: str, values, valid=None) -> None:
    v = stats.valid_values(values, valid)
    if len(v) > MAX_BOOTSTRAP:
        stats.put(out, key, stats.Estimate(float(v.mean()), -math.inf, math.inf, len(v)))
    else:
        stats.put_mean(out, key, v)


def _config_numbers(result: Result) -> dict[str, float]:
    cfg = result.config
    out = {"toy_d": cfg.toy_d, "toy_classifiers": cfg.toy_classifiers, "toy_n_max": cfg.toy_n_max,
           "toy_sets": cfg.toy_train_sets, "rand_sets": cfg.random_train_sets, "rand_n_max": cfg.random_n_max,
           "gd_seeds": cfg.gd_seeds, "toy_n_half": cfg.toy_n_max // 2, "toy_eps0": cfg.toy_eps0,
           "n_test": result.n_test, "n_pool": result.n_pool, "n_first": cfg.gd_n[0], "n_last": cfg.gd_n[-1],
           "fit_n_max": cfg.fit_n_max, "w_small": cfg.widths[0], "w_large": cfg.widths[-1],
           "param_ratio": cfg.params_count(len(cfg.widths) - 1) / cfg.params_count(0)}
    return {k: float(v) for k, v in out.items()}


def _toy_numbers(result: Result) -> dict[str, float]:
    """The toy. ``toy_bad_<n>``: share of survivors with error > eps0 POOLED over the training
    sequences (survivors of all sequences counted together; binomial interval over survivors, which
    treats survivors of one sequence as independent); ``toy_mean_N``: their pooled mean error
    (bootstrap over survivors); ``toy_*_sets_N_*``: extremes over the sequences that still have
    survivors; ``toy_mean_0``: mean error of all sampled classifiers (1/2 by symmetry; no interval)."""
    toy, N = result.toy, result.config.toy_n_max
    out: dict[str, float] = {}
    bad, surv = toy.bad.sum(0), toy.survivors.sum(0)
    for name, n in (("0", 0), ("half", N // 2), ("N", N)):
        stats.put(out, f"toy_bad_{name}", stats.share_from_counts(int(bad[n]), int(surv[n])))
        out[f"toy_bad_theory_{name}"] = float(toy.theory_bad[n])
    out["toy_survivors_N"] = float(surv[N])
    _put_mean(out, "toy_mean_N", toy.survivor_eps)
    out["toy_mean_theory_N"] = float(toy.theory_mean[N])
    out["toy_mean_0"] = float(toy.mean_error()[0])
    out["toy_survival_theory_N"] = float(toy.theory_Z[N])
    for name, per in (("mean", toy.mean_error_per_set()[:, N]), ("bad", toy.bad_fraction_per_set()[:, N])):
        per = per[~per.isnan()]
        out[f"toy_{name}_sets_N_min"] = float(per.min()) if per.numel() else math.nan
        out[f"toy_{name}_sets_N_max"] = float(per.max()) if per.numel() else math.nan
    # the n from which the simple bound (eps1 = eps0/2) drops below 1
    grid, q, e0 = toy.grid, toy.Q, result.config.toy_eps0
    ratio = float(q[grid > e0].sum() / q[grid <= e0 / 2].sum())
    out["toy_bound_n_star"] = math.log(ratio) / math.log((1 - e0 / 2) / (1 - e0))
    out["toy_diverged"] = float(toy.diverged.sum())
    return out


def _random_numbers(result: Result, wi: int, w: str) -> dict[str, float]:
    """Random networks of width ``widths[wi]``: their error density and guess and check at
    ``n = random_n_max`` (survivors pooled over the training sequences)."""
    cfg, rnd = result.config, result.random
    eps, nr = rnd.eps[wi], cfg.random_n_max
    gc = rnd.guess_and_check(wi)
    out = {f"{w}_params": float(cfg.params_count(wi)), f"{w}_random_median": float(eps.median()),
           f"{w}_random_q01": float(torch.quantile(eps.float(), 0.01)), f"{w}_random_nets": float(cfg.random_nets[wi]),
           f"{w}_gc_survivors": float(gc["survivors"][nr]), f"{w}_gc_pred": float(gc["pred"][nr])}
    _put_mean(out, f"{w}_gc_mean", rnd.survivor_errors(wi, nr))
    return out


def _gd_numbers(result: Result, wi: int, w: str) -> dict[str, float]:
    """GD-trained networks of width ``widths[wi]``: means over the seeds that reached zero training
    error without diverging (bootstrap intervals), the Beta model and the reweighting predictions."""
    cfg, gd = result.config, result.gd
    ok, test = gd.ok(wi), gd.test[wi]
    out: dict[str, float] = {}
    k = max([i for i, n in enumerate(cfg.gd_n) if n <= cfg.random_n_max], default=0)
    out["gc_n_gd"] = float(cfg.gd_n[k])
    _put_mean(out, f"{w}_gd_at_gc", test[k], ok[k])
    out[f"{w}_randq_at_gc"] = float(result.random.q_prediction(wi, [cfg.gd_n[k]])[0][0])
    out[f"{w}_a"], out[f"{w}_b"] = gd.fits[wi]
    _put_mean(out, f"{w}_gd_first", test[0], ok[0])
    _put_mean(out, f"{w}_gd_last", test[-1], ok[-1])
    out[f"{w}_model_last"] = float(gd.model_curve(wi, [cfg.gd_n[-1]])[0])
    out[f"{w}_model_relerr"] = (out[f"{w}_model_last"] - out[f"{w}_gd_last"]) / out[f"{w}_gd_last"]
    rw, _ = gd.reweight_prediction(wi)
    mean = gd.mean(wi)
    out[f"{w}_reweight_last"] = float(rw[-1])
    rel = ((rw - mean) / mean).numpy()[1:]
    out[f"{w}_reweight_relerr"] = float(np.nanmean(rel)) if np.isfinite(rel).any() else math.nan
    fitted, div = gd.train[wi] == 0, gd.diverged[wi]
    stats.put_share(out, f"{w}_zero_train_frac", fitted, ~div)
    stats.put_share(out, f"{w}_zero_train_frac_last", fitted[-1], ~div[-1])
    out[f"{w}_diverged"] = float(div.sum())
    return out


def numbers(result: Result) -> dict[str, float]:
    """Every number chapter 5 states, as floats. Estimates from runs come with ``_lo``, ``_hi`` (95%)
    and ``_n``; diverged GD runs are excluded everywhere (NaN when no valid run is left). Keys by
    width role: ``small_*`` = ``widths[0]``, ``large_*`` = ``widths[-1]``. Shares and means of
    survivors (``toy_bad_*``, ``toy_mean_N``, ``*_gc_mean``) are pooled over training sets."""
    out = {**_config_numbers(result), **_toy_numbers(result)}
    for wi in range(len(result.config.widths)):
        w = width_key(result, wi)
        out.update(_random_numbers(result, wi, w))
        out.update(_gd_numbers(result, wi, w))
    m0, m1 = result.gd.mean(0), result.gd.mean(len(result.config.widths) - 1)
    gap = (m0 - m1).abs()
    out["width_gap_max"] = float(np.nanmax(gap.numpy())) if (~gap.isnan()).any() else math.nan
    out["width_gap_last"] = float(m0[-1] - m1[-1])
    out["random_diverged"] = float(result.random.diverged.sum())
    out["gd_diverged"] = float(result.gd.diverged.sum())
    out["gd_runs"] = float(result.gd.diverged.numel())
    return {k: float(v) for k, v in out.items()}


def _est(nums: dict[str, float], key: str) -> stats.Estimate:
    return stats.Estimate(nums[key], nums[f"{key}_lo"], nums[f"{key}_hi"], int(nums[f"{key}_n"]))


def paper_vs_ours(result: Result) -> list[dict]:
    """Rows of the closing table: the papers' statements (with where), our numbers with their 95%
    intervals, our scale, and how many runs diverged."""
    s, cfg = numbers(result), result.config
    toy_scale = (f"perceptron d={cfg.toy_d}, {cfg.toy_classifiers:,} classifiers, "
                 f"{cfg.toy_train_sets} training sequences")
    mn = f"MNIST {cfg.classes[0]} vs {cfg.classes[1]}, {28 // cfg.pool}x{28 // cfg.pool} px, test n={result.n_test}"
    w0, w1, N = cfg.widths[0], cfg.widths[-1], cfg.toy_n_max
    return [
        {"quantity": f"fraction of zero-error solutions with error > {cfg.toy_eps0:g} at n={N}, pooled over "
                     f"training sequences (toy; theory {s['toy_bad_theory_N']:.3g})",
         "paper": "decays exponentially in n (qualitative; 2211.03570, abstract)",
         "ours": f"{_est(s, 'toy_bad_N'):.3g}", "scale": toy_scale},
        {"quantity": f"mean true error of zero-error perceptrons at n={N} (toy; theory {s['toy_mean_theory_N']:.3g})",
         "paper": "not reported (the toy is ours)", "ours": f"{_est(s, 'toy_mean_N'):.3g}", "scale": toy_scale},
        {"quantity": f"guess and check, width {w1}: mean test error of survivors at n={cfg.random_n_max} "
                     f"(formula from sampled Q: {s['large_gc_pred']:.3g})",
         "paper": "random-sampling experiments on synthetic data and an MNIST subset (2211.03570, abstract; values not checked)",
         "ours": f"{_est(s, 'large_gc_mean'):.3g}", "scale": f"{mn}, {cfg.random_nets[-1]:,} random nets"},
        {"quantity": f"GD-trained width {w1}: test error at n={cfg.gd_n[-1]} (Beta model fitted on "
                     f"n<={cfg.fit_n_max}: {s['large_model_last']:.3g})",
         "paper": "model learning curves align with MNIST and CIFAR-10 (2410.16868, abstract; their density model not checked)",
         "ours": f"{_est(s, 'large_gd_last'):.3g}", "scale": f"{mn}, {cfg.gd_seeds} seeds per n, {cfg.steps} GD steps"},
        {"quantity": f"largest gap between the GD learning curves of widths {w0} and {w1} ({s['param_ratio']:.0f}x the parameters)",
         "paper": "bounds do not depend on the parameter count (qualitative; both abstracts)", "ours": s["width_gap_max"],
         "scale": f"{mn}, n={cfg.gd_n[0]}..{cfg.gd_n[-1]}"},
        {"quantity": "diverged GD runs (excluded from every statistic)", "paper": "not reported",
         "ours": f"{s['gd_diverged']:.0f} of {s['gd_runs']:.0f}",
         "scale": "the toy and the random networks train nothing (0 diverged)"},
    ]
