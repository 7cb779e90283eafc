"""Chapter 1's figures (each ``fn(result)``), the training animation and the live panel.

Error bars are the 95% intervals of :mod:`overparam.stats` (bootstrap for means over runs, exact
binomial for shares); diverged runs are excluded and counted on the figure.
"""

from __future__ import annotations

import numpy as np

from .. import book, style
from ..stats import Estimate
from .config import config
from .measures import RANDOM_COSINE, exploration_theory
from .report import (
    bad_share, explore_mean, fit_share, full_share, mode_share, n_diverged, split_test_error, test_error, zero_share,
)
from .run import Result, Sweep, run

__all__ = ["key_data", "plot_key", "plot_test_error", "plot_bad_minima", "plot_ablations", "plot_exploration", "plot_clustering",
           "plot_mnist", "animation", "FIGURES", "LIVE_CONTROLS", "live"]

_PATTERNS = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], dtype=float)


def _errorbar(ax, x, ests: list[Estimate], **kw):
    """Plot estimates at ``x`` with their intervals (an interval that is not finite is not drawn)."""
    v = np.array([e.value for e in ests])
    err = np.vstack([v - np.array([e.lo for e in ests]), np.array([e.hi for e in ests]) - v])
    err = np.where(np.isfinite(err), err, 0.0)
    return ax.errorbar(x, v, yerr=err, capsize=3, marker=kw.pop("marker", "o"), **kw)


def _sweeps(result: Result) -> list[Sweep]:
    return [s for s in (result.main, result.large) if s is not None]


def _note(ax, *subs) -> None:
    counts = [n_diverged(s) for s in subs]
    style.note_diverged(ax, sum(a for a, _ in counts), sum(b for _, b in counts))


def _k_axis(ax, ks) -> None:
    style.log_ticks(ax, ks)
    ax.set_xlabel("channels k (per readout sign)")


def _all_nan(ax) -> bool:
    ys = [np.asarray(line.get_ydata(), float) for line in ax.get_lines()]
    return not any(np.isfinite(y).any() for y in ys)


def _est(e: Estimate) -> list[float]:
    return [e.value, e.lo, e.hi]


def key_data(result: Result) -> dict:
    """The data of the chapter's key figure (:func:`plot_test_error`), JSON-able and small: for each
    sweep (``d`` and ``d_large``) the widths and the mean test error with its 95% interval,
    ``[value, lo, hi]`` per width, over all valid runs and over the zero-training-error runs; and the
    diverged counts. About ``6 K`` floats per sweep (``K`` widths)."""
    sweeps = []
    for sw in _sweeps(result):
        idx = range(len(sw.ks))
        sweeps.append({"d": sw.d, "ks": list(sw.ks), "all": [_est(test_error(sw, i)) for i in idx],
                       "zero_train": [_est(test_error(sw, i, True)) for i in idx]})
    counts = [n_diverged(s) for s in _sweeps(result)]
    return {"sweeps": sweeps, "ks": list(result.main.ks),
            "diverged": [sum(a for a, _ in counts), sum(b for _, b in counts)]}


def plot_test_error(result: Result):
    """Mean test error vs k (all runs, and only zero-training-error runs), at d and at d_large. Drawn by
    :func:`plot_key` from :func:`key_data`."""
    return plot_key(key_data(result))


def plot_key(data: dict):
    """The key figure (:func:`plot_test_error`) from :func:`key_data`'s ``data`` alone (e.g. a stored
    ``paper`` run)."""
    fig, (ax,) = style.panels(1, height=3.6)
    for j, sw in enumerate(data["sweeps"]):
        ests = {key: [Estimate(*v, n=0) for v in sw[key]] for key in ("all", "zero_train")}
        _errorbar(ax, sw["ks"], ests["all"], color=style.color(j), label=f"d={sw['d']}: all runs")
        _errorbar(ax, sw["ks"], ests["zero_train"], color=style.color(j), ls="--", marker="x",
                  label=f"d={sw['d']}: zero-training-error runs")
    if _all_nan(ax):
        style.empty_panel(ax)
    else:
        _k_axis(ax, data["ks"])
        ax.set_ylabel("test error (exact)")
        ax.legend()
    style.note_diverged(ax, *data["diverged"])
    return fig


