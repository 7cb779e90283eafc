"""One trainer for every chapter: full-batch GD or minibatch SGD over a whole ensemble at once.

All ``E`` members take their step in the same batched computation (``bmm``/``einsum`` over the
leading member axis); nothing in the step loop moves data to the host except at the recorded
steps. A model may provide a hand-written ``loss_and_grads(params, x, y, loss)`` fast path (see
:class:`overparam.models.TwoLayerReLU`); autograd is the reference it is tested against and the
fallback for every other model.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.std import tqdm

from ._validate import _short, check_bool, check_choice, check_float, check_int, check_pm1, check_tensor
from .device import check_memory

__all__ = ["LOSSES", "loss_per_member", "loss_and_grads", "train", "TrainResult", "DivergenceError", "log_steps"]

Params = dict[str, torch.Tensor]

#: The most steps :func:`train` accepts (more is a typo, not an experiment: 1e9 steps of the
#: smallest model take days).
MAX_STEPS = 10**9

#: Losses, each averaged (or summed) over samples per member:
#: ``mse`` = mean_i 1/2 ||f(x_i) - y_i||^2; ``sse`` = sum_i 1/2 ||f(x_i) - y_i||^2 (Arora et al. 2019);
#: ``hinge`` = mean_i max(0, 1 - y_i f(x_i)) (Brutzkus & Globerson 2019); ``logistic`` = mean_i log(1 + e^{-y_i f(x_i)}).
LOSSES = ("mse", "sse", "hinge", "logistic")


def loss_per_member(out: torch.Tensor, y: torch.Tensor, loss: str = "mse") -> torch.Tensor:
    """Per-member loss, shape ``(E,)``, for outputs ``(E, n[, c])`` and targets ``(n[, c])`` or ``(E, n[, c])``."""
    if loss in ("mse", "sse"):
        sq = 0.5 * (out - y).square()
        if out.ndim == 3:
            sq = sq.sum(-1)
        return sq.mean(-1) if loss == "mse" else sq.sum(-1)
    if loss == "hinge":
        return torch.relu(1 - y * out).mean(-1)
    if loss == "logistic":
        return torch.nn.functional.softplus(-y * out).mean(-1)
    raise ValueError(f"loss must be one of {list(LOSSES)}; got {loss!r}")


def loss_and_grads(model, params: Params, x: torch.Tensor, y: torch.Tensor, loss: str = "mse", *, fast: bool = True):
    """``(loss (E,), {name: grad (E, ...)})`` of the per-member ``loss`` over the model's trainable
    parameters: the model's hand-written ``loss_and_grads`` when it has one for this loss (and
    ``fast``), else autograd (the reference the fast path is tested against). ``params`` unchanged.
    """
    fast_fn = getattr(model, "loss_and_grads", None) if fast else None
    if fast_fn is not None:
        got = fast_fn(params, x, y, loss)
        if got is not None:
            return got
    trainable = list(model.trainable)
    leaves = {k: params[k].detach().requires_grad_(True) for k in trainable}
    with torch.enable_grad():
        lv = loss_per_member(model.forward({**params, **leaves}, x), y, loss)
        grads = torch.autograd.grad(lv.sum(), [leaves[k] for k in trainable])
    return lv.detach(), dict(zip(trainable, grads))


def log_steps(steps: int, num: int = 60) -> list[int]:
    """About ``num`` distinct steps from 0 to ``steps``, log-spaced (always includes 0 and ``steps``)."""
    steps, num = check_int("steps", steps, 0), check_int("num", num, 2)
    grid = np.unique(np.round(np.logspace(0, np.log10(max(steps, 1)), num)).astype(int))
    return sorted({0, steps, *[int(s) for s in grid if s <= steps]})


class DivergenceError(RuntimeError):
    """Raised when members' losses become non-finite or exceed ``max_loss``.

    ``members`` lists the diverged members, ``steps`` the step at which each first diverged, and
    ``result`` holds the partial :class:`TrainResult` up to the step that detected it.
    """

    def __init__(self, members: list[int], steps: list[int], result: "TrainResult"):
        self.members, self.steps, self.result = members, steps, result
        pairs = ", ".join(f"member {m} at step {s}" for m, s in list(zip(members, steps))[:10])
        more = f" (and {len(members) - 10} more)" if len(members) > 10 else ""
        super().__init__(
            f"{len(members)} of {result.diverged_at.numel()} members diverged: {pairs}{more}. "
            "Lower the learning rate, or pass on_divergence='mask' to freeze them and keep the rest."
        )


@dataclass
class TrainResult:
    """What :func:`train` returns (all tensors on the CPU except ``params``).

    ``steps (T,)``: the recorded steps; ``loss (T, E)``: full training-set loss at each recorded step
    (before that step's update; the last entry is the final parameters'); ``metrics[name] (T, E, ...)``;
    ``snapshots``: parameter dicts (CPU copies) at ``snapshot_steps``; ``diverged_at (E,)``: the first
    step at which each member diverged, or -1.
    """

    params: Params
    steps: torch.Tensor
    loss: torch.Tensor
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)
    snapshot_steps: list[int] = field(default_factory=list)
    snapshots: list[Params] = field(default_factory=list)
    diverged_at: torch.Tensor | None = None
    last_loss: torch.Tensor | None = None


    @property
    def diverged(self) -> torch.Tensor:
        """``(E,)`` bool: which members diverged."""
        return self.diverged_at >= 0

    @property
    def final_loss(self) -> torch.Tensor:
        """``(E,)``: the training loss of the final parameters (computed at the final step even when
        ``record_steps`` leaves it out; for a run stopped by divergence, the last recorded loss)."""
        if self.last_loss is not None:
            return self.last_loss
        if len(self.loss) == 0:
            raise ValueError("this TrainResult recorded no loss (record_steps was empty and training was stopped)")
        return self.loss[-1]


def _split_data(model, params: Params, x: torch.Tensor, y: torch.Tensor) -> tuple[bool, bool, int]:
    """Validate ``x``/``y`` against the model; return (x per member, y per member, n)."""
    E = next(iter(params.values())).shape[0]
    sample_ndim = model.input_ndim
    feature_shape = getattr(model, "feature_shape", None)
    if feature_shape is not None:
        from .models import check_inputs

        check_inputs(x, E, tuple(feature_shape))
    if x.ndim not in (sample_ndim + 1, sample_ndim + 2):
        raise ValueError(
            f"x must have {sample_ndim + 1} dims (n, ...) shared by all members or {sample_ndim + 2} "
            f"(E, n, ...) per member for {type(model).__name__}; got shape {tuple(x.shape)}"
        )
    x_per = x.ndim == sample_ndim + 2
    if x_per and x.shape[0] != E:
        raise ValueError(f"x has {x.shape[0]} members on its first axis but the parameters have E={E}")
    n = x.shape[1] if x_per else x.shape[0]
    if n == 0 or x.numel() == 0:
        raise ValueError(f"x must hold at least one sample with non-empty features; got shape {tuple(x.shape)}")
    with torch.no_grad():
        probe = {k: v[:1] for k, v in params.items()}
        try:
            out_shape = model.forward(probe, x[:1, :1] if x_per else x[:1]).shape  # (1, 1[, c])
        except ValueError as e:
            raise ValueError(f"{e} (checked on one sample of x, whose full shape is {tuple(x.shape)})") from None
    tail = tuple(out_shape[2:])
    if tuple(y.shape) == (n, *tail):
        return x_per, False, n
    if tuple(y.shape) == (E, n, *tail):
        return x_per, True, n
    raise ValueError(f"y must have shape {(n, *tail)} or {(E, n, *tail)} to match x and the model; got {tuple(y.shape)}")


def _step_list(name: str, steps_arg, steps: int) -> list[int]:
    if isinstance(steps_arg, (str, bytes, dict)) or not isinstance(steps_arg, Iterable) or isinstance(steps_arg, torch.Tensor) and steps_arg.ndim == 0:
        raise ValueError(f"{name} must be a sequence of integers in [0, steps={steps}]; got {_short(steps_arg)}")
    out = []
    for s in steps_arg:
        if isinstance(s, torch.Tensor) and s.ndim == 0 and not s.dtype.is_floating_point and s.dtype != torch.bool:
            s = int(s)
        out.append(check_int(name, s, 0, steps))
    return out


def _check_params(model, params) -> int:
    """``E`` after checking ``params`` (keys, shapes, dtype, finiteness) against ``model``."""
    if hasattr(model, "param_layout"):
        from .models import check_params

        E = check_params(model, params)
    else:  # any other model: a dict of floating (E, ...) tensors holding the trainable names
        if not isinstance(params, dict) or not params:
            raise ValueError(f"params must be a non-empty dict of (E, ...) tensors; got {_short(params)}")
        for k, v in params.items():
            if not isinstance(v, torch.Tensor) or not v.dtype.is_floating_point or v.ndim == 0:
                raise ValueError(f"params[{k!r}] must be a floating tensor with a leading member axis; got {_short(v)}")
        E = next(iter(params.values())).shape[0]
        bad = {k: tuple(v.shape) for k, v in params.items() if v.shape[0] != E}
        if bad:
            raise ValueError(f"every parameter must have the same member count E={E} on its first axis; got {bad}")
        missing = [k for k in model.trainable if k not in params]
        if missing:
            raise ValueError(f"params is missing the trainable parameter(s) {missing} of {type(model).__name__}")
    if E == 0:
        raise ValueError("params must hold at least one member (E >= 1); got E = 0")
    return E


#: Bytes of forward intermediates that one chunk of members may hold when :func:`train` evaluates the
#: full training loss without gradients (the final step; the recorded steps of SGD): a large ensemble
#: is evaluated in member chunks instead of in one forward pass over all members (at E = 1000, width
#: 1000, n = 1000 that pass alone allocated 8 GB and took as long as 10 training steps).
LOSS_CHUNK_BYTES = {"cpu": 16 * 2**20, "cuda": 1 * 2**30}


def _loss_chunk(model, E: int, n: int, sample: tuple[int, ...], elt: int, dev: torch.device) -> int:
    """Members per chunk of the full-loss evaluation (all ``E`` for a model without ``forward_numel``)."""
    if not hasattr(model, "forward_numel"):
        return E
    per_member = model.forward_numel(1, n, sample) * elt
    budget = LOSS_CHUNK_BYTES["cuda" if dev.type == "cuda" else "cpu"]
    return max(1, min(E, budget // max(1, per_member)))


def _fast_covers(model, params: Params, x: torch.Tensor, y: torch.Tensor, loss: str, x_per: bool, y_per: bool) -> bool:
    """Whether the model's hand-written ``loss_and_grads`` takes this case (probed on one member and
    one sample; it declines by returning ``None``). Then no full-batch forward pass is ever held."""
    fn = getattr(model, "loss_and_grads", None)
    if fn is None:
        return False
    probe = {k: v[:1] for k, v in params.items()}
    try:
        return fn(probe, x[:1, :1] if x_per else x[:1], y[:1, :1] if y_per else y[:1], loss) is not None
    except (ValueError, RuntimeError):  # training raises the same error later, with the real shapes
        return False


def _check_train_memory(model, params, x, y, E: int, batch_size, dtype, dev, fast_chunked: bool = False) -> None:
    """Refuse a run whose parameters, data copies and one full-batch forward pass exceed the limit
    (``fast_chunked``: the hand-written gradients and the full loss work in member chunks instead)."""
    n = x.shape[1] if x.ndim == model.input_ndim + 2 else x.shape[0]
    elt = torch.empty((), dtype=dtype).element_size()
    p_numel = sum(v.numel() for v in params.values())  # clone + gradients + update temporaries
    sample = tuple(x.shape[-model.input_ndim :]) if model.input_ndim else ()
    fwd = model.forward_numel(E, n, sample) if hasattr(model, "forward_numel") else 0
    if fast_chunked:  # one loss chunk and the fast path's workspace (about as large) instead
        fwd = model.forward_numel(_loss_chunk(model, E, n, sample, elt, dev), n, sample)
    batch = E * (batch_size or 0) * (int(torch.tensor(sample).prod()) if sample else 1)
    total = elt * (3 * p_numel + x.numel() + y.numel() + 2 * fwd + batch)
    check_memory(total, f"train of {E} members on n={n} samples", "the number of members E, the width, n or batch_size", dev)


@dataclass
class _Args:
    """The checked and normalized arguments of one :func:`train` call."""

    E: int
    steps: int
    lr: float | torch.Tensor
    loss: str
    batch_size: int | None
    record: list[int]
    snaps: list[int]
    metrics: dict[str, Callable[[Params], torch.Tensor]]
    on_divergence: str
    max_loss: float
    seed: int
    x_per: bool
    y_per: bool
    n: int


def _check_scalars(steps, loss, on_divergence, max_loss, seed, progress, fast, desc, metrics, model) -> tuple:
    """The cheap checks of :func:`train`'s scalar arguments, before any tensor is looked at."""
    if steps is not None and isinstance(steps, int) and not isinstance(steps, bool) and steps > MAX_STEPS:
        raise ValueError(f"steps must be an integer in [0, {MAX_STEPS:.0e}] (more would run for days); got {steps!r}: lower steps")
    steps = check_int("steps", steps, 0, MAX_STEPS)
    check_choice("loss", loss, LOSSES)
    check_choice("on_divergence", on_divergence, ("raise", "mask"))
    max_loss = check_float("max_loss", max_loss, 0, None, low_open=True)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    check_bool("progress", progress), check_bool("fast", fast)
    if desc is not None and not isinstance(desc, str):
        raise ValueError(f"desc must be a string or None; got {_short(desc)}")
    if metrics is not None and (not isinstance(metrics, dict) or not all(isinstance(k, str) and callable(f) for k, f in metrics.items())):
        raise ValueError(f"metrics must be a dict {{name: fn(params) -> (E, ...) tensor}} of callables; got {_short(metrics)}")
    if not all(callable(getattr(model, a, None)) for a in ("forward",)) or not hasattr(model, "trainable") or not hasattr(model, "input_ndim"):
        raise ValueError(f"model must be an ensemble model from overparam.models (with forward, trainable, input_ndim); got {_short(model)}")
    return steps, max_loss, seed


