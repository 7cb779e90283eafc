"""Closed forms of chapter 5: the perceptron error density, the survivor formulas, the exponential
bound, and the Beta model of the error density (our derivations of the papers' argument; see
:mod:`overparam.rare_minima`)."""

from __future__ import annotations

import math

import torch

from .._validate import check_int

__all__ = ["perceptron_Q", "survivor_theory", "bad_fraction_bound", "beta_fit"]


def perceptron_Q(eps: torch.Tensor, d: int) -> torch.Tensor:
    """Density of the true error ``eps = angle(w, w*)/pi`` of a perceptron with ``w`` uniform on
    S^{d-1} and isotropic inputs: ``Q(eps) = pi sin^{d-2}(pi eps) / int_0^pi sin^{d-2}``.

    The angle between a uniform direction and a fixed one has density ∝ ``sin^{d-2}(theta)`` on
    [0, pi]; ``eps = theta/pi``. ``eps`` any shape in [0, 1]; returns the same shape (float64).
    """
    d = check_int("d", d, 2)
    eps = torch.as_tensor(eps, dtype=torch.float64)
    # int_0^pi sin^k = sqrt(pi) Gamma((k+1)/2) / Gamma(k/2 + 1), with k = d - 2
    k = d - 2
    log_norm = 0.5 * math.log(math.pi) + math.lgamma((k + 1) / 2) - math.lgamma(k / 2 + 1)
    return math.pi * torch.sin(math.pi * eps).clamp_min(0) ** k / math.exp(log_norm)


def survivor_theory(eps: torch.Tensor, q: torch.Tensor, ns, eps0: float) -> dict[str, torch.Tensor]:
    """Survivor statistics implied by a density ``q`` on a uniform grid ``eps`` (both ``(G,)``).

    For each ``n`` in ``ns``: ``Z_n = int q (1-e)^n`` (the expected fraction of classifiers with zero
    training error), the learning curve ``mean = int e q (1-e)^n / Z_n``, the fraction of bad minima
    ``bad = int_{e > eps0} q (1-e)^n / Z_n``, and the surviving density ``density (len(ns), G)``.
    Midpoint-rule integrals in float64.
    """
    eps = torch.as_tensor(eps, dtype=torch.float64)
    q = torch.as_tensor(q, dtype=torch.float64)
    ns = torch.as_tensor(list(ns), dtype=torch.float64)
    de = float(eps[1] - eps[0])
    w = q[None, :] * torch.exp(ns[:, None] * torch.log1p(-eps.clamp(max=1 - 1e-15))[None, :])
    Z = w.sum(1) * de
    return {
        "Z": Z,
        "mean": (w * eps).sum(1) * de / Z,
        "bad": (w * (eps > eps0)).sum(1) * de / Z,
        "density": w / Z[:, None],
    }


def bad_fraction_bound(eps: torch.Tensor, q: torch.Tensor, ns, eps0: float, eps1: float | None = None) -> torch.Tensor:
    """A simple exponential bound (our derivation): for any ``eps1 < eps0``,

    ``P_n(eps > eps0) <= [P_Q(eps > eps0) / P_Q(eps <= eps1)] * ((1 - eps0) / (1 - eps1))^n``,

    because survivors with ``eps > eps0`` carry weight at most ``(1-eps0)^n`` each and those with
    ``eps <= eps1`` at least ``(1-eps1)^n``. Default ``eps1 = eps0 / 2``. Returns ``(len(ns),)``.
    """
    eps1 = eps0 / 2 if eps1 is None else eps1
    eps = torch.as_tensor(eps, dtype=torch.float64)
    q = torch.as_tensor(q, dtype=torch.float64)
    ns = torch.as_tensor(list(ns), dtype=torch.float64)
    p_bad, p_good = q[eps > eps0].sum() / q.sum(), q[eps <= eps1].sum() / q.sum()
    return (p_bad / p_good) * ((1 - eps0) / (1 - eps1)) ** ns


def beta_fit(errors: torch.Tensor, ns: torch.Tensor, n_test: int) -> tuple[float, float]:
    """Maximum-likelihood ``(a, b)`` of the model "errors of nets trained on ``n`` points are
    ``Beta(a, b + n)``", i.e. ``Q = Beta(a, b)`` reweighted by ``(1 - eps)^n``.

    ``errors (K,)`` in [0, 1] and ``ns (K,)`` (one entry per network). Errors are clamped to
    ``[0.5/n_test, 1 - 0.5/n_test]`` (a test set of ``n_test`` points cannot resolve more).
    """
    e = torch.as_tensor(errors, dtype=torch.float64).clamp(0.5 / n_test, 1 - 0.5 / n_test)
    n = torch.as_tensor(ns, dtype=torch.float64)
    if e.numel() < 2:
        raise ValueError("beta_fit needs at least two errors")
    m, v = float(e.mean()), float(e.var()) + 1e-6
    common = max(m * (1 - m) / v - 1, 1e-2)
    theta = torch.tensor([math.log(max(m * common, 1e-2)), math.log(max((1 - m) * common - float(n.mean()), 1e-2))],
                         dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def nll():
        opt.zero_grad()
        a, b = theta.exp()
        bn = b + n
        ll = (a - 1) * torch.log(e) + (bn - 1) * torch.log1p(-e) - (torch.lgamma(a) + torch.lgamma(bn) - torch.lgamma(a + bn))
        loss = -ll.mean()
        loss.backward()
        return loss

    opt.step(nll)
    a, b = theta.detach().exp().tolist()
    return float(a), float(b)
