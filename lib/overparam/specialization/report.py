"""Chapter 2's numbers: the measurements on a :class:`~.run.Result`, :data:`CLAIM`,
:func:`numbers` (the single source of every number the notebook, the table and the summary quote)
and :func:`paper_vs_ours`.

Statistics (``overparam.stats``): recovery rates and other shares of (seed, node) pairs get exact
binomial intervals; quantities with one value per seed (loss, fan-out ratios, binned fan-outs) are
means over seeds with bootstrap intervals. Diverged members are excluded everywhere; zero valid runs
gives NaN. Times are gradient-flow times ``lr * t``.
"""

from __future__ import annotations

import math

import torch

from .. import stats
from ..book import row as _row
from ..stats import Estimate
from .run import Result, Width
from .samples import KINDS

__all__ = [
    "CLAIM", "BINS", "decay_tag", "recovered", "node_rates", "estimates", "numbers", "paper_vs_ours",
    "fanout_ratios", "relative_fanout", "binned_fanout", "final_eval_losses", "student_params", "loss_rises",
    "sample_estimates", "deep_estimates", "sc_main_multi", "deep_params", "scale",
]

CLAIM = (
    "A two-layer ReLU student trained on a teacher's outputs specializes: its nodes align with the "
    "teacher's nodes (activation correlation > 0.95), strong teacher nodes first and weak ones late, "
    "and over-realization (more student than teacher nodes) recovers more teacher nodes, while "
    "student nodes that do not specialize keep small fan-out weights (the L-shape)."
)

#: Edges of the best-correlation bins of the L-shape measure (the last bin is ``> 0.99``).
BINS = (-1.0, 0.5, 0.8, 0.95, 0.99, 1.0 + 1e-9)


def decay_tag(p: float) -> str:
    """Key suffix of decay ``p``: ``p0``, ``p05``, ``p1``, ``p15``, ``p2``, ``p25``."""
    return "p" + f"{p:g}".replace(".", "")


