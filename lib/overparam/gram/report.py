"""The chapter's claim, its numbers (the single source of every number the notebook quotes) and the
paper-vs-ours table."""

from __future__ import annotations

import math

import torch

from .. import stats
from .run import Result

__all__ = ["CLAIM", "numbers", "paper_vs_ours"]

CLAIM = (
    "For a wide two-layer ReLU network trained by gradient descent, the labels' projections on the "
    "eigenvectors of the Gram matrix H-infinity set the training speed (true labels sit on the top "
    "eigenvectors and are fitted fast, random labels spread over all of them and are fitted slowly), "
    "and the same matrix gives a generalization bound sqrt(2 y^T (H-infinity)^-1 y / n) that grows with "
    "label corruption and is vacuous for random labels."
)


def _config_numbers(r: Result) -> dict[str, float]:
    c, sp = r.config, r.spectrum
    return {"n": float(sp.n), "n_test": float(sp.n_test), "d": float(sp.d), "width": float(c.width),
            "steps": float(c.steps), "members": float(c.members), "seeds": float(c.seeds), "lr": sp.lr,
            "lambda_min": sp.lambda_min, "lambda_max": sp.lambda_max, "condition": sp.lambda_max / sp.lambda_min,
            "seconds": float(r.seconds["total"])}


def _sweep_numbers(r: Result) -> dict[str, float]:
    """Kernel-only numbers (one label draw per level, no training: no interval)."""
    sw = r.sweep
    vacuous = (sw.bound > 1).nonzero()
    return {"top10_true": sw.top_fraction(0.0), "top10_random": sw.top_fraction(1.0),
            "bound_true": float(sw.bound[0]), "bound_random": float(sw.bound[-1]),
            "first_vacuous": float(sw.levels[vacuous[0, 0]]) if len(vacuous) else math.nan,
            "dbound_true": float(sw.distance_bound[0]), "dbound_random": float(sw.distance_bound[-1]),
            "dist_ratio": float(sw.distance_bound[-1] / sw.distance_bound[0])}


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


def numbers(result: Result) -> dict[str, float]:
    """Every number the chapter quotes (glued as ``gram_<key>``): config scalars, the spectrum, the
    kernel-only sweep, and the trained runs' means over seeds with ``_lo``/``_hi``/``_n``."""
    out = {**_config_numbers(result), **_sweep_numbers(result)}
    _training_numbers(result, out)
    return out


def _scale(r: Result) -> str:
    c = r.config
    return (f"MNIST {c.classes[0]} vs {c.classes[1]}, n = {r.spectrum.n}, m = {c.width}, {c.steps} GD steps, "
            f"{len(c.corruption)} levels x {c.seeds} seed(s)")


def _est(nums: dict[str, float], key: str) -> stats.Estimate:
    return stats.Estimate(nums[key], nums[f"{key}_lo"], nums[f"{key}_hi"], int(nums[f"{key}_n"]))


def paper_vs_ours(result: Result) -> list[dict]:
    """Rows for the closing table (see :func:`overparam.book.comparison_table`); ours with its 95%
    interval over seeds where estimated from trained runs."""
    r, nums = result, numbers(result)
    scale, steps = _scale(r), r.config.steps
    lo, hi = float(r.training.levels[0]), float(r.training.levels[-1])
    e = lambda key: f"{_est(nums, key):.3g}"  # noqa: E731
    rows = [
        ("loss left after {steps} steps, loss(K)/loss(0), true labels (p = {lo:g})",
         "qualitative: true labels converge faster (Fig. 1, Sec. 4)", e("loss_frac_true")),
        ("loss left after {steps} steps, loss(K)/loss(0), p = {hi:g}",
         "qualitative: random labels converge slower (Fig. 1, Sec. 4)", e("loss_frac_random")),
        ("max deviation of trained loss from the kernel prediction, / loss(0) (worst of {valid} valid runs)",
         "Theorem 4.1: vanishes as m grows (no number)",
         "n/a (no valid run)" if math.isnan(nums["curve_error_max"]) else nums["curve_error_max"]),
        ("fraction of ||y||^2 on the top 10 eigenvectors, true / random labels",
         "qualitative: true labels concentrate on top eigenvectors (Sec. 4)",
         f"{nums['top10_true']:.3f} / {nums['top10_random']:.3f}"),
        ("lambda_min(H^inf)", "assumed > 0 (Sec. 3); not reported", nums["lambda_min"]),
        ("bound sqrt(2 y^T H^-1 y / n), true labels", "qualitative: small for true labels (Sec. 5)",
         nums["bound_true"]),
        ("bound sqrt(2 y^T H^-1 y / n), random labels",
         "qualitative: grows with corruption, above 1 for random labels (Sec. 5)", nums["bound_random"]),
        ("test error at p = {lo:g} / p = {hi:g}", "qualitative: grows with corruption (Fig. 2, Sec. 5)",
         f"{e('test_error_true')} / {e('test_error_random')}"),
        ("||W(K) - W(0)||_F at p = {lo:g} / p = {hi:g}",
         "qualitative: grows with corruption, <~ sqrt(y^T H^-1 y) (Sec. 5)",
         f"{e('dist_true')} / {e('dist_random')}"),
        ("diverged runs: trained networks / kernel predictions (excluded from the numbers above)", "-",
         f"{nums['training_diverged']:.0f} of {nums['training_runs']:.0f} / "
         f"{nums['prediction_diverged']:.0f} of {nums['training_runs']:.0f}"),
    ]
    fmt = dict(steps=steps, lo=lo, hi=hi, valid=f"{nums['valid_runs']:.0f}")
    return [{"quantity": q.format(**fmt), "paper": p, "ours": o, "scale": scale}
            for q, p, o in rows]