def _check_data(model, params: Params, x, y, loss: str, lr, batch_size) -> tuple:
    """Check ``params``, ``x``, ``y``, ``lr`` and ``batch_size``; returns ``(E, lr, batch_size)``."""
    E = _check_params(model, params)
    check_tensor("x", x, min_ndim=1, finite=False)
    check_tensor("y", y, min_ndim=1, finite=False)
    dev, dtype = next(iter(params.values())).device, next(iter(params.values())).dtype
    for name, t in (("x", x), ("y", y)):
        if t.numel() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(f"{name} holds {bad} NaN/inf value(s) of {t.numel()}: the data must be finite (this is not a divergence)")
    if loss in ("hinge", "logistic"):
        check_pm1("y", y, f" for loss={loss!r}")
    if isinstance(lr, torch.Tensor):
        if lr.shape != (E,) or lr.is_complex() or not torch.all(torch.isfinite(lr) & (lr > 0)):
            raise ValueError(f"lr must be a positive float or a positive finite (E={E},) tensor; got shape {tuple(lr.shape)}")
    else:
        lr = check_float("lr", lr, 0, None, low_open=True)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1)
    for k, v in params.items():
        check_tensor(f"params[{k!r}]", v)
    return E, lr, batch_size


class _Loop:
    """The state of one training loop: the parameters (updated in place), the records, and the
    first step at which each member diverged (``-1``: never)."""

    def __init__(self, model, params: Params, x: torch.Tensor, y: torch.Tensor, a: _Args, fast: bool):
        self.model, self.params, self.x, self.y, self.a, self.fast = model, params, x, y, a, fast
        dev = x.device
        self.gen = torch.Generator(device=dev).manual_seed(a.seed) if a.batch_size else None
        self.ar = torch.arange(a.E, device=dev)[:, None]
        self.rec_loss, self.snapshots, self.last = [], [], []
        self.rec_metrics = {k: [] for k in a.metrics}
        self.first_bad = torch.full((a.E,), -1, dtype=torch.long, device=dev)
        self.frozen = torch.zeros(a.E, dtype=torch.bool, device=dev)

    def loss_and_grads(self):
        """The loss and gradients of this step, on the full batch or on one minibatch per member."""
        a, x, y = self.a, self.x, self.y
        if a.batch_size is None:
            xb, yb = x, y
        else:
            idx = torch.randint(0, a.n, (a.E, a.batch_size), generator=self.gen, device=x.device)
            xb = x[self.ar, idx] if a.x_per else x[idx]
            yb = y[self.ar, idx] if a.y_per else y[idx]
        return loss_and_grads(self.model, self.params, xb, yb, a.loss, fast=self.fast)

    def full_loss(self) -> torch.Tensor:
        """The training loss ``(E,)`` on all samples, without gradients: the fast path's chunked
        forward for a :class:`~overparam.models.TwoLayerReLU` (with ``fast``), else ``model.forward``
        in member chunks of about :data:`LOSS_CHUNK_BYTES` of intermediates (one chunk for all but
        large ensembles)."""
        a, x, y = self.a, self.x, self.y
        if self.fast:
            from . import _fastpath
            from .models import TwoLayerReLU

            if isinstance(self.model, TwoLayerReLU):
                with torch.no_grad():
                    lv = _fastpath.two_layer_loss(self.model, self.params, x, y, a.loss)
                if lv is not None:
                    return lv
        sample = tuple(x.shape[-self.model.input_ndim :]) if self.model.input_ndim else ()
        C = _loss_chunk(self.model, a.E, a.n, sample, x.element_size(), x.device)
        with torch.no_grad():
            if C >= a.E:
                return loss_per_member(self.model.forward(self.params, x), y, a.loss)
            out = torch.empty(a.E, dtype=x.dtype, device=x.device)
            for e0 in range(0, a.E, C):
                sl = slice(e0, min(a.E, e0 + C))
                p = {k: v[sl] for k, v in self.params.items()}
                out[sl] = loss_per_member(self.model.forward(p, x[sl] if a.x_per else x), y[sl] if a.y_per else y, a.loss)
            return out

    def mark(self, lv: torch.Tensor, t: int, check_params: bool = False) -> None:
        """Flag the members whose loss ``lv`` is non-finite or above ``max_loss`` at step ``t`` (and,
        with ``check_params``, whose parameters are: a hinge loss can stay 0 with infinite weights)."""
        bad = ~torch.isfinite(lv) | (lv > self.a.max_loss)
        if check_params:
            bad |= self.params_nonfinite()
        fb = self.first_bad
        fb.copy_(torch.where(bad & (fb < 0), torch.full_like(fb, t), fb))

    def params_nonfinite(self) -> torch.Tensor:
        """``(E,)`` bool: the members with a NaN or inf parameter. A NaN or inf makes the sum of a
        member's parameters non-finite, and one sum is ~20x faster than ``isfinite().all()`` over large
        parameters (80 MB at E = 1000, width 1000); only when a sum is non-finite (an overflow of
        finite values is possible) are the entries checked one by one (one host sync)."""
        rows = [v.reshape(len(v), -1) for v in self.params.values()]
        total = rows[0].sum(1)
        for v in rows[1:]:
            total += v.sum(1)
        bad = ~torch.isfinite(total)
        if bool(bad.any()):
            bad = torch.zeros_like(bad)
            for v in rows:
                bad |= ~torch.isfinite(v).all(1)
        return bad

    def record(self, full: torch.Tensor, t: int) -> None:
        """Record the full training loss and the metrics at step ``t``."""
        self.mark(full, t, check_params=True)
        self.rec_loss.append(full.detach().clone())
        with torch.no_grad():
            for k, fn in self.a.metrics.items():
                self.rec_metrics[k].append(fn(self.params).detach().clone())

    def stop_or_freeze(self, bar) -> None:
        """Raise :class:`DivergenceError` (``on_divergence="raise"``) or freeze the diverged members."""
        if bool((self.first_bad >= 0).any()):  # one host sync per check
            if self.a.on_divergence == "raise":
                bar.close()
                bad = torch.nonzero(self.first_bad >= 0).flatten().tolist()
                raise DivergenceError(bad, [int(self.first_bad[m]) for m in bad], self.result())
            self.frozen |= self.first_bad >= 0

    def update(self, grads: Params) -> None:
        """One (S)GD step; frozen members (``on_divergence="mask"``) do not move."""
        a, E = self.a, self.a.E
        with torch.no_grad():
            for k in self.model.trainable:
                g = grads[k]
                if a.on_divergence == "mask":
                    g = torch.where(self.frozen.reshape(E, *([1] * (g.ndim - 1))), torch.zeros_like(g), g)
                if isinstance(a.lr, torch.Tensor):
                    self.params[k].sub_(a.lr.reshape(E, *([1] * (g.ndim - 1))) * g)
                else:
                    self.params[k].add_(g, alpha=-a.lr)  # one kernel, as torch.optim.SGD does

    def run(self, bar) -> None:
        """Steps ``0 .. steps``: record, check for divergence, snapshot, update (``bar`` counts steps)."""
        a = self.a
        record_set, snap_set = set(a.record), set(a.snaps)
        for t in range(a.steps + 1):
            lv, grads = self.loss_and_grads() if t < a.steps else (None, None)
            if t in record_set:
                self.record(lv if (lv is not None and a.batch_size is None) else self.full_loss(), t)
                self.stop_or_freeze(bar)
            if t in snap_set:
                self.snapshots.append({k: v.detach().cpu().clone() for k, v in self.params.items()})
            if t == a.steps:  # the final parameters are always checked, whatever record_steps says
                final = self.rec_loss[-1] if t in record_set else self.full_loss()
                if t not in record_set:
                    self.mark(final, t, check_params=True)
                self.last.append(final.detach().clone())
                self.stop_or_freeze(bar)
                return
            if a.batch_size is None and t not in record_set:  # a recorded step was marked above
                self.mark(lv, t)
                if a.on_divergence == "mask":
                    self.frozen |= self.first_bad >= 0
            self.update(grads)
            bar.update(1)

    def result(self) -> TrainResult:
        T, a = len(self.rec_loss), self.a
        return TrainResult(
            params=self.params,
            steps=torch.tensor(a.record[:T], dtype=torch.long),
            loss=torch.stack(self.rec_loss).cpu() if self.rec_loss else torch.empty(0, a.E),
            metrics={k: torch.stack(v).cpu() for k, v in self.rec_metrics.items() if v},
            snapshot_steps=a.snaps[: len(self.snapshots)],
            snapshots=self.snapshots,
            diverged_at=self.first_bad.cpu(),
            last_loss=self.last[0].cpu() if self.last else None,
        )


