"""NTK / Gram-matrix math for the two-layer ReLU network of Arora, Du, Hu, Li & Wang (ICML 2019,
arXiv `1901.08584 <https://arxiv.org/abs/1901.08584>`_).

The network is ``f(x) = m^{-1/2} sum_r a_r relu(w_r . x)`` with ``a_r in {+-1}`` fixed and the first
layer ``W = (w_1, ..., w_m)`` trained by gradient descent on ``1/2 sum_i (y_i - f(x_i))^2``. Its
Gram matrix (the NTK of the first layer) at infinite width is (Section 3 of the paper)

    H^inf_ij = E_{w ~ N(0, I)}[ x_i . x_j 1{w . x_i >= 0, w . x_j >= 0} ]
             = x_i . x_j (pi - arccos(x_i . x_j)) / (2 pi)          for ||x_i|| = ||x_j|| = 1.

With its eigenpairs ``(lambda_i, v_i)`` the paper shows (Theorem 4.1) that GD with step ``eta`` gives
``||y - u(k)||^2 ~ sum_i (1 - eta lambda_i)^{2k} (v_i . y)^2``, a generalization bound
``sqrt(2 y^T (H^inf)^{-1} y / n)`` (Theorem 5.1), and ``||W(k) - W(0)||_F <~ sqrt(y^T (H^inf)^{-1} y)``
(Section 5). Everything here is computed in float64 (the small eigenvalues of ``H^inf`` matter).

Shapes: ``x (n, d)`` unit-norm rows; labels ``y (n,)`` or batched ``(..., n)``; ``H (n, n)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._validate import _short, check_float, check_int, check_tensor
from .device import check_memory, cpu_generator

__all__ = [
    "relu_ntk_gram",
    "gram_monte_carlo",
    "empirical_gram",
    "Spectrum",
    "spectrum",
    "projections",
    "predicted_residual",
    "predicted_distance",
    "label_complexity",
    "generalization_bound",
    "distance_bound",
]


def _unit_rows(x: torch.Tensor, name: str = "x", tol: float = 1e-4) -> torch.Tensor:
    check_tensor(name, x, ndim=2, shape_text="(n, d)")
    check_memory(3 * 8 * x.shape[0] ** 2 + 8 * x.numel(), f"the {x.shape[0]} x {x.shape[0]} Gram matrix", f"n (the rows of {name})", x.device)
    x = x.to(torch.float64)
    norms = x.norm(dim=1)
    if not torch.all((norms - 1).abs() <= tol):
        worst = float((norms - 1).abs().max())
        raise ValueError(f"{name} must have unit-norm rows (||x_i|| = 1, Arora et al. 2019, Sec. 3); max | ||x_i|| - 1 | = {worst:.3g}")
    return x / norms[:, None]  # renormalized in float64: float32 unit rows are off by up to ~1e-4


def relu_ntk_gram(x: torch.Tensor) -> torch.Tensor:
    """The analytic Gram matrix ``H^inf (n, n)`` (float64) of unit-norm inputs ``x (n, d)``.

    ``H^inf_ij = x_i.x_j (pi - arccos(x_i.x_j)) / (2 pi)`` (Arora et al. 2019, Sec. 3), computed in one
    vectorized pass: a single ``x x^T`` (cost ``n^2 d``) then elementwise ops. The cosines are
    clipped to ``[-1, 1]`` against rounding. Rows within ``1e-4`` of unit norm are accepted and
    renormalized in float64, and ``x_i.x_i = 1`` is set exactly, so the diagonal is exactly ``1/2``.

    Example::

        >>> x = torch.nn.functional.normalize(torch.randn(5, 3), dim=1)
        >>> relu_ntk_gram(x).diagonal()  # all 0.5
    """
    x = _unit_rows(x)
    g = (x @ x.T).clamp(-1.0, 1.0)
    g.diagonal().fill_(1.0)  # unit rows: exact (arccos near 1 would turn 1e-16 into 1e-8)
    return g * (math.pi - torch.arccos(g)) / (2 * math.pi)


def empirical_gram(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The finite-width Gram matrix ``H(W)_ij = (1/m) x_i.x_j sum_r 1{w_r.x_i >= 0} 1{w_r.x_j >= 0}``.

    ``w (m, d)`` or ``(E, m, d)`` first-layer weights; returns ``(n, n)`` or ``(E, n, n)`` in float64.
    This is ``J J^T`` for the Jacobian ``J`` of the outputs with respect to ``W`` (Arora et al. 2019,
    Sec. 3); it equals ``H^inf`` in expectation over ``w_r ~ N(0, kappa^2 I)`` for any ``kappa > 0``.
    Cost ``E n m (d + n)``.
    """
    check_tensor("x", x, ndim=2, shape_text="(n, d)")
    check_tensor("w", w, ndim=(2, 3), shape_text="(m, d) or (E, m, d)")
    E, m = (1, w.shape[0]) if w.ndim == 2 else w.shape[:2]
    n = x.shape[0]
    check_memory(8 * E * n * (m + n) + 8 * x.numel(), f"empirical_gram of {E} x {n} x {n}", "n, m or E", x.device)
    x = x.to(torch.float64)
    w = w.to(device=x.device, dtype=torch.float64)
    single = w.ndim == 2
    if single:
        w = w[None]
    if w.ndim != 3 or w.shape[-1] != x.shape[-1]:
        raise ValueError(f"w must have shape (m, d) or (E, m, d) with d = {x.shape[-1]}; got {tuple(w.shape)}")
    s = (torch.matmul(x, w.transpose(1, 2)) >= 0).to(torch.float64)  # (E, n, m)
    h = (x @ x.T) * torch.matmul(s, s.transpose(1, 2)) / w.shape[1]
    return h[0] if single else h


