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

from ._validate import check_choice, check_float, check_int

__all__ = ["LOSSES", "loss_per_member", "loss_and_grads", "train", "TrainResult", "DivergenceError", "log_steps"]

Params = dict[str, torch.Tensor]

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

    @property
    def diverged(self) -> torch.Tensor:
        """``(E,)`` bool: which members diverged."""
        return self.diverged_at >= 0

    @property
    def final_loss(self) -> torch.Tensor:
        """``(E,)``: the training loss of the final parameters."""
        return self.loss[-1]


def _split_data(model, params: Params, x: torch.Tensor, y: torch.Tensor) -> tuple[bool, bool, int]:
    """Validate ``x``/``y`` against the model; return (x per member, y per member, n)."""
    E = next(iter(params.values())).shape[0]
    sample_ndim = model.input_ndim
    if x.ndim not in (sample_ndim + 1, sample_ndim + 2):
        raise ValueError(
            f"x must have {sample_ndim + 1} dims (n, ...) shared by all members or {sample_ndim + 2} "
            f"(E, n, ...) per member for {type(model).__name__}; got shape {tuple(x.shape)}"
        )
    x_per = x.ndim == sample_ndim + 2
    if x_per and x.shape[0] != E:
        raise ValueError(f"x has {x.shape[0]} members on its first axis but the parameters have E={E}")
    n = x.shape[1] if x_per else x.shape[0]
    with torch.no_grad():
        probe = {k: v[:1] for k, v in params.items()}
        out_shape = model.forward(probe, x[:1, :1] if x_per else x[:1]).shape  # (1, 1[, c])
    tail = tuple(out_shape[2:])
    if tuple(y.shape) == (n, *tail):
        return x_per, False, n
    if tuple(y.shape) == (E, n, *tail):
        return x_per, True, n
    raise ValueError(f"y must have shape {(n, *tail)} or {(E, n, *tail)} to match x and the model; got {tuple(y.shape)}")


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
    """
    steps = check_int("steps", steps, 0)
    check_choice("loss", loss, LOSSES)
    check_choice("on_divergence", on_divergence, ("raise", "mask"))
    max_loss = check_float("max_loss", max_loss, 0, None, low_open=True)
    if not params:
        raise ValueError("params must be a non-empty dict of (E, ...) tensors")
    dev = next(iter(params.values())).device
    E = next(iter(params.values())).shape[0]
    params = {k: v.detach().clone() for k, v in params.items()}
    dtype = next(iter(params.values())).dtype
    x, y = x.to(dev, dtype), y.to(dev, dtype)  # data follow the parameters' device and precision
    x_per, y_per, n = _split_data(model, params, x, y)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1, n)
    if isinstance(lr, torch.Tensor):
        if lr.shape != (E,) or not torch.all(torch.isfinite(lr) & (lr > 0)):
            raise ValueError(f"lr must be a positive float or a positive finite (E={E},) tensor; got shape {tuple(lr.shape)}")
        lr = lr.to(device=dev, dtype=next(iter(params.values())).dtype)
    else:
        lr = check_float("lr", lr, 0, None, low_open=True)
    record = sorted({check_int("record_steps", s, 0, steps) for s in record_steps}) if record_steps is not None else None
    if record is None:
        record = sorted(set(range(0, steps + 1, max(1, steps // 100))) | {steps})
    snaps = sorted({check_int("snapshot_steps", s, 0, steps) for s in snapshot_steps})
    record_set, snap_set = set(record), set(snaps)
    metrics = metrics or {}

    trainable = list(model.trainable)
    gen = torch.Generator(device=dev).manual_seed(check_int("seed", seed, 0, 2**63 - 1)) if batch_size else None
    ar = torch.arange(E, device=dev)[:, None]

    def lr_for(p: torch.Tensor):
        return lr if not isinstance(lr, torch.Tensor) else lr.reshape(E, *([1] * (p.ndim - 1)))

    def full_loss():
        with torch.no_grad():
            return loss_per_member(model.forward(params, x), y, loss)

    rec_loss, rec_metrics, snapshots = [], {k: [] for k in metrics}, []
    first_bad = torch.full((E,), -1, dtype=torch.long, device=dev)
    frozen = torch.zeros(E, dtype=torch.bool, device=dev)

    def result() -> TrainResult:
        T = len(rec_loss)
        return TrainResult(
            params=params,
            steps=torch.tensor(record[:T], dtype=torch.long),
            loss=torch.stack(rec_loss).cpu() if rec_loss else torch.empty(0, E),
            metrics={k: torch.stack(v).cpu() for k, v in rec_metrics.items() if v},
            snapshot_steps=snaps[: len(snapshots)],
            snapshots=snapshots,
            diverged_at=first_bad.cpu(),
        )

    def mark(lv: torch.Tensor, t: int):
        bad = ~torch.isfinite(lv) | (lv > max_loss)
        first_bad.copy_(torch.where(bad & (first_bad < 0), torch.full_like(first_bad, t), first_bad))

    bar = tqdm(total=steps, desc=desc or f"train {type(model).__name__} x{E}", disable=not progress, file=sys.stderr, mininterval=0.5)
    for t in range(steps + 1):
        lv = grads = None
        if t < steps:
            if batch_size is None:
                xb, yb = x, y
            else:
                idx = torch.randint(0, n, (E, batch_size), generator=gen, device=dev)
                xb = x[ar, idx] if x_per else x[idx]
                yb = y[ar, idx] if y_per else y[idx]
            lv, grads = loss_and_grads(model, params, xb, yb, loss, fast=fast)
        if t in record_set:
            full = lv if (lv is not None and batch_size is None) else full_loss()
            mark(full, t)
            rec_loss.append(full.detach().clone())
            with torch.no_grad():
                for k, fn in metrics.items():
                    rec_metrics[k].append(fn(params).detach().clone())
            if bool((first_bad >= 0).any()):  # one host sync per recorded step
                if on_divergence == "raise":
                    bar.close()
                    bad = torch.nonzero(first_bad >= 0).flatten().tolist()
                    raise DivergenceError(bad, [int(first_bad[m]) for m in bad], result())
                frozen |= first_bad >= 0
        if t in snap_set:
            snapshots.append({k: v.detach().cpu().clone() for k, v in params.items()})
        if t == steps:
            break
        if batch_size is None and t not in record_set:  # a recorded step was marked above
            mark(lv, t)
            if on_divergence == "mask":
                frozen |= first_bad >= 0
        with torch.no_grad():
            for k in trainable:
                g = grads[k]
                if on_divergence == "mask":
                    g = torch.where(frozen.reshape(E, *([1] * (g.ndim - 1))), torch.zeros_like(g), g)
                if isinstance(lr, torch.Tensor):
                    params[k].sub_(lr_for(g) * g)
                else:
                    params[k].add_(g, alpha=-lr)  # one kernel, as torch.optim.SGD does
        bar.update(1)
    bar.close()
    return result()
