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
from .report import BINS, binned_fanout, deep_estimates, node_rates, sample_estimates
from .run import Result, Width, run
from .samples import KINDS

__all__ = ["plot_recovery", "plot_lshape", "plot_loss", "plot_samples", "plot_deep", "animation", "FIGURES", "LIVE_CONTROLS",
           "live", "key_data", "plot_key"]


def _n_div(w: Width) -> int:
    return int(w.diverged.sum())


def _all_diverged(n: int) -> str:
    return f"all {n} of {n} runs diverged: no valid run to show"


def _errorbar(ax, x, est, **kw) -> None:
    v = np.array([e.value for e in est])
    err = np.array([[e.value - e.lo for e in est], [e.hi - e.value for e in est]])
    ax.errorbar(x, v, yerr=np.nan_to_num(err, nan=0.0, posinf=0.0, neginf=0.0), capsize=1.5, elinewidth=0.7, **kw)


def _est_list(values: list, lo: list, hi: list) -> list[stats.Estimate]:
    return [stats.Estimate(v, a, b, 1) for v, a, b in zip(values, lo, hi)]


def _rate_curve(result: Result, multi: int, when: str, decay: float) -> dict[str, list[float]]:
    rates = node_rates(result, multi, when, decay)
    return {when: [e.value for e in rates], f"{when}_lo": [e.lo for e in rates], f"{when}_hi": [e.hi for e in rates],
            f"{when}_n": [e.n for e in rates]}


def key_data(result: Result) -> dict:
    """The key figure's data (JSON-able): per decay ``p`` and multi, each teacher node's recovery
    rate early and at the end with its binomial 95% interval, plus the times, seeds and run counts."""
    cfg, sw = result.config, result.sweep
    panels = [{"p": float(p), "curves": [{"multi": int(w.multi), **_rate_curve(result, w.multi, "final", p),
                                          **_rate_curve(result, w.multi, "early", p)} for w in sw.widths]}
              for p in cfg.decays]
    return {"m": cfg.m, "threshold": cfg.threshold, "seeds": cfg.seeds, "early_time": float(sw.flow[sw.early_index]),
            "final_time": float(sw.flow[-1]), "diverged": int(sw.diverged.sum()), "runs": int(sw.diverged.numel()),
            "panels": panels}


def _recovery_panel(ax, data: dict, panel: dict) -> None:
    """Recovery rate of each teacher node per multi, early (dotted) and final (solid), with binomial
    95% intervals, for one decay (one entry of ``data["panels"]``)."""
    m = data["m"]
    idx = np.arange(1, m + 1)
    k = len(panel["curves"])
    for i, c in enumerate(panel["curves"]):
        if not c["final_n"] or c["final_n"][0] == 0:
            continue
        x = idx + 0.3 * (i - (k - 1) / 2) / max(1, k - 1)  # dodge so the error bars do not overlap
        _errorbar(ax, x, _est_list(c["final"], c["final_lo"], c["final_hi"]), fmt="-o", ms=3, lw=1.3, color=style.color(i), label=f"{c['multi']}x")
        _errorbar(ax, x, _est_list(c["early"], c["early_lo"], c["early_hi"]), fmt=":", lw=1.3, color=style.color(i), alpha=0.55)
    ax.set_title(f"p = {panel['p']:g}")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xticks(idx if m <= 10 else idx[:: int(np.ceil(m / 10))])


def _label_grid(axes, xlabel: str, ylabel: str) -> None:
    for j, ax in enumerate(axes):
        if j % 2 == 0:
            ax.set_ylabel(ylabel)
        if j >= len(axes) - 2:
            ax.set_xlabel(xlabel)


def _legend(fig, axes, cfg, extra: str = "") -> None:
    handles, labels = [], []
    for ax in axes:
        h, lab = ax.get_legend_handles_labels()
        if h:
            handles, labels = h, lab
            break
    if handles:
        fig.legend(handles, labels, title="student width" + extra, loc="outside lower center", ncol=len(cfg.multis))


def plot_key(data: dict):
    """The key figure from :func:`key_data` alone: recovery rate of each teacher node (strong -> weak)
    per multi, one panel per decay ``p``, early (dotted) and final (solid), binomial 95% intervals over
    the seeds (the layout of the official ``figure_success_rate``)."""
    panels = data["panels"]
    fig, axes = style.panels(len(panels), height=3.0, sharey=True)
    n_div, runs = data["diverged"], data["runs"]
    for ax, panel in zip(axes, panels):
        if n_div == runs:
            style.empty_panel(ax, _all_diverged(n_div))
            continue
        _recovery_panel(ax, data, panel)
        style.note_diverged(ax, n_div, runs)
    _label_grid(axes, "teacher node $j$ (strong $\\to$ weak)", f"share recovered (corr > {data['threshold']:g})")
    handles, labels = next(((h, lab) for h, lab in (ax.get_legend_handles_labels() for ax in axes) if h), ([], []))
    if handles:
        fig.legend(handles, labels, title="student width; dotted: early, solid: final", loc="outside lower center", ncol=len(labels))
    fig.suptitle(f"Recovered at $\\eta t$ = {data['early_time']:.0f} (dotted), {data['final_time']:.0f} (solid); "
                 f"{data['seeds']} seeds per p")
    return fig


