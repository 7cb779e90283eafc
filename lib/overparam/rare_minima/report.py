"""What chapter 5 states: ``CLAIM``, ``numbers(result)`` (every number the prose, the closing table
and the summary quote) and ``paper_vs_ours(result)``."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import stats
from ..book import row as _row
from .run import Result

__all__ = ["CLAIM", "numbers", "paper_vs_ours", "width_key", "scale"]

CLAIM = (
    "Among classifiers with zero training error, drawn from a data-independent measure and averaged over "
    "training sets, the fraction with true error above $\\epsilon_0$ falls like "
    "$\\int_{\\epsilon_0}^1 Q(\\epsilon) (1-\\epsilon)^n \\, d\\epsilon \\big/ \\int_0^1 Q(\\epsilon) (1-\\epsilon)^n \\, d\\epsilon$, "
    "exponentially in $n$, and the learning curve this implies depends on the error density $Q$ only, not on the "
    "number of parameters."
)

#: The toy's training-set sizes that ``numbers()`` reports (keys ``..._n30``, ``..._n60``; NaN with
#: ``_n = 0`` when ``toy_n_max`` is smaller).
TOY_REPORT_N = (30, 60)


def width_key(result: Result, wi: int) -> str:
    """Keys by role: ``"small"`` = ``widths[0]``, ``"large"`` = ``widths[-1]``, else ``"w<width>"``."""
    widths = result.config.widths
    return "small" if wi == 0 else "large" if wi == len(widths) - 1 else f"w{widths[wi]}"


def _put_mean(out: dict, key: str, values, valid=None) -> None:
    stats.put_mean(out, key, values, valid)


def _bootstrap(data: tuple, statistic, paired: bool) -> tuple[float, float]:
    """95% interval of ``statistic`` by ``scipy.stats.bootstrap`` (BCa, then percentile if BCa is
    undefined; fixed seed, as in :mod:`overparam.stats`)."""
    import warnings

    from scipy import stats as sps

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = sps.bootstrap(data, statistic, paired=paired, vectorized=True, n_resamples=stats.N_RESAMPLES,
                               method=method, random_state=np.random.default_rng(stats.BOOTSTRAP_SEED)).confidence_interval
        if np.isfinite(ci.low) and np.isfinite(ci.high):
            return float(ci.low), float(ci.high)
    return -math.inf, math.inf


def ratio_over_sets(num, den) -> stats.Estimate:
    """The pooled (annealed) ratio ``sum_r num_r / sum_r den_r`` over training sets ``r`` with a 95%
    interval that resamples *training sets* (paired bootstrap over ``r``), not survivors: survivors of
    one set share its version space and are not independent draws. ``n`` = number of sets. NaN when
    nothing survives. (Not in :mod:`overparam.stats`, which has means and shares only.)"""
    num, den = (np.asarray(stats.valid_values(v), dtype=np.float64) for v in (num, den))
    R, total = len(den), float(den.sum())
    if R == 0 or total == 0:
        return stats.Estimate(math.nan, math.nan, math.nan, R if total == 0 else 0)
    value = float(num.sum()) / total
    if R == 1:
        return stats.Estimate(value, -math.inf, math.inf, 1)
    lo, hi = _bootstrap((num, den), lambda a, b, axis=-1: a.sum(axis) / np.maximum(b.sum(axis), 1e-300), paired=True)
    return stats.Estimate(value, min(lo, value), max(hi, value), R)


def diff_of_means(a, b) -> stats.Estimate:
    """``mean(a) - mean(b)`` of two independent samples with a 95% bootstrap interval (each sample
    resampled on its own); ``n`` = ``len(a) + len(b)``; NaN if either is empty."""
    a, b = stats.valid_values(a), stats.valid_values(b)
    if len(a) == 0 or len(b) == 0:
        return stats.Estimate(math.nan, math.nan, math.nan, 0)
    value = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return stats.Estimate(value, -math.inf, math.inf, len(a) + len(b))
    lo, hi = _bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis), paired=False)
    return stats.Estimate(value, min(lo, value), max(hi, value), len(a) + len(b))


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
    """The toy, at ``n`` in :data:`TOY_REPORT_N` (and ``N``). Three ways to average the share of bad
    survivors (error > eps0) and their mean error:

    - ``toy_bad_pooled_n<n>``, ``toy_mean_pooled_n<n>``: POOLED over the shared training sequences
      (annealed; a ratio of sums), interval from a bootstrap over the sequences, ``_n`` = sequences;
    - ``toy_bad_quenched_n<n>``, ``toy_mean_quenched_n<n>``: each sequence's own share, averaged over
      the sequences that still have survivors (quenched), bootstrap over those sequences;
    - ``toy_bad_fresh_n<n>``: the fresh-set control (every classifier on its own sequence, so
      survivors are independent), binomial interval, ``_n`` = survivors;

    against ``toy_bad_formula_n<n>``. ``toy_survivors_n<n>`` (all sequences), ``toy_sets_alive_n<n>``
    (sequences with at least one survivor), ``toy_survivors_median_n<n>`` / ``_max_n<n>`` (per
    sequence). ``toy_bad_0`` / ``toy_mean_0``: all sampled classifiers (independent draws)."""
    toy, cfg = result.toy, result.config
    N = cfg.toy_n_max
    out: dict[str, float] = {}
    surv, bad, esum = toy.survivors, toy.bad, toy.eps_sum
    # n = 0: every sampled classifier once (independent draws; the sequences do not matter yet)
    bad_bins = toy.edges[:-1] >= cfg.toy_eps0 - 1e-12
    stats.put(out, "toy_bad_0", stats.share_from_counts(int(toy.q_hist[bad_bins].sum()), int(toy.q_hist.sum())))
    out["toy_bad_theory_0"] = float(toy.theory_bad[0])
    out["toy_mean_0"] = float(toy.mean_error()[0])
    per_bad, per_mean = toy.bad_fraction_per_set(), toy.mean_error_per_set()
    for n in sorted({*TOY_REPORT_N, N}):
        tag = "N" if n == N and n not in TOY_REPORT_N else f"n{n}"
        if n > N:
            for key in ("bad_pooled", "bad_quenched", "bad_fresh", "mean_pooled", "mean_quenched"):
                stats.put(out, f"toy_{key}_{tag}", stats.Estimate(math.nan, math.nan, math.nan, 0))
            for key in ("bad_formula", "mean_formula", "survivors", "sets_alive", "survivors_median", "survivors_max",
                        "fresh_survivors"):
                out[f"toy_{key}_{tag}"] = math.nan
            continue
        stats.put(out, f"toy_bad_pooled_{tag}", ratio_over_sets(bad[:, n], surv[:, n]))
        stats.put(out, f"toy_mean_pooled_{tag}", ratio_over_sets(esum[:, n], surv[:, n]))
        stats.put_mean(out, f"toy_bad_quenched_{tag}", per_bad[:, n])
        stats.put_mean(out, f"toy_mean_quenched_{tag}", per_mean[:, n])
        stats.put(out, f"toy_bad_fresh_{tag}", stats.share_from_counts(int(toy.fresh_bad[n]), int(toy.fresh_survivors[n])))
        out[f"toy_fresh_survivors_{tag}"] = float(toy.fresh_survivors[n])
        out[f"toy_bad_formula_{tag}"] = float(toy.theory_bad[n])
        out[f"toy_mean_formula_{tag}"] = float(toy.theory_mean[n])
        out[f"toy_survivors_{tag}"] = float(surv[:, n].sum())
        out[f"toy_sets_alive_{tag}"] = float((surv[:, n] > 0).sum())
        out[f"toy_survivors_median_{tag}"] = float(surv[:, n].median())
        out[f"toy_survivors_max_{tag}"] = float(surv[:, n].max())
    out["toy_survival_theory_N"] = float(toy.theory_Z[N])
    # decay rates per training point (closed forms, no interval): the formula's local slope
    # d log B_n / dn at n = N, the single-classifier rate log(1 - eps0), and the asymptotic
    # B_n ~ C n^(d-2) (1 - eps0)^n, whose local slope is log(1 - eps0) + (d - 2)/n
    if N >= 1:
        out["toy_formula_slope_N"] = math.log(float(toy.theory_bad[N]) / float(toy.theory_bad[N - 1]))
    out["toy_rate_single"] = math.log(1 - cfg.toy_eps0)
    out["toy_rate_asymptotic_N"] = math.log(1 - cfg.toy_eps0) + (cfg.toy_d - 2) / max(N, 1)
    out["toy_fresh_classifiers"] = float(toy.fresh_classifiers)
    # the n from which the simple bound (eps1 = eps0/2) drops below 1
    grid, q, e0 = toy.grid, toy.Q, cfg.toy_eps0
    ratio = float(q[grid > e0].sum() / q[grid <= e0 / 2].sum())
    out["toy_bound_n_star"] = math.log(ratio) / math.log((1 - e0 / 2) / (1 - e0))
    out["toy_diverged"] = float(toy.diverged.sum())
    return out


def _random_numbers(result: Result, wi: int, w: str) -> dict[str, float]:
    """Random networks of width ``widths[wi]``: their error density (the ``Q`` sample) and guess and
    check at ``n = random_n_max``: survivors (count, share of (network, sequence) pairs with a
    bootstrap over sequences), their mean held-out error pooled over the sequences (annealed,
    bootstrap over sequences) and averaged per sequence (quenched: one random survivor per training
    set, the prior-conditioning counterpart of one GD run per training set)."""
    cfg, rnd = result.config, result.random
    eps, nr = rnd.q_sample(wi), cfg.random_n_max
    gc = rnd.guess_and_check(wi)
    out = {f"{w}_params": float(cfg.params_count(wi)), f"{w}_random_median": float(eps.median()),
           f"{w}_random_q01": float(torch.quantile(eps.float(), 0.01)), f"{w}_random_nets": float(cfg.random_nets[wi]),
           f"{w}_random_q_nets": float(len(eps)),
           f"{w}_gc_survivors": float(gc["survivors"][nr]), f"{w}_gc_pred": float(gc["pred"][nr])}
    s, e = rnd.per_set(wi, nr)
    out[f"{w}_gc_sets_alive"] = float((s > 0).sum())
    stats.put(out, f"{w}_gc_mean", ratio_over_sets(e, s))
    stats.put_mean(out, f"{w}_gc_quenched", torch.where(s > 0, e / s.clamp_min(1), torch.nan))
    stats.put_mean(out, f"survivors_width{cfg.widths[wi]}", s / cfg.random_nets[wi])
    out[f"survivors_width{cfg.widths[wi]}_count"] = float(s.sum())
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
    # the Beta model's relative error at every n above its fit range; interval from the GD mean's
    # interval (the fit's own uncertainty is not included)
    rels = []
    for kk, n in enumerate(cfg.gd_n):
        if n <= cfg.fit_n_max:
            continue
        g = stats.mean_ci(test[kk], ok[kk])
        model = float(gd.model_curve(wi, [n])[0])
        lo, hi = (model / g.hi - 1, model / g.lo - 1) if g.n > 1 and g.lo > 0 else (-math.inf, math.inf)
        est = stats.Estimate(model / g.value - 1, min(lo, hi), max(lo, hi), g.n) if g.n else stats.Estimate(math.nan, math.nan, math.nan, 0)
        stats.put(out, f"{w}_model_relerr_n{n}", est)
        rels.append(est.value)
    rels = np.array(rels, dtype=float)
    ok_rel = rels[np.isfinite(rels)]
    out[f"{w}_model_relerr_min"] = float(ok_rel.min()) if len(ok_rel) else math.nan
    out[f"{w}_model_relerr_max"] = float(ok_rel.max()) if len(ok_rel) else math.nan
    # GD against prior conditioning at the same n: GD's mean held-out error minus that of the
    # random-network survivors (one random survivor per training set: the per-sequence mean)
    nr = cfg.random_n_max
    if nr in cfg.gd_n:
        kk = cfg.gd_n.index(nr)
        s_, e_ = result.random.per_set(wi, nr)
        surv_mean = torch.where(s_ > 0, e_ / s_.clamp_min(1), torch.nan)
        stats.put(out, f"{w}_gd_vs_survivors_gap_n{nr}", diff_of_means(stats.valid_values(test[kk], ok[kk]),
                                                                      stats.valid_values(surv_mean)))
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


#: The label-noise toy is reported at this ``n`` (survivors of flipped labels become rare fast).
NOISY_REPORT_N = 20


def _noisy_numbers(result: Result) -> dict[str, float]:
    """The label-noise toy at ``n = NOISY_REPORT_N``: the share of survivors with clean error > eps0
    and their mean clean error, pooled over the noisy sequences (bootstrap over sequences, ``_n`` =
    sequences), and in the fresh-set control (binomial, ``_n`` = survivors), against the survival
    formula with the noisy disagreement rate and the noise-free formula. ``toy_noisy_rate_factor``: the per-point decay of the weight of error ``eps`` relative to
    ``eps = 0`` is ``1 - eps (1 - 2 eta)/(1 - eta)`` instead of ``1 - eps``."""
    nt, cfg = result.noisy, result.config
    n, out = NOISY_REPORT_N, {}
    eta = cfg.toy_noise
    out["toy_noise"], out["toy_noise_sets"], out["toy_noisy_report_n"] = eta, float(cfg.toy_noise_sets), float(n)
    out["toy_noisy_rate_factor"] = (1 - 2 * eta) / (1 - eta)
    if nt is None or n > cfg.toy_n_max:
        for key in ("bad_pooled", "mean_pooled", "bad_fresh"):
            stats.put(out, f"toy_noisy_{key}_n{n}", stats.Estimate(math.nan, math.nan, math.nan, 0))
        for key in ("bad_formula", "mean_formula", "survivors", "clean_bad_formula", "fresh_survivors", "survival_formula"):
            out[f"toy_noisy_{key}_n{n}"] = math.nan
        out[f"toy_noisy_survival_factor_n{n}"] = out[f"toy_noisy_bad_shift_n{n}"] = math.nan
        stats.put(out, f"toy_noisy_survival_fresh_n{n}", stats.Estimate(math.nan, math.nan, math.nan, 0))
        out[f"toy_clean_survival_formula_n{n}"] = math.nan
        out["toy_noisy_diverged"] = 0.0
        return out
    stats.put(out, f"toy_noisy_bad_pooled_n{n}", ratio_over_sets(nt.bad[:, n], nt.survivors[:, n]))
    stats.put(out, f"toy_noisy_mean_pooled_n{n}", ratio_over_sets(nt.eps_sum[:, n], nt.survivors[:, n]))
    stats.put(out, f"toy_noisy_bad_fresh_n{n}", stats.share_from_counts(int(nt.fresh_bad[n]), int(nt.fresh_survivors[n])))
    out[f"toy_noisy_fresh_survivors_n{n}"] = float(nt.fresh_survivors[n])
    out["toy_noise_fresh"] = float(cfg.toy_noise_fresh)
    out[f"toy_noisy_bad_formula_n{n}"] = float(nt.theory_bad[n])
    out[f"toy_noisy_mean_formula_n{n}"] = float(nt.theory_mean[n])
    out[f"toy_noisy_clean_bad_formula_n{n}"] = float(nt.clean_bad[n])
    out[f"toy_noisy_survivors_n{n}"] = float(nt.survivors[:, n].sum())
    # the probability of zero training error: fresh-set control (binomial) vs the noisy formula's Z_n,
    # and the noise-free Z_n for contrast
    stats.put(out, f"toy_noisy_survival_fresh_n{n}", stats.share_from_counts(int(nt.fresh_survivors[n]), cfg.toy_noise_fresh))
    out[f"toy_noisy_survival_formula_n{n}"] = float(nt.theory_Z[n])
    out[f"toy_clean_survival_formula_n{n}"] = float(result.toy.theory_Z[n])
    out[f"toy_noisy_survival_factor_n{n}"] = float(result.toy.theory_Z[n] / nt.theory_Z[n])
    out[f"toy_noisy_bad_shift_n{n}"] = float(nt.theory_bad[n] - nt.clean_bad[n])
    out["toy_noisy_diverged"] = float(nt.diverged.sum())
    return out


def _under_numbers(result: Result) -> dict[str, float]:
    """(c) The under-parameterized width against its own ``Q``: per ``n`` in ``under_n`` the mean
    held-out error of the GD runs that reached zero training error (``under_gd_n<n>``, bootstrap),
    their share (``under_zero_train_frac_n<n>``), the learning curve predicted by conditioning its
    random networks' ``Q`` on zero training error (``under_pred_n<n>``, no interval; its effective
    sample size ``under_ess_n<n>``), and GD minus that prediction (``under_gap_n<n>``, interval from
    GD's only: the prediction is held fixed). At ``cmp_n`` (the largest ``n`` with an effective sample
    size of at least 10 that both widths of part (b) were also trained on), the same gap for every width
    (``{small,large}_qgap_cmp``); at ``common_n`` (the largest ``n`` in both grids) the under-parameterized
    curve minus the widest one (``under_minus_large_common``, independent samples)."""
    u, cfg, gd = result.under, result.config, result.gd
    out = {"under_width": float(cfg.under_width), "under_params": float(cfg.under_params),
           "under_nets": float(cfg.under_nets), "under_seeds": float(cfg.under_seeds),
           "under_steps": float(cfg.under_steps), "under_n_last": float(cfg.under_n[-1]),
           "under_param_ratio": cfg.params_count(len(cfg.widths) - 1) / cfg.under_params}
    if u is None:
        return out
    out["under_q_min"] = float(u.q_eps.min())
    out["under_q_median"] = float(u.q_eps.median())
    ok = u.ok()
    pred, ess = u.q_prediction()
    for k, n in enumerate(u.n):
        g = stats.mean_ci(u.test[k], ok[k])
        stats.put(out, f"under_gd_n{n}", g)
        stats.put_share(out, f"under_zero_train_frac_n{n}", u.train[k] == 0, ~u.diverged[k])
        out[f"under_pred_n{n}"], out[f"under_ess_n{n}"] = float(pred[k]), float(ess[k])
        stats.put(out, f"under_gap_n{n}", stats.Estimate(g.value - float(pred[k]), g.lo - float(pred[k]),
                                                          g.hi - float(pred[k]), g.n))
    out["under_diverged"] = float(u.diverged.sum())
    common = sorted(set(cfg.gd_n) & set(u.n))
    cmp = [n for n in common if float(u.q_prediction([n])[1][0]) >= 10]
    out["cmp_n"] = float(cmp[-1]) if cmp else math.nan
    out["common_n"] = float(common[-1]) if common else math.nan
    for wi in range(len(cfg.widths)):
        w = width_key(result, wi)
        if not cmp:
            stats.put(out, f"{w}_qgap_cmp", stats.Estimate(math.nan, math.nan, math.nan, 0))
            continue
        k = cfg.gd_n.index(cmp[-1])
        g = stats.mean_ci(gd.test[wi][k], gd.ok(wi)[k])
        p_, e_ = result.random.q_prediction(wi, [cmp[-1]])
        out[f"{w}_qpred_cmp"], out[f"{w}_qess_cmp"] = float(p_[0]), float(e_[0])
        stats.put(out, f"{w}_gd_cmp", g)
        stats.put(out, f"{w}_qgap_cmp", stats.Estimate(g.value - float(p_[0]), g.lo - float(p_[0]), g.hi - float(p_[0]), g.n))
    if cmp:
        out["under_pred_cmp"] = float(u.q_prediction([cmp[-1]])[0][0])
        out["under_ess_cmp"] = float(u.q_prediction([cmp[-1]])[1][0])
        for sfx in ("", "_lo", "_hi", "_n"):
            out[f"under_gd_cmp{sfx}"] = out[f"under_gd_n{cmp[-1]}{sfx}"]
            out[f"under_qgap_cmp{sfx}"] = out[f"under_gap_n{cmp[-1]}{sfx}"]
            out[f"under_zero_train_frac_cmp{sfx}"] = out[f"under_zero_train_frac_n{cmp[-1]}{sfx}"]
    if common:
        n, wl = common[-1], len(cfg.widths) - 1
        k, ku = cfg.gd_n.index(n), u.n.index(n)
        stats.put(out, "under_minus_large_common", diff_of_means(stats.valid_values(u.test[ku], ok[ku]),
                                                                 stats.valid_values(gd.test[wl][k], gd.ok(wl)[k])))
    return out


def numbers(result: Result) -> dict[str, float]:
    """Every number chapter 5 states, as floats. Estimates from runs come with ``_lo``, ``_hi`` (95%)
    and ``_n``; diverged GD runs are excluded everywhere (NaN when no valid run is left). Keys by
    width role: ``small_*`` = ``widths[0]``, ``large_*`` = ``widths[-1]``. Shares and means of
    survivors are pooled over training sets (``*_pooled_*``, ``*_gc_mean``: annealed, bootstrap over
    sets) or averaged per set (``*_quenched_*``, ``*_gc_quenched``), see :func:`_toy_numbers`."""
    out = {**_config_numbers(result), **_toy_numbers(result)}
    for wi in range(len(result.config.widths)):
        w = width_key(result, wi)
        out.update(_random_numbers(result, wi, w))
        out.update(_gd_numbers(result, wi, w))
    m0, m1 = result.gd.mean(0), result.gd.mean(len(result.config.widths) - 1)
    gap = (m0 - m1).abs()
    out["width_gap_max"] = float(np.nanmax(gap.numpy())) if (~gap.isnan()).any() else math.nan
    out["width_gap_last"] = float(m0[-1] - m1[-1])
    nr = result.config.random_n_max
    if f"large_gd_vs_survivors_gap_n{nr}" in out:  # the over-parameterized width, under the name
        for sfx in ("", "_lo", "_hi", "_n"):
            out[f"gd_vs_survivors_gap_n{nr}{sfx}"] = out[f"large_gd_vs_survivors_gap_n{nr}{sfx}"]
    out.update(_noisy_numbers(result))
    out.update(_under_numbers(result))
    out["random_diverged"] = float(result.random.diverged.sum())
    out["gd_diverged"] = float(result.gd.diverged.sum())
    out["gd_runs"] = float(result.gd.diverged.numel())
    return {k: float(v) for k, v in out.items()}


def scale(cfg) -> str:
    """One sentence: what the chapter ran (seeds, widths, n, steps) at ``cfg``."""
    w = ", ".join(f"{m} ({cfg.params_count(i):,} parameters)" for i, m in enumerate(cfg.widths))
    return (f"Toy: perceptrons in $d = {cfg.toy_d}$, {cfg.toy_classifiers:,} classifiers on {cfg.toy_train_sets} shared "
            f"training sequences of length {cfg.toy_n_max} and {cfg.toy_fresh:,} on fresh ones; MNIST {cfg.classes[0]} vs "
            f"{cfg.classes[1]} at {28 // cfg.pool}×{28 // cfg.pool} pixels, widths {w}: {', '.join(f'{k:,}' for k in cfg.random_nets)} "
            f"random networks on {cfg.random_train_sets} sequences of length {cfg.random_n_max}, GD at "
            f"$n \\in \\{{{', '.join(map(str, cfg.gd_n))}\\}}$ with {cfg.gd_seeds} seeds and {cfg.steps} steps; width "
            f"{cfg.under_width} ({cfg.under_params} parameters): {cfg.under_seeds} seeds, {cfg.under_steps} steps, "
            f"{cfg.under_nets:,} random networks.")


def paper_vs_ours(result: Result, paper: dict | None = None) -> list[dict]:
    """Rows of the closing table (:func:`overparam.book.comparison_table`): the papers' statements
    (with where), the verdict (yes / partly / no, from the numbers) and why, our numbers with their
    95% intervals and counts; with a stored ``paper`` record, its value in ``paper_preset``. Built by
    :func:`_rows` from ``numbers()`` and the config only."""
    from .. import book

    return book.table_rows(_rows, numbers(result), result.config, paper)


def _inside(s: dict[str, float], key: str, value: float) -> bool:
    """``value`` lies in the 95% interval of estimate ``key`` (which rests on at least one run)."""
    return s[f"{key}_n"] > 0 and s[f"{key}_lo"] <= value <= s[f"{key}_hi"]


def _rows(s: dict[str, float], cfg) -> list[dict]:
    """The rows from the numbers ``s`` and the config ``cfg`` (nothing else)."""
    return _toy_rows(s, cfg) + _mnist_rows(s, cfg) + _under_rows(s, cfg) + _noise_rows(s, cfg) + [
        _row("cifar", "learning curves on CIFAR-10", "model learning curves align with CIFAR-10 (2410.16868, abstract)",
             ("no", "not run: MNIST only"), "not run"),
        _diverged_row(s, cfg)]


def _toy_rows(s: dict[str, float], cfg) -> list[dict]:
    from ..book import ci

    nt = max(n for n in TOY_REPORT_N if n <= cfg.toy_n_max) if cfg.toy_n_max >= min(TOY_REPORT_N) else cfg.toy_n_max
    tag = f"n{nt}" if nt in TOY_REPORT_N else "N"
    f = s[f"toy_bad_formula_{tag}"]
    v_toy = (("yes", "the fresh-set share matches the formula") if _inside(s, f"toy_bad_fresh_{tag}", f)
             else ("partly", "the pooled share matches the formula") if _inside(s, f"toy_bad_pooled_{tag}", f)
             else ("no", "off the formula"))
    count, w1 = s[f"survivors_width{cfg.widths[-1]}_count"], cfg.widths[-1]
    return [
        _row("toy_bad", f"share of zero-training-error perceptrons with error above $\\epsilon_0 = {cfg.toy_eps0:g}$ "
             f"at $n = {nt}$ (toy): pooled over sequences (annealed) / fresh set per classifier",
             "falls exponentially in $n$ (2211.03570, abstract)", v_toy,
             f"{ci(s, f'toy_bad_pooled_{tag}')} / {ci(s, f'toy_bad_fresh_{tag}')}; our formula: {f:.3g}"),
        _row("toy_quenched", f"the same share per training sequence, then averaged (quenched: what one learner sees), "
             f"$n = {nt}$", "the formula averages over training sets (annealed); one learner is not discussed",
             ("partly", "the per-learner average differs from the formula") if not _inside(s, f"toy_bad_quenched_{tag}", f)
             else ("yes", "matches the formula here"), ci(s, f"toy_bad_quenched_{tag}")),
        _row("guess_check", f"guess and check, widest net: surviving (network, sequence) pairs at $n = {cfg.random_n_max}$ "
             "and their mean held-out error, pooled", "random sampling on synthetic data and an MNIST subset "
             "(2211.03570, abstract)",
             ("no", "no survivor") if count == 0 else ("partly", "few survivors; no value of the paper to compare")
             if count < 30 else ("partly", "no value of the paper to compare"),
             f"{count:.0f} of {cfg.random_nets[-1]:,} × {cfg.random_train_sets}; {ci(s, 'large_gc_mean')} "
             f"(from the sampled $Q$: {s['large_gc_pred']:.3g}; width {w1})"),
    ]


def _mnist_rows(s: dict[str, float], cfg) -> list[dict]:
    from ..book import ci

    rows, nr = [], cfg.random_n_max
    gap = f"large_gd_vs_survivors_gap_n{nr}"
    if gap in s:
        excl = s[f"{gap}_hi"] < 0 or s[f"{gap}_lo"] > 0
        rows.append(_row("gd_vs_survivors", f"GD-trained widest net minus random-network survivors (one per training "
                         f"set), held-out error at $n = {nr}$", "the survival argument applied to trained networks "
                         "(2410.16868, abstract)",
                         ("no", "GD differs from prior conditioning: the interval excludes 0") if excl
                         else ("partly", "not decided: the interval includes 0"), ci(s, gap)))
    big = [n for n in cfg.gd_n if n > cfg.fit_n_max]
    rel = ", ".join(f"$n = {n}$: {s[f'large_model_relerr_n{n}']:+.2f}" for n in big)
    worst = max((abs(s[f"large_model_relerr_n{n}"]) for n in big), default=math.nan)
    w0, w1 = cfg.params_count(0), cfg.params_count(len(cfg.widths) - 1)
    gap_max = s["width_gap_max"]
    rows += [
        _row("gd_curve", f"GD-trained widest net: test error at the largest $n$; a Beta model fitted at "
             f"$n \\le {cfg.fit_n_max}$ (phenomenological) and its relative error above the fit range",
             "model learning curves align with MNIST and CIFAR-10 (2410.16868, abstract)",
             ("partly", "our Beta family, not the paper's density model") if worst < 0.5
             else ("no", "the model is off by more than half"),
             f"{ci(s, 'large_gd_last')}; model {s['large_model_last']:.3g}; relative error {rel}"),
        _row("width_gap", "largest gap between the GD learning curves of the narrowest and widest width",
             "bounds do not depend on the parameter count (both abstracts)",
             ("partly", "no interval; both widths over-parameterized (see the width-2 row)"),
             f"{gap_max:.3g} ({w0:,} vs {w1:,} parameters)"),
    ]
    return rows


def _under_rows(s: dict[str, float], cfg) -> list[dict]:
    """The under-parameterized width and each width against its own Q."""
    from ..book import ci

    if "under_minus_large_common" not in s:
        return []
    inc = s["under_minus_large_common_lo"] <= 0 <= s["under_minus_large_common_hi"]
    below = all(s.get(f"{w}_qgap_cmp_hi", math.nan) < 0 for w in ("under", "small", "large"))
    ess = " / ".join(f"{s.get(k, math.nan):.0f}" for k in ("under_ess_cmp", "small_qess_cmp", "large_qess_cmp"))
    return [
        _row("under_vs_wide", f"GD-trained width {cfg.under_width} ({cfg.under_params} parameters) minus the widest net, "
             f"held-out error at $n = {s['common_n']:.0f}$ (zero-training-error runs)",
             "no dependence on the parameter count (both abstracts)",
             ("yes", "an under-parameterized net matches the widest: the interval includes 0") if inc
             else ("no", "the interval excludes 0"), ci(s, "under_minus_large_common")),
        _row("own_q", f"GD minus the curve predicted from each width's own random-network $Q$ at $n = {s['cmp_n']:.0f}$, "
             f"width {cfg.under_width} / narrowest / widest",
             "learning curves from the error density (2410.16868, abstract)",
             ("no", "GD beats its initialization's $Q$ at every width") if below
             else ("partly", "not decided: an interval includes 0"),
             " / ".join(ci(s, f"{w}_qgap_cmp") for w in ("under", "small", "large")) + f" (effective sample sizes {ess})"),
    ]


def _noise_rows(s: dict[str, float], cfg) -> list[dict]:
    """The label-noise toy."""
    from ..book import ci

    n = NOISY_REPORT_N
    if f"toy_noisy_bad_fresh_n{n}" not in s or not math.isfinite(s[f"toy_noisy_bad_fresh_n{n}"]):
        return []
    f = s[f"toy_noisy_survival_formula_n{n}"]
    return [_row(
        "label_noise", f"label-noise toy (flip rate {cfg.toy_noise:g}), $n = {n}$: probability of zero training error / "
        "share of bad survivors, fresh set", "error-density model for non-separable classes (2410.16868, abstract)",
        ("yes", "on the toy (our noisy formula); MNIST with label noise not run")
        if _inside(s, f"toy_noisy_survival_fresh_n{n}", f) else ("partly", "off our noisy formula; MNIST not run"),
        f"{ci(s, f'toy_noisy_survival_fresh_n{n}')} / {ci(s, f'toy_noisy_bad_fresh_n{n}')}; formulas: "
        f"{f:.3g} (noise-free {s[f'toy_clean_survival_formula_n{n}']:.3g}) / {s[f'toy_noisy_bad_formula_n{n}']:.3g} "
        f"(noise-free {s[f'toy_noisy_clean_bad_formula_n{n}']:.3g})")]


def _diverged_row(s: dict[str, float], cfg) -> dict:
    """How many GD runs diverged (the toy and the random networks train nothing)."""
    div = s["gd_diverged"] + s.get("under_diverged", 0.0)
    return _row("diverged", "diverged GD runs (excluded from every statistic)", "gradient descent is stable (not reported)",
                ("yes", "no run diverged") if div == 0 else ("partly", f"{div:.0f} runs diverged"),
                f"{s['gd_diverged']:.0f} of {s['gd_runs']:.0f}"
                + (f"; width {cfg.under_width}: {s['under_diverged']:.0f}" if "under_diverged" in s else ""))
