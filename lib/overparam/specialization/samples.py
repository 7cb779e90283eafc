"""Chapter 2's sample-complexity experiment: recovery of teacher nodes vs the number of training
samples ``N``, for plain Gaussian inputs and for the teacher-aware augmented inputs of the official
code (``two_layer_new2.py`` with ``theory_suggest_train=true``; README, "Fig. 9").

The augmented set (:func:`augmented_inputs`): for each teacher node ``j`` with weights ``w_j``
(unit norm) and bias ``b_j``, ``ceil(N / 3m)`` Gaussian points are projected onto the node's
boundary ``w_j . x + b_j = 0`` (in homogeneous coordinates, as the code does), and each is used
three times: on the boundary and moved by ``+- alpha w_j`` with ``alpha ~ U[mean, mean + sigma]``;
every point is then rescaled to norm ``std * sqrt(d)``. Plain inputs are ``N(0, std^2 I_d)``.
Everything else (teacher, student, loss, update) is the two-layer setting of :mod:`.run`; recovery
is read on a plain Gaussian evaluation set at the end of training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import data as _data
from ..chapter import derive_seed
from ..device import cpu_generator
from ..models import DeepReLUMLP
from .config import Config

__all__ = ["KINDS", "SampleSweep", "augmented_inputs", "sample_teacher", "run_samples", "sample_flops"]

#: The two kinds of training data, in member order.
KINDS = ("plain", "augmented")

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class SampleSweep:
    """Recovery vs ``N``: ``ns (K,)`` the training-set sizes; ``multis`` the over-realizations;
    ``best_corr (M, K, 2, S, m)`` each teacher node's best correlation with a student node on the
    evaluation set at the end (``M`` multis, ``K`` sizes, the two :data:`KINDS`, ``S`` seeds);
    ``train_loss (M, K, 2, S)`` the final training loss; ``diverged (M, K, 2, S)`` bool."""

    ns: tuple[int, ...]
    multis: tuple[int, ...]
    best_corr: torch.Tensor
    train_loss: torch.Tensor
    diverged: torch.Tensor


def sample_teacher(cfg: Config) -> Params:
    """The experiment's teachers (one per seed, :func:`.run.make_teacher` with ``d=sc_d``,
    ``m=sc_m``, ``c=sc_c``, ``p=sc_decay``): ``W0 (S, m, d)``, ``b0 (S, m)``, ``W1 (S, c, m)``,
    ``b1 (S, c)``, float64."""
    from .run import make_teacher

    sub = cfg.replace(d=cfg.sc_d, m=cfg.sc_m, c=cfg.sc_c, decays=(cfg.sc_decay,), seeds=cfg.sc_seeds, batch_size=None)
    return make_teacher(sub, seed=derive_seed(cfg.seed, "sc_teacher"))


def augmented_inputs(W0: torch.Tensor, b0: torch.Tensor, n: int, std: float, mean: float, sigma: float,
                     generator: torch.Generator) -> torch.Tensor:
    """Teacher-aware inputs ``(S, 3 m ceil(n / 3m), d)`` for teachers ``W0 (S, m, d)``, ``b0 (S, m)``
    (float64): per node, points on its boundary and moved by ``+- alpha w_j``, rescaled to norm
    ``std * sqrt(d)`` (see the module docstring)."""
    S, m, d = W0.shape
    k = math.ceil(n / (3 * m))
    z = std * torch.randn(S, m, k, d + 1, generator=generator, dtype=torch.float64)
    z[..., -1] = 1.0
    w = torch.cat([W0, b0[..., None]], -1)[:, :, None, :]  # (S, m, 1, d + 1), homogeneous
    z = z - (z * w).sum(-1, keepdim=True) * w / w.square().sum(-1, keepdim=True)
    x = z[..., :-1] / z[..., -1:]
    alpha = torch.rand(S, m, k, 1, generator=generator, dtype=torch.float64) * sigma + mean
    x = torch.stack([x, x + alpha * W0[:, :, None, :], x - alpha * W0[:, :, None, :]], 2)  # (S, m, 3, k, d)
    x = x.reshape(S, 3 * m * k, d)
    return x / x.norm(dim=-1, keepdim=True) * (std * math.sqrt(d))


def _inputs(cfg: Config, tp: Params, n: int) -> torch.Tensor:
    """``(2 S, n, d)`` float32: plain Gaussian inputs (members ``0..S-1``), then augmented ones."""
    plain = _data.gaussian_inputs(n, cfg.sc_d, std=cfg.data_std, seed=derive_seed(cfg.seed, "sc_plain", n), members=cfg.sc_seeds)
    aug = augmented_inputs(tp["W0"], tp["b0"], n, cfg.data_std, cfg.sc_aug_mean, cfg.sc_aug_sigma,
                           cpu_generator(derive_seed(cfg.seed, "sc_aug", n)))
    return torch.cat([plain.double(), aug]).float()


def _train(cfg: Config, st: Params, x: torch.Tensor, y: torch.Tensor, sizes: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """Train the students ``st`` (updated in place) on ``x (E, N_max, d)``, ``y (E, N_max, c)`` of
    which member ``e`` uses its first ``sizes[e]`` samples: full-batch GD (all sizes equal) or SGD
    with minibatches drawn per member from its own samples. Returns the final training loss ``(E,)``
    on each member's samples (NaN/inf for a member that diverged)."""
    from .run import grads

    steps = max(1, math.ceil(round(cfg.sc_flow_time / cfg.sc_lr, 6)))
    gen = cpu_generator(derive_seed(cfg.seed, "sc_batches", x.shape[1], st["W0"].shape[1]))
    E, sz = x.shape[0], sizes.to(dev, torch.float64)
    for _ in range(steps):
        xb, yb = x, y
        if cfg.sc_batch is not None:
            u = torch.rand(E, cfg.sc_batch, generator=gen, dtype=torch.float64).to(dev)
            idx = (u * sz[:, None]).long()
            xb = torch.gather(x, 1, idx[..., None].expand(-1, -1, x.shape[2]))
            yb = torch.gather(y, 1, idx[..., None].expand(-1, -1, y.shape[2]))
        _, *g = grads(st["W0"], st["b0"], st["W1"], st["b1"], xb, yb)
        for key, gk in zip(("W0", "b0", "W1", "b1"), g):
            st[key].sub_(gk, alpha=cfg.sc_lr)
    mask = (torch.arange(x.shape[1], device=dev)[None, :] < sizes.to(dev)[:, None])[..., None]
    h = torch.baddbmm(st["b0"][:, None, :], x, st["W0"].transpose(1, 2)).relu_()
    r = torch.baddbmm(st["b1"][:, None, :], h, st["W1"].transpose(1, 2)).sub_(y).mul_(mask)
    return r.square().sum((1, 2)) / (2 * sizes.to(dev))


