"""Chapter 3's figures: the toy's training curves, the polar picture (static and as a slider
animation), the threshold sweep, the extremal vectors; and the live panel's ``live``.

Every figure is made with :func:`overparam.style.panels`; means over seeds are drawn with their 95%
bootstrap intervals; diverged runs are left out and counted on the panel; a panel with no valid run
says so instead of failing.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import book, stats, style
from .config import config
from .report import numbers, stall_share, threshold_n, toy_angles
from .run import Result, run

__all__ = ["key_data", "plot_key", "plot_toy_training", "plot_polar", "animation", "plot_threshold", "plot_transition", "plot_extremal", "FIGURES",
           "LIVE_CONTROLS", "live"]

PLUS, MINUS = style.color(0), style.color(1)  # neurons with a_j > 0 (maximisers) / a_j < 0 (minimisers)


def _errorbar(ax, x, ests: list[stats.Estimate], **kw) -> None:
    """Means with their 95% intervals (no bar where one run gives no interval; NaN: not drawn)."""
    v = np.array([e.value for e in ests])
    lo = np.array([e.lo if math.isfinite(e.lo) else e.value for e in ests])
    hi = np.array([e.hi if math.isfinite(e.hi) else e.value for e in ests])
    ax.errorbar(x, v, yerr=np.nan_to_num(np.stack([v - lo, hi - v])), capsize=3, **kw)


def _log_y(ax, *values) -> None:
    """Log y axis with plainly labelled 1-2-5 ticks spanning the positive finite ``values``."""
    v = np.concatenate([np.asarray(x, dtype=float).ravel() for x in values])
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return
    lo, hi = v.min() / 1.5, v.max() * 1.5
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    ticks = [m * 10.0**e for e in decades for m in (1, 2, 5) if lo <= m * 10.0**e <= hi]
    if len(ticks) > 7:
        ticks = [t for t in ticks if math.isclose(math.log10(t) % 1, 0, abs_tol=1e-9)]
    style.log_ticks(ax, ticks, axis="y")


def plot_toy_training(result: Result):
    """Training loss and gradient norm of the 3-points runs (one line per seed) vs step (log x)."""
    toy = result.toy
    fig, (a0, a1) = style.panels(2)
    ok = ~toy.diverged
    for ax in (a0, a1):
        style.note_diverged(ax, int(toy.diverged.sum()), len(ok))
    if not ok.any():
        for ax in (a0, a1):
            style.empty_panel(ax)
        return fig
    steps = toy.steps.numpy().clip(min=1)
    a0.plot(steps, toy.loss[:, ok].numpy(), color=style.color(0), alpha=0.7)
    a0.axhline(0, color="k", lw=0.8, ls="--", label="global minimum (0)")
    a0.set(xscale="log", xlabel="GD step", ylabel="train loss", title="3 points: train loss")
    a0.legend(frameon=False, loc="center left")
    a1.plot(steps, toy.grad[:, ok].numpy(), color=style.color(1), alpha=0.7)
    a1.set(xscale="log", yscale="log", xlabel="GD step", ylabel=r"$\|\nabla L\|$", title="gradient norm")
    return fig


def _polar_frame(ax, result: Result, i: int) -> None:
    toy = result.toy
    ax.clear()
    if bool(toy.diverged[toy.shown]):
        style.empty_panel(ax)
        return
    snap = toy.snaps[i]
    w, b, a = snap["w"][:, 0].numpy(), snap["b"].numpy(), snap["a"].numpy()
    rad = np.sqrt(w**2 + b**2)
    ax.set_theta_zero_location("E")
    ax.set_rorigin(-0.08)
    ax.set_ylim(0, 1.05)
    ax.set_yticklabels([])
    for name, color, ls in (("max", PLUS, "--"), ("min", MINUS, ":")):
        for u in toy.ext[name]:
            ax.plot([math.atan2(u[1], u[0])] * 2, [0, 1.05], color=color, lw=1, ls=ls)
    ax.scatter(np.arctan2(b, w), rad / rad.max(), c=np.where(a > 0, PLUS, MINUS), marker="*", s=30, alpha=0.8)
    ax.set_title(f"seed {toy.shown}, step {toy.snap_steps[i]}, max radius {rad.max():.2g}")


def plot_polar(result: Result, frame: int = -1):
    """Neurons of one seed in polar coordinates at one snapshot: angle of ``(w_j, b_j)``, radius
    ``||(w_j, b_j)||`` (divided by its max at that step), blue if ``a_j > 0``, vermillion if ``a_j < 0``;
    dashed/dotted rays: maximisers/minimisers of G."""
    fig, (ax,) = style.panels(1, width=4.8, height=4.8, subplot_kw={"projection": "polar"})
    _polar_frame(ax, result, frame)
    style.note_diverged(ax, int(result.toy.diverged.sum()), len(result.toy.diverged))
    return fig


def animation(result: Result):
    """The polar picture over training (log-spaced snapshots), as a slider animation (book.jshtml)."""
    import matplotlib.pyplot as plt

    fig, (ax,) = style.panels(1, width=4.8, height=4.8, subplot_kw={"projection": "polar"})
    fig.set_dpi(80)

    def update(i):
        _polar_frame(ax, result, i)
        style.note_diverged(ax, int(result.toy.diverged.sum()), len(result.toy.diverged))

    # Frames are embedded as PNGs at savefig.dpi (200 in the book's style): keep them at the figure's dpi.
    with plt.rc_context({"savefig.dpi": fig.dpi}):
        return book.jshtml(fig, update, len(result.toy.snaps))


def _threshold_series(ax, data: dict, key: str) -> None:
    """Seeds as dots (open: not converged), the mean of all valid runs with its interval."""
    n = np.array(data["n_grid"], dtype=float)
    S = data["seeds"]
    for k, (name, init) in enumerate(zip(("small init", "large init"), data["inits"])):
        v, conv, ok = (np.array(init[f], dtype=t) for f, t in ((key, float), ("converged", bool), ("valid", bool)))
        jitter = n[:, None] * np.exp(0.04 * (np.arange(S) - (S - 1) / 2))[None, :] * (1.06 if k else 0.94)
        good, bad = conv, ok & ~conv
        ax.scatter(jitter[good], v[good], color=style.color(k), s=10, alpha=0.6)
        ax.scatter(jitter[bad], v[bad], facecolors="none", edgecolors=style.color(k), s=26,
                   label=f"{name}: not converged" if bad.any() else None)
        _errorbar(ax, n, [stats.Estimate(*e, n=0) for e in init[key + "_mean"]], color=style.color(k),
                  label=f"{name} (mean of all runs)")
    ax.plot(n, data["ols_" + key], "k--", lw=1, label="OLS")
    ax.axhline(data["noise_level"], color="gray", lw=0.8, ls=":")
    _threshold_band(ax, stats.Estimate(*data["threshold"]), data["n_grid"])


def _threshold_band(ax, t: stats.Estimate, n_grid) -> None:
    """The threshold ``t`` (dash-dotted) and its 95% interval (shaded, clipped to the grid)."""
    if t.n and math.isfinite(t.value):
        ax.axvline(t.value, color=style.color(2), lw=1, ls="-.")
        lo = t.lo if math.isfinite(t.lo) else n_grid[0]
        hi = t.hi if math.isfinite(t.hi) else n_grid[-1]
        ax.axvspan(max(lo, n_grid[0]), min(hi, n_grid[-1]), color=style.color(2), alpha=0.12, lw=0)


def _positive_range(*values) -> list[float]:
    """``[min, max]`` of the positive finite entries of ``values`` (empty: none)."""
    v = np.concatenate([np.asarray(x, dtype=float).ravel() for x in values])
    v = v[np.isfinite(v) & (v > 0)]
    return [float(v.min()), float(v.max())] if len(v) else []


def key_data(result: Result) -> dict:
    """The data of the chapter's key figure (:func:`plot_threshold`), JSON-able and small: the final
    train and test loss of every threshold run, ``(N, S)`` per initialization (``N`` sample sizes,
    ``S`` seeds) with its converged / valid flags, the means with their 95% intervals ``[value, lo,
    hi]``, the OLS means, the noise level and the threshold ``[value, lo, hi, n]``. About ``8 N S``
    numbers."""
    thr = result.threshold
    inits = []
    for k in range(2):
        ok = ~thr.diverged[:, k]
        init = {"converged": thr.converged[:, k].tolist(), "valid": ok.tolist()}
        for key in ("train", "test"):
            vals = getattr(thr, key)[:, k]
            init[key] = vals.tolist()
            init[key + "_mean"] = [[e.value, e.lo, e.hi] for e in (stats.mean_ci(vals[i], ok[i]) for i in range(len(ok)))]
        inits.append(init)
    t = threshold_n(thr)
    return {"n_grid": list(thr.n_grid), "seeds": thr.train.shape[-1], "inits": inits,
            "ols_train": thr.ols_train.mean(1).tolist(), "ols_test": thr.ols_test.mean(1).tolist(),
            "test_range": _positive_range(thr.test[~thr.diverged].numpy(), thr.ols_test.numpy(), thr.noise_level),
            "noise_level": thr.noise_level, "threshold": [t.value, t.lo, t.hi, t.n],
            "diverged": [int(thr.diverged.sum()), thr.diverged.numel()]}


def plot_threshold(result: Result):
    """Final train (left) and test (right) loss vs n, small vs large init (same lr and steps): seeds as
    dots, unconverged runs as open circles, the mean of all valid runs with its 95% interval, diverged
    runs left out (counted); OLS dashed, the noise level dotted, the threshold dash-dotted with its
    95% bootstrap interval shaded. Drawn by :func:`plot_key` from :func:`key_data`."""
    return plot_key(key_data(result))


def plot_key(data: dict):
    """The key figure (:func:`plot_threshold`) from :func:`key_data`'s ``data`` alone (e.g. a stored
    ``paper`` run)."""
    fig, axes = style.panels(2, height=3.9, sharex=True)
    all_diverged = not any(np.array(init["valid"], dtype=bool).any() for init in data["inits"])
    for ax, key in zip(axes, ("train", "test")):
        style.note_diverged(ax, *data["diverged"])
        if all_diverged:
            style.empty_panel(ax)
            continue
        _threshold_series(ax, data, key)
        style.log_ticks(ax, data["n_grid"])
        ax.set_xlabel("n (training samples)")
    if all_diverged:
        return fig
    axes[0].set_yscale("symlog", linthresh=1e-3)
    axes[0].set_ylim(bottom=0)
    axes[0].set(ylabel="final train loss", title="train loss")
    axes[1].set(ylabel="test loss", title=r"test loss (dotted: $\sigma^2/2$)")
    _log_y(axes[1], data["test_range"])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, frameon=False)
    return fig


def plot_transition(result: Result):
    """Left: the share of runs that interpolate (final train loss below half the OLS train loss) vs n,
    small vs large init, with binomial 95% intervals; unconverged runs included, their count written
    above each point; the threshold (share 1/2) dash-dotted with its bootstrap interval. Right: the
    init-scale sweep at one n: final train and test loss vs lambda (means over seeds, 95% intervals),
    OLS dashed."""
    thr, sc = result.threshold, result.scales
    fig, (a0, a1) = style.panels(2, height=3.6)
    n = np.array(thr.n_grid, dtype=float)
    style.note_diverged(a0, int(thr.diverged.sum()), thr.diverged.numel())
    if thr.diverged.all():
        style.empty_panel(a0)
    else:
        for k, name in enumerate(("small init", "large init")):
            ests = [stats.Estimate(1 - e.value, 1 - e.hi, 1 - e.lo, e.n) for e in stall_share(thr, k)]
            x = n * (1.04 if k else 0.96)
            _errorbar(a0, x, ests, color=style.color(k), marker="o" if k == 0 else "s", label=name)
            unconv = ((~thr.diverged[:, k]) & ~thr.converged[:, k]).sum(1).tolist()
            for xi, e, u in zip(x, ests, unconv):
                if u and math.isfinite(e.value):
                    a0.annotate(f"{u}", (xi, e.value), textcoords="offset points", xytext=(0, 6 if k else -14),
                                ha="center", fontsize=9, color=style.color(k))
        a0.axhline(0.5, color="gray", lw=0.8, ls=":")
        _threshold_band(a0, threshold_n(thr), thr.n_grid)
        style.log_ticks(a0, thr.n_grid)
        a0.set(ylim=(-0.05, 1.1), xlabel="n (training samples)", ylabel="share that interpolates",
               title=f"transition ({thr.train.shape[-1]} seeds; numbers: not converged)")
        a0.legend(frameon=False, loc="lower left")
    style.note_diverged(a1, int(sc.diverged.sum()), sc.diverged.numel())
    ok = ~sc.diverged
    if not ok.any():
        style.empty_panel(a1)
        return fig
    lam = np.array(sc.lams)
    for key, color, marker, label in (("train", style.color(0), "o", "train"), ("test", style.color(3), "d", "test")):
        vals = getattr(sc, key)
        _errorbar(a1, lam, [stats.mean_ci(vals[i], ok[i]) for i in range(len(lam))], color=color, marker=marker, label=label)
        ref = sc.ols_train if key == "train" else sc.ols_test
        a1.axhline(float(ref.mean()), color=color, lw=1, ls="--")
    unconv = (ok & ~sc.converged).sum(1).tolist()
    train_mean = [stats.mean_ci(sc.train[i], ok[i]).value for i in range(len(lam))]
    for x, y, u in zip(lam, train_mean, unconv):
        if u and math.isfinite(y):
            a1.annotate(f"{u}", (x, y), textcoords="offset points", xytext=(0, -14), ha="center", fontsize=9,
                        color=style.color(0))
    a1.set(xscale="log", xlabel=r"init scale $\lambda$", ylabel="final loss",
           title=f"n = {sc.n}: init scale (dashed: OLS)")
    a1.legend(frameon=False, loc="upper left")
    return fig


def _toy_G_panel(ax, result: Result) -> None:
    toy = result.toy
    ax.plot(toy.theta.numpy(), toy.G.numpy(), color="k", lw=1.2, label=r"$G(\cos\theta, \sin\theta)$")
    for name, color, marker in (("max", PLUS, "v"), ("min", MINUS, "^")):
        for u, g in zip(toy.ext[name], toy.ext[name + "_G"]):
            ax.plot(math.atan2(u[1], u[0]), g, marker, color=color, ms=8)
    ax.set(xlabel=r"angle $\theta$ of $(w, b)$", ylabel="G", title="3 points: G, final neurons")
    ok = ~toy.diverged
    style.note_diverged(ax, int(toy.diverged.sum()), len(ok))
    if ok.any():
        ang, wt = toy_angles({k: v[ok] for k, v in toy.params.items()})
        ang, wt = ang.flatten().numpy(), wt.flatten().numpy()
        twin = ax.twinx()
        twin.hist(ang, bins=180, range=(-math.pi, math.pi), weights=wt / wt.sum(), color=style.color(2), alpha=0.5)
        twin.set_ylabel("share of output mass", color=style.color(2))
        twin.grid(False)
    ax.legend(frameon=False, loc="upper left")


def plot_extremal(result: Result):
    """Top left: G on the circle of unit (w, b) for the 3 points, its maximiser found by ascent, and the
    histogram of final neuron angles (weighted by ``|a_j| ||(w_j, b_j)||``, all valid seeds). Linear
    teacher, vs n (means over data sets with 95% intervals): the cosine of the top maximiser with beta*
    (top right), and the alignment score of the small-init neurons at the end of the early phase, at
    the end of training, and of their random initial directions (bottom left)."""
    ext = result.extremal
    n = np.array(result.threshold.n_grid, dtype=float)
    fig, ax = style.panels(3, height=3.0)
    _toy_G_panel(ax[0], result)
    N = range(len(n))
    _errorbar(ax[1], n, [stats.mean_ci(ext.cos_beta[i]) for i in N], color=style.color(4), marker="x")
    ax[1].set(ylim=(0, 1.05), ylabel=r"cos(top maximiser, $\beta^*$)", title="top maximiser vs teacher")
    ok = ~ext.diverged
    style.note_diverged(ax[2], int(ext.diverged.sum()), ok.numel())
    if ok.any():
        for key, color, marker, label in (("align_early", style.color(2), "s", "early phase"),
                                          ("align_final", style.color(3), "d", "end of training"),
                                          ("align_random", "gray", "o", "random init")):
            vals = getattr(ext, key)
            _errorbar(ax[2], n, [stats.mean_ci(vals[i], ok[i]) for i in N], color=color, marker=marker, label=label)
        ax[2].set(ylim=(-0.02, 1.42), yticks=[0, 0.25, 0.5, 0.75, 1.0], ylabel="alignment score",
                  title="alignment of small-init neurons")
        ax[2].legend(frameon=False, loc="upper center", ncol=2, columnspacing=0.6, handlelength=1.2)
    else:
        style.empty_panel(ax[2])
    for a in ax[1:2] + ([ax[2]] if ok.any() else []):
        style.log_ticks(a, result.threshold.n_grid)
        a.set_xlabel("n")
    return fig


FIGURES = (plot_toy_training, plot_polar, animation, plot_threshold, plot_transition, plot_extremal)

LIVE_CONTROLS = {
    "n": book.Slider(64, 8, 512, 8, "n"),
    "log10_init": book.Slider(-6.0, -8.0, -1.0, 0.5, "log10 lambda"),
    "steps": book.Slider(4000, 500, 20000, 500, "GD steps"),
}


def live(n: int = 64, log10_init: float = -6.0, steps: int = 4000, device="auto", seed: int = 0) -> Result:
    """The live panel's experiment (seconds on a CPU): the smoke-size 3-points toy with init scale
    ``10**(log10_init + 3)`` (at most 1) and the threshold experiment at a single ``n`` with init scale
    ``10**log10_init``; prints the final losses and draws the toy's neurons at their peak alignment."""
    import matplotlib.pyplot as plt

    lam = 10.0 ** float(log10_init)
    d = config("smoke").d
    width = max(config("smoke").width, 2 * math.ceil(2 * int(n) / (d + 1)))  # over-parameterized: m (d+1) >= 4n
    cfg = config("smoke", seed=seed, n_grid=(int(n),), width=width, small_init=lam, toy_init=min(lam * 1e3, 1.0),
                 steps=int(steps), toy_steps=3000, seeds=2, scale_n=int(n), scales=())
    r = run(cfg, device=device, progress=False)
    s = numbers(r)
    k = f"n{int(n)}"
    print(f"n = {n}, width {width} ({s['params']:.0f} parameters): small init train {s['train_small_' + k]:.3g}, "
          f"test {s['test_small_' + k]:.3g}; large init train {s['train_large_' + k]:.3g}, test {s['test_large_' + k]:.3g}; "
          f"OLS train {s['ols_train_' + k]:.3g}, test {s['ols_test_' + k]:.3g}; "
          f"converged {s['runs'] - s['unconverged'] - s['threshold_diverged']:.0f}/{s['runs']:.0f}, "
          f"diverged {s['diverged']:.0f}; cos(top maximiser of G, beta*) {s['cos_beta_large_n']:.3f}")
    peak = int(torch.nan_to_num(r.toy.align, nan=-1.0).argmax())
    plot_polar(r, peak)
    plt.show()
    return r
