"""Chapter 5's figures (each ``fn(result)``), the slider figure, and the live panel's ``live``."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import book, stats, style
from ..chapter import Timer
from ..device import resolve_device
from .config import config
from .run import GDRuns, RandomNets, Result, run_toy

__all__ = ["plot_toy_histograms", "plot_toy_bad_fraction", "plot_mnist_random", "plot_mnist_learning_curves",
           "animation", "FIGURES", "LIVE_CONTROLS", "live"]


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


def _toy_bad_panel(ax, result: Result) -> None:
    toy, eps0 = result.toy, result.config.toy_eps0
    n, surv = toy.n.numpy(), toy.survivors
    per = toy.bad_fraction_per_set().numpy()
    for r in range(surv.shape[0]):
        ok = (surv[r].numpy() >= 20) & (per[r] > 0)
        ax.plot(n[ok], per[r][ok], color=style.color(0), alpha=0.3, lw=0.8, label="one sequence" if r == 0 else None)
    bad, tot = toy.bad.sum(0), surv.sum(0)
    keep = [k for k in range(len(n)) if tot[k] >= 20 and bad[k] > 0]
    if keep:
        v, err = _yerr([stats.share_from_counts(int(bad[k]), int(tot[k])) for k in keep])
        ax.errorbar(n[keep], v, yerr=err, fmt="o", color=style.color(0), ms=3, capsize=0, label="pooled (95% CI)")
    ax.plot(n, toy.theory_bad, color="k", lw=1.5, label=r"formula $B_n(\varepsilon_0)$")
    ax.plot(n, (1 - eps0) ** n, color="grey", ls=":", lw=1, label=r"$(1-\varepsilon_0)^n$")
    ax.set_yscale("log")
    low = float(np.nanmin(v)) / 10 if keep else 1e-6
    ax.set_ylim(max(1e-6, low), 1.5)
    ax.set_xlabel("training points n")
    ax.set_ylabel(rf"share with $\varepsilon > {eps0:g}$")
    ax.legend(loc="lower left")


def plot_toy_bad_fraction(result: Result):
    """Left: share of bad survivors (error > eps0) vs n on a log scale, pooled over the training
    sequences (binomial 95% intervals) and per sequence (while it has >= 20 survivors), the formula,
    and ``(1-eps0)^n``. Right: the survivors' mean true error against ``E_n[eps]``."""
    toy = result.toy
    fig, (ax, bx) = style.panels(2, height=3.6)
    _toy_bad_panel(ax, result)
    n = toy.n.numpy()
    per_mean = toy.mean_error_per_set().numpy()
    for r in range(per_mean.shape[0]):
        bx.plot(n, per_mean[r], color=style.color(0), alpha=0.3, lw=0.8, label="one sequence" if r == 0 else None)
    keep = toy.survivors.sum(0).numpy() >= 20
    bx.plot(n[keep], toy.mean_error().numpy()[keep], "o", color=style.color(0), ms=3, label="pooled")
    bx.plot(n, toy.theory_mean, color="k", lw=1.5, label=r"formula $E_n[\varepsilon]$")
    bx.set_xlabel("training points n")
    bx.set_ylabel("mean true error of survivors")
    bx.legend()
    return fig


def _gd_estimates(gd: GDRuns, wi: int, upto: int | None = None) -> list[stats.Estimate]:
    ok = gd.ok(wi)
    K = len(gd.n) if upto is None else upto
    return [stats.mean_ci(gd.test[wi][k], ok[k]) for k in range(K)]


def plot_mnist_random(result: Result):
    """Left: the error density ``Q`` of random networks of each width (held-out error on MNIST).
    Right: guess and check: mean held-out error of the random nets that survive n training points
    (pooled over sequences), the formula on the sampled ``Q``, and GD-trained nets at the same n
    (mean over seeds, bootstrap 95% intervals)."""
    cfg, rnd, gd = result.config, result.random, result.gd
    fig, (ax, bx) = style.panels(2, height=3.8)
    bins = np.linspace(0, 1, 81)
    ns = [n for n in cfg.gd_n if n <= cfg.random_n_max]
    for wi, w in enumerate(cfg.widths):
        c = style.color(wi)
        ax.hist(rnd.eps[wi].numpy(), bins=bins, density=True, histtype="step", lw=1.5, color=c,
                label=f"width {w} ({cfg.params_count(wi):,} par.)")
        gc = rnd.guess_and_check(wi)
        ok = gc["survivors"] >= 5
        bx.plot(gc["n"][ok], gc["mean"][ok], "o", ms=4, color=c, label=f"random, w={w}")
        bx.plot(gc["n"], gc["pred"], "-", color=c, lw=1, label=f"formula, w={w}")
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
    bx.legend(loc="lower left")
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


FIGURES = (plot_toy_histograms, plot_toy_bad_fraction, animation, plot_mnist_random, plot_mnist_learning_curves)

LIVE_CONTROLS = {
    "d": book.Slider(5, 2, 12, 1, "dimension d"),
    "n": book.Slider(30, 5, 80, 5, "training points n"),
    "eps0": book.Slider(0.1, 0.05, 0.3, 0.05, "ε₀"),
}


def live(d: int = 5, n: int = 30, eps0: float = 0.1, device="auto") -> Result:
    """Rerun the perceptron toy (one training sequence, 2**18 classifiers: seconds on a CPU) for
    dimension ``d``, ``n`` training points and threshold ``eps0``; draw the share of bad survivors
    and their mean error; return the Result (its random and GD parts are empty)."""
    import matplotlib.pyplot as plt

    cfg = config("smoke", toy_d=d, toy_n_max=n, toy_classifiers=2**18, toy_train_sets=1, toy_eps0=eps0)
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