def _students(cfg: Config, multi: int, copies: int, dev: torch.device) -> Params:
    """Students of width ``multi * sc_m``, ``copies * S`` members (seed ``s`` starts from the same
    student for both kinds of data and every ``N``: member ``i * S + s``); biases 0, as the
    official code."""
    n = multi * cfg.sc_m
    p = DeepReLUMLP((cfg.sc_d, n, cfg.sc_c), bias=True, init_scale=cfg.student_scale).init(
        cfg.sc_seeds, seed=derive_seed(cfg.seed, "sc_student", multi), device="cpu", dtype=torch.float32)
    st = {k: p[k].repeat(copies, 1, 1).to(dev) for k in ("W0", "W1")}
    st["b0"] = torch.zeros(copies * cfg.sc_seeds, n, device=dev)
    st["b1"] = torch.zeros(copies * cfg.sc_seeds, cfg.sc_c, device=dev)
    return st


def sample_flops(cfg: Config) -> float:
    """Floating-point operations of :func:`run_samples` (matmuls only), for the time estimate."""
    steps = math.ceil(round(cfg.sc_flow_time / cfg.sc_lr, 6))
    rows = sum(cfg.sc_ns) if cfg.sc_batch is None else cfg.sc_batch * len(cfg.sc_ns)
    return 6.0 * 2 * cfg.sc_seeds * steps * rows * sum(cfg.sc_multis) * cfg.sc_m * (cfg.sc_d + cfg.sc_c)


