"""The measurements of the paper's analysis, pure functions of the filters, and their closed forms.

- :func:`exact_test_error`: the test error ``P_D(sign N(x) != y)`` summed over pattern sets;
- :func:`detected_patterns`, :func:`exploration`: which patterns some filter detects (the sets
  W_t^+(l) of Brutzkus & Globerson 2019, Section 5), with the closed forms at a Gaussian init
  :func:`exploration_theory` and :func:`pos_explored_theory`;
- :func:`clustering`: how close the filters lie to the pattern directions (random: :data:`RANDOM_COSINE`);
- :func:`mnist_clustering`: the same for MNIST filters, against spherical k-means centres.
"""

from __future__ import annotations

import math

import torch

from .. import data, models

__all__ = [
    "RANDOM_COSINE",
    "BAD_TOL",
    "subset_labels",
    "exact_test_error",
    "detected_patterns",
    "exploration",
    "exploration_theory",
    "pos_explored",
    "pos_explored_theory",
    "clustering",
    "mnist_clustering",
]

#: Mean cosine between a uniformly random direction in the plane and the nearest of the four
#: pattern directions (angles uniform on [0, pi/4]): (4/pi) sin(pi/4) = 2 sqrt(2) / pi.
RANDOM_COSINE = 2 * math.sqrt(2) / math.pi

#: A run whose test error exceeds this is a *bad* global minimum (when its training error is 0).
BAD_TOL = 1e-12

_P = data.XORD_PATTERNS  # (4, 2): p1 = (1,1), p2 = (1,-1), p3 = (-1,-1), p4 = (-1,1)


def exploration_theory(k):
    """Expected share of explored patterns at a Gaussian init, ``1 - (3/4)**k``: each filter's argmax
    is uniform over the four patterns, so a given pattern is missed by all k filters of its sign with
    probability ``(3/4)**k`` (``k`` a number or an array)."""
    return 1 - 0.75**k


def pos_explored_theory(k):
    """Probability that the k ``w`` filters detect both positive patterns at a Gaussian init,
    ``1 - 2 (3/4)**k + 2**-k`` (inclusion-exclusion over missing p1 or p3)."""
    return 1 - 2 * 0.75**k + 0.5**k


def subset_labels() -> torch.Tensor:
    """``(16,)``: the label of an input whose pattern set has bitmask s (+1 iff p1 or p3 present; 0 for s = 0)."""
    bits = (torch.arange(16)[:, None] >> torch.arange(4)) & 1
    lab = torch.where((bits[:, 0] + bits[:, 2]) > 0, 1.0, -1.0)
    lab[0] = 0.0
    return lab


def exact_test_error(net: models.XORPatternNet, params, probs: torch.Tensor) -> torch.Tensor:
    """``(E,)``: the exact test error ``P_D(sign N(x) != y)`` from the pattern-set probabilities
    ``probs (16,)`` (:func:`overparam.data.xord_presence_probabilities`). ``N(x) = 0`` counts as an error."""
    table = net.subset_outputs(params)  # (E, 16)
    lab = subset_labels().to(table.device, table.dtype)
    wrong = (table * lab <= 0).to(torch.float64)
    return wrong @ probs.to(table.device)


def detected_patterns(filters: torch.Tensor) -> torch.Tensor:
    """``(E, 4)`` bool: pattern p_l is *detected* by the filters ``(E, k, 2)`` if it is the argmax
    over the four patterns of ``f . p`` for some filter f (the sets W_t^+(l) of the paper's analysis,
    Brutzkus & Globerson 2019, Section 5, are nonempty). Ties have probability 0 under a Gaussian init."""
    arg = torch.einsum("ekp,lp->ekl", filters, _P.to(filters.device, filters.dtype)).argmax(-1)  # (E, k)
    return torch.stack([(arg == l).any(-1) for l in range(4)], dim=-1)


def exploration(params) -> torch.Tensor:
    """``(E,)``: the share of the four patterns detected by a filter of the matching readout sign:
    p1, p3 (positive) by some w filter, p2, p4 (negative) by some u filter. At a Gaussian init its
    expectation is :func:`exploration_theory`."""
    dw, du = detected_patterns(params["w"]), detected_patterns(params["u"])
    return (dw[:, 0].double() + dw[:, 2].double() + du[:, 1].double() + du[:, 3].double()) / 4


def pos_explored(params) -> torch.Tensor:
    """``(E,)`` float 0/1: the w filters detect both positive patterns (p1 and p3); at a Gaussian init
    its expectation is :func:`pos_explored_theory`."""
    return detected_patterns(params["w"])[:, [0, 2]].all(-1).to(torch.float64)


def clustering(params) -> torch.Tensor:
    """``(E,)``: norm-weighted mean cosine of all 2k filters to their nearest pattern direction,
    ``sum_f ||f|| max_l cos(f, p_l) / sum_f ||f||``. Random directions give :data:`RANDOM_COSINE`
    (about 0.900); filters lying on the pattern directions give 1."""
    f = torch.cat([params["w"], params["u"]], dim=1)  # (E, 2k, 2)
    norm = f.norm(dim=-1)
    cos = (torch.einsum("ekp,lp->ekl", f, _P.to(f.device, f.dtype)) / (math.sqrt(2) * norm.clamp_min(1e-30))[..., None]).amax(-1)
    return (norm * cos).sum(-1) / norm.sum(-1).clamp_min(1e-30)


def _spherical_kmeans(f: torch.Tensor, c: int, iters: int = 25) -> torch.Tensor:
    """Cosine k-means of the rows of ``f (E, m, q)``, batched over E. Returns ``(E, m)``: each
    row's cosine to its nearest of the ``c`` unit centres (init: the c largest-norm rows)."""
    unit = f / f.norm(dim=-1, keepdim=True).clamp_min(1e-30)
    top = f.norm(dim=-1).topk(min(c, f.shape[1]), dim=1).indices  # (E, c)
    centres = torch.gather(unit, 1, top[..., None].expand(-1, -1, unit.shape[-1]))
    weight = f.norm(dim=-1)  # large filters dominate the centres
    for _ in range(iters):
        assign = torch.einsum("emq,ecq->emc", unit, centres).argmax(-1)  # (E, m)
        one_hot = torch.nn.functional.one_hot(assign, centres.shape[1]).to(f.dtype) * weight[..., None]
        new = torch.einsum("emc,emq->ecq", one_hot, unit)
        norm = new.norm(dim=-1, keepdim=True)
        centres = torch.where(norm > 1e-30, new / norm.clamp_min(1e-30), centres)
    return torch.einsum("emq,ecq->emc", unit, centres).amax(-1)


def mnist_clustering(params, c: int) -> torch.Tensor:
    """``(E,)``: norm-weighted mean cosine of every filter to the nearest of ``c`` spherical k-means
    centres of its readout group (w and u clustered separately), for ConvNet params ``(E, k, C, s, s)``."""
    vals, weights = [], []
    for name in ("w", "u"):
        f = params[name].flatten(2)  # (E, k, q)
        vals.append(_spherical_kmeans(f, c))
        weights.append(f.norm(dim=-1))
    v, w = torch.cat(vals, 1), torch.cat(weights, 1)
    return (v * w).sum(1) / w.sum(1).clamp_min(1e-30)
