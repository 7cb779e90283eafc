"""The infinite-width predictor of the two-layer ReLU network trained by gradient descent: the
chapter's reference for the regime the theorems are about (trained to fit, infinite width).

Arora, Du, Hu, Li & Wang (ICML 2019, arXiv `1901.08584 <https://arxiv.org/abs/1901.08584>`_), Sections
4-5: in the kernel regime, GD with step ``eta`` from ``u(0) = 0`` gives training outputs
``u(k) = (I - (I - eta H)^k) y`` with ``H = H^inf`` of the training inputs, and, because the weights move
along ``J^T (H^inf)^{-1} (I - (I - eta H^inf)^k) y``, the prediction at a new input ``x``

    f_k(x) = H^inf(x, X) (H^inf)^{-1} (I - (I - eta H^inf)^k) y,

with ``H^inf(x, x') = x.x' (pi - arccos(x.x')) / (2 pi)`` for unit vectors (the same closed form as
:func:`overparam.kernels.relu_ntk_gram`, between two sets of points). As ``k -> inf`` this is the
kernel interpolant ``H^inf(x, X) (H^inf)^{-1} y``: it fits every training label, so its training error
is 0 at every corruption level, which is the "trained to fit" regime of Theorem 5.1. Everything is
computed once from the eigendecomposition ``H^inf = V diag(lambda) V^T`` (float64): a step count is a
diagonal filter ``(1 - (1 - eta lambda_i)^k) / lambda_i``, so ``k = 10^5`` costs as much as ``k = 1``.

Shapes: ``x (n, d)``, ``x_test (t, d)`` unit-norm rows; labels ``y (..., n)``; predictions ``(..., t)``.
"""

from __future__ import annotations

import math

import torch

from .. import kernels

__all__ = ["unit_rows", "cross_gram", "filter_weights", "predictor_matrix", "train_outputs"]


def unit_rows(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float64 with each row scaled to norm 1 *in float64* (rows of float32 unit vectors are
    only unit to ~1e-7, which moves the diagonal of ``H^inf`` by up to ~1e-4 through ``arccos``
    near 1)."""
    x = x.to(torch.float64)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-300)


def cross_gram(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``H^inf(a_i, b_j) = a_i.b_j (pi - arccos(a_i.b_j)) / (2 pi)``, shape ``(len(a), len(b))``,
    float64, for unit-norm rows (renormalized here in float64; cosines clipped to ``[-1, 1]``)."""
    g = (unit_rows(a) @ unit_rows(b).T).clamp(-1.0, 1.0)
    return g * (math.pi - torch.arccos(g)) / (2 * math.pi)


def filter_weights(spec: kernels.Spectrum, lr: float | None = None, steps: float | None = None) -> torch.Tensor:
    """``(1 - (1 - eta lambda_i)^k) / lambda_i`` per eigenvalue ``(n,)``; ``steps=None`` (``k -> inf``)
    gives ``1 / lambda_i`` (needs ``|1 - eta lambda_i| < 1`` for the limit to be the GD limit, i.e.
    ``0 < eta < 2 / lambda_max``; the kernel interpolant itself does not depend on ``eta``)."""
    lam = spec.values
    if steps is None:
        return 1.0 / lam
    if lr is None:
        raise ValueError("lr is needed for a finite number of steps")
    return (1 - (1 - lr * lam).pow(float(steps))) / lam


def predictor_matrix(spec: kernels.Spectrum, x: torch.Tensor, x_test: torch.Tensor, lr: float | None = None,
                     steps: float | None = None) -> torch.Tensor:
    """``A (t, n)`` with ``f_k(x_test) = A y``: ``H^inf(x_test, X) V diag(filter) V^T`` (float64).

    ``spec`` is the spectrum of ``H^inf`` of ``x``; ``steps=None`` is the fully trained (``k -> inf``)
    predictor, the kernel interpolant. Cost ``t n d + t n^2``.
    """
    v = spec.vectors
    k = cross_gram(x_test.to(v.device), x.to(v.device))  # (t, n)
    return ((k @ v) * filter_weights(spec, lr, steps)) @ v.T


def train_outputs(spec: kernels.Spectrum, y: torch.Tensor, lr: float | None = None, steps: float | None = None) -> torch.Tensor:
    """Predicted training outputs ``u(k) = (I - (I - eta H)^k) y`` for ``y (..., n)``; ``y`` itself when
    ``steps=None`` (the interpolant fits every label)."""
    y = y.to(device=spec.vectors.device, dtype=torch.float64)
    if steps is None:
        return y.clone()
    v = spec.vectors
    return ((y @ v) * (filter_weights(spec, lr, steps) * spec.values)) @ v.T
