"""The chapter's claim, its numbers (the single source of every number the notebook quotes) and the
paper-vs-ours table."""

from __future__ import annotations

import math

import torch

from .. import stats
from ..book import row as _row
from .run import Result

__all__ = ["CLAIM", "numbers", "paper_vs_ours", "pkey", "scale"]

CLAIM = (
    "For a wide two-layer ReLU network trained by gradient descent, the labels' projections on the "
    "eigenvectors of the Gram matrix $H^\\infty$ set the training speed (true labels sit on the top "
    "eigenvectors and are fitted fast, random labels spread over all of them and are fitted slowly), "
    "and the same matrix gives a generalization bound whose leading term $\\sqrt{2 y^\\top (H^\\infty)^{-1} y / n}$ "
    "grows with label corruption and is vacuous (above 1) for random labels."
)


def pkey(p: float) -> str:
    """The suffix of a per-level key: ``p0``, ``p02`` (p = 0.2), ``p1``, ``p005`` (p = 0.05)."""
    return "p" + f"{p:g}".replace(".", "")


def _config_numbers(r: Result) -> dict[str, float]:
    c, sp = r.config, r.spectrum
    return {"n": float(sp.n), "n_test": float(sp.n_test), "d": float(sp.d), "width": float(c.width),
            "steps": float(c.steps), "members": float(c.members), "params": float(c.width * sp.d),
            "params_over_n": float(c.width * sp.d / sp.n), "seeds": float(c.seeds), "lr": sp.lr,
            "lambda_min": sp.lambda_min, "lambda_max": sp.lambda_max, "condition": sp.lambda_max / sp.lambda_min,
            "seconds": float(r.seconds["total"])}


def _sweep_numbers(r: Result) -> dict[str, float]:
    """Kernel-only numbers for seed 0's label draw (no training; the draw at p = 0 is the true labels):
    no interval. ``top1_true``: the largest share of ``||y||^2`` on a single eigenvector."""
    sw = r.sweep
    p0 = sw.projections[0]
    return {"top10_true": sw.top_fraction(0.0), "top10_random": sw.top_fraction(1.0),
            "top1_true": float(p0.max() / p0.sum()), "top1_true_index": float(p0.argmax()) + 1,
            "bound_true": float(sw.bound[0]), "bound_random": float(sw.bound[-1]),
            "dbound_true": float(sw.distance_bound[0]), "dbound_random": float(sw.distance_bound[-1]),
            "dist_ratio": float(sw.distance_bound[-1] / sw.distance_bound[0])}


def _kernel_numbers(r: Result, out: dict[str, float]) -> None:
    """The infinite-width predictor, per trained level: means over the seeds' label draws (bootstrap
    intervals; at p = 0 every draw is the true labels, so the interval has zero width)."""
    k, levels = r.kernel, r.training.levels.tolist()
    every = torch.ones_like(k.full_clean_at, dtype=torch.bool)
    stats.put_mean(out, "bound_first_vacuous_p", k.first_vacuous)
    for j, p in enumerate(levels):
        stats.put_mean(out, f"kernel_test_error_true_{pkey(p)}", k.full_clean_at[:, j], every[:, j])
        stats.put_mean(out, f"kernel_test_error_{pkey(p)}", k.full_test_at[:, j], every[:, j])
        stats.put_mean(out, f"kernel_stopped_train_error_{pkey(p)}", k.stopped_train_error[:, j], ~k.diverged[:, j])
        stats.put_mean(out, f"kernel_stopped_test_error_true_{pkey(p)}", k.stopped_clean_error[:, j], ~k.diverged[:, j])
    # the fully trained predictor's clipped test loss min(1, |f - y|) for true labels (p = 0)
    stats.put_mean(out, "kernel_test_loss_true", k.full_test_loss[:, 0])
    mid = r.training.level_index(0.5)  # the level the prose quotes (exists at every preset)
    stats.put_mean(out, "kernel_mid_clean_error", k.full_clean_at[:, mid])
    stats.put_mean(out, "kernel_mid_test_error", k.full_test_at[:, mid])
    stats.put_mean(out, "kernel_stopped_mid_clean_error", k.stopped_clean_error[:, mid], ~k.diverged[:, mid])
    stats.put_mean(out, "kernel_stopped_mid_train_error", k.stopped_train_error[:, mid], ~k.diverged[:, mid])
    # steps the kernel prediction needs to leave 1% of the initial loss (first long-horizon step below)
    pr, ok = r.prediction, ~r.prediction.diverged
    below = pr.long_loss <= 0.01 * pr.long_loss[:1]  # (T', S, L)
    first = torch.where(below.any(0), pr.long_steps[below.double().argmax(0)], torch.full(below.shape[1:], math.nan,
                                                                                           dtype=torch.float64))
    stats.put_mean(out, "steps_1pct_true", first[:, 0], ok[:, 0])
    stats.put_mean(out, "steps_1pct_random", first[:, -1], ok[:, -1])