def _step_index(result: Result, when: str | int) -> int:
    if when == "final":
        return -1
    if when == "early":
        return result.sweep.early_index
    if when == "half":
        return result.sweep.index(result.config.steps // 2)
    return result.sweep.index(int(when))


def _valid(w: Width, like: torch.Tensor, members: slice = slice(None)) -> torch.Tensor:
    """``~w.diverged[members]`` broadcast to ``like`` (member axis first)."""
    return (~w.diverged[members]).reshape(-1, *([1] * (like.ndim - 1))).expand_as(like)


def _members(result: Result, decay: float | None) -> slice:
    return slice(None) if decay is None else result.sweep.members(decay)


def recovered(result: Result, multi: int, when: str | int = "final") -> torch.Tensor:
    """``(E, m)`` bool: teacher node recovered (best student correlation > threshold) at ``when``
    (``"final"``, ``"early"``, ``"half"`` or a recorded step), for every member (diverged ones
    included: mask them with ``Width.diverged``)."""
    corr = result.sweep.at(multi).corr[_step_index(result, when)]
    return corr.amax(-1) > result.config.threshold


def _share(result: Result, multi: int, when: str | int = "final", nodes: slice = slice(None), decay: float | None = None) -> Estimate:
    """Share of (valid seed, teacher node) pairs recovered, over the teacher nodes ``nodes`` and the
    members of ``decay`` (all decays when ``None``)."""
    mem = _members(result, decay)
    r = recovered(result, multi, when)[mem, nodes]
    return stats.share_ci(r, _valid(result.sweep.at(multi), r, mem))


def node_rates(result: Result, multi: int, when: str | int = "final", decay: float | None = None) -> list[Estimate]:
    """Recovery rate of each teacher node over the valid seeds of ``decay`` (default: the main
    decay), with its binomial interval."""
    decay = result.config.main_decay if decay is None else decay
    return [_share(result, multi, when, slice(j, j + 1), decay) for j in range(result.config.m)]


def fanout_ratios(w: Width, threshold: float) -> torch.Tensor:
    """``(E,)``: per member, the mean fan-out norm of non-specialized student nodes (best correlation
    at most ``threshold``) over that of the specialized ones (NaN when one group is empty). Near 0 is
    the L-shape; near 1 is no relation between specialization and fan-out."""
    spec = w.best_corr > threshold
    fo = w.fanout.double()
    return (fo * ~spec).sum(1) / (~spec).sum(1) / ((fo * spec).sum(1) / spec.sum(1))


def relative_fanout(result: Result, w: Width) -> torch.Tensor:
    """``(E, n)``: each student node's fan-out norm over the mean fan-out norm of its member's
    teacher nodes."""
    return w.fanout.double() / result.sweep.teacher_fanout.double().mean(1, keepdim=True)


def binned_fanout(result: Result, w: Width) -> torch.Tensor:
    """``(E, B)``: per member, the mean relative fan-out (:func:`relative_fanout`) of the student
    nodes whose best correlation falls in each bin of :data:`BINS` (NaN for an empty bin)."""
    rel, bc = relative_fanout(result, w), w.best_corr.double()
    out = torch.full((rel.shape[0], len(BINS) - 1), math.nan, dtype=torch.float64)
    for b, (lo, hi) in enumerate(zip(BINS[:-1], BINS[1:])):
        inb = (bc > lo) & (bc <= hi)
        out[:, b] = (rel * inb).sum(1) / inb.sum(1)  # 0/0 = NaN: empty bin
    return out


def loss_rises(w: Width, factor: float = 1.05) -> tuple[int, int]:
    """``(rises, pairs)``: over the valid members and consecutive recorded steps, how often the
    training loss rose by more than ``factor`` (gradient descent that follows the gradient flow
    does not raise the loss; oscillation means the step is too large)."""
    tl = w.train_loss[:, ~w.diverged].double()
    return int((tl[1:] > factor * tl[:-1]).sum()), int(tl[1:].numel())


def final_eval_losses(w: Width) -> torch.Tensor:
    """``(E,)``: the final evaluation loss of each member."""
    return w.eval_loss[-1]


def student_params(d: int, n: int, c: int) -> int:
    """Parameters of a two-layer student ``(d, n, c)`` with biases: ``n (d + 1) + c (n + 1)``."""
    return n * (d + 1) + c * (n + 1)


def estimates(result: Result) -> dict[str, Estimate]:
    """Every estimate of :func:`numbers`, as :class:`~overparam.stats.Estimate` (value, interval, n).

    Headline keys (``recovery_*`` without a decay tag, ``loss_*``) use ``cfg.main_decay``; keys
    ending in a decay tag (``_p0``, ``_p15``, ...) use that decay; ``lshape_*`` without a tag pool
    every decay's seeds.
    """
    cfg, sw = result.config, result.sweep
    lo, hi, main = cfg.multis[0], cfg.multis[-1], cfg.main_decay
    strong, weak = slice(None, cfg.m // 2), slice(cfg.m // 2, None)
    est: dict[str, Estimate] = {}
    for mu in cfg.multis:
        est[f"recovery_final_multi{mu}"] = _share(result, mu, decay=main)
        est[f"recovery_early_multi{mu}"] = _share(result, mu, "early", decay=main)
        est[f"recovery_half_multi{mu}"] = _share(result, mu, "half", decay=main)
        for p in cfg.decays:
            est[f"recovery_final_multi{mu}_{decay_tag(p)}"] = _share(result, mu, decay=p)
            est[f"recovery_early_multi{mu}_{decay_tag(p)}"] = _share(result, mu, "early", decay=p)
    est[f"recovery_early_multi{hi}_strong"] = _share(result, hi, "early", strong, main)
    est[f"recovery_early_multi{hi}_weak"] = _share(result, hi, "early", weak, main)
    for mu in (lo, hi):
        est[f"recovery_final_multi{mu}_weak"] = _share(result, mu, "final", weak, main)
        est[f"recovery_final_multi{mu}_strong"] = _share(result, mu, "final", strong, main)
    whi = sw.at(hi)
    ratios, bins = fanout_ratios(whi, cfg.threshold), binned_fanout(result, whi)
    spec_hi = whi.best_corr > cfg.threshold
    est["lshape_specialized_share"] = stats.share_ci(spec_hi, _valid(whi, spec_hi))
    est["lshape_fanout_ratio"] = stats.mean_ci(ratios, ~whi.diverged)
    for b in range(bins.shape[1]):
        est[f"lshape_bin{b}"] = stats.mean_ci(bins[:, b], ~whi.diverged)
    for p in cfg.decays:
        mem = sw.members(p)
        est[f"lshape_fanout_ratio_{decay_tag(p)}"] = stats.mean_ci(ratios[mem], ~whi.diverged[mem])
    mem = sw.members(main)
    wlo = sw.at(lo)
    est["loss_lo"] = stats.mean_ci(final_eval_losses(wlo)[mem], ~wlo.diverged[mem])
    est["loss_hi"] = stats.mean_ci(final_eval_losses(whi)[mem], ~whi.diverged[mem])
    ratio = final_eval_losses(wlo).double() / final_eval_losses(whi).double()  # paired: same teacher, data
    est["loss_ratio"] = stats.mean_ci(ratio[mem], (~wlo.diverged & ~whi.diverged)[mem])
    return est


def numbers(result: Result) -> dict[str, float]:
    """Every number the chapter quotes: config scalars, the estimates (``key``, ``key_lo``,
    ``key_hi``, ``key_n``) and the divergence counts (``diverged`` of ``runs``)."""
    cfg, sw = result.config, result.sweep
    out = {
        "d": cfg.d, "m": cfg.m, "c": cfg.c, "p": cfg.main_decay, "p_first": cfg.decays[0], "p_last": cfg.decays[-1],
        "n_decays": len(cfg.decays), "n_train": cfg.n_train, "n_eval": cfg.n_eval, "seeds": cfg.seeds,
        "members": cfg.members, "steps": cfg.steps, "lr": cfg.lr, "flow_time": float(sw.flow[-1]),
        "early_time": float(sw.flow[sw.early_index]), "half_time": float(sw.flow[sw.index(cfg.steps // 2)]),
        "early_step": int(sw.steps[sw.early_index]), "threshold": cfg.threshold,
        "multi_lo": cfg.multis[0], "multi_hi": cfg.multis[-1], "width_hi": cfg.widths[-1],
        "params_lo": student_params(cfg.d, cfg.widths[0], cfg.c), "params_hi": student_params(cfg.d, cfg.widths[-1], cfg.c),
        "seconds": result.seconds["total"], "diverged": int(sw.diverged.sum()), "runs": sw.diverged.numel(),
        "loss_rises": sum(loss_rises(w)[0] for w in sw.widths), "loss_pairs": sum(loss_rises(w)[1] for w in sw.widths),
    }
    out = {k: float(v) for k, v in {**out, **_sub_numbers(result)}.items()}
    for key, est in {**estimates(result), **sample_estimates(result), **deep_estimates(result)}.items():
        stats.put(out, key, est)
    return out


def sample_estimates(result: Result) -> dict[str, Estimate]:
    """The sample-complexity estimates: ``sc_recovery_{kind}_n{N}_multi{mu}`` (share of (seed, teacher
    node) pairs recovered at the end, on the evaluation set), the headline pair
    ``sc_recovery_{kind}`` at ``sc_compare_n`` and :func:`sc_main_multi`, and the final training loss
    ``sc_loss_{kind}`` there (mean over seeds)."""
    cfg, sc = result.config, result.samples
    thr, est = cfg.threshold, {}
    rec = sc.best_corr > thr  # (M, K, 2, S, m)
    valid = (~sc.diverged)[..., None].expand_as(rec)
    for i, mu in enumerate(sc.multis):
        for k, n in enumerate(sc.ns):
            for j, kind in enumerate(KINDS):
                est[f"sc_recovery_{kind}_n{n}_multi{mu}"] = stats.share_ci(rec[i, k, j], valid[i, k, j])
    i, k = sc.multis.index(sc_main_multi(cfg)), sc.ns.index(cfg.sc_compare_n)
    for j, kind in enumerate(KINDS):
        est[f"sc_recovery_{kind}"] = est[f"sc_recovery_{kind}_n{cfg.sc_compare_n}_multi{sc_main_multi(cfg)}"]
        est[f"sc_loss_{kind}"] = stats.mean_ci(sc.train_loss[i, k, j], ~sc.diverged[i, k, j])
    return est


def sc_main_multi(cfg) -> int:
    """The over-realization of the sample-complexity headline: 2 (the README's single-run examples)
    when it was run, else the first of ``sc_multis``."""
    return 2 if 2 in cfg.sc_multis else cfg.sc_multis[0]


def deep_estimates(result: Result) -> dict[str, Estimate]:
    """The multi-layer estimates, per hidden layer ``l`` (0 is the lowest) and multi:
    ``deep_recovery_l{l}_multi{mu}`` (share of (seed, teacher node) pairs with a student node of
    the same layer at correlation > threshold) and ``deep_corr_l{l}_multi{mu}`` (mean over seeds of
    the mean best correlation); ``deep_loss_multi{mu}`` (final training MSE)."""
    cfg, dp, est = result.config, result.deep, {}
    for i, mu in enumerate(dp.multis):
        ok = ~dp.diverged[i]
        for l in range(len(dp.layer_sizes)):
            bc = dp.layer(l)[i]  # (S, k_l)
            est[f"deep_recovery_l{l}_multi{mu}"] = stats.share_ci(bc > cfg.threshold, ok[:, None].expand_as(bc))
            est[f"deep_corr_l{l}_multi{mu}"] = stats.mean_ci(bc.mean(-1), ok)
        est[f"deep_loss_multi{mu}"] = stats.mean_ci(dp.train_loss[i], ok)
    return est


def _sub_numbers(result: Result) -> dict[str, float]:
    """Config scalars and run counts of the sample-complexity and multi-layer parts."""
    cfg, sc, dp = result.config, result.samples, result.deep
    return {
        "sc_d": cfg.sc_d, "sc_m": cfg.sc_m, "sc_c": cfg.sc_c, "sc_decay": cfg.sc_decay, "sc_multi": sc_main_multi(cfg),
        "sc_compare_n": cfg.sc_compare_n, "sc_n_first": cfg.sc_ns[0], "sc_n_last": cfg.sc_ns[-1], "sc_seeds": cfg.sc_seeds,
        "sc_flow_time": cfg.sc_flow_time, "sc_params": student_params(cfg.sc_d, sc_main_multi(cfg) * cfg.sc_m, cfg.sc_c),
        "sc_diverged": int(sc.diverged.sum()), "sc_runs": sc.diverged.numel(),
        "deep_d": cfg.deep_d, "deep_c": cfg.deep_c, "deep_n": cfg.deep_n, "deep_epochs": cfg.deep_epochs,
        "deep_seeds": cfg.deep_seeds, "deep_steps": cfg.deep_epochs * math.ceil(cfg.deep_n / cfg.deep_batch),
        "deep_multi_lo": cfg.deep_multis[0], "deep_multi_hi": cfg.deep_multis[-1], "deep_layers": len(cfg.deep_widths),
        "deep_params_hi": deep_params(cfg, cfg.deep_multis[-1]),
        "deep_diverged": int(dp.diverged.sum()), "deep_runs": dp.diverged.numel(),
    }


def deep_params(cfg, multi: int) -> int:
    """Parameters (weights and biases) of the multi-layer student of over-realization ``multi``."""
    sizes = (cfg.deep_d, *(multi * k for k in cfg.deep_widths), cfg.deep_c)
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def scale(cfg) -> str:
    """One sentence: what the chapter ran (seeds, widths, n, steps) at ``cfg``."""
    algo = "full-batch GD" if cfg.batch_size is None else f"SGD with batch {cfg.batch_size}"
    sc_algo = "full-batch GD" if cfg.sc_batch is None else f"SGD with batch {cfg.sc_batch}"
    return (
        f"Two-layer sweep: $d = {cfg.d}$, $m = {cfg.m}$, $c = {cfg.c}$, $p \\in \\{{{', '.join(f'{p:g}' for p in cfg.decays)}\\}}$, "
        f"students $n = {', '.join(map(str, cfg.widths))}$, $N = {cfg.n_train}$, {cfg.seeds} seeds per $p$, {algo} with "
        f"$\\eta = {cfg.lr:g}$ to $\\eta t = {cfg.flow_time:g}$ ({cfg.steps} steps); sample complexity: $d = {cfg.sc_d}$, "
        f"$m = {cfg.sc_m}$, $p = {cfg.sc_decay:g}$, {', '.join(f'{k}x' for k in cfg.sc_multis)}, "
        f"$N \\in \\{{{', '.join(map(str, cfg.sc_ns))}\\}}$, {cfg.sc_seeds} seeds, {sc_algo} to $\\eta t = {cfg.sc_flow_time:g}$; "
        f"multi-layer: teacher {'-'.join(map(str, cfg.deep_widths))} on $d = {cfg.deep_d}$, "
        f"{' and '.join(f'{k}x' for k in cfg.deep_multis)}, $N = {cfg.deep_n}$, {cfg.deep_epochs} epochs of SGD "
        f"(batch {cfg.deep_batch}), {cfg.deep_seeds} seeds."
    )


def paper_vs_ours(result: Result, paper: dict | None = None) -> list[dict]:
    """Rows of the closing table (:func:`overparam.book.comparison_table`): the paper's statement
    (with where), the verdict ``reproduced`` (yes / partly / no, decided from the intervals) and
    ``why``, ours with its 95% interval and run count; with a stored ``paper`` record, its value
    in ``paper_preset``. Every cell comes from ``numbers()`` and the config (:func:`_rows`)."""
    from .. import book

    return book.table_rows(_rows, numbers(result), result.config, paper)


def _rows(s: dict[str, float], cfg) -> list[dict]:
    """The rows from the numbers ``s`` and the config ``cfg`` (nothing else)."""
    return _two_layer_rows(s, cfg) + _decay_rows(s, cfg) + _other_rows(s, cfg)


def _two_layer_rows(s: dict[str, float], cfg) -> list[dict]:
    from ..book import ci, separate

    lo, hi, p = cfg.multis[0], cfg.multis[-1], cfg.main_decay
    fig = "two-layer recovery figure (per teacher node, epoch 5 and 100, $m = 20$, 32 seeds)"
    ratio_hi = s["lshape_fanout_ratio_hi"]
    return [
        _row("recovery_final", f"teacher nodes recovered (correlation above {cfg.threshold:g}) at the end, {lo}x / {hi}x, $p = {p:g}$",
             f"more with over-realization; {fig}",
             ("yes", "intervals separate") if separate(s, f"recovery_final_multi{hi}", f"recovery_final_multi{lo}")
             else ("partly", "more, intervals overlap"),
             f"{ci(s, f'recovery_final_multi{lo}', '.2f')} / {ci(s, f'recovery_final_multi{hi}', '.2f')}"),
        _row("recovery_early", f"early ($\\eta t = {s['early_time']:.0f}$) recovery, strongest vs weakest half, {hi}x, $p = {p:g}$",
             "strong teacher nodes are learned first (dotted lines, same figure)",
             ("yes", "intervals separate") if separate(s, f"recovery_early_multi{hi}_strong", f"recovery_early_multi{hi}_weak")
             else ("partly", "intervals overlap"),
             f"{ci(s, f'recovery_early_multi{hi}_strong', '.2f')} vs {ci(s, f'recovery_early_multi{hi}_weak', '.2f')}"),
        _row("lshape", f"L-shape: mean fan-out of non-specialized over specialized student nodes, {hi}x, all $p$",
             "non-specialized nodes have near-zero fan-out (L-shape figure, $m = 10$, $p$ in 0, 1, 2)",
             ("yes", "ratio below 0.1") if ratio_hi < 0.1 else ("no", "non-specialized nodes keep a sizeable fan-out"),
             ci(s, "lshape_fanout_ratio", ".2f")),
        _row("loss", f"final evaluation MSE, {lo}x vs {hi}x, $p = {p:g}$",
             "lower with more over-realization (convergence figure)",
             ("yes", "ratio interval above 1") if s["loss_ratio_n"] and s["loss_ratio_lo"] > 1 else ("no", "ratio interval includes 1"),
             f"{ci(s, 'loss_lo', '.2e')} vs {ci(s, 'loss_hi', '.2e')}"),
    ]


def _decay_rows(s: dict[str, float], cfg) -> list[dict]:
    from ..book import ci, separate

    lo, hi = cfg.multis[0], cfg.multis[-1]
    rows = []
    for p in cfg.decays:
        t = decay_tag(p)
        rows.append(_row(
            f"recovery_{t}", f"recovery at the end, {lo}x / {hi}x, $p = {p:g}$",
            "one panel per $p$ in 0, 0.5, ..., 2.5 (two-layer recovery figure)",
            ("yes", "intervals separate") if separate(s, f"recovery_final_multi{hi}_{t}", f"recovery_final_multi{lo}_{t}")
            else ("partly", "intervals overlap"),
            f"{ci(s, f'recovery_final_multi{lo}_{t}', '.2f')} / {ci(s, f'recovery_final_multi{hi}_{t}', '.2f')}"))
    return rows


def _other_rows(s: dict[str, float], cfg) -> list[dict]:
    from ..book import ci, separate

    n, mu, n0 = cfg.sc_compare_n, sc_main_multi(cfg), cfg.sc_ns[0]
    first = (f"sc_recovery_augmented_n{n0}_multi{mu}", f"sc_recovery_plain_n{n0}_multi{mu}")
    if separate(s, "sc_recovery_augmented", "sc_recovery_plain"):
        v_sc = ("yes", "intervals separate")
    elif separate(s, *first):
        v_sc = ("partly", f"intervals separate at $N = {n0}$ only")
    elif s["sc_recovery_augmented"] > s["sc_recovery_plain"]:
        v_sc = ("partly", "higher, intervals overlap")
    else:
        v_sc = ("no", "not higher")
    sc_ours = f"{ci(s, 'sc_recovery_augmented', '.2f')} vs {ci(s, 'sc_recovery_plain', '.2f')}"
    if n0 != n:
        sc_ours += f"; at $N = {n0}$: {ci(s, first[0], '.2f')} vs {ci(s, first[1], '.2f')}"
    lo, hi, top = cfg.deep_multis[0], cfg.deep_multis[-1], len(cfg.deep_widths) - 1
    low_first = all(separate(s, f"deep_recovery_l0_multi{k}", f"deep_recovery_l{top}_multi{k}") for k in cfg.deep_multis)
    return [
        _row("sample_complexity", f"teacher nodes recovered from $N = {n}$ samples, teacher-aware augmented vs plain Gaussian inputs, {mu}x",
             "a teacher-aware augmentation recovers the teacher from polynomially many samples (abstract; README's sample-complexity sweep)",
             v_sc, sc_ours),
        _row("deep_lowest", f"multi-layer teacher: lowest vs top hidden layer recovered, {lo}x / {hi}x",
             "the lowest layer specializes (main theorem; multi-layer figure)",
             ("partly", "lowest above top; one $N$, reduced widths") if low_first else ("no", "lowest not above top"),
             f"lowest {ci(s, f'deep_recovery_l0_multi{lo}', '.2f')} / {ci(s, f'deep_recovery_l0_multi{hi}', '.2f')}; "
             f"top {ci(s, f'deep_recovery_l{top}_multi{lo}', '.2f')} / {ci(s, f'deep_recovery_l{top}_multi{hi}', '.2f')}"),
        _row("cifar10", "CIFAR-10 (teacher pre-trained on images)", "student specialization on CIFAR-10",
             ("no", "not run: needs the data set (nothing downloads here) and GPU hours"), "not run"),
        _row("diverged", "diverged runs, excluded from every statistic", "not reported",
             ("yes", "none diverged") if s["diverged"] + s["sc_diverged"] + s["deep_diverged"] == 0 else ("partly", "some diverged"),
             f"two-layer {s['diverged']:.0f} of {s['runs']:.0f}; sample complexity {s['sc_diverged']:.0f} of "
             f"{s['sc_runs']:.0f}; multi-layer {s['deep_diverged']:.0f} of {s['deep_runs']:.0f}"),
    ]
