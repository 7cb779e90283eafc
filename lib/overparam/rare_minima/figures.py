"""Chapter 5's figures (each ``fn(result)``), the slider figure, and the live panel's ``live``."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import book, stats, style
from ..chapter import Timer
from ..device import resolve_device
from .config import config
from .report import ratio_over_sets
from .run import GDRuns, RandomNets, Result, run_toy

__all__ = ["key_data", "plot_key", "plot_toy_histograms", "plot_toy_bad_fraction", "plot_mnist_random", "plot_mnist_learning_curves",
           "plot_under_and_noise", "animation", "FIGURES", "LIVE_CONTROLS", "live"]


def _yerr(ests: list[stats.Estimate]) -> tuple[np.ndarray, np.ndarray]:
    """Values and asymmetric error bars ``(2, K)`` from estimates (no bar where there is no interval)."""
    v = np.array([e.value for e in ests])
    lo = np.array([e.lo if math.isfinite(e.lo) else np.nan for e in ests])
    hi = np.array([e.hi if math.isfinite(e.hi) else np.nan for e in ests])
    return v, np.nan_to_num(np.stack([v - lo, hi - v]), nan=0.0)


def plot_toy_histograms(result: Result, ns=None):
    """Histograms of the true errors of the surviving perceptrons for a few ``n`` (pooled over the
    training sequences) with the theory ``Q_n(eps) ∝ Q(eps)(1-eps)^n`` (dashed)."""
    toy, N = result.toy, result.config.toy_n_max
    ns = ns or sorted({0, N // 8, N // 4, N // 2, N})
    fig, (ax,) = style.panels(1, height=3.8)
    for i, n in enumerate(ns):
        edges, dens, cnt = toy.density_at(n)
        ax.stairs(dens.numpy(), edges.numpy(), color=style.color(i), lw=1.6, label=f"n={n} ({cnt:,})")
        ax.plot(toy.grid, toy.theory_density[n], color=style.color(i), ls="--", lw=1)
    ax.axvline(result.config.toy_eps0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel(r"true error $\varepsilon$ of a zero-training-error perceptron")
    ax.set_ylabel("density")
    ax.set_xlim(0, 0.6)
    ax.legend(title="survivors (solid), theory (dashed)", title_fontsize=9)
    return fig


def _toy_points(N: int, count: int = 16) -> list[int]:
    """About ``count`` values of n in 0..N (always N) at which intervals are drawn."""
    return sorted({*range(0, N + 1, max(1, N // count)), N})


def _toy_bad_panel(ax, data: dict) -> None:
    eps0, R, n, pts = data["eps0"], data["sets"], np.arange(data["n_max"] + 1), data["pts"]
    lows = []
    for i, (key, label, fmt) in enumerate((
            ("pooled", f"pooled over {R} shared sets (annealed)", "o"),
            ("quenched", "per set, averaged (quenched)", "s"),
            ("fresh", f"fresh set per classifier ({data['fresh_classifiers']:,})", "^"))):
        v, err = _yerr([stats.Estimate(*e, n=0) for e in data["bad"][key]])
        keep = np.isfinite(v) & (v > 0)
        x = np.array(pts, dtype=float) + (i - 1) * 0.6  # dodge the bars
        ax.errorbar(x[keep], v[keep], yerr=err[:, keep], fmt=fmt, color=style.color(i), ms=4, capsize=2, lw=1,
                    mfc="none" if i == 1 else None, label=label)
        lows += list(v[keep])
    ax.plot(n, data["theory_bad"], color="k", lw=1.5, label=r"formula $B_n(\varepsilon_0)$")
    ax.plot(n, (1 - eps0) ** n, color="grey", ls=":", lw=1, label=r"$(1-\varepsilon_0)^n$")
    ax.set_yscale("log")
    low = min(lows) / 3 if lows else 1e-3
    ax.set_ylim(max(1e-4, low), 1.5)
    ax.set_xlabel("training points n")
    ax.set_ylabel(rf"share with $\varepsilon > {eps0:g}$ among survivors")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=9)


def _ests(values) -> list[list[float]]:
    return [[e.value, e.lo, e.hi] for e in values]


def key_data(result: Result) -> dict:
    """The data of the chapter's key figure (:func:`plot_toy_bad_fraction`), JSON-able and small: at
    about 17 values of n (``pts``), the share of bad survivors and their mean true error as ``[value,
    lo, hi]`` (pooled, per set, and for the share the fresh-set control), and the formulas
    ``B_n(eps0)`` and ``E_n[eps]`` at every ``n = 0..N``. About ``2 N + 80`` numbers."""
    toy, cfg = result.toy, result.config
    surv, N = toy.survivors, toy.survivors.shape[1] - 1
    pts = _toy_points(N)
    per, per_mean = toy.bad_fraction_per_set(), toy.mean_error_per_set()
    fresh = (stats.share_from_counts(int(toy.fresh_bad[k]), int(toy.fresh_survivors[k])) for k in pts)
    return {"n_max": N, "pts": pts, "eps0": cfg.toy_eps0, "sets": surv.shape[0],
            "fresh_classifiers": toy.fresh_classifiers, "sets_alive": int((surv[:, -1] > 0).sum()),
            "bad": {"pooled": _ests(ratio_over_sets(toy.bad[:, k], surv[:, k]) for k in pts),
                    "quenched": _ests(stats.mean_ci(per[:, k]) for k in pts), "fresh": _ests(fresh)},
            "mean": {"pooled": _ests(ratio_over_sets(toy.eps_sum[:, k], surv[:, k]) for k in pts),
                     "quenched": _ests(stats.mean_ci(per_mean[:, k]) for k in pts)},
            "theory_bad": toy.theory_bad.tolist(), "theory_mean": toy.theory_mean.tolist()}


def plot_toy_bad_fraction(result: Result):
    """Left: share of bad survivors (error > eps0) vs n on a log scale: pooled over the shared
    training sequences (annealed; 95% bootstrap over sequences), each sequence's share averaged over
    the sequences with survivors (quenched; bootstrap over those sequences), the fresh-set control
    (binomial), the formula and ``(1-eps0)^n``. Right: the survivors' mean true error, pooled and
    per set, against ``E_n[eps]``. No sequence is left out except, for the per-set average, those
    with no survivor at that n. Drawn by :func:`plot_key` from :func:`key_data`."""
    return plot_key(key_data(result))


def plot_key(data: dict):
    """The key figure (:func:`plot_toy_bad_fraction`) from :func:`key_data`'s ``data`` alone (e.g. a
    stored ``paper`` run)."""
    fig, (ax, bx) = style.panels(2, height=5.0)
    _toy_bad_panel(ax, data)
    n, pts = np.arange(data["n_max"] + 1), data["pts"]
    for i, key, label, fmt in ((0, "pooled", "pooled", "o"), (1, "quenched", "per set (quenched)", "s")):
        v, err = _yerr([stats.Estimate(*e, n=0) for e in data["mean"][key]])
        keep = np.isfinite(v)
        x = np.array(pts, dtype=float) + (i - 0.5) * 0.6
        bx.errorbar(x[keep], v[keep], yerr=err[:, keep], fmt=fmt, color=style.color(i), ms=4, capsize=2, lw=1,
                    mfc="none" if i == 1 else None, label=label)
    bx.plot(n, data["theory_mean"], color="k", lw=1.5, label=r"formula $E_n[\varepsilon]$")
    bx.set_title(f"sets with survivors at n={data['n_max']}: {data['sets_alive']} of {data['sets']}", fontsize=9)
    bx.set_xlabel("training points n")
    bx.set_ylabel("mean true error of survivors")
    bx.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=9)
    return fig


def _gd_estimates(gd: GDRuns, wi: int, upto: int | None = None) -> list[stats.Estimate]:
    ok = gd.ok(wi)
    K = len(gd.n) if upto is None else upto
    return [stats.mean_ci(gd.test[wi][k], ok[k]) for k in range(K)]


def plot_mnist_random(result: Result):
    """Left: the error density ``Q`` of random networks of each width (held-out error on MNIST, the
    ``Q`` sample). Right: held-out error vs n of GD-trained networks (mean over seeds, bootstrap 95%
    intervals), of the random networks that survive ``random_n_max`` training points (pooled over
    the sequences with a bootstrap over sequences, and per sequence; survivor counts in the legend),
    and the formula on the sampled ``Q``."""
    cfg, rnd, gd = result.config, result.random, result.gd
    fig, (ax, bx) = style.panels(2, height=5.0)
    bins = np.linspace(0, 1, 81)
    ns = [n for n in cfg.gd_n if n <= cfg.random_n_max]
    nr = cfg.random_n_max
    for wi, w in enumerate(cfg.widths):
        c = style.color(wi)
        if len(rnd.eps) <= wi:
            continue
        ax.hist(rnd.q_sample(wi).numpy(), bins=bins, density=True, histtype="step", lw=1.5, color=c,
                label=f"width {w} ({cfg.params_count(wi):,} par.)")
        gc = rnd.guess_and_check(wi)
        bx.plot(gc["n"], gc["pred"], "-", color=c, lw=1, label=f"formula, w={w}")
        s_, e_ = rnd.per_set(wi, nr)
        surv = int(s_.sum())
        for j, (est, fmt) in enumerate(((ratio_over_sets(e_, s_), "o"),
                                        (stats.mean_ci(torch.where(s_ > 0, e_ / s_.clamp_min(1), torch.nan)), "D"))):
            v, err = _yerr([est])
            if np.isfinite(v).all():
                bx.errorbar([nr + 0.25 * (2 * wi + j)], v, yerr=err, fmt=fmt, ms=5, color=c, capsize=2,
                            mfc="none" if j else None,
                            label=(f"random survivors, w={w} ({surv} pairs)" if j == 0 else f"per set, w={w}"))
            elif j == 0:
                bx.plot([], [], "o", color=c, label=f"random survivors, w={w}: none")
        if ns:
            v, err = _yerr(_gd_estimates(gd, wi, len(ns)))
            bx.errorbar(ns, v, yerr=err, fmt="s--", ms=5, mfc="none", color=c, capsize=2, label=f"GD, w={w}")
    div = gd.diverged[:, : len(ns)]
    style.note_diverged(bx, int(div.sum()), div.numel())
    ax.set_xlabel(r"held-out error $\varepsilon$ of a random net")
    ax.set_ylabel(r"density $Q(\varepsilon)$")
    ax.legend(loc="upper left")
    bx.set_xlabel("training points n")
    bx.set_ylabel("mean held-out error")
    bx.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=9, ncol=1)
    return fig


def _curve_panel(ax, result: Result, wi: int) -> None:
    cfg, gd = result.config, result.gd
    c = style.color(wi)
    ax.set_title(f"width {cfg.widths[wi]} ({cfg.params_count(wi):,} parameters)")
    style.note_diverged(ax, int(gd.diverged[wi].sum()), gd.diverged[wi].numel())
    v, err = _yerr(_gd_estimates(gd, wi))
    if not np.isfinite(v).any():
        style.empty_panel(ax)
        return
    ax.errorbar(cfg.gd_n, v, yerr=err, fmt="o", color=c, ms=4, capsize=2, label="GD (95% CI)")
    a, b = gd.fits[wi]
    nn = np.geomspace(cfg.gd_n[0], cfg.gd_n[-1], 200)
    ax.plot(nn, gd.model_curve(wi, nn), color=c, lw=1.2, label=f"Beta model a={a:.2f}, b={b:.1f}")
    ax.plot(cfg.gd_n, gd.reweight_prediction(wi)[0].numpy(), "x", color="k", ms=7, label="reweighted")
    ax.axvspan(cfg.gd_n[0] * 0.9, cfg.fit_n_max * 1.1, color="grey", alpha=0.15, lw=0, label="fit region")
    style.log_ticks(ax, cfg.gd_n)
    ax.set_ylim(0, None)
    ax.set_xlabel("training points n")
    ax.set_ylabel("held-out error")
    ax.legend(loc="lower left")


def plot_mnist_learning_curves(result: Result):
    """GD-trained networks' held-out error vs n (zero-training-error members, mean over seeds with
    bootstrap 95% intervals), one panel per width, with the Beta-model curve ``a/(a+b+n)`` fitted on
    ``n <= fit_n_max`` (shaded) and the one-step reweighting predictions (crosses)."""
    W = len(result.config.widths)
    fig, axes = style.panels(W, height=3.6, sharey=W <= 2)
    for wi, ax in enumerate(axes):
        _curve_panel(ax, result, wi)
    return fig


def animation(result: Result, frames: int = 31):
    """The static interactive figure: a slider over n showing the survivors' error histogram of the
    toy shrink towards 0, with the theory ``Q_n`` (book.jshtml, at most ``frames`` frames)."""
    toy, cfg = result.toy, result.config
    N = cfg.toy_n_max
    ns = sorted({int(round(v)) for v in np.linspace(0, N, min(frames, N + 1))})
    fig, (ax,) = style.panels(1, height=3.4)
    ymax = 1.1 * float(max(toy.theory_density[N].max(), toy.density_at(N)[1].max()))
    bad = toy.bad_fraction()

    def update(i):
        n = ns[i]
        ax.clear()
        edges, dens, cnt = toy.density_at(n)
        ax.stairs(dens.numpy(), edges.numpy(), fill=True, alpha=0.5, color=style.color(0), label=f"survivors ({cnt:,})")
        ax.plot(toy.grid.numpy(), toy.theory_density[n].numpy(), color="k", lw=1.2, label=r"$Q(\varepsilon)(1-\varepsilon)^n/Z_n$")
        ax.axvline(cfg.toy_eps0, color="grey", lw=0.8, ls=":")
        ax.set_title(f"n = {n}: share with error > {cfg.toy_eps0:g}: {float(bad[n]):.3g}")
        ax.set_xlim(0, 0.6)
        ax.set_ylim(0, ymax)
        ax.set_xlabel(r"true error $\varepsilon$")
        ax.set_ylabel("density")
        ax.legend(loc="upper right")

    return book.jshtml(fig, update, len(ns))


def _q_line(ax, ns, pred, ess, color, label) -> None:
    """A prediction from a sampled ``Q``: solid where its effective sample size is at least 10, dotted beyond."""
    ns, pred, good = np.asarray(ns), np.asarray(pred), np.asarray(ess) >= 10
    ax.plot(ns[good], pred[good], "-", color=color, lw=1.2, label=label)
    if (~good).any():
        k = max(int(np.argmin(good)) - 1, 0)
        ax.plot(ns[k:], pred[k:], ":", color=color, lw=1.2)


def plot_under_and_noise(result: Result):
    """Left, (c): held-out error vs n of GD-trained networks (zero-training-error members, mean with
    bootstrap 95% intervals) of the under-parameterized width and of the widths of part (b), each with
    the learning curve predicted from its own random networks' ``Q`` (solid where the weights' effective
    sample size is at least 10, dotted beyond). Right: the label-noise toy, share of survivors with clean
    error > eps0 vs n, pooled over the noisy sequences (bootstrap over sequences) and in the fresh-set
    control (binomial), at every 5th n with at least 20 survivors, against the survival formula with the noisy disagreement rate and the noise-free
    formula."""
    cfg, u, nt, gd, rnd = result.config, result.under, result.noisy, result.gd, result.random
    fig, (ax, bx) = style.panels(2, height=4.2)
    if u is not None:
        c = style.color(len(cfg.widths))
        v, err = _yerr([stats.mean_ci(u.test[k], u.ok()[k]) for k in range(len(u.n))])
        ax.errorbar(u.n, v, yerr=err, fmt="o", color=c, ms=5, capsize=2,
                    label=f"GD, width {u.width} ({u.params} par.)")
        nn = np.unique(np.geomspace(1, u.n[-1], 60).round().astype(int))
        _q_line(ax, nn, *(t.numpy() for t in u.q_prediction(nn)), c, f"own Q, width {u.width}")
        style.note_diverged(ax, int(u.diverged.sum()), u.diverged.numel())
    for wi, w in enumerate(cfg.widths):
        if len(rnd.eps) <= wi or gd.test.numel() == 0:
            continue
        c = style.color(wi)
        v, err = _yerr(_gd_estimates(gd, wi))
        ax.errorbar(cfg.gd_n, v, yerr=err, fmt="s", mfc="none", color=c, ms=5, capsize=2,
                    label=f"GD, width {w} ({cfg.params_count(wi):,} par.)")
        nn = np.unique(np.geomspace(1, cfg.gd_n[-1], 60).round().astype(int))
        _q_line(ax, nn, *(t.numpy() for t in rnd.q_prediction(wi, nn)), c, f"own Q, width {w}")
    ax.set_xscale("log")
    ax.set_ylim(0, None)
    ax.set_xlabel("training points n")
    ax.set_ylabel("held-out error")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16))
    if nt is None:
        style.empty_panel(bx)
        return fig
    N = nt.survivors.shape[1] - 1
    ns = np.arange(N + 1)
    bx.plot(ns, nt.theory_bad.numpy(), "-", color="k", lw=1.2, label=f"formula, noise {nt.noise:g}")
    bx.plot(ns, nt.clean_bad.numpy(), "--", color="grey", lw=1.2, label="formula, no noise")
    pts = [n for n in range(0, N + 1, 5) if nt.survivors[:, n].sum() >= 20]  # where a share means something
    v, err = _yerr([ratio_over_sets(nt.bad[:, n], nt.survivors[:, n]) for n in pts])
    bx.errorbar(pts, v, yerr=err, fmt="o", color=style.color(0), ms=4, capsize=2,
                label=f"pooled over {nt.survivors.shape[0]} noisy sequences")
    fpts = [n for n in range(0, N + 1, 5) if nt.fresh_survivors[n] >= 20]
    v, err = _yerr([stats.share_from_counts(int(nt.fresh_bad[n]), int(nt.fresh_survivors[n])) for n in fpts])
    bx.errorbar(np.array(fpts) + 0.8, v, yerr=err, fmt="D", mfc="none", color=style.color(1), ms=4, capsize=2,
                label="fresh set per classifier")
    bx.set_ylim(0, 1.02)
    bx.set_xlabel("training points n (noisy labels)")
    bx.set_ylabel(f"share of survivors with error > {cfg.toy_eps0:g}")
    bx.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16))
    return fig


FIGURES = (plot_toy_histograms, plot_toy_bad_fraction, animation, plot_mnist_random, plot_mnist_learning_curves,
           plot_under_and_noise)

LIVE_CONTROLS = {
    "d": book.Slider(5, 2, 12, 1, "dimension d"),
    "n": book.Slider(30, 5, 80, 5, "training points n"),
    "eps0": book.Slider(0.1, 0.05, 0.3, 0.05, "ε₀"),
}


def live(d: int = 5, n: int = 30, eps0: float = 0.1, device="auto") -> Result:
    """Rerun the perceptron toy (16 training sequences of 2**16 classifiers, and 2**19 classifiers on
    fresh sets: seconds on a CPU) for
    dimension ``d``, ``n`` training points and threshold ``eps0``; draw the share of bad survivors
    and their mean error; return the Result (its random and GD parts are empty)."""
    import matplotlib.pyplot as plt

    cfg = config("smoke", toy_d=d, toy_n_max=n, toy_classifiers=2**16, toy_train_sets=16, toy_fresh=2**19,
                 toy_eps0=eps0)
    dev = resolve_device(device)
    timer = Timer("rare_minima.live", progress=False)
    with timer("toy"):
        toy = run_toy(cfg, dev)
    empty = torch.zeros(len(cfg.widths), 0, 0)
    result = Result(cfg, str(dev), timer.total(), toy,
                    RandomNets(eps=(), first=(), n_max=cfg.random_n_max, diverged=torch.zeros(0, dtype=torch.bool)),
                    GDRuns(test=empty, train=empty, diverged=empty.bool(), n=cfg.gd_n, fits=()), n_test=0, n_pool=0)
    plot_toy_bad_fraction(result)
    plt.show()
    return result