def _stability_numbers(r: Result, out: dict[str, float]) -> None:
    """Is ``eta = lr_scale / lambda_max(H^inf)`` stable for the networks themselves? The loss Hessian
    of this ReLU network is ``J^T J`` almost everywhere, whose top eigenvalue is ``lambda_max(H(W))``
    <= ``lambda_max(H^inf) + ||H(W) - H^inf||_2``; so ``eta lambda_max(H(W(K)))`` is at most
    ``lr_scale (1 + drift)``, to compare with the stability limit 2. And: how many valid runs ever saw
    their recorded loss rise (recorded every step when ``steps <= 400``)."""
    tr, ok = r.training, ~r.training.diverged
    v = stats.valid_values(r.config.lr_scale * (1 + r.drift.final), ok)
    rose = (tr.loss[1:] > tr.loss[:-1] * (1 + 1e-6)).any(0)  # (S, L)
    out.update(eta_lmax_bound=float(v.max()) if len(v) else math.nan,
               runs_with_rising_loss=float((rose & ok).sum()),
               record_every=float(int(tr.steps[1] - tr.steps[0])) if len(tr.steps) > 1 else math.nan)


def _pair_numbers(r: Result, out: dict[str, float]) -> None:
    """The second digit pair (kernel side): true-label bound, spectrum shares, fully trained test error."""
    pr = r.pair
    if pr is None:
        return
    p0 = pr.projections_true
    out.update(pair_a=float(pr.classes[0]), pair_b=float(pr.classes[1]), pair_n_train=float(pr.n),
               pair_n_test=float(pr.n_test), pair_top10_true=pr.top_fraction(10),
               pair_top1_true=float(p0.max() / p0.sum()), pair_bound_true=float(pr.bound[0, 0]),
               pair_bound_random=float(pr.bound[0, -1]), pair_condition=pr.lambda_max / pr.lambda_min,
               pair_kernel_test_error_true=float(pr.full_clean_error[0, 0]))


def _worst(values: torch.Tensor, valid: torch.Tensor) -> float:
    """The largest of ``values`` over the ``valid`` runs (NaN when there is none)."""
    v = stats.valid_values(values, valid)
    return float(v.max()) if len(v) else math.nan


