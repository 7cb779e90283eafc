"""The chapter's figures (each ``fn(result)``), the slider animation, and the live panel's :func:`live`.

Runs that diverged are never drawn as if fine: curves and means use the valid runs only, and every
figure that shows trained runs says how many diverged (:func:`overparam.style.note_diverged`).
"""

from __future__ import annotations

import numpy as np
import torch

from .. import book, stats, style
from .config import config
from .run import Result, run

__all__ = ["key_data", "plot_key", "plot_loss", "plot_spectrum", "plot_bound", "plot_distance", "plot_widths", "animation", "FIGURES",
           "LIVE_CONTROLS", "live"]


def _level_colors(n: int) -> list:
    """One color per trained level: the book's cycle, or viridis (without its pale end) for many."""
    if n <= len(style.COLORS):
        return [style.color(i) for i in range(n)]
    import matplotlib.pyplot as plt

    return [plt.get_cmap("viridis")(0.85 * i / (n - 1)) for i in range(n)]


def _first_valid(ok: torch.Tensor, j: int) -> int | None:
    """The first seed whose run at level ``j`` did not diverge (``None``: all did)."""
    idx = torch.nonzero(ok[:, j]).flatten()
    return int(idx[0]) if len(idx) else None


def _note(ax, r: Result) -> None:
    style.note_diverged(ax, int(r.training.diverged.sum()), r.training.diverged.numel())


def _note_prediction(ax, n_div: int, n: int) -> None:
    """Say (bottom left) that ``n_div`` of ``n`` runs' kernel predictions diverged (unstable step): not drawn."""
    if n_div:
        ax.text(0.01, 0.01, f"kernel prediction diverged for {n_div} of {n} runs (not drawn)", transform=ax.transAxes,
                ha="left", va="bottom", fontsize=9, color=style.COLORS[1],
                bbox=dict(boxstyle="round", fc="white", ec=style.COLORS[1], alpha=0.9))


def key_data(result: Result) -> dict:
    """The data of the chapter's key figure (:func:`plot_loss`), JSON-able and small: for each trained
    level the loss curve of the first seed that did not diverge (``T`` recorded steps, at most 401),
    its kernel prediction out to ``config.long_steps`` (about 200 log-spaced steps) and the gap
    between the two; plus the diverged counts. About ``L * (2 T + 200)`` floats (``L`` levels)."""
    tr, pr, cfg = result.training, result.prediction, result.config
    ok, k, kl = ~tr.diverged, tr.steps.numpy(), pr.long_steps.numpy()
    pos, lpos = k >= 1, kl >= 1
    curves = []
    for j, p in enumerate(tr.levels.tolist()):
        s = _first_valid(ok, j)
        if s is None:
            curves.append({"p": p})
            continue
        l0 = float(tr.loss[0, s, j])
        net = tr.loss[:, s, j].numpy() / l0
        curve = {"p": p, "network": net[pos].tolist()}
        if not bool(pr.diverged[s, j]):
            curve["prediction"] = (pr.long_loss[lpos, s, j].numpy() / l0).tolist()
            gap = np.abs(net - pr.loss[:, s, j].numpy() / l0)
            curve["gap"] = np.maximum(gap[pos], 1e-12).tolist()
        curves.append(curve)
    return {"steps": k[pos].tolist(), "long_steps": kl[lpos].tolist(), "curves": curves, "stopped_at": cfg.steps,
            "horizon": cfg.long_steps, "width": cfg.width,
            "diverged": [int(tr.diverged.sum()), tr.diverged.numel()],
            "prediction_diverged": [int(pr.diverged.sum()), pr.diverged.numel()]}


def plot_loss(result: Result):
    """(a) Left: training loss ``loss(k) / loss(0)`` vs iteration (log axis) for each corruption level:
    the trained network (solid, the first seed that did not diverge, up to its last step) and the
    kernel prediction of Theorem 4.1 (dashed) out to ``config.long_steps``. Right: the gap
    ``|network - prediction| / loss(0)`` over the trained steps (log-log). Drawn by :func:`plot_key`
    from :func:`key_data`."""
    return plot_key(key_data(result))