def plot_bad_minima(result: Result):
    """The bad global minima split by cause, at fixed step size (solid) and at eta ~ 1/k (dashed, same
    data and inits). (1) share of runs at zero hinge loss (and, fixed eta, at zero training error);
    (2) among the runs at zero loss, the share with test error > 0; (3) of them, mode i (misses a
    positive pattern); (4) mode ii (detects every pattern, errs on sets the data do not constrain), with
    its part that errs only on {1,2,4} / {2,3,4}. Binomial 95% intervals."""
    fig, axes = style.panels(4, height=2.9)
    rules = [(result.main, "-", 1.0, f"fixed η={result.main.lrs[0]:g}")]
    if result.scaled is not None:
        sc = result.scaled
        rules.append((sc, "--", 1.06, f"η·k={sc.lrs[0] * sc.ks[0]:g} fixed"))
    for n, (sw, ls, dx, lab) in enumerate(rules):
        x, idx = np.array(sw.ks) * dx, range(len(sw.ks))
        _errorbar(axes[0], x, [fit_share(sw, i) for i in idx], color=style.color(0), ls=ls, label=f"zero loss, {lab}")
        _errorbar(axes[1], x, [bad_share(sw, i) for i in idx], color=style.color(4), ls=ls, label=lab)
        _errorbar(axes[2], x, [mode_share(sw, i, "miss") for i in idx], color=style.color(1), ls=ls, label=lab)
        _errorbar(axes[3], x, [mode_share(sw, i, "unconstrained") for i in idx], color=style.color(2), ls=ls,
                  label="all" if n == 0 else None)
        _errorbar(axes[3], x, [mode_share(sw, i, "pair") for i in idx], color=style.color(3), ls=ls, marker="s",
                  ms=4, label="only {1,2,4}, {2,3,4}" if n == 0 else None)
    sw = result.main
    _errorbar(axes[0], np.array(sw.ks) / 1.06, [zero_share(sw, i) for i in range(len(sw.ks))], color="k", ls=":",
              marker="x", label="zero training error, fixed η")
    titles = ("runs at a global minimum", "bad global minima", "(i) misses a positive pattern",
              "(ii) detects all, errs elsewhere")
    ylabels = ("share of all runs", "share of runs at zero loss", "share of runs at zero loss",
               "share of runs at zero loss")
    for ax, title, yl in zip(axes, titles, ylabels):
        if _all_nan(ax):
            style.empty_panel(ax)
            continue
        _k_axis(ax, result.main.ks)
        ax.set_title(title)
        ax.set_ylabel(yl)
        ax.set_ylim(-0.03, 1.03)
    for ax, loc in ((axes[0], "lower right"), (axes[3], "lower right")):
        if not _all_nan(ax):
            ax.legend(loc=loc, fontsize=9)
    _note(axes[1], *[r[0] for r in rules])
    return fig


def _cond_labels(result: Result) -> list[str]:
    names = ["main"]
    for n in result.ablations.names:
        names.append("all\ndiverse" if n.startswith("all diverse") else n.replace("p+ = p- = ", "p±="))
    return names


def plot_ablations(result: Result):
    """The two widths ``abl_ks`` under changed training data (fixed eta): share of runs at zero hinge
    loss, mean test error, and among the runs at zero loss the shares of mode i and mode ii. The
    first group is the main sweep's runs at the same widths. Binomial / bootstrap 95% intervals."""
    fig, axes = style.panels(4, height=3.0)
    ab = result.ablations
    if ab is None:
        for ax in axes:
            style.empty_panel(ax, "ablations skipped (abl_seeds = 0)")
        return fig
    cfg, main = result.config, result.main
    conds = [(main, [main.ks.index(k) for k in cfg.abl_ks])] + [(sw, [0, 1]) for sw in ab.sweeps]
    x = np.arange(len(conds))
    for j, k in enumerate(cfg.abl_ks):
        off = x + (j - 0.5) * 0.25
        kw = dict(color=style.color(j), ls="none", label=f"k={k}")
        _errorbar(axes[0], off, [fit_share(sw, idx[j]) for sw, idx in conds], **kw)
        _errorbar(axes[1], off, [test_error(sw, idx[j]) for sw, idx in conds], **kw)
        _errorbar(axes[2], off, [mode_share(sw, idx[j], "miss") for sw, idx in conds], **kw)
        _errorbar(axes[3], off, [mode_share(sw, idx[j], "unconstrained") for sw, idx in conds], **kw)
    titles = ("runs at zero loss", "mean test error", "(i) misses a positive pattern", "(ii) detects all, errs elsewhere")
    ylabels = ("share of all runs", "test error (exact)", "share of runs at zero loss", "share of runs at zero loss")
    labels = _cond_labels(result)
    for i, (ax, title, yl) in enumerate(zip(axes, titles, ylabels)):
        if _all_nan(ax):
            style.empty_panel(ax)
            continue
        ax.set_xticks(x, labels, fontsize=9)
        ax.set_title(title)
        ax.set_ylabel(yl)
        if i != 1:
            ax.set_ylim(-0.03, 1.03)
        else:
            ax.set_yscale("symlog", linthresh=1e-3)
            ax.set_ylim(bottom=0)
    if not _all_nan(axes[0]):
        axes[0].legend(loc="lower left")
    _note(axes[0], ab)
    return fig