def _training_numbers(r: Result, out: dict[str, float]) -> None:
    """Means over seeds (bootstrap intervals) at the first, middle and last trained levels; diverged
    runs excluded (a curve error needs both the network and its prediction)."""
    tr, pr, dr = r.training, r.prediction, r.drift
    ok, pok = ~tr.diverged, ~pr.diverged  # (S, L)
    both = ok & pok
    lo, mid, hi = 0, tr.level_index(0.5), len(tr.levels) - 1
    out.update(training_runs=float(tr.diverged.numel()), training_diverged=float(tr.diverged.sum()),
               prediction_diverged=float(pr.diverged.sum()), valid_runs=float(both.sum()),
               mid_level=float(tr.levels[mid]), gram_deviation=dr.init,
               curve_error_max=_worst(pr.curve_error, both),
               curve_error_true=_worst(pr.curve_error[:, lo], both[:, lo]))
    dist, frac = tr.distance[-1], tr.loss[-1] / tr.loss[0]
    per_run = {  # key: (values (S, L), level, valid (S, L))
        "loss_frac_true": (frac, lo, ok), "loss_frac_random": (frac, hi, ok),
        "test_error_true": (tr.test_error, lo, ok), "test_error_random": (tr.test_error, hi, ok),
        "test_loss_true": (tr.test_loss, lo, ok), "test_loss_random": (tr.test_loss, hi, ok),
        "mid_test_error": (tr.test_error, mid, ok), "mid_clean_error": (tr.clean_test_error, mid, ok),
        "mid_train_error": (tr.train_error, mid, ok),
        "dist_true": (dist, lo, ok), "dist_random": (dist, hi, ok),
        "pred_dist_random": (pr.distance[-1], hi, pok),
        "dist_share_true": (dist / tr.distance_bound, lo, ok), "dist_share_random": (dist / tr.distance_bound, hi, ok),
        "drift_final_true": (dr.final, lo, ok), "drift_final_random": (dr.final, hi, ok),
    }
    for key, (values, j, valid) in per_run.items():
        stats.put_mean(out, key, values[:, j], valid[:, j])
    # how far the kernel prediction of the distance is above the measured one, relative (random labels)
    stats.put_mean(out, "dist_pred_gap_random", (pr.distance[-1, :, hi] - dist[:, hi]) / dist[:, hi], both[:, hi])
    for j, p in enumerate(tr.levels.tolist()):
        stats.put_mean(out, f"train_error_{pkey(p)}", tr.train_error[:, j], ok[:, j])
        stats.put_mean(out, f"test_error_true_{pkey(p)}", tr.clean_test_error[:, j], ok[:, j])
        stats.put_mean(out, f"test_error_{pkey(p)}", tr.test_error[:, j], ok[:, j])


def _width_numbers(r: Result, out: dict[str, float]) -> None:
    """The width sweep: per width ``m`` the relative excess of the kernel prediction of
    ``||W(K) - W(0)||_F`` over the measured distance (``dist_gap_{true,random}_m{m}``) and the final
    kernel drift ``||H(W(K)) - H^inf||_2 / ||H^inf||_2`` (``drift_{true,random}_m{m}``), means over
    the valid seeds with intervals; ``drift_init_m{m}`` (first network at initialization, no interval).
    The narrowest and widest widths are also under ``..._narrow`` / ``..._wide``."""
    w = r.widths
    if w is None:
        return
    ok = ~w.diverged
    for i, m in enumerate(int(v) for v in w.widths):
        for j, name in ((0, "true"), (1, "random")):
            stats.put_mean(out, f"dist_gap_{name}_m{m}", w.gap[i, :, j], ok[i, :, j])
            stats.put_mean(out, f"drift_{name}_m{m}", w.drift[i, :, j], ok[i, :, j])
        out[f"drift_init_m{m}"] = float(w.drift_init[i])
    # the same numbers under width-independent names for the narrowest and widest width (for the prose)
    for tag, m in (("narrow", int(w.widths[0])), ("wide", int(w.widths[-1]))):
        for key in ("dist_gap_true", "dist_gap_random", "drift_true", "drift_random"):
            for suffix in ("", "_lo", "_hi", "_n"):
                out[f"{key}_{tag}{suffix}"] = out[f"{key}_m{m}{suffix}"]
        out[f"drift_init_{tag}"] = out[f"drift_init_m{m}"]
    lo, hi = float(w.widths[0]), float(w.widths[-1])
    out.update(width_min=lo, width_max=hi, width_sqrt_ratio=math.sqrt(hi / lo),
               width_runs=float(w.diverged.numel()), width_diverged=float(w.diverged.sum()))


def numbers(result: Result) -> dict[str, float]:
    """Every number the chapter quotes (glued as ``gram_<key>``): config scalars, the spectrum, the
    kernel-only sweep, and the trained runs' means over seeds with ``_lo``/``_hi``/``_n``."""
    out = {**_config_numbers(result), **_sweep_numbers(result)}
    _training_numbers(result, out)
    _kernel_numbers(result, out)
    _stability_numbers(result, out)
    _pair_numbers(result, out)
    _width_numbers(result, out)
    return out


