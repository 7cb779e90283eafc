"""Chapter 2's figures: recovery per teacher node, the L-shape, the loss curves, the animated
correlation matrices, and the live panel's :func:`live`.

Every figure is made with :func:`overparam.style.panels`, notes how many runs diverged, and draws
an empty panel (no crash) where every run diverged.
"""

from __future__ import annotations

import numpy as np
import torch

from .. import book, stats, style
from .._validate import check_int
from .config import config
from .report import node_rates
from .run import Result, Width, run

__all__ = ["plot_recovery", "plot_lshape", "plot_loss", "animation", "FIGURES", "LIVE_CONTROLS", "live"]


def _n_div(w: Width) -> int:
    return int(w.diverged.sum())


def _all_diverged(n: int) -> str:
    return f"all {n} of {n} runs diverged: no valid run to show"


def _recovery_panel(ax, result: Result, when: str) -> None:
    """Recovery rate of each teacher node per multi at ``when``, with binomial 95% intervals."""
    cfg, sw = result.config, result.sweep
    idx = np.arange(1, cfg.m + 1)
    k = len(cfg.multis)
    for i, w in enumerate(sw.widths):
        est = node_rates(result, w.multi, when)
        if est[0].n == 0:
            continue
        v = np.array([e.value for e in est])
        err = np.array([[e.value - e.lo for e in est], [e.hi - e.value for e in est]])
        x = idx + 0.3 * (i - (k - 1) / 2) / max(1, k - 1)  # dodge so the error bars do not overlap
        ax.errorbar(x, v, yerr=err, fmt="-o", ms=3, lw=1.2, elinewidth=0.7, capsize=1.5, color=style.color(i), label=f"{w.multi}x")
    step = int(sw.steps[sw.early_index if when == "early" else -1])
    ax.set_title(f"{'early' if when == 'early' else 'end'}: step {step}")
    ax.set_xlabel("teacher node $j$ (strong $\\to$ weak)")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xticks(idx if cfg.m <= 10 else idx[:: int(np.ceil(cfg.m / 10))])


def plot_recovery(result: Result):
    """Recovery rate of each teacher node (strong -> weak) per multi, early (left) and at the end
    (right), with binomial 95% intervals over the seeds (the official ``figure_success_rate``)."""
    cfg, sw = result.config, result.sweep
    fig, axes = style.panels(2, height=3.4, sharey=True)
    n_div = int(sw.diverged.sum())
    for ax, when in zip(axes, ("early", "final")):
        if n_div == sw.diverged.numel():
            style.empty_panel(ax, _all_diverged(n_div))
            continue
        _recovery_panel(ax, result, when)
        style.note_diverged(ax, n_div, sw.diverged.numel())
    axes[0].set_ylabel(f"share recovered (corr > {cfg.threshold:g})")
    if n_div < sw.diverged.numel():
        fig.legend(*axes[1].get_legend_handles_labels(), title="student width", loc="outside lower center", ncol=len(cfg.multis))
    fig.suptitle(f"Teacher nodes recovered (fan-out $\\propto j^{{-{cfg.decay:g}}}$; {cfg.seeds} seeds, 95% intervals)")
    return fig


def plot_lshape(result: Result):
    """Each student node's best correlation with a teacher node vs the norm of its fan-out weights,
    one panel per multi, all valid seeds (the official code's ``figure_l_shape``)."""
    cfg, sw = result.config, result.sweep
    fig, axes = style.panels(len(sw.widths), height=2.8, sharex=True, sharey=True)
    fans = [w.fanout[~w.diverged] for w in sw.widths]
    ymax = max([float(f.max()) for f in fans if f.numel()] or [1.0]) * 1.08
    for i, (ax, w, fo) in enumerate(zip(axes, sw.widths, fans)):
        ax.set_title(f"{w.multi}x (width {w.width})")
        if fo.numel() == 0:
            style.empty_panel(ax, _all_diverged(cfg.seeds))
            continue
        ax.scatter(w.best_corr[~w.diverged].flatten(), fo.flatten(), s=7, alpha=0.6, color=style.color(i))
        ax.axvline(cfg.threshold, color="0.5", lw=0.8, ls="--")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.03 * ymax, ymax)
        style.note_diverged(ax, _n_div(w), cfg.seeds)
    for j, ax in enumerate(axes):
        if j % 2 == 0:
            ax.set_ylabel("fan-out norm $\\|v_k\\|$")
        if j >= len(axes) - 2:
            ax.set_xlabel("best correlation")
    return fig