def _groups(cfg: Config) -> list[list[int]]:
    """Indices into ``sc_ns`` trained as one ensemble: one ``N`` each for full-batch GD; all of them
    together for SGD (each member draws its minibatches from its own ``N`` samples)."""
    return [[k] for k in range(len(cfg.sc_ns))] if cfg.sc_batch is None else [list(range(len(cfg.sc_ns)))]


def _group_data(cfg: Config, tp64: Params, ks: list[int], model: DeepReLUMLP, dev: torch.device):
    """Padded inputs ``(E, N_max, d)``, teacher outputs, and sizes ``(E,)`` of the members of the
    sizes ``ks`` (member order: size, kind, seed)."""
    S, n_max = cfg.sc_seeds, max(cfg.sc_ns[k] for k in ks)
    xs, sizes = [], []
    for k in ks:
        n = cfg.sc_ns[k]
        xs.append(torch.nn.functional.pad(_inputs(cfg, tp64, n), (0, 0, 0, n_max - n)))
        sizes += [n] * (2 * S)
    x = torch.cat(xs).to(dev)
    tp = {key: v.repeat(2 * len(ks), *([1] * (v.ndim - 1))).to(dev, torch.float32) for key, v in tp64.items()}
    return x, model.forward(tp, x).reshape(x.shape[0], n_max, cfg.sc_c), torch.tensor(sizes)


def run_samples(cfg: Config, dev: torch.device) -> SampleSweep:
    """Train students of every ``sc_multis`` width on ``N`` plain and ``N`` augmented samples for every
    ``N`` in ``sc_ns`` (ensembles as :func:`_groups`); recovery on a plain Gaussian evaluation set of
    ``n_eval`` samples, at the end of training."""
    from .run import MAX_LOSS, activation_correlation

    tp64, model, S = sample_teacher(cfg), DeepReLUMLP((cfg.sc_d, cfg.sc_m, cfg.sc_c), bias=True), cfg.sc_seeds
    M, K = len(cfg.sc_multis), len(cfg.sc_ns)
    xe = _data.gaussian_inputs(cfg.n_eval, cfg.sc_d, std=cfg.data_std, seed=derive_seed(cfg.seed, "sc_eval"), members=S)
    best = torch.zeros(M, K, 2, S, cfg.sc_m, dtype=torch.float64)
    loss = torch.zeros(M, K, 2, S, dtype=torch.float64)
    with torch.no_grad():
        for ks in _groups(cfg):
            x, y, sizes = _group_data(cfg, tp64, ks, model, dev)
            copies = 2 * len(ks)
            xe_g = xe.repeat(copies, 1, 1).to(dev)
            hte = model.activations({k: v.repeat(copies, *([1] * (v.ndim - 1))).to(dev, torch.float32) for k, v in tp64.items()}, xe_g)[0]
            for i, multi in enumerate(cfg.sc_multis):
                st = _students(cfg, multi, copies, dev)
                loss[i, ks] = _train(cfg, st, x, y, sizes, dev).double().cpu().reshape(len(ks), 2, S)
                hs = torch.baddbmm(st["b0"][:, None, :], xe_g, st["W0"].transpose(1, 2)).relu_()
                best[i, ks] = activation_correlation(hte, hs).amax(-1).double().cpu().reshape(len(ks), 2, S, cfg.sc_m)
    diverged = ~torch.isfinite(loss) | (loss > MAX_LOSS) | ~torch.isfinite(best).all(-1)
    return SampleSweep(ns=tuple(cfg.sc_ns), multis=tuple(cfg.sc_multis), best_corr=best, train_loss=loss, diverged=diverged)
