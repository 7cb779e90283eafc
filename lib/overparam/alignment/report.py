"""Chapter 3's numbers: ``CLAIM``, ``numbers(result)`` (every number the prose, the table and the
summary quote) and ``paper_vs_ours(result)``.

Diverged runs are excluded from every statistic; a statistic over zero valid runs is NaN. Means over
seeds carry a bootstrap interval and shares a binomial one (:mod:`overparam.stats`); the threshold
``threshold_n`` a percentile bootstrap over seeds (:func:`threshold_n`). Per-n keys end in ``_n{n}``
(e.g. ``interp_share_n64``); per-init-scale keys in ``_l{i}`` (index into ``Scales.lams``).
Unconverged runs are *included* in every share and mean (and counted); only diverged runs are left out.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from .. import stats
from ..book import row as _row
from ..stats import Estimate
from .run import Result, Scales, Threshold, Toy

__all__ = ["CLAIM", "numbers", "estimates", "paper_vs_ours", "scale", "threshold_n", "stall_share", "toy_angles"]

CLAIM = (
    "From a small initialization, the neurons of a two-layer ReLU network first align with extremal "
    "vectors of $G(w) = \\frac{1}{n} \\sum_i y_i \\, \\sigma(w^\\top x_i)$ ($\\sigma$ the ReLU); this can stop "
    "training at a point that is not a global minimum, and on noisy linear data, once $n$ exceeds an "
    "optimization threshold, the network stops interpolating, while a large initialization of the same "
    "network, trained as long, still interpolates."
)

NAN = float("nan")


def _stalled(train: torch.Tensor, ols_train: torch.Tensor) -> torch.Tensor:
    """A run does not interpolate when its final train loss is at least half the OLS train loss of its
    data set (broadcast over the leading axes)."""
    return train >= 0.5 * ols_train


def stall_share(thr: Threshold, init: int = 0) -> list[Estimate]:
    """Per n: the share of valid (not diverged) runs of initialization ``init`` (0 small, 1 large) that
    do not interpolate, converged or not, with its binomial interval."""
    st = _stalled(thr.train[:, init], thr.ols_train)
    return [stats.share_ci(st[i], ~thr.diverged[i, init]) for i in range(len(thr.n_grid))]


def _crossing(n_grid, shares) -> float:
    """The n where the share of non-interpolating runs first reaches 1/2, interpolated linearly in
    ``log n`` between grid points (missing shares skipped); ``n_grid[0]`` if it is already there at the
    first point, ``inf`` if never."""
    prev = None
    for n, p in zip(n_grid, shares):
        if not math.isfinite(p):
            continue
        if p >= 0.5:
            if prev is None:
                return float(n)
            (n0, p0) = prev
            t = (0.5 - p0) / (p - p0)
            return float(math.exp(math.log(n0) + t * (math.log(n) - math.log(n0))))
        prev = (n, p)
    return math.inf


def threshold_n(thr: Threshold) -> Estimate:
    """The optimization threshold: where the share of small-init runs that do not interpolate crosses
    1/2 (:func:`_crossing`; unconverged runs included), with a 95% percentile bootstrap interval over
    seeds (each n resampled independently; ``inf``: beyond the grid). ``n`` = valid runs per n (the
    smallest over the grid). NaN when it never crosses in the grid or no run is valid."""
    from scipy import stats as sps

    st = _stalled(thr.train[:, 0], thr.ols_train)
    samples = [st[i][~thr.diverged[i, 0]].double().numpy() for i in range(len(thr.n_grid))]
    keep = [i for i, s in enumerate(samples) if len(s)]
    if not keep:
        return Estimate(NAN, NAN, NAN, 0)
    grid = [thr.n_grid[i] for i in keep]
    data = [samples[i] for i in keep]
    value = _crossing(grid, [float(s.mean()) for s in data])
    k = min(len(s) for s in data)
    if not math.isfinite(value):
        return Estimate(NAN, NAN, NAN, 0)
    if k < 2 or all(np.ptp(s) == 0 for s in data):
        return Estimate(value, value if k >= 2 else -math.inf, value if k >= 2 else math.inf, k)

    def stat(*xs):
        return _crossing(grid, [float(np.mean(x)) for x in xs])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ci = sps.bootstrap(tuple(data), stat, vectorized=False, paired=False, n_resamples=2000, method="percentile",
                           confidence_level=0.95, random_state=np.random.default_rng(0)).confidence_interval
    lo, hi = float(ci.low), float(ci.high)
    lo = lo if math.isfinite(lo) or lo > 0 else float(grid[0])
    return Estimate(value, min(lo, value), max(hi, value) if not math.isnan(hi) else math.inf, k)


def toy_angles(params: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Angle of each toy neuron's ``(w_j, b_j)`` and its output mass ``|a_j| ||(w_j, b_j)||``."""
    w, b, a = params["w"][..., 0], params["b"], params["a"]
    return torch.atan2(b, w), torch.sqrt(b**2 + w**2) * a.abs()