def plot_recovery(result: Result):
    """Recovery rate of each teacher node per multi, one panel per decay ``p`` (:func:`plot_key` of
    :func:`key_data`)."""
    return plot_key(key_data(result))


def plot_lshape(result: Result):
    """The L-shape measure: mean fan-out norm of student nodes (relative to the teacher's mean fan-out
    norm) in bins of their best correlation with a teacher node, per multi, one panel per decay ``p``;
    bootstrap 95% intervals over seeds. An L is a curve near 0 left of the threshold that jumps at it."""
    cfg, sw = result.config, result.sweep
    fig, axes = style.panels(len(cfg.decays), height=3.0, sharey=True)
    labels = ["<.5", ".5-.8", ".8-.95", ".95-.99", ">.99"]
    xb = np.arange(len(BINS) - 1)
    n_div = int(sw.diverged.sum())
    for ax, p in zip(axes, cfg.decays):
        mem = sw.members(p)
        if n_div == sw.diverged.numel():
            style.empty_panel(ax, _all_diverged(n_div))
            continue
        for i, w in enumerate(sw.widths):
            bins = binned_fanout(result, w)[mem]
            est = [stats.mean_ci(bins[:, b], ~w.diverged[mem]) for b in xb]
            ok = np.array([e.n > 0 for e in est])
            x = xb + 0.2 * (i - (len(sw.widths) - 1) / 2) / max(1, len(sw.widths) - 1)
            _errorbar(ax, x[ok], [e for e, o in zip(est, ok) if o], fmt="-o", ms=3, lw=1.2, color=style.color(i), label=f"{w.multi}x")
        ax.axvline(2.5, color="0.5", lw=0.8, ls="--")
        ax.set_xticks(xb, labels)
        ax.set_title(f"p = {p:g}")
        style.note_diverged(ax, n_div, sw.diverged.numel())
    _label_grid(axes, "best correlation with a teacher node", "fan-out / teacher's")
    _legend(fig, axes, cfg)
    fig.suptitle(f"Fan-out by best correlation (dashed: threshold); {cfg.seeds} seeds per p")
    return fig


def plot_loss(result: Result):
    """Evaluation loss vs gradient-flow time per multi, one panel per decay ``p``, log scales: the
    geometric mean over the valid seeds with its 95% bootstrap interval (the official
    ``figure_loss``)."""
    cfg, sw = result.config, result.sweep
    fig, axes = style.panels(len(cfg.decays), height=3.0, sharex=True)
    s = sw.flow.numpy()
    keep = s > 0
    for ax, p in zip(axes, cfg.decays):
        mem = sw.members(p)
        drawn = 0
        for i, w in enumerate(sw.widths):
            valid = ~w.diverged[mem]
            if not bool(valid.any()):
                continue
            lg = w.eval_loss[:, mem].double().clamp_min(1e-30).log10()
            est = [stats.mean_ci(lg[t], valid) for t in range(len(s))]
            mu, lo, hi = (np.array([getattr(e, a) for e in est]) for a in ("value", "lo", "hi"))
            ax.plot(s[keep], 10 ** mu[keep], color=style.color(i), label=f"{w.multi}x")
            ok = keep & np.isfinite(lo) & np.isfinite(hi)
            ax.fill_between(s[ok], 10 ** lo[ok], 10 ** hi[ok], color=style.color(i), alpha=0.2, lw=0)
            drawn += 1
        if not drawn:
            style.empty_panel(ax, _all_diverged(int(sw.diverged.sum())))
            continue
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"p = {p:g}")
        style.note_diverged(ax, int(sw.diverged.sum()), sw.diverged.numel())
    _label_grid(axes, "$\\eta t$ (" + ("full-batch GD" if cfg.batch_size is None else f"SGD, batch {cfg.batch_size}") + ")",
                "evaluation MSE")
    _legend(fig, axes, cfg)
    fig.suptitle(f"Evaluation loss, geometric mean over {cfg.seeds} seeds per p")
    return fig