def plot_exploration(result: Result):
    """Left: exploration at init vs k with 1 - (3/4)^k, and the share of runs exploring all four
    patterns. Right: test error of each width split by whether its init detected both positive patterns."""
    sw = result.main
    ks, idx = np.array(sw.ks), range(len(sw.ks))
    fig, axes = style.panels(2, height=3.6)
    _errorbar(axes[0], ks, [explore_mean(sw, i) for i in idx], color=style.color(0), label="measured (init)")
    kk = np.geomspace(ks[0], ks[-1], 100)
    axes[0].plot(kk, exploration_theory(kk), "k--", lw=1, label=r"$1-(3/4)^k$")
    _errorbar(axes[0], ks, [full_share(sw, i) for i in idx], color=style.color(2), marker="s",
              label="all 4 detected\n(share of runs)")
    axes[0].set_ylabel("exploration at initialization")
    _errorbar(axes[1], ks, [split_test_error(sw, i, True) for i in idx], color=style.color(2),
              label="w filters detect\np1 and p3 at init")
    _errorbar(axes[1], ks, [split_test_error(sw, i, False) for i in idx], color=style.color(1),
              label="a positive pattern\nmissed at init")
    axes[1].set_ylabel("mean test error after training")
    for ax in axes:
        _k_axis(ax, sw.ks)
    axes[0].legend()
    if _all_nan(axes[1]):
        style.empty_panel(axes[1])
    else:
        axes[1].legend()
    _note(axes[1], sw)
    return fig


def plot_clustering(result: Result):
    """Norm-weighted cosine of the filters to the nearest pattern direction over training, per k
    (mean over the non-diverged seeds; at the last step with its bootstrap 95% interval)."""
    from matplotlib import colormaps

    from ..stats import mean_ci

    sw = result.main
    fig, (ax,) = style.panels(1, height=3.6)
    steps = sw.steps.numpy().astype(float)
    x = np.where(steps == 0, 0.5, steps)
    cmap = colormaps["viridis"]
    for i, k in enumerate(sw.ks):
        ok = (~sw.diverged[i]).numpy()
        if not ok.any():
            continue
        c = sw.curves["clustering"][i].numpy()[:, ok].mean(-1)
        if not np.isfinite(c).any():  # e.g. weights that overflowed without being flagged
            continue
        col = cmap(0.85 * i / max(len(sw.ks) - 1, 1))  # no pale yellow end
        ax.plot(x, c, color=col, label=f"k={k}")
        _errorbar(ax, [x[-1]], [mean_ci(sw.clustering_final[i], ~sw.diverged[i])], color=col, ms=3)
    if not ax.get_lines():
        style.empty_panel(ax)
    else:
        ax.axhline(RANDOM_COSINE, color="k", ls=":", lw=1, label="random directions")
        ax.set_xscale("log")
        ax.set_xlabel("GD step (step 0 drawn at 0.5)")
        ax.set_ylabel("weighted cosine\nto nearest pattern")
        ax.legend(ncol=3, loc="lower right")
    _note(ax, sw)
    return fig


def plot_mnist(result: Result):
    """Reduced MNIST: test error (dots: seeds) and filter clustering, init vs trained, small vs wide net."""
    from ..stats import mean_ci

    fig, axes = style.panels(2)
    m = result.mnist
    if m is None:
        for ax in axes:
            style.empty_panel(ax, "MNIST part skipped (mnist_steps = 0)")
        return fig
    ok = ~m.diverged
    for j in range(2):
        if not bool(ok[j].any()):
            continue
        for dx, vals, col, lab in ((-0.18, m.train_err, "0.6", "training"), (0.18, m.test_err, style.color(j), "test")):
            _bar(axes[0], j + dx, mean_ci(vals[j], ok[j]), 0.36, col, lab if j == 0 else None)
            axes[0].scatter(np.full(int(ok[j].sum()), j + dx), vals[j][ok[j]].numpy(), color="k", s=10, zorder=3)
        _bar(axes[1], j - 0.18, mean_ci(m.cos_init[j], ok[j]), 0.36, "0.7", "init" if j == 0 else None)
        _bar(axes[1], j + 0.18, mean_ci(m.cos_trained[j], ok[j]), 0.36, style.color(j), "trained" if j == 0 else None)
    axes[0].set_ylabel("error (reduced MNIST)")
    axes[1].set_ylabel(f"cosine to nearest\nof {m.ks[0]} centers")
    for ax in axes:
        if not ax.patches:
            style.empty_panel(ax)
            continue
        ax.set_xticks([0, 1], [f"k={k}" for k in m.ks])
    if axes[0].patches:
        axes[0].legend(loc="upper right")
    if axes[1].patches:
        axes[1].set_ylim(0, 1.05)
        axes[1].legend(loc="lower right")
    _note(axes[0], m)
    return fig


