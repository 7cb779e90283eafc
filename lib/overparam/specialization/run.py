"""Chapter 2's computation: the teacher, the correlation measure and :func:`run` (compute only).

Everything is batched: one :func:`overparam.train.train` call per ``multi``, seeds on the ensemble
axis (member ``e`` has its own teacher, data and student; teachers and data are shared across
``multi``, so the comparison between widths is paired).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import data as _data
from .. import train as _train
from .._validate import check_int
from ..chapter import Timer, announce, derive_seed, require_config
from ..device import cpu_generator, resolve_device
from ..models import DeepReLUMLP
from .config import WEIGHT_CHOICES, Config

__all__ = [
    "Result", "Sweep", "Width", "run", "estimate_seconds", "make_teacher", "separate_vectors",
    "activation_correlation",
]

Params = dict[str, torch.Tensor]


# ------------------------------------------------------------------------------------------------
# Teacher, correlation measure
# ------------------------------------------------------------------------------------------------


def _bad_rows(idx: torch.Tensor, zero: int) -> list[int]:
    """Rows of ``idx (rows, cols)`` that repeat an earlier row or are all ``zero``."""
    seen, bad = set(), []
    for r in range(idx.shape[0]):
        key = tuple(idx[r].tolist())
        if key in seen or all(k == zero for k in key):
            bad.append(r)
        seen.add(key)
    return bad


def separate_vectors(members: int, rows: int, cols: int, generator: torch.Generator) -> torch.Tensor:
    """``(members, rows, cols)``: per member, ``rows`` distinct nonzero vectors with entries from
    :data:`WEIGHT_CHOICES` (the official code's ``init_separate_w``), drawn uniformly at random."""
    choices = torch.tensor(WEIGHT_CHOICES, dtype=torch.float64)
    idx = torch.randint(0, len(WEIGHT_CHOICES), (members, rows, cols), generator=generator)
    zero = len(WEIGHT_CHOICES) // 2
    for e in range(members):  # redraw the (rare) duplicate or all-zero rows; generation, not training
        while bad := _bad_rows(idx[e], zero):
            idx[e, bad] = torch.randint(0, len(WEIGHT_CHOICES), (len(bad), cols), generator=generator)
    return choices[idx]


def make_teacher(cfg: Config, members: int | None = None, seed: int | None = None) -> Params:
    """Teacher parameters for :class:`~overparam.models.DeepReLUMLP` ``(d, m, c)``, one per member.

    ``W0 (E, m, d)`` unit-norm rows from the weight grid, ``b0 (E, m) = bias``; ``W1 (E, c, m)``
    from the grid with column ``j`` (teacher node ``j+1``) divided by ``(j+1)**decay``,
    ``b1 (E, c) = bias``. Float64, on the CPU.
    """
    E = cfg.seeds if members is None else check_int("members", members, 1)
    g = cpu_generator(derive_seed(cfg.seed, "teacher") if seed is None else seed)
    W0 = separate_vectors(E, cfg.m, cfg.d, g)
    W0 = W0 / W0.norm(dim=-1, keepdim=True)
    W1 = separate_vectors(E, cfg.c, cfg.m, g)
    W1 = W1 / torch.arange(1, cfg.m + 1, dtype=torch.float64).pow(cfg.decay)
    return {
        "W0": W0,
        "b0": torch.full((E, cfg.m), cfg.bias, dtype=torch.float64),
        "W1": W1,
        "b1": torch.full((E, cfg.c), cfg.bias, dtype=torch.float64),
    }


def activation_correlation(h_teacher: torch.Tensor, h_student: torch.Tensor) -> torch.Tensor:
    """Pearson correlation over samples between teacher and student activations.

    ``h_teacher (E, N, m)``, ``h_student (E, N, n)`` -> ``(E, m, n)``. Mean-centred, with the
    official code's ``1e-10`` in the inverse norms, so a dead node (constant activation) has
    correlation 0 (``utils_corrs.act2corrMat``).
    """
    t = h_teacher - h_teacher.mean(1, keepdim=True)
    s = h_student - h_student.mean(1, keepdim=True)
    inner = t.transpose(1, 2) @ s
    return inner * t.square().sum(1).add(1e-10).rsqrt()[:, :, None] * s.square().sum(1).add(1e-10).rsqrt()[:, None, :]


# ------------------------------------------------------------------------------------------------
# The result
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Width:
    """The students of one over-realization ``multi`` (width ``multi * m``), ``E`` seeds, ``T``
    recorded steps (CPU tensors).

    ``train_loss (T, E)`` (the trainer's ``mse``); ``eval_loss (T, E)`` (mean squared error per
    output on the evaluation set, as the official code); ``corr (T, E, m, n)`` teacher-student
    correlations on the evaluation set; ``best_corr (E, n)`` each student node's best correlation
    with a teacher node on the training set at the end; ``fanout (E, n)`` the norm of each student
    node's fan-out weights at the end; ``params``: the final students
    (:class:`~overparam.models.DeepReLUMLP` dict, ``W0 (E, n, d)``, ``b0 (E, n)``, ``W1 (E, c, n)``,
    ``b1 (E, c)``); ``diverged (E,)``: members that diverged (frozen, excluded from every statistic).
    """

    multi: int
    width: int
    train_loss: torch.Tensor
    eval_loss: torch.Tensor
    corr: torch.Tensor
    best_corr: torch.Tensor
    fanout: torch.Tensor
    params: Params
    diverged: torch.Tensor


@dataclass(frozen=True)
class Sweep:
    """The over-realization sweep: one teacher per seed, students of every width in ``widths``.

    ``steps (T,)``: the recorded steps; ``early_index``: index into ``steps`` of the "early" step;
    ``teacher``: the teachers' parameters (``W0 (E, m, d)``, ``b0``, ``W1 (E, c, m)``, ``b1``);
    ``teacher_fanout (E, m)``; ``widths``: one :class:`Width` per ``multi``, in ``cfg.multis`` order.
    """

    steps: torch.Tensor
    early_index: int
    teacher: Params
    teacher_fanout: torch.Tensor
    widths: tuple[Width, ...]

    @property
    def diverged(self) -> torch.Tensor:
        """``(K, E)`` bool over the sweep's runs (``K`` widths, ``E`` seeds)."""
        return torch.stack([w.diverged for w in self.widths])

    def at(self, multi: int) -> Width:
        """The :class:`Width` of over-realization ``multi``."""
        for w in self.widths:
            if w.multi == multi:
                return w
        raise ValueError(f"multi must be one of {[w.multi for w in self.widths]}; got {multi!r}")

    def index(self, step: int) -> int:
        """Index into ``steps`` of the recorded step closest to ``step``."""
        return int(torch.argmin((self.steps - int(step)).abs()))


@dataclass(frozen=True)
class Result:
    """What :func:`run` returns: ``config``, ``device``, ``seconds`` (per width and ``"total"``)
    and the over-realization ``sweep``."""

    config: Config
    device: str
    seconds: dict[str, float]
    sweep: Sweep


# ------------------------------------------------------------------------------------------------
# The experiment
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    """Per-seed teacher and data on the run's device: inputs ``x (E, N, d)``, ``xe`` (evaluation),
    teacher outputs ``y``, ``ye`` (``(E, N, c)``) and hidden activations ``ht``, ``hte``."""

    teacher: Params
    x: torch.Tensor
    xe: torch.Tensor
    y: torch.Tensor
    ye: torch.Tensor
    ht: torch.Tensor
    hte: torch.Tensor


def _record_steps(cfg: Config) -> list[int]:
    lin = np.linspace(0, cfg.steps, max(2, cfg.records * 2 // 3)).round().astype(int).tolist()
    log = _train.log_steps(cfg.steps, max(2, cfg.records // 3))
    return sorted({*lin, *log, cfg.early_step, cfg.steps})


def estimate_seconds(cfg: Config, device: str = "cpu") -> float:
    """A rough wall-time estimate: FLOPs of the matmuls at ~15 GFLOP/s (2 CPU cores) or ~5 TFLOP/s
    (GPU), plus a per-step overhead (2 ms CPU, 1 ms GPU per train call)."""
    batch = cfg.n_train if cfg.batch_size is None else cfg.batch_size
    flops = 6.0 * cfg.seeds * cfg.steps * batch * sum(cfg.widths) * (cfg.d + cfg.c)
    rate, overhead = (15e9, 2e-3) if str(device) == "cpu" else (5e12, 1e-3)
    return float(flops / rate + overhead * cfg.steps * len(cfg.multis))


def _problem(cfg: Config, dev: torch.device) -> _Problem:
    """Draw the teachers and the training / evaluation inputs, and label them."""
    E, dtype = cfg.seeds, torch.float32
    teacher_model = DeepReLUMLP((cfg.d, cfg.m, cfg.c), bias=True)
    tp = {k: v.to(dev, dtype) for k, v in make_teacher(cfg).items()}
    x = _data.gaussian_inputs(cfg.n_train, cfg.d, std=cfg.data_std, seed=derive_seed(cfg.seed, "train_inputs"), members=E).to(dev, dtype)
    xe = _data.gaussian_inputs(cfg.n_eval, cfg.d, std=cfg.data_std, seed=derive_seed(cfg.seed, "eval_inputs"), members=E).to(dev, dtype)
    with torch.no_grad():
        y, ye = teacher_model.forward(tp, x), teacher_model.forward(tp, xe)
        ht, hte = teacher_model.activations(tp, x)[0], teacher_model.activations(tp, xe)[0]
    if cfg.c == 1:
        y, ye = y[..., None], ye[..., None]
    return _Problem(tp, x, xe, y, ye, ht, hte)


def _train_width(cfg: Config, pb: _Problem, k: int, record: list[int], dev: torch.device, progress: bool) -> Width:
    """Train the ``cfg.seeds`` students of over-realization ``cfg.multis[k]`` (one batched call)."""
    multi, E = cfg.multis[k], cfg.seeds
    n = multi * cfg.m
    model = DeepReLUMLP((cfg.d, n, cfg.c), bias=True, init_scale=cfg.student_scale)
    params = model.init(E, seed=derive_seed(cfg.seed, "student_init", multi), device=dev, dtype=torch.float32)
    params["b0"].zero_()
    params["b1"].zero_()

    def eval_loss(p):
        o = model.forward(p, pb.xe)
        return ((o[..., None] if cfg.c == 1 else o) - pb.ye).square().mean((1, 2))

    metrics = {"eval_loss": eval_loss, "corr": lambda p: activation_correlation(pb.hte, model.activations(p, pb.xe)[0])}
    res = _train.train(
        model, params, pb.x, pb.y if cfg.c > 1 else pb.y[..., 0], steps=cfg.steps, lr=cfg.lr, loss="mse",
        batch_size=cfg.batch_size, record_steps=record, metrics=metrics, on_divergence="mask",
        seed=derive_seed(cfg.seed, "sgd_batches", multi), progress=progress, desc=f"multi={multi} (width {n}) x{E} seeds",
    )
    with torch.no_grad():
        best = activation_correlation(pb.ht, model.activations(res.params, pb.x)[0]).amax(1)
    if progress and bool(res.diverged.any()):
        print(f"multi={multi}: {int(res.diverged.sum())} of {E} members diverged and are excluded")
    return Width(
        multi=multi, width=n, train_loss=res.loss, eval_loss=res.metrics["eval_loss"], corr=res.metrics["corr"],
        best_corr=best.cpu(), fanout=res.params["W1"].norm(dim=1).cpu(),
        params={k: v.detach().cpu() for k, v in res.params.items()}, diverged=res.diverged.clone(),
    )


def run(cfg: Config, *, device: str = "auto", progress: bool = True) -> Result:
    """Train students of every width in ``cfg.multis`` on per-seed teachers; returns a :class:`Result`.

    One :func:`overparam.train.train` call per multi, ``cfg.seeds`` members each (member ``e``: its
    own teacher, training/evaluation inputs ``(E, N, d)`` and student). Diverging members are frozen
    and flagged in ``Width.diverged``; every statistic excludes them.
    """
    require_config(cfg, Config, "specialization")
    dev = resolve_device(device)
    announce("specialization", estimate_seconds(cfg, dev.type), dev, progress)
    timer = Timer("specialization", progress)
    with timer("setup"):
        pb = _problem(cfg, dev)
        record = _record_steps(cfg)
    widths = []
    for k, multi in enumerate(cfg.multis):
        with timer(f"{multi}x"):
            widths.append(_train_width(cfg, pb, k, record, dev, progress))
    steps = torch.tensor(record, dtype=torch.long)
    sweep = Sweep(
        steps=steps, early_index=int(torch.argmin((steps - cfg.early_step).abs())),
        teacher={k: v.cpu() for k, v in pb.teacher.items()}, teacher_fanout=pb.teacher["W1"].norm(dim=1).cpu(),
        widths=tuple(widths),
    )
    return Result(config=cfg, device=str(dev), seconds=timer.total(), sweep=sweep)