def plot_key(data: dict):
    """The key figure (:func:`plot_loss`) from :func:`key_data`'s ``data`` alone (e.g. a stored
    ``paper`` run): loss vs iteration, network (solid) and kernel prediction (dashed), and their gap."""
    fig, (ax, ax2) = style.panels(2, height=3.6)
    k, kl, K = data["steps"], data["long_steps"], data["stopped_at"]
    for c, curve in zip(_level_colors(len(data["curves"])), data["curves"]):
        if "network" not in curve:
            continue
        ax.plot(k, curve["network"], color=c, lw=2, label=f"p = {curve['p']:.1f}")
        if "prediction" in curve:
            ax.plot(kl, curve["prediction"], color=c, lw=1.2, ls="--")
            ax2.plot(k, curve["gap"], color=c, lw=1.5)
    if not any("network" in c for c in data["curves"]):
        style.empty_panel(ax)
        style.empty_panel(ax2)
    else:
        ax.axvline(K, color="gray", lw=1, ls=":")
        ax.text(K, 1.0, " networks\n stopped", fontsize=9, color="gray", va="top")
        ax.plot([], [], color="gray", lw=2, label="trained network")
        ax.plot([], [], color="gray", lw=1.2, ls="--", label="kernel prediction")
        ax.set_xscale("log")
        ax.set(xlabel="GD iteration k", ylabel=r"$\|y - u(k)\|^2 / \|y - u(0)\|^2$", ylim=(0, 1.02),
               title=f"Loss, out to k = {data['horizon']:,}")
        ax2.set_xscale("log")
        ax2.set_yscale("log")
        ax2.set(xlabel="GD iteration k", ylabel="|network - prediction| / loss(0)",
                title=f"Network vs kernel (m = {data['width']})")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=4)
    style.note_diverged(ax, *data["diverged"])
    _note_prediction(ax2, *data["prediction_diverged"])
    return fig


def plot_spectrum(result: Result, top: int = 200):
    """(b) Eigenvalues of ``H^inf``, the projections ``(v_i . y)^2`` of true vs random labels on the top
    eigenvectors, and their cumulative share of ``||y||^2`` (kernel only: no training)."""
    r, sw = result, result.sweep
    fig, (a0, a1, a2) = style.panels(3, height=3.0)
    n = r.spectrum.n
    i = np.arange(1, n + 1)
    a0.loglog(i, r.spectrum.eigenvalues.numpy(), color="k")
    a0.set(xlabel="index i", ylabel=r"$\lambda_i$", title=r"Eigenvalues of $H^\infty$")
    top = min(top, n)
    for p, name, c in [(0.0, "true (p = 0)", style.color(0)), (0.5, "p = 0.5", style.color(3)),
                       (1.0, "random (p = 1)", style.color(1))]:
        proj = sw.projections[int((sw.levels - p).abs().argmin())].numpy()
        if p != 0.5:
            a1.semilogy(i[:top], proj[:top], ".", ms=3, color=c, label=name)
        pair = f"{r.config.classes[0]} vs {r.config.classes[1]}"
        a2.semilogx(i, np.cumsum(proj) / proj.sum(), color=c, label=f"{name}, {pair}")
    a1.set(xlabel="index i (descending eigenvalue)", ylabel=r"$(v_i \cdot y)^2$", title=f"Projections, top {top}")
    a1.legend()
    if r.pair is not None:
        pp = r.pair.projections_true.numpy()
        a2.semilogx(np.arange(1, len(pp) + 1), np.cumsum(pp) / pp.sum(), color=style.color(0), ls="--",
                    label=f"true, {r.pair.classes[0]} vs {r.pair.classes[1]}")
    a2.set(xlabel="number of top eigenvectors", ylabel=r"fraction of $\|y\|^2$", title="Cumulative projection")
    a2.legend()
    return fig


