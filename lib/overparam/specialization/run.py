"""Chapter 2's computation: the teacher, the correlation measure and :func:`run` (compute only).

Everything is batched: one training loop (:func:`grads`' update, written out) for every width and
every (decay, seed) pair on the ensemble axis (decay-major: member ``i * seeds + s`` has decay ``decays[i]`` and seed
``s``). Seed ``s`` fixes the teacher's grid draw, the training / evaluation inputs and the student's
initialization; the decay only rescales the teacher's fan-out. So the comparisons between widths and
between decays are paired (same seed: same teacher directions, same data, same student start).
"""

from __future__ import annotations

import itertools
import math
import sys

from dataclasses import dataclass

import numpy as np
import torch

from .. import data as _data
from .. import train as _train
from ..chapter import Timer, announce, derive_seed, require_config
from ..device import cpu_generator, resolve_device
from ..models import DeepReLUMLP
from .config import WEIGHT_CHOICES, Config
from .deep import DeepSweep, deep_flops, run_deep
from .samples import SampleSweep, run_samples, sample_flops

__all__ = [
    "Result", "Sweep", "Width", "run", "estimate_seconds", "grads", "MAX_LOSS", "make_teacher", "separate_vectors",
    "activation_correlation", "SampleSweep", "DeepSweep",
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


def make_teacher(cfg: Config, seed: int | None = None) -> Params:
    """Teacher parameters for :class:`~overparam.models.DeepReLUMLP` ``(d, m, c)``, one per member
    (``E = len(decays) * seeds``, decay-major).

    Per seed: ``W0 (m, d)`` unit-norm rows from the weight grid, ``b0 = bias``; ``W1 (c, m)`` from
    the grid, ``b1 = bias``; the members of decay ``p`` divide column ``j`` of ``W1`` (teacher node
    ``j+1``) by ``(j+1)**p``. Float64, on the CPU.
    """
    S, P = cfg.seeds, len(cfg.decays)
    g = cpu_generator(derive_seed(cfg.seed, "teacher") if seed is None else seed)
    W0 = separate_vectors(S, cfg.m, cfg.d, g)
    W0 = (W0 / W0.norm(dim=-1, keepdim=True)).repeat(P, 1, 1)
    W1 = separate_vectors(S, cfg.c, cfg.m, g).repeat(P, 1, 1)
    j = torch.arange(1, cfg.m + 1, dtype=torch.float64)
    scale = torch.stack([j.pow(-p) for p in cfg.decays]).repeat_interleave(S, 0)  # (E, m)
    W1 = W1 * scale[:, None, :]
    E = P * S
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
    """The students of one over-realization ``multi`` (width ``multi * m``), ``E = len(decays) *
    seeds`` members (decay-major), ``T`` recorded steps (CPU tensors).

    ``train_loss (T, E)`` (the loss ``(1/2N) sum_i ||f(x_i) - f*(x_i)||^2`` on the training set); ``eval_loss (T, E)`` (mean squared error per
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
    """The sweep over decays and over-realization: one teacher per (decay, seed), students of every
    width in ``widths``.

    ``steps (T,)``: the recorded steps; ``flow (T,)``: their gradient-flow times ``lr * step``;
    ``early_index``: index into ``steps`` of the "early" step; ``decays``: the decays (member
    ``i * seeds + s`` has ``decays[i]``); ``seeds``; ``teacher``: the teachers' parameters
    (``W0 (E, m, d)``, ``b0``, ``W1 (E, c, m)``, ``b1``); ``teacher_fanout (E, m)``; ``widths``: one
    :class:`Width` per ``multi``, in ``cfg.multis`` order.
    """

    steps: torch.Tensor
    flow: torch.Tensor
    early_index: int
    decays: tuple[float, ...]
    seeds: int
    teacher: Params
    teacher_fanout: torch.Tensor
    widths: tuple[Width, ...]

    def members(self, decay: float) -> slice:
        """The ensemble members of ``decay`` (a slice of the member axis)."""
        if decay not in self.decays:
            raise ValueError(f"decay must be one of {list(self.decays)}; got {decay!r}")
        i = self.decays.index(decay)
        return slice(i * self.seeds, (i + 1) * self.seeds)

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
    """What :func:`run` returns: ``config``, ``device``, ``seconds`` (per part and ``"total"``),
    the over-realization ``sweep``, the sample-complexity sweep ``samples``
    (:class:`~.samples.SampleSweep`) and the multi-layer experiment ``deep``
    (:class:`~.deep.DeepSweep`)."""

    config: Config
    device: str
    seconds: dict[str, float]
    sweep: Sweep
    samples: SampleSweep
    deep: DeepSweep


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
    lin = np.linspace(0, cfg.steps, max(2, cfg.records // 2)).round().astype(int).tolist()
    log = _train.log_steps(cfg.steps, max(2, cfg.records - cfg.records // 2))
    return sorted({*lin, *log, cfg.early_step, cfg.steps})


def estimate_seconds(cfg: Config, device: str = "cpu") -> float:
    """A rough wall-time estimate: FLOPs of the matmuls at ~5 GFLOP/s (one CPU thread, as measured
    for ``smoke`` and ``book`` on the 2 shared cores that build the book) or ~5 TFLOP/s (GPU), plus a
    per-step overhead (0.3 ms per width on a CPU; on a GPU, where small steps are launch-bound, 2 ms
    per step of the main sweep and 0.5 ms per step of the other two parts: an estimate, not a
    measurement)."""
    batch = cfg.n_train if cfg.batch_size is None else cfg.batch_size
    flops = 6.0 * cfg.members * cfg.steps * batch * sum(cfg.widths) * (cfg.d + cfg.c) + sample_flops(cfg) + deep_flops(cfg)
    sc_steps = math.ceil(round(cfg.sc_flow_time / cfg.sc_lr, 6)) * len(cfg.sc_multis)
    sc_steps *= len(cfg.sc_ns) if cfg.sc_batch is None else 1
    deep_steps = cfg.deep_epochs * math.ceil(cfg.deep_n / cfg.deep_batch) * len(cfg.deep_multis)
    if str(device) == "cpu":
        return float(flops / 5e9 + 3e-4 * (cfg.steps * len(cfg.multis) + sc_steps + 3 * deep_steps))
    return float(flops / 5e12 + 2e-3 * cfg.steps + 5e-4 * (sc_steps + deep_steps))


def _problem(cfg: Config, dev: torch.device) -> _Problem:
    """Draw the teachers and the training / evaluation inputs (per seed, shared by every decay), and
    label them."""
    S, P, dtype = cfg.seeds, len(cfg.decays), torch.float32
    teacher_model = DeepReLUMLP((cfg.d, cfg.m, cfg.c), bias=True)
    tp = {k: v.to(dev, dtype) for k, v in make_teacher(cfg).items()}
    x = _data.gaussian_inputs(cfg.n_train, cfg.d, std=cfg.data_std, seed=derive_seed(cfg.seed, "train_inputs"), members=S)
    xe = _data.gaussian_inputs(cfg.n_eval, cfg.d, std=cfg.data_std, seed=derive_seed(cfg.seed, "eval_inputs"), members=S)
    x, xe = x.repeat(P, 1, 1).to(dev, dtype), xe.repeat(P, 1, 1).to(dev, dtype)
    with torch.no_grad():
        y, ye = teacher_model.forward(tp, x), teacher_model.forward(tp, xe)
        ht, hte = teacher_model.activations(tp, x)[0], teacher_model.activations(tp, xe)[0]
    if cfg.c == 1:
        y, ye = y[..., None], ye[..., None]
    return _Problem(tp, x, xe, y, ye, ht, hte)


#: SGD: minibatch indices are drawn for this many steps at once (one host-to-device copy per chunk).
_CHUNK = 500

#: A member whose training loss exceeds this (or is not finite) at a recorded step has diverged.
MAX_LOSS = 1e8


def grads(W0, b0, W1, b1, x, y):
    """Loss and gradients of one two-layer student block, hand-written (the official script's update):
    ``L = (1/2N) sum_i ||W1 relu(W0 x_i + b0) + b1 - y_i||^2`` per member.

    ``W0 (E, n, d)``, ``b0 (E, n)``, ``W1 (E, c, n)``, ``b1 (E, c)``, ``x (E, N, d)``, ``y (E, N, c)``
    -> ``(L (E,), dW0, db0, dW1, db1)``. Checked against autograd in the tests.
    """
    N = x.shape[1]
    h = torch.baddbmm(b0[:, None, :], x, W0.transpose(1, 2)).relu_()
    r = torch.baddbmm(b1[:, None, :], h, W1.transpose(1, 2)).sub_(y)
    loss = r.square().sum((1, 2)) / (2 * N)
    r.div_(N)
    dW1, db1 = torch.bmm(r.transpose(1, 2), h), r.sum(1)
    dh = torch.bmm(r, W1).mul_(h > 0)
    return loss, torch.bmm(dh.transpose(1, 2), x), dh.sum(1), dW1, db1


class _Students:
    """All widths' students, all (decay, seed) members, trained together by plain (S)GD.

    The widths share one first-layer GEMM per step (their hidden units concatenated, ``(E, sum n, d)``);
    each width has its own output layer and residual, so the students are independent. Seed ``s``
    starts from the same student (per width) at every decay.
    """

    def __init__(self, cfg: Config, dev: torch.device):
        self.cfg, E, P = cfg, cfg.members, len(cfg.decays)
        sizes = list(cfg.widths)
        self.sl = [slice(o, o + n) for o, n in zip(np.cumsum([0, *sizes[:-1]]).tolist(), sizes)]
        W0s, self.W1s = [], []
        for multi, n in zip(cfg.multis, sizes):
            p = DeepReLUMLP((cfg.d, n, cfg.c), bias=True, init_scale=cfg.student_scale).init(
                cfg.seeds, seed=derive_seed(cfg.seed, "student_init", multi), device="cpu", dtype=torch.float32)
            W0s.append(p["W0"].repeat(P, 1, 1))
            self.W1s.append(p["W1"].repeat(P, 1, 1).to(dev))
        self.W0 = torch.cat(W0s, 1).to(dev)
        self.b0 = torch.zeros(E, sum(sizes), device=dev, dtype=torch.float32)
        self.b1 = [torch.zeros(E, cfg.c, device=dev, dtype=torch.float32) for _ in cfg.multis]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden activations ``(E, n, sum of widths)``."""
        return torch.baddbmm(self.b0[:, None, :], x, self.W0.transpose(1, 2)).relu_()

    def output(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """Width ``k``'s outputs ``(E, n, c)`` from the hidden activations ``h``."""
        return torch.baddbmm(self.b1[k][:, None, :], h[..., self.sl[k]], self.W1s[k].transpose(1, 2))

    def step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """One GD step of every student on ``(x, y)`` (mean squared error over the batch)."""
        lr, h = self.cfg.lr, self.forward(x)
        dh = torch.empty_like(h)
        for k, sl in enumerate(self.sl):
            r = self.output(k, h).sub_(y).div_(x.shape[1])
            dh[..., sl] = torch.bmm(r, self.W1s[k])
            self.W1s[k].sub_(torch.bmm(r.transpose(1, 2), h[..., sl]), alpha=lr)
            self.b1[k].sub_(r.sum(1), alpha=lr)
        dh.mul_(h > 0)
        self.W0.sub_(torch.bmm(dh.transpose(1, 2), x), alpha=lr)
        self.b0.sub_(dh.sum(1), alpha=lr)


class _Records:
    """Training loss, evaluation loss and teacher correlations of every width at the recorded steps;
    a member whose training loss is not finite or exceeds :data:`MAX_LOSS` is flagged as diverged."""

    def __init__(self, K: int, E: int, dev: torch.device):
        self.diverged = torch.zeros(K, E, dtype=torch.bool, device=dev)
        self.train_loss, self.eval_loss, self.corr = ([[] for _ in range(K)] for _ in range(3))

    def observe(self, st: _Students, pb: _Problem, n_train: int) -> None:
        h, he = st.forward(pb.x), st.forward(pb.xe)
        for k, sl in enumerate(st.sl):
            tl = (st.output(k, h) - pb.y).square().sum((1, 2)) / (2 * n_train)
            self.diverged[k] |= ~torch.isfinite(tl) | (tl > MAX_LOSS)
            self.train_loss[k].append(tl)
            self.eval_loss[k].append((st.output(k, he) - pb.ye).square().mean((1, 2)))
            self.corr[k].append(activation_correlation(pb.hte, he[..., sl]))


def _batches(cfg: Config, pb: _Problem, dev: torch.device):
    """``(x, y)`` for every step: the full training set, or per-member minibatches whose indices are
    drawn on the CPU (the same on every device) and moved in chunks of steps."""
    if cfg.batch_size is None:
        while True:
            yield pb.x, pb.y
    gen = cpu_generator(derive_seed(cfg.seed, "sgd_batches"))
    for t in itertools.count():
        if t % _CHUNK == 0:
            chunk = torch.randint(0, cfg.n_train, (_CHUNK, cfg.members, cfg.batch_size), generator=gen).to(dev)
        idx = chunk[t % _CHUNK]
        yield (torch.gather(pb.x, 1, idx[..., None].expand(-1, -1, cfg.d)),
               torch.gather(pb.y, 1, idx[..., None].expand(-1, -1, cfg.c)))


def _train_all(cfg: Config, pb: _Problem, record: list[int], dev: torch.device, progress: bool) -> tuple[Width, ...]:
    """Train the students of every width, all (decay, seed) members, with (S)GD in one loop
    (:class:`_Students`); divergence is checked at the recorded steps and flagged members are
    excluded from every statistic."""
    st, recs, rec = _Students(cfg, dev), _Records(len(cfg.multis), cfg.members, dev), set(record)
    it = range(cfg.steps + 1)
    if progress:
        from tqdm.std import tqdm

        it = tqdm(it, desc=f"widths {list(cfg.widths)} x {cfg.members} members", file=sys.stderr, mininterval=1.0)
    batches = _batches(cfg, pb, dev)
    with torch.no_grad():
        for t in it:
            if t in rec:
                recs.observe(st, pb, cfg.n_train)
            if t == cfg.steps:
                break
            st.step(*next(batches))
        h = st.forward(pb.x)
    return tuple(_width(cfg, st, recs, pb, h, k, progress) for k in range(len(cfg.multis)))


def _width(cfg: Config, st: _Students, recs: _Records, pb: _Problem, h: torch.Tensor, k: int, progress: bool) -> Width:
    """Width ``k``'s :class:`Width` (CPU tensors) after training."""
    multi, n, sl = cfg.multis[k], cfg.widths[k], st.sl[k]
    div = recs.diverged[k].cpu()
    if progress and bool(div.any()):
        print(f"multi={multi}: {int(div.sum())} of {cfg.members} members diverged and are excluded")
    params = {"W0": st.W0[:, sl], "b0": st.b0[:, sl], "W1": st.W1s[k], "b1": st.b1[k]}
    return Width(
        multi=multi, width=n, train_loss=torch.stack(recs.train_loss[k]).cpu(),
        eval_loss=torch.stack(recs.eval_loss[k]).cpu(), corr=torch.stack(recs.corr[k]).cpu(),
        best_corr=activation_correlation(pb.ht, h[..., sl]).amax(1).cpu(),
        fanout=st.W1s[k].norm(dim=1).cpu(), params={key: v.detach().cpu().clone() for key, v in params.items()},
        diverged=div.clone(),
    )


def run(cfg: Config, *, device: str = "auto", progress: bool = True) -> Result:
    """Train students of every width in ``cfg.multis`` on per-(decay, seed) teachers; returns a
    :class:`Result`.

    One :func:`overparam.train.train` call per multi, ``len(decays) * seeds`` members each (member
    ``e``: its own teacher, training/evaluation inputs ``(E, N, d)`` and student). Diverging members are frozen
    and flagged in ``Width.diverged``; every statistic excludes them.
    """
    require_config(cfg, Config, "specialization")
    dev = resolve_device(device)
    announce("specialization", estimate_seconds(cfg, dev.type), dev, progress)
    timer = Timer("specialization", progress)
    with timer("setup"):
        pb = _problem(cfg, dev)
        record = _record_steps(cfg)
    with timer("train"):
        widths = _train_all(cfg, pb, record, dev, progress)
    with timer("samples"):
        samples = run_samples(cfg, dev)
    with timer("deep"):
        deep = run_deep(cfg, dev)
    steps = torch.tensor(record, dtype=torch.long)
    sweep = Sweep(
        steps=steps, flow=steps.double() * cfg.lr, early_index=int(torch.argmin((steps - cfg.early_step).abs())),
        decays=tuple(cfg.decays), seeds=cfg.seeds, teacher={k: v.cpu() for k, v in pb.teacher.items()}, teacher_fanout=pb.teacher["W1"].norm(dim=1).cpu(),
        widths=widths,
    )
    return Result(config=cfg, device=str(dev), seconds=timer.total(), sweep=sweep, samples=samples, deep=deep)