def train(
    model,
    params: Params,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    lr: float | torch.Tensor,
    loss: str = "mse",
    batch_size: int | None = None,
    record_steps: Iterable[int] | None = None,
    snapshot_steps: Iterable[int] = (),
    metrics: dict[str, Callable[[Params], torch.Tensor]] | None = None,
    on_divergence: str = "raise",
    max_loss: float = 1e8,
    seed: int = 0,
    progress: bool = True,
    desc: str | None = None,
    fast: bool = True,
) -> TrainResult:
    """Train all ensemble members of ``model`` from ``params`` with (S)GD; returns a :class:`TrainResult`.

    Args:
        model: an ensemble model from :mod:`overparam.models` (or any object with ``forward``,
            ``trainable`` and ``input_ndim``).
        params: ``{name: (E, ...)}``; copied, not modified. Training runs on their device.
        x: ``(n, ...)`` shared by all members, or ``(E, n, ...)`` one data set per member.
        y: ``(n[, c])`` or ``(E, n[, c])`` targets (+-1 labels for hinge/logistic).
        steps: number of updates. lr: a float, or an ``(E,)`` tensor (one rate per member).
        loss: one of :data:`LOSSES`. batch_size: ``None`` for full-batch GD, else minibatch SGD
            with an independent batch (drawn with replacement) per member and step.
        record_steps: steps at which to record the full training loss and ``metrics``
            (default: every ``max(1, steps // 100)`` steps). snapshot_steps: steps at which to copy
            the parameters to the CPU (for animations).
        metrics: ``{name: fn(params) -> (E, ...)}``, evaluated without gradients at recorded steps.
        on_divergence: ``"raise"`` (stop with :class:`DivergenceError`) or ``"mask"`` (freeze the
            diverged members, keep training the rest, report them in ``diverged_at``).
        max_loss: a finite loss above this also counts as divergence.
        seed: seeds the minibatch draws. progress: show a tqdm bar. fast: use the model's
            hand-written ``loss_and_grads`` when it has one for this loss (else autograd).

    The final parameters' loss is always checked for divergence, whatever ``record_steps`` says.
    """
    a = _prepare(model, params, x, y, steps=steps, lr=lr, loss=loss, batch_size=batch_size, record_steps=record_steps,
                 snapshot_steps=snapshot_steps, metrics=metrics, on_divergence=on_divergence, max_loss=max_loss,
                 seed=seed, progress=progress, desc=desc, fast=fast)
    dev, dtype = next(iter(params.values())).device, next(iter(params.values())).dtype
    loop = _Loop(model, {k: v.detach().clone() for k, v in params.items()}, x.to(dev, dtype), y.to(dev, dtype), a, fast)
    bar = tqdm(total=a.steps, desc=desc or f"train {type(model).__name__} x{a.E}", disable=not progress,
               file=sys.stderr, mininterval=0.5)
    try:
        loop.run(bar)
    finally:
        bar.close()
    return loop.result()