def plot_samples(result: Result):
    """Sample complexity: share of (seed, teacher node) pairs recovered at the end vs the number of
    training samples ``N``, plain Gaussian vs teacher-aware augmented inputs, one panel per multi;
    binomial 95% intervals (the official sample-complexity sweep's figure)."""
    cfg, sc = result.config, result.samples
    fig, axes = style.panels(len(sc.multis), height=3.0, sharey=True)
    n_div, runs, all_est = int(sc.diverged.sum()), sc.diverged.numel(), sample_estimates(result)
    for ax, mu in zip(axes, sc.multis):
        if n_div == runs:
            style.empty_panel(ax, _all_diverged(n_div))
            continue
        for j, kind in enumerate(KINDS):
            est = [all_est[f"sc_recovery_{kind}_n{n}_multi{mu}"] for n in sc.ns]
            ok = [e.n > 0 for e in est]
            x = np.array(sc.ns, dtype=float)[ok] * (1 + 0.02 * (2 * j - 1))
            _errorbar(ax, x, [e for e, o in zip(est, ok) if o], fmt="-o", ms=3, lw=1.3, color=style.color(j), label=kind)
        ax.set_xscale("log")
        ax.set_xticks(sc.ns[:: max(1, len(sc.ns) // 6)], [str(n) for n in sc.ns[:: max(1, len(sc.ns) // 6)]])
        ax.minorticks_off()
        ax.set_title(f"{mu}x student ({mu * cfg.sc_m} nodes)")
        ax.set_ylim(-0.03, 1.05)
        style.note_diverged(ax, n_div, runs)
    _label_grid(axes, "training samples $N$", f"share recovered (corr > {cfg.threshold:g})")
    _legend_kinds(fig, axes)
    fig.suptitle(f"d = {cfg.sc_d}, m = {cfg.sc_m}, p = {cfg.sc_decay:g}; {cfg.sc_seeds} seeds per point")
    return fig


def _legend_kinds(fig, axes) -> None:
    handles, labels = next(((h, lab) for h, lab in (ax.get_legend_handles_labels() for ax in axes) if h), ([], []))
    if handles:
        fig.legend(handles, labels, title="training inputs", loc="outside lower center", ncol=len(labels))


def plot_deep(result: Result):
    """Multi-layer teacher: per hidden layer (1 = lowest), the share of teacher nodes recovered
    (left) and the mean best correlation (right), per multi; 95% intervals (binomial; bootstrap over
    seeds)."""
    cfg, dp = result.config, result.deep
    est = deep_estimates(result)
    fig, axes = style.panels(2, height=3.0)
    n_div, runs = int(dp.diverged.sum()), dp.diverged.numel()
    layers = np.arange(1, len(dp.layer_sizes) + 1)
    for ax, (key, label) in zip(axes, (("recovery", f"share recovered (corr > {cfg.threshold:g})"), ("corr", "mean best correlation"))):
        if n_div == runs:
            style.empty_panel(ax, _all_diverged(n_div))
            continue
        for i, mu in enumerate(dp.multis):
            e = [est[f"deep_{key}_l{l}_multi{mu}"] for l in range(len(layers))]
            ok = [x.n > 0 for x in e]
            _errorbar(ax, (layers + 0.06 * (2 * i - 1))[ok], [x for x, o in zip(e, ok) if o], fmt="-o", ms=3, lw=1.3,
                      color=style.color(i), label=f"{mu}x")
        ax.set_xticks(layers)
        ax.set_xlabel("hidden layer (1 = lowest)")
        ax.set_ylabel(label)
        ax.set_ylim(-0.03, 1.05)
        style.note_diverged(ax, n_div, runs)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, title="student width", loc="outside lower center", ncol=len(labels))
    fig.suptitle(f"Teacher {'-'.join(map(str, cfg.deep_widths))}, N = {cfg.deep_n}, {cfg.deep_epochs} epochs; {cfg.deep_seeds} seeds")
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
    """The teacher-student correlation matrices ``(m, n)`` of one seed (at the main decay) over
    training, one panel per multi (two per row), as a static interactive figure
    (:func:`overparam.book.jshtml`).

    Student nodes (columns) are ordered by the teacher node they best match at the end, so a
    specialized student shows up as a bright diagonal structure.
    """
    cfg, sw = result.config, result.sweep
    e = sw.members(cfg.main_decay).start + check_int("seed_index", seed_index, 0, cfg.seeds - 1)
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
        sup.set_text(f"p = {cfg.main_decay:g}, seed {seed_index}, $\\eta t$ = {float(sw.flow[t]):.3g}")
        return []

    update(len(pick) - 1)
    return book.jshtml(fig, update, len(pick))


FIGURES = (plot_recovery, plot_lshape, plot_loss, plot_samples, plot_deep, animation)

LIVE_CONTROLS = {
    "multi": book.Slider(2, 1, 10, 1, "multi"),
    "decay": book.Slider(1.5, 0.0, 2.5, 0.5, "decay p"),
    "flow_time": book.Slider(200, 50, 1000, 50, "lr * T"),
    "seeds": book.Slider(2, 1, 6, 1, "seeds"),
}


#: The live panel shows the two-layer sweep only: the other two parts run at a token size.
_LIVE_TINY = {"sc_ns": (15,), "sc_compare_n": 15, "sc_seeds": 1, "sc_flow_time": 0.1, "deep_n": 64, "deep_epochs": 1,
              "deep_seeds": 1}


def live(multi: int = 2, decay: float = 1.5, flow_time: float = 200, seeds: int = 2, device: str = "auto") -> Result:
    """A small run for the live panel (seconds on a CPU): the smoke problem with one student width
    and one decay, trained to gradient-flow time ``flow_time``, drawn as :func:`plot_recovery`;
    returns its :class:`~.run.Result`."""
    import matplotlib.pyplot as plt

    cfg = config("smoke", multis=(int(multi),), decays=(float(decay),), flow_time=float(flow_time),
                 early_time=min(20.0, float(flow_time) / 2), seeds=int(seeds), **_LIVE_TINY)
    res = run(cfg, device=device, progress=False)
    plot_recovery(res)
    plt.show()
    return res