def gram_monte_carlo(x: torch.Tensor, samples: int, *, seed: int = 0, chunk: int = 4096) -> torch.Tensor:
    """A Monte-Carlo estimate of ``H^inf (n, n)`` from ``samples`` random ``w ~ N(0, I_d)``.

    The same expectation as :func:`relu_ntk_gram`, averaged over random weights instead of
    integrated in closed form; its entries have standard deviation at most ``1/(2 sqrt(samples))``.
    Drawn on the CPU from ``seed`` in chunks of ``chunk`` weights (memory ``n * chunk``).
    """
    samples = check_int("samples", samples, 1, 10**9)  # 1e9 weights already take hours for n = 100
    chunk = check_int("chunk", chunk, 1)
    x = _unit_rows(x)
    check_memory(8 * x.shape[0] * min(chunk, samples) * 2, f"gram_monte_carlo chunks of {min(chunk, samples)} weights", "chunk", x.device)
    g = cpu_generator(seed)
    n, d = x.shape
    counts = torch.zeros(n, n, dtype=torch.float64, device=x.device)
    done = 0
    while done < samples:
        k = min(chunk, samples - done)
        w = torch.randn(k, d, generator=g, dtype=torch.float64).to(x.device)
        s = (x @ w.T >= 0).to(torch.float64)  # (n, k)
        counts += s @ s.T
        done += k
    return (x @ x.T) * counts / samples


@dataclass(frozen=True)
class Spectrum:
    """Eigen-decomposition of a symmetric Gram matrix, eigenvalues in *descending* order.

    ``values (n,)`` float64, ``vectors (n, n)`` with ``vectors[:, i]`` the eigenvector ``v_i`` of
    ``values[i]``. ``lambda_min`` is the paper's ``lambda_0 = lambda_min(H^inf)`` (assumed in Sec. 3:
    positive when no two inputs are parallel).
    """

    values: torch.Tensor
    vectors: torch.Tensor

    @property
    def lambda_min(self) -> float:
        return float(self.values[-1])

    @property
    def lambda_max(self) -> float:
        return float(self.values[0])

    @property
    def n(self) -> int:
        return int(self.values.numel())


def spectrum(h: torch.Tensor) -> Spectrum:
    """Eigenpairs of the symmetric ``h (n, n)`` in float64, sorted by descending eigenvalue.

    Raises ``ValueError`` if the smallest eigenvalue is not positive (the bounds below need
    ``(H^inf)^{-1}``). Cost ``O(n^3)``: about a second for ``n = 2000`` on a CPU.
    """
    check_tensor("h", h, ndim=2, shape_text="(n, n)")
    if h.shape[0] != h.shape[1]:
        raise ValueError(f"h must be a square (n, n) matrix; got {tuple(h.shape)}")
    check_memory(5 * 8 * h.numel(), f"the eigendecomposition of a {h.shape[0]} x {h.shape[0]} matrix", "n", h.device)
    h = h.to(torch.float64)
    vals, vecs = torch.linalg.eigh(0.5 * (h + h.T))
    vals, vecs = vals.flip(0), vecs.flip(1)
    if not float(vals[-1]) > 0:
        raise ValueError(
            f"the Gram matrix is not positive definite (lambda_min = {float(vals[-1]):.3g}); "
            "remove duplicate or parallel inputs"
        )
    return Spectrum(vals, vecs)


def projections(spec: Spectrum, y: torch.Tensor) -> torch.Tensor:
    """``(v_i . y)^2`` for every eigenvector, shape ``(..., n)`` for ``y (..., n)`` (float64).

    They sum to ``||y||^2``; index ``i`` follows ``spec.values`` (descending eigenvalues).
    """
    _check_labels(spec, y, "y")
    y = y.to(device=spec.vectors.device, dtype=torch.float64)
    return (y @ spec.vectors).square()