def scale(cfg) -> str:
    """One sentence: what the chapter ran (seeds, widths, n, steps) at ``cfg``."""
    levels = ", ".join(f"{p:g}" for p in cfg.corruption)
    widths = f"; width sweep at $m \\in \\{{{', '.join(map(str, cfg.widths))}\\}}$" if cfg.widths else ""
    return (f"MNIST {cfg.classes[0]} vs {cfg.classes[1]}, $n = {cfg.n_train}$, width $m = {cfg.width}$, {cfg.steps:,} GD "
            f"steps at $\\eta = {cfg.lr_scale:g} / \\lambda_{{\\max}}(H^\\infty)$, corruption $p \\in \\{{{levels}\\}}$ with "
            f"{cfg.seeds} seed(s) each{widths}.")


def paper_vs_ours(result: Result, paper: dict | None = None) -> list[dict]:
    """Rows of the closing table (:func:`overparam.book.comparison_table`): the paper's statement,
    the verdict (yes / partly / no, from the numbers) and why, ours with its 95% interval over seeds
    where estimated from runs; with a stored ``paper`` record, its value in ``paper_preset``. Built
    by :func:`_rows` from ``numbers()`` and the config only."""
    from .. import book

    return book.table_rows(_rows, numbers(result), result.config, paper)


def _rows(s: dict[str, float], cfg) -> list[dict]:
    """The rows from the numbers ``s`` and the config ``cfg`` (nothing else)."""
    return _speed_rows(s, cfg) + _bound_rows(s, cfg) + _regime_rows(s, cfg)


def _speed_rows(s: dict[str, float], cfg) -> list[dict]:
    from ..book import ci, separate

    fitted = s["loss_frac_random_n"] > 0 and s["loss_frac_random"] < 0.01
    err = s["curve_error_max"]
    return [
        _row("convergence", "loss left after training, $L(K)/L(0)$, true / random labels",
             "qualitative: true labels converge faster (Fig. 1, Sec. 4)",
             ("yes", "intervals separate" + ("" if fitted else "; stopped, not fitted"))
             if separate(s, "loss_frac_random", "loss_frac_true") else ("no", "intervals overlap"),
             f"{ci(s, 'loss_frac_true')} / {ci(s, 'loss_frac_random')}"),
        _row("curve_error", "largest deviation of the trained loss from the kernel prediction, relative to $L(0)$ "
             "(worst valid run)", "Theorem 4.1: vanishes as $m$ grows (no number)",
             ("no", "no valid run") if math.isnan(err) else ("yes", "within 5% of $L(0)$") if err < 0.05
             else ("partly", "within 20% of $L(0)$") if err < 0.2 else ("no", "more than 20% of $L(0)$"),
             "n/a (no valid run)" if math.isnan(err) else f"{err:.3g} (worst of {s['valid_runs']:.0f} runs)"),
        _row("top10", "share of $\\|y\\|^2$ on the top 10 eigenvectors of $H^\\infty$, true / random labels",
             "qualitative: true labels concentrate on the top eigenvectors (Sec. 4)",
             ("yes", "kernel only, one label draw") if s["top10_true"] > 2 * s["top10_random"]
             else ("no", "not concentrated"), f"{s['top10_true']:.3f} / {s['top10_random']:.3f}"),
        _row("lambda_min", "$\\lambda_{\\min}(H^\\infty)$", "assumed above 0 (Sec. 3); no value reported",
             ("yes", "holds here") if s["lambda_min"] > 0 else ("no", "not positive"), f"{s['lambda_min']:.3g}"),
    ]


def _bound_rows(s: dict[str, float], cfg) -> list[dict]:
    from ..book import ci, separate

    pair = "pair_bound_true" in s
    ok_pair = not pair or s["pair_bound_true"] < 1
    if s["bound_true"] >= 1:
        v_true = ("no", "above 1: vacuous")
    else:
        v_true = ("yes", "below 1; second term not evaluated") if ok_pair else (
            "partly", f"below 1 for {cfg.classes[0]} vs {cfg.classes[1]} only; second term not evaluated")
    lo, hi = pkey(cfg.corruption[0]), pkey(cfg.corruption[-1])
    grows = s["bound_random"] > s["bound_true"] and s["bound_random"] > 1
    return [
        _row("bound_true", "leading term $\\sqrt{2 y^\\top (H^\\infty)^{-1} y / n}$ of the bound, true labels",
             "qualitative: small for true labels (Sec. 5)", v_true,
             f"{s['bound_true']:.3g}" + (f"; {s['pair_a']:.0f} vs {s['pair_b']:.0f}: {s['pair_bound_true']:.3g}" if pair else "")),
        _row("bound_random", "leading term, random labels; first corruption level $p$ where it exceeds 1 (vacuous)",
             "qualitative: grows with corruption, above 1 for random labels (Sec. 5)",
             ("yes", "vacuous already at small corruption") if grows else ("no", "not above 1"),
             f"{s['bound_random']:.3g}; $p$ = {ci(s, 'bound_first_vacuous_p')}"),
        _row("kernel_test_error", f"test error on true test labels, fully trained kernel predictor (infinite width), "
             f"$p = {cfg.corruption[0]:g}$ / $p = {cfg.corruption[-1]:g}$",
             "qualitative: grows with corruption (Fig. 2, Sec. 5)",
             ("yes", "in the trained-to-fit infinite-width limit")
             if separate(s, f"kernel_test_error_true_{hi}", f"kernel_test_error_true_{lo}") else ("no", "intervals overlap"),
             f"{ci(s, f'kernel_test_error_true_{lo}')} / {ci(s, f'kernel_test_error_true_{hi}')}"),
    ]