def _prepare(model, params, x, y, *, steps, lr, loss, batch_size, record_steps, snapshot_steps, metrics,
             on_divergence, max_loss, seed, progress, desc, fast) -> _Args:
    """Every argument of :func:`train` checked before any work (scalars, then shapes, then memory)."""
    steps, max_loss, seed = _check_scalars(steps, loss, on_divergence, max_loss, seed, progress, fast, desc, metrics, model)
    record_list = _step_list("record_steps", record_steps, steps) if record_steps is not None else None
    snap_list = _step_list("snapshot_steps", snapshot_steps, steps)
    E, lr, batch_size = _check_data(model, params, x, y, loss, lr, batch_size)
    dev, dtype = next(iter(params.values())).device, next(iter(params.values())).dtype
    xd, yd = x.to(dev, dtype), y.to(dev, dtype)
    x_per, y_per, n = _split_data(model, params, xd, yd)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1, n)
    fast_chunked = fast and _fast_covers(model, params, xd, yd, loss, x_per, y_per)
    _check_train_memory(model, params, x, y, E, batch_size, dtype, dev, fast_chunked)
    if isinstance(lr, torch.Tensor):
        lr = lr.to(device=dev, dtype=dtype)
    record = sorted(set(record_list)) if record_list is not None else None
    if record is None:
        record = sorted(set(range(0, steps + 1, max(1, steps // 100))) | {steps})
    return _Args(E=E, steps=steps, lr=lr, loss=loss, batch_size=batch_size, record=record, snaps=sorted(set(snap_list)),
                 metrics=metrics or {}, on_divergence=on_divergence, max_loss=max_loss, seed=seed,
                 x_per=x_per, y_per=y_per, n=n)