def _bar(ax, x, est: Estimate, width, color, label=None):
    err = [[est.value - est.lo], [est.hi - est.value]] if np.isfinite([est.lo, est.hi]).all() else None
    ax.bar(x, est.value, width=width, color=color, alpha=0.8, yerr=err, capsize=3, label=label)


def _draw_filters(ax, params: dict, title: str) -> None:
    ax.clear()
    w, u = (params[n].reshape(-1, 2).double().numpy() for n in ("w", "u"))
    w, u = w[np.isfinite(w).all(1)], u[np.isfinite(u).all(1)]
    if not len(w) + len(u):
        style.empty_panel(ax, "no finite filter (diverged)")
        return
    lim = 1.15 * max(np.abs(w).max(initial=0), np.abs(u).max(initial=0), 1e-12)
    for q in _PATTERNS:
        ax.plot([0, q[0] * lim], [0, q[1] * lim], "k--", lw=0.7, alpha=0.5)
    ax.scatter(w[:, 0], w[:, 1], s=10, color=style.color(0), alpha=0.7, label="w (readout +1)")
    ax.scatter(u[:, 0], u[:, 1], s=10, color=style.color(1), alpha=0.7, label="u (readout -1)")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=9)
    ax.ticklabel_format(style="sci", scilimits=(-2, 3))


def animation(result: Result):
    """Static interactive figure (``book.jshtml``): the filters in the plane over GD steps, for the
    smallest k (25 seeds overlaid) and the largest k (one seed); w filters blue, u filters vermillion,
    dashed lines the four pattern directions."""
    sw = result.main
    k0, k1 = sw.ks[0], sw.ks[-1]
    f0, f1 = sw.frames[k0], sw.frames[k1]
    fig, axes = style.panels(2, height=3.5, dpi=100)

    def draw(i):
        _draw_filters(axes[0], f0.params[i], f"k={k0}, {f0.params[0]['w'].shape[0]} seeds; step {f0.steps[i]}")
        _draw_filters(axes[1], f1.params[i], f"k={k1}, one seed; step {f1.steps[i]}")
        if axes[0].collections:
            axes[0].legend(loc="lower left", fontsize=9)

    draw(0)
    return book.jshtml(fig, draw, len(f0.steps))


FIGURES = (plot_test_error, plot_bad_minima, plot_ablations, plot_exploration, plot_clustering, plot_mnist, animation)

#: The live panel's controls (the defaults of :func:`live`).
LIVE_CONTROLS = {
    "k_small": book.Slider(2, 1, 10, 1, "small k"),
    "k_large": book.Slider(50, 4, 200, 1, "large k"),
    "seeds": book.Slider(50, 10, 200, 10, "seeds"),
    "n_train": book.Slider(50, 5, 200, 5, "n train"),
    "p_plus": book.Slider(0.95, 0.0, 1.0, 0.05, "p+ = p-"),
    "steps": book.Slider(500, 100, 2000, 100, "GD steps"),
}


def live(k_small: int = 2, k_large: int = 50, seeds: int = 50, n_train: int = 50, p_plus: float = 0.95,
         steps: int = 500, device: str = "auto") -> Result:
    """A seconds-long rerun for the live panel: test errors of two widths (histogram) and their
    shares of bad global minima; returns the :class:`Result`."""
    import matplotlib.pyplot as plt

    cfg = config("smoke", ks=(int(k_small), int(k_large)), seeds=int(seeds), n_train=int(n_train),
                 p_plus=float(p_plus), p_minus=float(p_plus), steps=int(steps), d_large=0, mnist_steps=0,
                 lr_scaled_seeds=0, stuck_factor=1, abl_seeds=0)
    res = run(cfg, device=device, progress=False)
    sw = res.main
    fig, (ax,) = style.panels(1)
    ok = ~sw.diverged
    if bool(ok.any()):
        ax.hist([sw.test_err[i][ok[i]].numpy() for i in range(2)], bins=20, label=[f"k={k}" for k in sw.ks],
                color=[style.color(0), style.color(1)])
        ax.set_xlabel("test error")
        ax.set_ylabel("runs")
        ax.legend()
        ax.set_title(f"bad global minima: {bad_share(sw, 0).value:.2f} (k={k_small}) vs "
                     f"{bad_share(sw, 1).value:.2f} (k={k_large})", fontsize=9)
    else:
        style.empty_panel(ax)
    _note(ax, sw)
    plt.show()
    return res
