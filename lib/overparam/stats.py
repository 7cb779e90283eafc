"""Uncertainty for every number the chapters state, from ``scipy.stats`` (never hand-rolled).

- :func:`mean_ci`: the mean of per-run values with a 95% bootstrap interval (BCa,
  ``scipy.stats.bootstrap``, a fixed ``random_state`` so the same runs give the same interval;
  percentile above a few thousand values, where BCa's jackknife would not fit in memory);
- :func:`share_ci`: a share ``k / n`` with its exact (Clopper-Pearson) binomial interval
  (``scipy.stats.binomtest(k, n).proportion_ci()``);
- :func:`put_mean`, :func:`put_share`: write ``key``, ``key_lo``, ``key_hi`` and ``key_n`` into a
  chapter's ``numbers()`` dict, the convention of the chapter contract (``DESIGN.md``).

Divergence is handled here once: runs flagged invalid (diverged) are dropped before the statistic;
a statistic over zero runs is NaN with ``n = 0`` (never 0 or 1); one run gives its value with the
interval ``(-inf, inf)`` (an anecdote has no interval); runs that all agree give a zero-width
interval at that value.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Estimate", "mean_ci", "share_ci", "share_from_counts", "put_mean", "put_share", "put", "valid_values"]

#: Bootstrap resamples and the seed of their generator (intervals are deterministic).
N_RESAMPLES, BOOTSTRAP_SEED = 2000, 0
#: Above this many values the percentile interval replaces BCa (whose jackknife step holds an
#: ``n x (n - 1)`` array), and resamples are drawn in batches of at most ``BATCH_VALUES`` numbers.
BCA_MAX_N, BATCH_VALUES = 4000, 2_000_000


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95% interval ``[lo, hi]`` and the number of runs ``n`` it rests on."""

    value: float
    lo: float
    hi: float
    n: int

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"
        if self.n == 0:
            return "n/a (no valid run)"
        if self.n == 1:
            return f"{self.value:{spec}} (1 run)"
        return f"{self.value:{spec}} [{self.lo:{spec}}, {self.hi:{spec}}] (n={self.n})"


_EMPTY = Estimate(math.nan, math.nan, math.nan, 0)


def valid_values(values, valid=None) -> np.ndarray:
    """``values`` (any shape) as a flat float64 array, keeping only entries where ``valid`` is true.

    ``valid`` (same shape, bool) marks the runs to use, e.g. ``~diverged``; non-finite values are
    dropped too (a run that produced NaN is not a valid run).
    """
    v = _numpy(values).astype(np.float64).ravel()
    keep = np.isfinite(v)
    if valid is not None:
        mask = _numpy(valid).astype(bool).ravel()
        if mask.shape != v.shape:
            raise ValueError(f"valid must have the shape of values ({v.shape[0]} entries); got {mask.shape[0]}")
        keep &= mask
    return v[keep]


def mean_ci(values, valid=None, confidence: float = 0.95) -> Estimate:
    """The mean over runs of ``values`` (e.g. ``(E,)`` test errors) with a bootstrap (BCa) interval.

    ``valid`` (bool, same shape) selects the runs (e.g. ``~diverged``). See the module docstring for
    the cases of zero, one and identical runs.
    """
    v = valid_values(values, valid)
    n = len(v)
    if n == 0:
        return _EMPTY
    m = float(v.mean())
    if n == 1:
        return Estimate(m, -math.inf, math.inf, 1)
    if np.ptp(v) == 0:
        return Estimate(m, m, m, n)
    lo, hi = _bootstrap(v, confidence)
    return Estimate(m, min(lo, m), max(hi, m), n)


def _bootstrap(v: np.ndarray, confidence: float) -> tuple[float, float]:
    from scipy import stats

    methods = ("BCa", "percentile") if len(v) <= BCA_MAX_N else ("percentile",)
    batch = max(1, min(N_RESAMPLES, BATCH_VALUES // len(v)))
    for method in methods:  # BCa is undefined for some degenerate samples
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = stats.bootstrap(
                (v,), np.mean, confidence_level=confidence, n_resamples=N_RESAMPLES, method=method,
                batch=batch, random_state=np.random.default_rng(BOOTSTRAP_SEED),
            ).confidence_interval
        if np.isfinite(ci.low) and np.isfinite(ci.high):
            return float(ci.low), float(ci.high)
    return -math.inf, math.inf


def share_ci(successes, valid=None, confidence: float = 0.95) -> Estimate:
    """The share of true entries of ``successes`` (bool, any shape) among the ``valid`` runs, with the
    exact binomial (Clopper-Pearson) interval. Zero valid runs: NaN, ``n = 0``."""
    s = _numpy(successes).astype(bool).ravel()
    if valid is not None:
        mask = _numpy(valid).astype(bool).ravel()
        if mask.shape != s.shape:
            raise ValueError(f"valid must have the shape of successes ({s.shape[0]} entries); got {mask.shape[0]}")
        s = s[mask]
    return share_from_counts(int(s.sum()), len(s), confidence)


def share_from_counts(k: int, n: int, confidence: float = 0.95) -> Estimate:
    """``k / n`` with its exact binomial interval (``scipy.stats.binomtest``); NaN when ``n = 0``."""
    from scipy import stats

    if n == 0:
        return _EMPTY
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence)
    return Estimate(k / n, float(ci.low), float(ci.high), int(n))


def put(out: dict[str, float], key: str, est: Estimate) -> Estimate:
    """Write ``est`` into ``out`` as ``key``, ``key_lo``, ``key_hi``, ``key_n``; returns ``est``."""
    out[key], out[f"{key}_lo"], out[f"{key}_hi"], out[f"{key}_n"] = est.value, est.lo, est.hi, float(est.n)
    return est


def put_mean(out: dict[str, float], key: str, values, valid=None) -> Estimate:
    """``put(out, key, mean_ci(values, valid))``."""
    return put(out, key, mean_ci(values, valid))


def put_share(out: dict[str, float], key: str, successes, valid=None) -> Estimate:
    """``put(out, key, share_ci(successes, valid))``."""
    return put(out, key, share_ci(successes, valid))


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)