def _median(values: torch.Tensor, valid: torch.Tensor) -> float:
    v = values[valid]
    return float(v.median()) if v.numel() else NAN


def _grid_maxima(G: torch.Tensor) -> int:
    """Strict local maxima with ``G > 0`` of ``G`` sampled on a closed circle (last point = first)."""
    g = G[:-1]
    return int(((g > g.roll(1)) & (g > g.roll(-1)) & (g > 0)).sum())


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
    gap = (toy.pred.double() - toy.ls_pred[None]).abs().amax(1)
    return {
        "toy_loss0": stats.mean_ci(toy.loss[0], ok),
        "toy_plateau": stats.mean_ci(final, ok),
        "toy_plateau_ls": float(toy.ls_loss),
        "toy_ls_gap": float(gap[ok].max()) if ok.any() else NAN,
        "toy_loss_min": float(final[ok].min()) if ok.any() else NAN,
        "toy_grad": float(toy.grad[-1][ok].max()) if ok.any() else NAN,
        "toy_top_angle": top_ang,
        "toy_grid_nmax": float(_grid_maxima(toy.G)),
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
    thr = result.threshold
    ok, conv = ~thr.diverged, thr.converged
    out: dict[str, float | Estimate] = {}
    small, large = stall_share(thr, 0), stall_share(thr, 1)
    interp = ~_stalled(thr.train, thr.ols_train[:, None])  # (N, 2, S)
    for i, n in enumerate(thr.n_grid):
        out[f"interp_share_n{n}"] = stats.share_ci(interp[i, 0], ok[i, 0])
        out[f"interp_large_n{n}"] = stats.share_ci(interp[i, 1], ok[i, 1])
        out[f"unconv_small_n{n}"] = float((ok[i, 0] & ~conv[i, 0]).sum())
        out[f"unconv_large_n{n}"] = float((ok[i, 1] & ~conv[i, 1]).sum())
        for k, name in ((0, "small"), (1, "large")):
            out[f"train_{name}_n{n}"] = stats.mean_ci(thr.train[i, k], ok[i, k])
            out[f"test_{name}_n{n}"] = stats.mean_ci(thr.test[i, k], ok[i, k])
        out[f"ols_train_n{n}"] = stats.mean_ci(thr.ols_train[i])
        out[f"ols_test_n{n}"] = stats.mean_ci(thr.ols_test[i])
        # paired per data set: small-init test loss over the OLS test loss on the same data
        out[f"test_over_ols_n{n}"] = stats.mean_ci(thr.test[i, 0] / thr.ols_test[i], ok[i, 0])
        out[f"large_over_small_n{n}"] = stats.mean_ci(thr.test[i, 1] / thr.test[i, 0], ok[i, 0] & ok[i, 1])
    # preset-independent aliases: the first and last n of the grid, and the first n above the threshold
    thr_est = threshold_n(thr)
    above = [n for n in thr.n_grid if thr_est.n and n >= thr_est.value]
    for tag, n in (("first", thr.n_grid[0]), ("last", thr.n_grid[-1]), ("above", above[0] if above else None)):
        out[f"n_{tag}"] = float(n) if n is not None else NAN
        for key in ("interp_share", "interp_large", "train_small", "test_small", "train_large", "test_large",
                    "ols_train", "ols_test", "test_over_ols", "large_over_small"):
            out[f"{key}_{tag}"] = out[f"{key}_n{n}"] if n is not None else Estimate(NAN, NAN, NAN, 0)
        for key in ("unconv_small", "unconv_large"):
            out[f"{key}_{tag}"] = out[f"{key}_n{n}"] if n is not None else NAN
    vals = [e.value for e in large if e.n]
    out["interp_large_min"] = min(1 - v for v in vals) if vals else NAN
    out["n_lo"], out["n_hi"] = float(thr.n_grid[0]), float(thr.n_grid[-1])
    out["n_max"] = float(max(thr.n_grid))
    out["params"] = float(result.config.width * (result.config.d + 1))
    out["params_per_n"] = out["params"] / out["n_max"]
    out["threshold_n"] = thr_est
    del small
    return out


def _extremal_numbers(result: Result) -> dict[str, float | Estimate]:
    ext = result.extremal
    ok = ~ext.diverged
    return {
        "cos_beta_small_n": stats.mean_ci(ext.cos_beta[0]),
        "cos_beta_large_n": stats.mean_ci(ext.cos_beta[-1]),
        "align_score": stats.mean_ci(ext.align_early, ok),
        "align_random": stats.mean_ci(ext.align_random, ok),
        "align_final": stats.mean_ci(ext.align_final, ok),
        # the ascent is stopped: how much the kept quantities move between half and all of its steps
        "cos_shift": float((ext.cos_beta - ext.cos_beta_half).abs().max()),
        "align_shift": float((ext.align_early - ext.align_early_half)[ok].abs().max()) if ok.any() else NAN,
        "extremal_diverged": float(ext.diverged.sum()),
    }


def _scale_numbers(sc: Scales) -> dict[str, float | Estimate]:
    ok = ~sc.diverged
    out: dict[str, float | Estimate] = {"scale_n": float(sc.n), "scale_count": float(len(sc.lams)),
                                        "scale_diverged": float(sc.diverged.sum())}
    for i, lam in enumerate(sc.lams):
        out[f"scale_lam_l{i}"] = float(lam)
        out[f"scale_train_l{i}"] = stats.mean_ci(sc.train[i], ok[i])
        out[f"scale_test_l{i}"] = stats.mean_ci(sc.test[i], ok[i])
        out[f"scale_interp_l{i}"] = stats.share_ci(~_stalled(sc.train[i], sc.ols_train), ok[i])
        out[f"scale_unconv_l{i}"] = float((ok[i] & ~sc.converged[i]).sum())
    out["scale_unconv"] = float((ok & ~sc.converged).sum())
    out["scale_runs"] = float(ok.numel())
    last = len(sc.lams) - 1
    for key in ("scale_lam", "scale_train", "scale_test", "scale_interp", "scale_unconv"):
        out[f"{key}_last"] = out[f"{key}_l{last}"]
    return out


def _convergence_numbers(thr: Threshold) -> dict[str, float | Estimate]:
    ok, conv = ~thr.diverged, thr.converged
    unconv = ok & ~conv  # valid runs that did not pass the check
    return {
        "runs": float(ok.numel()),
        "conv_small": stats.share_ci(conv[:, 0], ok[:, 0]),
        "conv_large": stats.share_ci(conv[:, 1], ok[:, 1]),
        "unconverged": float(unconv.sum()),
        "unconv_small": float(unconv[:, 0].sum()),
        "unconv_large": float(unconv[:, 1].sum()),
        "threshold_diverged": float(thr.diverged.sum()),
        "move_small": _median(thr.weight_move[:, 0], ok[:, 0]),
        "move_large": _median(thr.weight_move[:, 1], ok[:, 1]),
        "gfinal_med": _median(thr.grad, conv),
        "gfinal_max": float(thr.grad[conv].max()) if conv.any() else NAN,
        "gavg_med": _median(thr.grad_avg, conv),
    }


def _config_numbers(result: Result) -> dict[str, float]:
    cfg = result.config
    names = ("toy_width", "toy_steps", "toy_lr", "toy_seeds", "toy_init", "d", "noise", "width", "seeds", "steps",
             "small_init", "large_init", "lr", "grad_tol", "plateau_tol", "starts", "ascent_steps")
    out = {k: float(getattr(cfg, k)) for k in names}
    out["toy_lr_ratio"] = cfg.toy_lr / 2e-3  # the code's lr 1e-3 on a loss twice ours
    out["flow_time"] = cfg.lr * cfg.steps
    out["noise_level"] = result.threshold.noise_level
    out["seconds"] = float(result.seconds["total"])
    return out


def estimates(result: Result) -> dict[str, float | Estimate]:
    """Every number of the chapter: an :class:`~overparam.stats.Estimate` where it is estimated from
    runs (with its interval), else a float."""
    out = {**_config_numbers(result), **_toy_numbers(result.toy), **_threshold_numbers(result),
           **_convergence_numbers(result.threshold), **_extremal_numbers(result), **_scale_numbers(result.scales)}
    out["diverged"] = out["toy_diverged"] + out["threshold_diverged"] + out["scale_diverged"]
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


def scale(cfg) -> str:
    """One sentence: what the chapter ran (seeds, widths, n, steps) at ``cfg``."""
    return (f"Three points: width {cfg.toy_width}, {cfg.toy_steps:,} GD steps at step size {cfg.toy_lr:g}, "
            f"{cfg.toy_seeds} seeds; threshold sweep: $d = {cfg.d}$, noise $\\sigma = {cfg.noise:g}$, width {cfg.width} "
            f"({cfg.width * (cfg.d + 1):,} parameters, at least $4 n$), $n \\in \\{{{', '.join(map(str, cfg.n_grid))}\\}}$, "
            f"{cfg.seeds} seeds per $n$, {cfg.steps:,} GD steps at step size {cfg.lr:g} from both initializations; "
            f"init-scale sweep at $n = {cfg.scale_n}$; {cfg.starts} ascent starts per sign.")


def paper_vs_ours(result: Result, paper: dict | None = None) -> list[dict]:
    """Rows of the closing table (:func:`overparam.book.comparison_table`): the paper's statement,
    the verdict (yes / partly / no, from the numbers) and why, ours with its 95% interval; with a
    stored ``paper`` record, its value in ``paper_preset``. Built by :func:`_rows` from
    ``numbers()`` and the config only."""
    from .. import book

    return book.table_rows(_rows, numbers(result), result.config, paper)


def _rows(e: dict[str, float], cfg) -> list[dict]:
    """The rows from the numbers ``e`` and the config ``cfg`` (nothing else)."""
    return _toy_rows(e, cfg) + _threshold_rows(e) + _check_rows(e, cfg)


def _toy_rows(e: dict[str, float], cfg) -> list[dict]:
    from ..book import ci, separate

    plateau = e["toy_plateau_n"] > 0 and e["toy_plateau_lo"] > 0
    ls = math.isfinite(e["toy_ls_gap"]) and e["toy_ls_gap"] < 1e-2
    return [
        _row("toy_plateau", "three points: final training loss (global minimum 0) / affine least-squares loss",
             "above 0: gradient descent does not reach a global minimum (arXiv 2401.10791; its code)",
             ("yes", "the plateau is the least-squares line" if ls else "above 0") if plateau else ("no", "reaches 0"),
             f"{ci(e, 'toy_plateau', '.5f')} / {e['toy_plateau_ls']:.5f}"),
        _row("toy_grad", "three points: final gradient norm (largest over seeds)", "tends to 0 (a stationary point)",
             ("yes", "below the convergence tolerance") if e["toy_grad"] < cfg.grad_tol else ("no", "above the tolerance"),
             f"{e['toy_grad']:.3g}"),
        _row("toy_share", "three points: share of output mass within 0.05 rad of the top extremal vector, end of the "
             "early phase", "neurons concentrate on extremal vectors (polar animation)",
             ("yes", "most of the mass, one seed shown") if e["toy_share"] > 0.5 else ("no", "less than half, one seed"),
             f"{e['toy_share']:.3g} (one seed)"),
        _row("alignment", "alignment score of the small-initialization neurons at the end of the early phase "
             "(random directions)", "neurons align with extremal vectors of $G$",
             ("yes", "above random directions") if separate(e, "align_score", "align_random") else ("no", "intervals overlap"),
             f"{ci(e, 'align_score', '.4f')} ({ci(e, 'align_random', '.2f')})"),
        _row("cos_beta", "$\\cos$(top maximizer of $G$, $\\beta^*$), smallest / largest $n$", "tends to 1 as $n$ grows (Thm 3.1)",
             ("yes", "intervals separate") if separate(e, "cos_beta_large_n", "cos_beta_small_n")
             else ("partly", "grows, intervals overlap") if e["cos_beta_large_n"] > e["cos_beta_small_n"] else ("no", "does not grow"),
             f"{ci(e, 'cos_beta_small_n')} / {ci(e, 'cos_beta_large_n')}"),
    ]


def _threshold_rows(e: dict[str, float]) -> list[dict]:
    from ..book import ci

    found = e["threshold_n_n"] > 0 and math.isfinite(e["threshold_n"])
    close = {t: e[f"test_over_ols_{t}_n"] > 0 and e[f"test_over_ols_{t}_hi"] < 1.25 for t in ("above", "last")}
    large = e["interp_large_min"]
    return [
        _row("threshold", "optimization threshold: $n$ where half the small-initialization runs stop interpolating",
             "exists; its value depends on $d$, the noise and the initialization (no value to compare)",
             ("partly", "a soft transition, at one training time") if found else ("no", "no crossing in the grid"),
             ci(e, "threshold_n")),
        _row("interpolation", "share of small-initialization runs that interpolate at the smallest $n$ / the first $n$ "
             "past the threshold / the largest $n$", "interpolation below the threshold, none past it", _interp_verdict(e),
             f"{ci(e, 'interp_share_first', '.2f')} / {ci(e, 'interp_share_above', '.2f')} / "
             f"{ci(e, 'interp_share_last', '.2f')}"),
        _row("large_init", "large initialization (same step size and steps): lowest share that interpolates, over $n$",
             "a large initialization keeps interpolating",
             ("yes", "at this width and time") if large >= 0.9 else ("partly", "most runs") if large >= 0.5
             else ("no", "most runs stop interpolating"), f"{large:.3g}"),
        _row("test_over_ols", "small-initialization test loss / least-squares test loss, first $n$ past the threshold / "
             "largest $n$", "close to least squares above the threshold",
             ("yes", "within 25% at both") if close["above"] and close["last"] else
             ("partly", "close only at the largest $n$") if close["last"] else ("no", "not within 25%"),
             f"{ci(e, 'test_over_ols_above', '.2f')} / {ci(e, 'test_over_ols_last', '.2f')}"),
    ]


def _interp_verdict(e: dict[str, float]) -> tuple[str, str]:
    """Verdict on "interpolation below the threshold, none past it" from the shares at the ends of the
    grid and at the first n past the threshold."""
    first, last = ("interp_share_first", "interp_share_last")
    if not (e[f"{first}_n"] and e[f"{last}_n"] and e[f"{first}_lo"] > 0.5 and e[f"{last}_hi"] < 0.5):
        return "no", "the shares at the ends of the grid do not separate from one half"
    if not e["interp_share_above_n"]:
        return "yes", "at the ends of the grid (no grid point past the threshold)"
    if e["interp_share_above"] == 0:
        return "yes", "none interpolates past the threshold"
    return "partly", f"a share {e['interp_share_above']:.2f} still interpolates just past the threshold: a soft transition"


def _check_rows(e: dict[str, float], cfg) -> list[dict]:
    from ..book import ci, separate

    small_first = e["scale_lam_l0"] < e["scale_lam_last"]
    hi_key, lo_key = ("scale_train_l0", "scale_train_last") if small_first else ("scale_train_last", "scale_train_l0")
    valid = e["runs"] - e["threshold_diverged"]
    diverged = e["toy_diverged"] + e["threshold_diverged"] + e["scale_diverged"]
    return [
        _row("init_scale", f"$n = {e['scale_n']:.0f}$: training loss at the smallest / largest initialization scale",
             "a small initialization is what stops interpolation",
             ("yes", "intervals separate") if separate(e, hi_key, lo_key) else ("no", "intervals overlap"),
             f"{ci(e, 'scale_train_l0')} at $\\lambda = {e['scale_lam_l0']:g}$ / {ci(e, 'scale_train_last')} at "
             f"$\\lambda = {e['scale_lam_last']:g}$"),
        _row("unconverged", "unconverged runs (mean gradient and loss-plateau check; kept in every share)",
             "training runs to a stationary point (the analysis)",
             ("yes", "every valid run passed the check") if e["unconverged"] == 0
             else ("partly", f"{e['unconverged']:.0f} runs did not pass the check"),
             f"{e['unconverged']:.0f} of {valid:.0f}"),
        _row("diverged", "diverged runs: three points / threshold sweep / init-scale sweep (excluded from every statistic)",
             "gradient descent is stable (the analysis)",
             ("yes", "no run diverged") if diverged == 0 else ("partly", f"{diverged:.0f} runs diverged"),
             f"{e['toy_diverged']:.0f} of {cfg.toy_seeds} / {e['threshold_diverged']:.0f} of {e['runs']:.0f} / "
             f"{e['scale_diverged']:.0f} of {e['scale_runs']:.0f}"),
    ]