def _per_level(values: torch.Tensor, ok: torch.Tensor):
    """Mean over valid seeds per level and its 95% bootstrap interval as error-bar lengths (0 where the
    interval is infinite, i.e. one run)."""
    est = [stats.mean_ci(values[:, j], ok[:, j]) for j in range(values.shape[1])]
    m = np.array([e.value for e in est])
    err = np.array([[e.value - e.lo, e.hi - e.value] for e in est]).T
    return m, np.where(np.isfinite(err), err, 0.0)


def _band(ax, levels, values: torch.Tensor, color, label: str, ls: str = "-") -> None:
    """Mean over the label draws per level (line) and its 95% bootstrap interval (band)."""
    m, err = _per_level(values, torch.ones_like(values, dtype=torch.bool))
    x = np.asarray(levels)
    ax.plot(x, m, color=color, lw=2, ls=ls, label=label)
    ax.fill_between(x, m - err[0], m + err[1], color=color, alpha=0.2, lw=0)


def plot_bound(result: Result):
    """(c) Left: test error vs corruption for the fully trained infinite-width predictor (``k -> inf``,
    lines with 95% bands over the label draws) and for the trained networks, stopped after
    ``config.steps`` steps (markers with 95% bootstrap intervals over seeds), on true and on corrupted
    test labels, with the ``p / 2`` floor of the corrupted labels. Right: the bound's leading term
    ``sqrt(2 y^T (H^inf)^{-1} y / n)`` (log scale; vacuous above 1) for both digit pairs, against the
    clipped test loss it bounds."""
    r, kn, tr = result, result.kernel, result.training
    fig, (ax, ax2) = style.panels(2, height=3.6)
    lv, ok = tr.levels.numpy(), ~tr.diverged
    x = kn.levels.numpy()
    _band(ax, x, kn.full_clean_error, style.color(2), r"kernel $k \to \infty$, true test labels")
    _band(ax, x, kn.full_test_error, style.color(0), r"kernel $k \to \infty$, corrupted test labels", ls="--")
    ax.plot(x, x / 2, color="gray", lw=1, ls=":", label="p/2: floor on corrupted labels")
    for t, name, mk, c in [(tr.clean_test_error, f"network, {r.config.steps} steps, true labels", "^", style.color(2)),
                           (tr.test_error, f"network, {r.config.steps} steps, corrupted", "s", style.color(0))]:
        m, err = _per_level(t, ok)
        ax.errorbar(lv, m, yerr=err, marker=mk, color=c, ls="none", ms=6, mfc="white", capsize=2, label=name)
    ax.set(xlabel="label corruption p", ylabel="test error", ylim=(0, 0.7), title="Test error")
    c = r.config
    _band(ax2, x, kn.bound, "k", rf"leading term, {c.classes[0]} vs {c.classes[1]}")
    if r.pair is not None:
        _band(ax2, r.pair.levels.numpy(), r.pair.bound, style.color(4),
              f"leading term, {r.pair.classes[0]} vs {r.pair.classes[1]}", ls="--")
    top = max(float(kn.bound.max()), float(r.pair.bound.max()) if r.pair is not None else 0.0, 2.0)
    ax2.axhspan(1.0, 1.5 * top, color="gray", alpha=0.12, lw=0)
    ax2.axhline(1.0, color="gray", lw=1, ls=":")
    ax2.text(0.98, 1.08, "vacuous (> 1)", ha="right", va="bottom", fontsize=9, color="0.3",
             transform=ax2.get_yaxis_transform())
    m, err = _per_level(tr.test_loss, ok)
    ax2.errorbar(lv, m, yerr=err, marker="o", color=style.color(1), ls="none", ms=5, mfc="white", capsize=2,
                 label=r"network test loss $\min(1, |f - y|)$")
    _band(ax2, x, kn.full_test_loss, style.color(1), r"kernel $k \to \infty$ test loss", ls="-.")
    ax2.set(xlabel="label corruption p", yscale="log", ylim=(0.02, 1.5 * top), title="Bound (leading term)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    fig.legend(h1 + h2, l1 + l2, loc="outside lower center", ncol=2)
    _note(ax, r)
    return fig


def plot_distance(result: Result):
    """(d) ``||W(K) - W(0)||_F`` vs corruption (mean over valid seeds, 95% intervals) against
    ``sqrt(y^T (H^inf)^{-1} y)`` and the kernel prediction at the same step."""
    r, sw, tr = result, result.sweep, result.training
    fig, (ax,) = style.panels(1, height=3.8)
    K, ok, lv = r.config.steps, ~tr.diverged, tr.levels.numpy()
    ax.plot(sw.levels, sw.distance_bound, color="k", lw=2, label=r"$\sqrt{y^\top (H^\infty)^{-1} y}$ (k $\to \infty$)")
    m, err = _per_level(tr.distance[-1], ok)
    ax.errorbar(lv, m, yerr=err, marker="o", color=style.color(1), ls="-", capsize=2,
                label=rf"measured $\|W(K) - W(0)\|_F$, K = {K}")
    pm, _ = _per_level(r.prediction.distance[-1], ~r.prediction.diverged)
    ax.plot(lv, pm, color=style.color(1), ls="--", lw=1, label=f"kernel prediction at K = {K}")
    ax.set(ylim=(0, None), xlabel="label corruption p", ylabel="distance from initialization",
           title="How far the weights move")
    ax.legend(loc="upper left")
    _note(ax, r)
    _note_prediction(ax, int(r.prediction.diverged.sum()), r.prediction.diverged.numel())
    return fig


def plot_widths(result: Result):
    """(e) The width sweep, after ``config.steps`` steps at p = 0 and p = 1. Left: the kernel
    prediction's relative excess ``(predicted - measured) / measured`` of ``||W(K) - W(0)||_F`` vs the
    width ``m`` (log axis). Right: the drift ``||H(W) - H^inf||_2 / ||H^inf||_2`` after training (true
    and random labels) and at initialization (first network). Means over valid seeds with 95% bootstrap
    intervals; the dotted lines fall like ``1 / sqrt(m)`` from the narrowest width's random-label mean."""
    from matplotlib.ticker import NullLocator

    r, w = result, result.widths
    fig, (ax, ax2) = style.panels(2, height=3.4)
    if w is None or not bool((~w.diverged).any()):
        for a in (ax, ax2):
            style.empty_panel(a, "no width sweep (widths=None)" if w is None else "no valid run to show (all diverged)")
        if w is not None:
            style.note_diverged(ax, int(w.diverged.sum()), w.diverged.numel())
        return fig
    m, ok = w.widths.numpy(), ~w.diverged
    for a, vals, title, ylabel in [
        (ax, w.gap, "Distance: kernel prediction vs network", "(predicted - measured) / measured"),
        (ax2, w.drift, "Kernel drift: trained vs initial", r"$\|H(W) - H^\infty\|_2 / \|H^\infty\|_2$")]:
        for j, name, c, mk in ((1, "random labels (p = 1)", style.color(1), "o"), (0, "true labels (p = 0)", style.color(2), "^")):
            mean, err = _per_level(vals[:, :, j].T, ok[:, :, j].T)
            a.errorbar(m, mean, yerr=err, marker=mk, color=c, capsize=2, label=name)
            if j == 1 and np.isfinite(mean[0]):
                a.plot(m, mean[0] * np.sqrt(m[0] / m), color=c, ls=":", lw=1, label=r"$\propto 1/\sqrt{m}$")
        a.set_xscale("log")
        a.set_xticks(m, [f"{v:.0f}" for v in m])
        a.xaxis.set_minor_locator(NullLocator())
        a.set(xlabel="width m", ylabel=ylabel, title=title)
    ax.axhline(0, color="gray", lw=1)
    ax2.plot(m, w.drift_init.numpy(), "s", color="0.4", mfc="white", label="at initialization (first network)")
    ax2.set_yscale("log")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    extra = [(h, lab) for h, lab in zip(h2, l2) if lab not in l1]  # the initialization markers
    fig.legend(h1 + [h for h, _ in extra], l1 + [lab for _, lab in extra], loc="outside lower center", ncol=2)
    style.note_diverged(ax, int(w.diverged.sum()), w.diverged.numel())
    return fig


def animation(result: Result):
    """Static interactive figure (HTML, slider over the sweep's corruption level p): the cumulative
    projection of the labels on the eigenvectors of ``H^inf`` and the predicted loss curve, with the
    trained network's curve (first valid seed) where ``p`` is one of the trained levels."""
    r, sw, tr = result, result.sweep, result.training
    fig, (a1, a2) = style.panels(2, height=3.4, dpi=80)
    i, k, ok = np.arange(1, r.spectrum.n + 1), tr.steps.numpy(), ~tr.diverged
    cum = [np.cumsum(p.numpy()) / float(p.sum()) for p in sw.projections]
    pred = [(sw.predicted[:, f] / sw.predicted[0, f]).numpy() for f in range(len(cum))]
    for j in (0, len(cum) - 1):
        a1.semilogx(i, cum[j], color="0.6", lw=1)
        a2.plot(k, pred[j], color="0.6", lw=1)
    (c_line,) = a1.semilogx(i, cum[0], color=style.color(4), lw=2)
    (p_line,) = a2.plot(k, pred[0], color=style.color(4), lw=2, ls="--", label="prediction (Thm 4.1)")
    (m_line,) = a2.plot([], [], color=style.color(0), lw=2, label="trained network")
    a1.set(xlabel="number of top eigenvectors", ylabel=r"fraction of $\|y\|^2$", ylim=(0, 1.02))
    a2.set(xlabel="GD iteration k", ylabel="loss(k) / loss(0)", ylim=(0, 1.02))
    a2.legend(loc="lower left")
    _note(a2, r)
    if bool(sw.diverged.any()):
        a1.text(0.01, 0.99, f"predicted loss diverges at {int(sw.diverged.sum())} of {len(cum)} levels",
                transform=a1.transAxes, ha="left", va="top", fontsize=9, color=style.COLORS[1])
    title = fig.suptitle("", fontsize=10)

    def update(f: int):
        p, j = float(sw.levels[f]), tr.level_index(float(sw.levels[f]))
        c_line.set_ydata(cum[f])
        p_line.set_ydata(pred[f])
        s = _first_valid(ok, j) if abs(float(tr.levels[j]) - p) < 1e-9 else None
        m_line.set_data(([], []) if s is None else (k, tr.loss[:, s, j] / tr.loss[0, s, j]))
        title.set_text(f"label corruption p = {p:.2f}: bound {float(sw.bound[f]):.2f}, "
                       f"top-10 share {cum[f][min(9, r.spectrum.n - 1)]:.2f}")
        return c_line, p_line, m_line

    update(0)
    return book.jshtml(fig, update, frames=len(cum))


FIGURES = (plot_loss, plot_spectrum, plot_bound, plot_distance, plot_widths, animation)

LIVE_CONTROLS = {
    "corruption": book.Slider(0.5, 0.0, 1.0, 0.1, "corruption p"),
    "width": book.Slider(256, 16, 2048, 16, "width m"),
    "steps": book.Slider(60, 10, 300, 10, "GD steps"),
    "n_train": book.Slider(200, 50, 1000, 50, "n"),
}


def live(corruption: float = 0.5, width: int = 256, steps: int = 60, n_train: int = 200, device: str = "auto"):
    """Rerun a small experiment (true labels vs corruption ``corruption``, one seed) and show
    :func:`plot_loss` for it. Seconds on a CPU; for the live panel in Jupyter/Colab."""
    import matplotlib.pyplot as plt

    levels = (0.0,) if corruption == 0 else (0.0, float(corruption))
    cfg = config("smoke", corruption=levels, seeds=1, pair=None, widths=None, width=int(width) + int(width) % 2, steps=int(steps),
                 n_train=int(n_train))
    r = run(cfg, device=device, progress=False)
    plot_loss(r)
    plt.show()
    bounds = zip(r.training.levels.tolist(), r.training.bound[0].tolist())
    print("bound sqrt(2 y^T H^-1 y / n): " + ", ".join(f"p = {p:.2f}: {b:.2f}" for p, b in bounds))
    return r
