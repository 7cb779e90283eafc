"""The measurements of the paper's analysis, pure functions of the filters, and their closed forms.

- :func:`exact_test_error`: the test error ``P_D(sign N(x) != y)`` summed over pattern sets;
- :func:`wrong_sets`, :func:`failure_modes`: which pattern sets a network gets wrong, and why a
  fitted network errs: (i) it misses a positive pattern, or (ii) it detects every pattern and errs on
  sets the training data do not constrain;
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
    "set_name",
    "PAIR_SETS",
    "wrong_sets",
    "failure_modes",
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


#: Bitmasks of the pattern sets ``{p1, p2, p4}`` and ``{p2, p3, p4}``: one positive pattern next to both
#: negative ones. Diverse training data (all four patterns, or both negative ones) never contain them.
PAIR_SETS = (0b1011, 0b1110)

#: Bitmasks of the inputs made of one positive pattern alone, ``{p1}`` and ``{p3}``.
_PURE_POSITIVE = (0b0001, 0b0100)


def set_name(s: int) -> str:
    """The pattern set of bitmask ``s`` as text, e.g. ``11 -> "{1,2,4}"`` (pattern indices 1..4)."""
    return "{" + ",".join(str(l + 1) for l in range(4) if (s >> l) & 1) + "}"


def wrong_sets(outputs: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """``(..., 16)`` bool: pattern set s has positive probability under the test distribution
    (``probs (16,)``) and the network, with subset outputs ``outputs (..., 16)``
    (:meth:`overparam.models.XORPatternNet.subset_outputs`), classifies it wrongly (an output of 0 is wrong)."""
    lab = subset_labels().to(outputs.device, outputs.dtype)
    return (outputs * lab <= 0) & (probs.to(outputs.device) > 0)


def failure_modes(outputs: torch.Tensor, probs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Why a network errs, exactly, from its subset outputs ``(..., 16)``; every entry ``(...)`` bool:

    - ``bad``: it errs on some set of positive probability (test error > 0);
    - ``miss`` (mode i, the paper's): it errs on an input made of p1 alone or of p3 alone, i.e. it does
      not detect that positive pattern (and then also errs on the inputs whose only positive pattern it is);
    - ``unconstrained`` (mode ii): bad, yet both positive patterns alone are classified correctly;
      split into ``pair`` (its errors lie only on ``{1,2,4}`` / ``{2,3,4}``, :data:`PAIR_SETS`) and
      ``other`` (it errs on some other set, e.g. ``{2}``, ``{4}``, ``{1,2}``).

    ``miss`` and ``unconstrained`` partition ``bad``. A pure-positive set of probability 0 (``p+ = 1``)
    cannot make a run bad: it counts for neither.
    """
    wrong = wrong_sets(outputs, probs)
    bad = wrong.any(-1)
    miss = wrong[..., _PURE_POSITIVE[0]] | wrong[..., _PURE_POSITIVE[1]]
    unconstrained = bad & ~miss
    pair_mask = torch.zeros(16, dtype=torch.bool, device=wrong.device)
    pair_mask[list(PAIR_SETS)] = True
    only_pair = ~(wrong & ~pair_mask).any(-1)
    return {"bad": bad, "miss": miss, "unconstrained": unconstrained, "pair": unconstrained & only_pair,
            "other": unconstrained & ~only_pair}


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
