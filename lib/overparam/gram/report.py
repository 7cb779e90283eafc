"""The chapter's claim, its numbers (the single source of every number the notebook quotes) and the
paper-vs-ours table."""

from __future__ import annotations

import math

import torch

from .. import stats
from .run import Result

__all__ = ["CLAIM", "numbers", "paper_vs_ours", "pkey"]

CLAIM = (
    "For a wide two-layer ReLU network trained by gradient descent, the labels' projections on the "
    "eigenvectors of the Gram matrix H-infinity set the training speed (true labels sit on the top "
    "eigenvectors and are fitted fast, random labels spread over all of them and are fitted slowly), "
    "and the same matrix gives a generalization bound whose leading term sqrt(2 y^T (H-infinity)^-1 y / n) "
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


def _scale(r: Result) -> str:
    c = r.config
    return (f"MNIST {c.classes[0]} vs {c.classes[1]}, n = {r.spectrum.n}, m = {c.width}, {c.steps} GD steps, "
            f"{len(c.corruption)} levels x {c.seeds} seed(s)")


def _est(nums: dict[str, float], key: str) -> stats.Estimate:
    return stats.Estimate(nums[key], nums[f"{key}_lo"], nums[f"{key}_hi"], int(nums[f"{key}_n"]))


def paper_vs_ours(result: Result) -> list[dict]:
    """Rows for the closing table (see :func:`overparam.book.comparison_table`); ours with its 95%
    interval over seeds where estimated from runs, and a "reproduced?" verdict in the paper column."""
    r, nums = result, numbers(result)
    scale, steps = _scale(r), r.config.steps
    lo, hi = float(r.training.levels[0]), float(r.training.levels[-1])
    e = lambda key: f"{_est(nums, key):.3g}"  # noqa: E731
    kl, kh = pkey(lo), pkey(hi)
    pair = (f"; {nums['pair_a']:.0f} vs {nums['pair_b']:.0f}: {nums['pair_bound_true']:.3g}"
            if "pair_a" in nums else "")
    rows = [
        ("loss left after {steps} steps, loss(K)/loss(0), true labels (p = {lo:g})",
         "qualitative: true labels converge faster (Fig. 1, Sec. 4) — reproduced: yes", e("loss_frac_true")),
        ("loss left after {steps} steps, loss(K)/loss(0), p = {hi:g}",
         "qualitative: random labels converge slower (Fig. 1, Sec. 4) — reproduced: yes (stopped, not fitted)",
         e("loss_frac_random")),
        ("max deviation of trained loss from the kernel prediction, / loss(0) (worst of {valid} valid runs)",
         "Theorem 4.1: vanishes as m grows (no number) — reproduced: yes (shrinks with m in the tests)",
         "n/a (no valid run)" if math.isnan(nums["curve_error_max"]) else nums["curve_error_max"]),
        ("fraction of ||y||^2 on the top 10 eigenvectors, true / random labels",
         "qualitative: true labels concentrate on top eigenvectors (Sec. 4) — reproduced: yes",
         f"{nums['top10_true']:.3f} / {nums['top10_random']:.3f}"),
        ("lambda_min(H^inf)", "assumed > 0 (Sec. 3); not reported — holds here", nums["lambda_min"]),
        ("leading term sqrt(2 y^T H^-1 y / n) of the bound, true labels",
         "qualitative: small for true labels (Sec. 5) — reproduced: partly (below 1 for 0 vs 1 only; the "
         "O(sqrt(log(n/lambda_0)/n)) term is not evaluated)", f"{nums['bound_true']:.3g}{pair}"),
        ("leading term, random labels; first corruption level where it exceeds 1 (vacuous)",
         "qualitative: grows with corruption, above 1 for random labels (Sec. 5) — reproduced: yes; vacuous "
         "already at small corruption", f"{nums['bound_random']:.3g}; p = {e('bound_first_vacuous_p')}"),
        ("test error on true test labels, fully trained kernel predictor (k -> inf), p = {lo:g} / p = {hi:g}",
         "qualitative: grows with corruption (Fig. 2, Sec. 5) — reproduced: yes, in the trained-to-fit "
         "infinite-width limit", f"{e(f'kernel_test_error_true_{kl}')} / {e(f'kernel_test_error_true_{kh}')}"),
        ("trained networks after {steps} steps: training error / test error on true test labels at p = {hi:g}",
         "the theorem's networks are trained to fit — ours are stopped: not the theorem's regime",
         f"{e(f'train_error_{kh}')} / {e(f'test_error_true_{kh}')}"),
        ("||W(K) - W(0)||_F at p = {lo:g} / p = {hi:g}; kernel prediction's relative excess at p = {hi:g}",
         "qualitative: grows with corruption, <~ sqrt(y^T H^-1 y) (Sec. 5) — reproduced: partly (stopped; "
         "the finite-width network moves less than predicted)",
         f"{e('dist_true')} / {e('dist_random')}; {e('dist_pred_gap_random')}"),
        *([("kernel prediction's relative excess of ||W(K) - W(0)||_F, random labels, at m = {wlo:g} / m = {whi:g}",
             "Theorem 4.1: the network follows the kernel as m grows (no number) — reproduced: yes (the excess "
             "shrinks with m; stopped networks)",
             f"{e('dist_gap_random_narrow')} / {e('dist_gap_random_wide')}")] if "width_min" in nums else []),
        ("diverged runs: trained networks / kernel predictions (excluded from the numbers above)", "-",
         f"{nums['training_diverged']:.0f} of {nums['training_runs']:.0f} / "
         f"{nums['prediction_diverged']:.0f} of {nums['training_runs']:.0f}"
         + (f"; width sweep: {nums['width_diverged']:.0f} of {nums['width_runs']:.0f}" if "width_runs" in nums else "")),
    ]
    fmt = dict(steps=steps, lo=lo, hi=hi, valid=f"{nums['valid_runs']:.0f}", wlo=nums.get("width_min", 0.0),
               whi=nums.get("width_max", 0.0))
    return [{"quantity": q.format(**fmt), "paper": p, "ours": o, "scale": scale}
            for q, p, o in rows]