def plot_loss(result: Result):
    """Evaluation loss vs step per multi, log scale: the geometric mean over the valid seeds with
    its 95% bootstrap interval (the official code's ``figure_loss``)."""
    cfg, sw = result.config, result.sweep
    fig, (ax,) = style.panels(1, height=3.6)
    s = sw.steps.numpy()
    drawn = 0
    for i, w in enumerate(sw.widths):
        if _n_div(w) == cfg.seeds:
            continue
        lg = w.eval_loss.double().clamp_min(1e-30).log10()
        est = [stats.mean_ci(lg[t], ~w.diverged) for t in range(len(s))]
        mu, lo, hi = (np.array([getattr(e, a) for e in est]) for a in ("value", "lo", "hi"))
        ax.plot(s, 10**mu, color=style.color(i), label=f"{w.multi}x")
        ok = np.isfinite(lo) & np.isfinite(hi)
        ax.fill_between(s[ok], 10 ** lo[ok], 10 ** hi[ok], color=style.color(i), alpha=0.2, lw=0)
        drawn += 1
    if not drawn:
        style.empty_panel(ax, _all_diverged(sw.diverged.numel()))
        return fig
    ax.set_yscale("log")
    ax.set_xlabel("step" + (" (full-batch GD)" if cfg.batch_size is None else f" (SGD, batch {cfg.batch_size})"))
    ax.set_ylabel("evaluation MSE")
    ax.legend(title="student width", loc="lower left")
    ax.set_title(f"Evaluation loss: geometric mean over {cfg.seeds} seeds, 95% interval")
    style.note_diverged(ax, int(sw.diverged.sum()), sw.diverged.numel())
    return fig


def _student_order(corr_final: torch.Tensor, threshold: float) -> torch.Tensor:
    """Order student nodes by their final best teacher node, specialized ones first within it."""
    best, arg = corr_final.max(0)
    key = arg.double() * 10 + (1 - best.double().clamp(-1, 1)) + 1e6 * (best <= threshold).double()
    return torch.argsort(key)


def _frames(result: Result) -> np.ndarray:
    """Indices of the recorded steps closest to log-spaced targets (the early phase moves fastest)."""
    sw = result.sweep
    targets = np.geomspace(1, int(sw.steps[-1]) + 1, result.config.frames) - 1
    return np.unique([sw.index(int(round(t))) for t in targets])


def animation(result: Result, seed_index: int = 0):
    """The teacher-student correlation matrices ``(m, n)`` of one seed over training, one panel per
    multi (two per row), as a static interactive figure (:func:`overparam.book.jshtml`).

    Student nodes (columns) are ordered by the teacher node they best match at the end, so a
    specialized student shows up as a bright diagonal structure.
    """
    cfg, sw = result.config, result.sweep
    e = check_int("seed_index", seed_index, 0, cfg.seeds - 1)
    pick = _frames(result)
    fig, axes = style.panels(len(sw.widths), height=2.4)
    orders = [_student_order(w.corr[-1, e].nan_to_num(), cfg.threshold) for w in sw.widths]
    ims, titles = [], []
    for j, (ax, w, order) in enumerate(zip(axes, sw.widths, orders)):
        ims.append(ax.imshow(w.corr[0, e][:, order].numpy(), vmin=-1, vmax=1, cmap="RdBu_r", aspect="auto", interpolation="nearest"))
        ax.set_ylabel("teacher node" if j % 2 == 0 else "")
        ax.set_xlabel("student node (sorted)" if j >= len(axes) - 2 else "")
        ax.set_yticks([0, cfg.m - 1], [1, cfg.m])
        ax.grid(False)
        titles.append(ax.set_title(""))
        if bool(w.diverged[e]):
            style.note_diverged(ax, 1, 1)
    fig.colorbar(ims[-1], ax=axes, shrink=0.8, label="correlation $\\rho_{jk}$")
    sup = fig.suptitle("")

    def update(i):
        t = int(pick[i])
        for w, im, order, title in zip(sw.widths, ims, orders, titles):
            c = w.corr[t, e]
            im.set_data(c[:, order].numpy())
            title.set_text(f"{w.multi}x: {int((c.amax(-1) > cfg.threshold).sum())}/{cfg.m} recovered")
        sup.set_text(f"seed {e}, step {int(sw.steps[t])}")
        return []

    update(len(pick) - 1)
    return book.jshtml(fig, update, len(pick))


FIGURES = (plot_recovery, plot_lshape, plot_loss, animation)

LIVE_CONTROLS = {
    "multi": book.Slider(2, 1, 10, 1, "multi"),
    "decay": book.Slider(1.5, 0.0, 2.5, 0.5, "decay p"),
    "steps": book.Slider(600, 100, 2000, 100, "steps"),
    "seeds": book.Slider(2, 1, 4, 1, "seeds"),
}


def live(multi: int = 2, decay: float = 1.5, steps: int = 600, seeds: int = 2, device: str = "auto") -> Result:
    """A small run for the live panel (seconds on a CPU): the smoke problem with one student width,
    drawn as :func:`plot_recovery`; returns its :class:`~.run.Result`."""
    import matplotlib.pyplot as plt

    cfg = config("smoke", multis=(int(multi),), decay=float(decay), steps=int(steps), seeds=int(seeds))
    res = run(cfg, device=device, progress=False)
    plot_recovery(res)
    plt.show()
    return res