def _check_labels(spec, y, name: str) -> None:
    if not isinstance(spec, Spectrum):
        raise ValueError(f"spec must be a Spectrum (from overparam.kernels.spectrum); got {_short(spec)}")
    check_tensor(name, y, min_ndim=1, shape_text=f"(..., n={spec.n})")
    if y.shape[-1] != spec.n:
        raise ValueError(f"{name} must have shape (..., n) with n = {spec.n} (the Gram matrix's size); got {tuple(y.shape)}")


def _steps(steps) -> torch.Tensor:
    text = "steps must be a non-empty sequence of finite non-negative integers"
    if isinstance(steps, (str, bytes)):
        raise ValueError(f"{text}; got {steps!r}")
    try:
        k = torch.as_tensor(steps, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{text}; got {_short(steps)}") from None
    if k.numel() == 0:
        raise ValueError(f"{text}; got an empty sequence")
    bad = ~torch.isfinite(k) | (k < 0) | (k != k.round())
    if bool(bad.any()):
        raise ValueError(f"{text}; got {k[bad][:3].tolist()}")
    return k


def predicted_residual(spec: Spectrum, r0: torch.Tensor, lr: float, steps) -> torch.Tensor:
    """The predicted ``||y - u(k)||^2 = sum_i (1 - eta lambda_i)^{2k} (v_i . r0)^2`` (Theorem 4.1).

    ``r0 (..., n)`` is the initial residual ``y - u(0)`` (``= y`` when ``u(0) = 0``), ``lr`` the step
    ``eta``, ``steps`` a sequence of ``T`` iteration counts. Returns ``(T, ...)`` float64. The loss
    ``1/2 sum_i (y_i - u_i)^2`` that the trainer reports (``loss="sse"``) is half of this.
    """
    lr = check_float("lr", lr, 0, None, low_open=True)
    _check_labels(spec, r0, "r0")
    k = _steps(steps).to(spec.values.device)
    p = projections(spec, r0)  # (..., n)
    decay = (1 - lr * spec.values)[None, :].pow(2 * k[:, None])  # (T, n)
    return torch.einsum("tn,...n->t...", decay, p)


def predicted_distance(spec: Spectrum, r0: torch.Tensor, lr: float, steps) -> torch.Tensor:
    """The kernel-regime prediction of ``||W(k) - W(0)||_F``, shape ``(T, ...)``.

    Linearizing the network, ``W(k) - W(0) = J^T (H^inf)^{-1} (I - (I - eta H^inf)^k) r0`` with
    ``J J^T = H^inf``, so ``||W(k) - W(0)||_F^2 = sum_i (1 - (1 - eta lambda_i)^k)^2 (v_i . r0)^2 / lambda_i``;
    as ``k -> inf`` it tends to ``sqrt(r0^T (H^inf)^{-1} r0)`` (Section 5 of the paper).
    """
    lr = check_float("lr", lr, 0, None, low_open=True)
    _check_labels(spec, r0, "r0")
    k = _steps(steps).to(spec.values.device)
    p = projections(spec, r0) / spec.values
    fitted = (1 - (1 - lr * spec.values)[None, :].pow(k[:, None])).square()  # (T, n)
    return torch.einsum("tn,...n->t...", fitted, p).sqrt()


def label_complexity(spec: Spectrum, y: torch.Tensor) -> torch.Tensor:
    """``y^T (H^inf)^{-1} y = sum_i (v_i . y)^2 / lambda_i``, shape ``(...)`` for ``y (..., n)``."""
    return (projections(spec, y) / spec.values).sum(-1)


def generalization_bound(spec: Spectrum, y: torch.Tensor) -> torch.Tensor:
    """The data-dependent term of Theorem 5.1, ``sqrt(2 y^T (H^inf)^{-1} y / n)``, shape ``(...)``.

    It bounds the population loss (any 1-Lipschitz loss with values in ``[0, 1]`` and
    ``l(y, y) = 0``) of the GD-trained wide network, up to an ``O(sqrt(log(n / (lambda_0 delta)) / n))``
    term; a value above 1 says nothing (vacuous).
    """
    return (2 * label_complexity(spec, y) / spec.n).sqrt()


def distance_bound(spec: Spectrum, y: torch.Tensor) -> torch.Tensor:
    """``sqrt(y^T (H^inf)^{-1} y)``: the leading term of the bound on ``||W(k) - W(0)||_F`` (Sec. 5)."""
    return label_complexity(spec, y).sqrt()