def _regime_rows(s: dict[str, float], cfg) -> list[dict]:
    from ..book import ci, separate

    lo, hi = pkey(cfg.corruption[0]), pkey(cfg.corruption[-1])
    fit = s[f"train_error_{hi}_n"] > 0 and s[f"train_error_{hi}"] == 0
    grows = separate(s, "dist_random", "dist_true")
    close = s["dist_pred_gap_random_n"] > 0 and abs(s["dist_pred_gap_random"]) < 0.1
    rows = [
        _row("trained_networks", f"trained networks after {cfg.steps:,} steps: training error / test error on true test "
             f"labels at $p = {cfg.corruption[-1]:g}$", "the theorem's networks are trained to fit",
             ("yes", "trained to fit") if fit else ("no", "stopped before fitting: not the theorem's regime"),
             f"{ci(s, f'train_error_{hi}')} / {ci(s, f'test_error_true_{hi}')}"),
        _row("distance", f"$\\|W(K) - W(0)\\|_F$ at $p = {cfg.corruption[0]:g}$ / $p = {cfg.corruption[-1]:g}$; the kernel "
             "prediction's relative excess, random labels", "qualitative: grows with corruption, at most about "
             "$\\sqrt{y^\\top (H^\\infty)^{-1} y}$ (Sec. 5)",
             (("yes", "grows, as predicted") if close else ("partly", "grows; moves less than predicted")) if grows
             else ("no", "intervals overlap"),
             f"{ci(s, 'dist_true')} / {ci(s, 'dist_random')}; {ci(s, 'dist_pred_gap_random')}"),
    ]
    if "width_min" in s:
        rows.append(_row(
            "width", "kernel prediction's relative excess of $\\|W(K) - W(0)\\|_F$, random labels, narrowest / widest $m$",
            "Theorem 4.1: the network follows the kernel as $m$ grows (no number)",
            ("yes", "shrinks with $m$") if separate(s, "dist_gap_random_narrow", "dist_gap_random_wide")
            else ("partly", "intervals overlap"),
            f"{ci(s, 'dist_gap_random_narrow')} at $m = {s['width_min']:.0f}$ / {ci(s, 'dist_gap_random_wide')} at "
            f"$m = {s['width_max']:.0f}$"))
    rows.append(_row("cifar", "convergence speed and the bound on CIFAR-10",
                     "the same effects on CIFAR-10 (Fig. 1, Fig. 2)", ("no", "not run: MNIST only"), "not run"))
    div = s["training_diverged"] + s["prediction_diverged"] + s.get("width_diverged", 0.0)
    rows.append(_row(
        "diverged", "diverged runs: trained networks / kernel predictions (excluded from the numbers above)",
        "gradient descent at this step size is stable (Theorem 4.1's step size)",
        ("yes", "no run diverged") if div == 0 else ("partly", f"{div:.0f} runs diverged"),
        f"{s['training_diverged']:.0f} of {s['training_runs']:.0f} / {s['prediction_diverged']:.0f} of {s['training_runs']:.0f}"
        + (f"; width sweep: {s['width_diverged']:.0f} of {s['width_runs']:.0f}" if "width_runs" in s else "")))
    return rows
