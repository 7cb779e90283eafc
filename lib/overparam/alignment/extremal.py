"""The function G of the early-alignment phase and its extremal vectors (compute only).

With a small, balanced initialization the output stays ~0 for a while and each neuron's direction
follows ``sign(a_j)`` times the Riemannian gradient of

    G(w) = (1/n) sum_i y_i relu(w . x_i)        on the unit sphere            (early-alignment ODE)

(Boursier & Flammarion, arXiv 2401.10791 and 2410.02348), so neurons gather at the local maximisers
(``a_j > 0``) and minimisers (``a_j < 0``) of G: the *extremal vectors*.
"""

from __future__ import annotations

import math

import torch

from .. import models, train
from ..device import cpu_generator

__all__ = ["grad_norm", "G_values", "extremal_vectors", "alignment_score"]


def grad_norm(model: models.TwoLayerReLU, params, x, y) -> torch.Tensor:
    """``(E,)``: the Euclidean norm of the full ``mse`` training-loss gradient over all trainable
    parameters (:func:`overparam.train.loss_and_grads`)."""
    _, g = train.loss_and_grads(model, params, x, y, "mse")
    return sum(v.square().flatten(1).sum(1) for v in g.values()).sqrt()


def G_values(u: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``G(u) = (1/n) sum_i y_i relu(u . x_i)`` for directions ``u (E, K, d)``, data ``x (E, n, d)``,
    ``y (E, n)``; returns ``(E, K)`` (arXiv 2410.02348, Eq. of the early-alignment phase)."""
    return torch.einsum("ekn,en->ek", torch.relu(torch.matmul(u, x.transpose(1, 2))), y) / x.shape[1]


def extremal_vectors(
    x: torch.Tensor, y: torch.Tensor, *, starts: int = 256, steps: int = 400, lr: float = 0.5, seed: int = 0,
    merge_cos: float = 0.999,
) -> list[dict[str, torch.Tensor]]:
    """Local maximisers and minimisers of G on the unit sphere, for each of the E data sets.

    Projected (Riemannian) gradient ascent on ``+G`` and on ``-G`` from ``starts`` random unit vectors
    each, all data sets at once (``x (E, n, d)``, ``y (E, n)``), step ``lr / sqrt(1 + t)``; the end
    points are merged when their cosine exceeds ``merge_cos``; only points with ``+-G > 0`` are kept
    (where ``G = 0`` the neurons are dead, not aligned). The ascent is *stopped* after ``steps``: end
    points at kinks of G keep moving, so the number of distinct end points depends on ``steps`` and is
    not a count of extremal vectors (the chapter uses only the top maximiser and nearest-end-point
    cosines, read at two step counts). Returns, per data set,
    ``{"max": (k1, d), "max_G": (k1,), "min": (k2, d), "min_G": (k2,)}`` sorted by ``|G|``.
    """
    E, n, d = x.shape
    g = cpu_generator(seed)
    u0 = torch.randn(E, 2 * starts, d, generator=g, dtype=torch.float64).to(x.device, x.dtype)
    u = u0 / u0.norm(dim=-1, keepdim=True)
    sign = torch.cat([torch.ones(starts), -torch.ones(starts)]).to(x.device, x.dtype)[None, :, None]
    for t in range(steps):
        act = (torch.matmul(u, x.transpose(1, 2)) > 0).to(x.dtype)  # (E, K, n)
        grad = torch.matmul(act * y[:, None, :], x) / n  # (E, K, d)
        grad = grad - (grad * u).sum(-1, keepdim=True) * u  # tangent part
        u = u + (lr / math.sqrt(1 + t)) * sign * grad
        u = u / u.norm(dim=-1, keepdim=True)
    Gv, u = G_values(u, x, y).cpu(), u.cpu()
    out = []
    for e in range(E):
        res = {}
        for name, s, lo, hi in (("max", 1.0, 0, starts), ("min", -1.0, starts, 2 * starts)):
            res[name], vals = _merge(u[e, lo:hi], s * Gv[e, lo:hi], merge_cos)
            res[name + "_G"] = s * vals
        out.append(res)
    return out


def _merge(cand: torch.Tensor, vals: torch.Tensor, merge_cos: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct end points ``(k, d)`` of one sign and their values of ``+-G`` ``(k,)``, largest
    first: points with ``+-G`` at most 1e-6 of the largest are dropped, then each point is kept unless
    a kept one is within ``merge_cos``."""
    keep = vals > 1e-6 * max(float(vals.abs().max()), 1e-30)
    cand, vals = cand[keep], vals[keep]
    chosen: list[int] = []
    for i in torch.argsort(vals, descending=True).tolist():
        if all(float(cand[i] @ cand[j]) < merge_cos for j in chosen):
            chosen.append(i)
    if not chosen:
        return torch.empty(0, cand.shape[-1]), torch.empty(0)
    idx = torch.tensor(chosen, dtype=torch.long)
    return cand[idx], vals[idx]


def alignment_score(w: torch.Tensor, a: torch.Tensor, ext: dict[str, torch.Tensor]) -> float:
    """Norm-weighted mean cosine between each neuron ``w_j`` (``(m, d)``, output weight ``a (m,)``) and
    the nearest extremal vector of its sign (maximisers for ``a_j > 0``, minimisers for ``a_j < 0``).

    Weights ``|a_j| ||w_j||`` (a neuron's contribution to f). 1 means every neuron sits exactly on an
    extremal vector. A sign with no extremal vector (G never has that sign) counts as cosine 0.
    """
    wn = w / w.norm(dim=-1, keepdim=True).clamp_min(1e-30)
    weight = a.abs() * w.norm(dim=-1)
    cos = torch.zeros(len(a), dtype=w.dtype)
    for name, mask in (("max", a > 0), ("min", a < 0)):
        if ext[name].numel() and mask.any():
            cos[mask] = (wn[mask] @ ext[name].to(w.dtype).T).max(-1).values
    return float((weight * cos).sum() / weight.sum().clamp_min(1e-30))
