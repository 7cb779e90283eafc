"""Chapter 3's experiments (compute only): ``run(cfg) -> Result``.

(a) ``toy``: the paper code's "3 points" data (1-D input with bias), neurons in polar coordinates,
    and a training loss that plateaus above the global minimum 0 (at the affine least-squares loss)
    with a vanishing gradient;
(b) ``threshold``: a noisy linear teacher, final train/test loss vs n for a small and a large
    initialization at the same learning rate and steps, over-parameterized at every n, OLS as
    reference, convergence checked by a mean gradient and a loss plateau; ``scales``: train/test loss
    at one n across init scales;
(c) ``extremal``: extremal vectors of G found directly (projected gradient ascent on the sphere from
    many starts, batched); the top maximiser vs beta* and the alignment of the small-init neurons,
    each also read at half the ascent steps (the ascent is stopped, not converged: its end points are
    not counted).

Boursier & Flammarion, "Simplicity bias and optimization threshold in two-layer ReLU networks",
ICML 2025 (arXiv 2410.02348); the toy is from their "Early alignment in two-layer networks training
is a two-edged sword" (arXiv 2401.10791, code ``eboursier/early_alignment``, ``early_alignment.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import torch

from .. import data, models, train
from ..chapter import Timer, announce, derive_seed, require_config
from ..device import cpu_threads, resolve_device
from .config import Config
from .extremal import G_values, alignment_score, extremal_vectors, grad_norm

__all__ = ["TOY_X", "TOY_Y", "Toy", "Fits", "Threshold", "Scales", "Extremal", "Result", "run", "estimate_seconds",
           "toy_least_squares"]

#: The "3 points" data of the official code (``early_alignment.py``, ``--data "3 points"``).
TOY_X = (-0.75, -0.5, 0.125)
TOY_Y = (1.1, 0.1, 0.8)


@dataclass(frozen=True)
class Toy:
    """(a) The 3-points runs, ``S = toy_seeds`` members.

    ``steps (T,)``, ``loss (T, S)``, ``grad (T, S)`` (full gradient norm); ``snap_steps`` and
    ``snaps`` (the shown seed's ``w (m, 1)``, ``b (m,)``, ``a (m,)`` over training; the shown seed is
    the first that did not diverge, ``shown``); ``params`` (final, all members); ``theta (K,)`` /
    ``G (K,)``: G on the circle of unit ``(w, b)``; ``ext``: its extremal vectors; ``align (F,)``:
    :func:`alignment_score` of the shown seed at each snapshot; ``pred (S, 3)``: final outputs on the
    three points; ``ls_pred (3,)``, ``ls_loss``: the affine least-squares fit (:func:`toy_least_squares`);
    ``diverged (S,)``.
    """

    steps: torch.Tensor
    loss: torch.Tensor
    grad: torch.Tensor
    snap_steps: tuple[int, ...]
    snaps: tuple[dict, ...]
    shown: int
    params: dict
    theta: torch.Tensor
    G: torch.Tensor
    ext: dict
    align: torch.Tensor
    pred: torch.Tensor
    ls_pred: torch.Tensor
    ls_loss: float
    diverged: torch.Tensor


@dataclass(frozen=True)
class Fits:
    """Outcomes of the threshold runs: ``(2S,)`` at one n (small-init members first), ``(N, 2, S)``
    in :class:`Threshold`.

    ``train``, ``test`` (final losses), ``grad`` (final gradient norm), ``grad_avg`` (norm of the mean
    gradient over the last ``min(200, steps/10)`` steps = displacement / (window * lr)), ``change``
    (loss drop over the second half, in units of the noise level ``noise^2 / 2``), ``weight_move``
    (relative first-layer change), ``converged`` (``grad_avg < grad_tol``, ``|change| < plateau_tol``
    and not diverged: a frozen diverged member has zero gradient, it has not converged), ``diverged``.
    """

    train: torch.Tensor
    test: torch.Tensor
    grad: torch.Tensor
    grad_avg: torch.Tensor
    change: torch.Tensor
    weight_move: torch.Tensor
    converged: torch.Tensor
    diverged: torch.Tensor


@dataclass(frozen=True)
class Threshold(Fits):
    """(b) The sweep over n: the :class:`Fits` fields with axes ``(N, 2, S)`` (n, init: 0 small,
    1 large, seed), the grid, the noise level ``noise^2 / 2``, and ``ols_train`` / ``ols_test (N, S)``:
    the least-squares reference on the same data."""

    n_grid: tuple[int, ...]
    noise_level: float
    ols_train: torch.Tensor
    ols_test: torch.Tensor


@dataclass(frozen=True)
class Scales(Fits):
    """The init-scale sweep at ``n``: the :class:`Fits` fields with axes ``(L, S)`` over ``lams``
    (``small_init`` then ``scales``; balanced init, the same draw rescaled), the same data sets as the
    sweep's, the same learning rate and steps; ``ols_train`` / ``ols_test (S,)``."""

    lams: tuple[float, ...]
    n: int
    ols_train: torch.Tensor
    ols_test: torch.Tensor


@dataclass(frozen=True)
class Extremal:
    """(c) Extremal vectors of G for each data set of (b), axes ``(N, S)``, from the ascent's end points
    (stopped after ``ascent_steps``; the ``*_half`` fields after half of them).

    ``cos_beta`` (top maximiser vs the teacher): from the data alone. ``align_early`` / ``align_final``:
    :func:`alignment_score` of the small-init net at the end of its alignment phase (``align_step``: the
    last snapshot before the loss fell by 1%) and at the end; ``align_random``: the same score for the
    random directions of its initialization (control); ``diverged``: the small-init nets that diverged
    (their scores are not valid).
    """

    cos_beta: torch.Tensor
    align_early: torch.Tensor
    align_final: torch.Tensor
    align_random: torch.Tensor
    align_step: torch.Tensor
    cos_beta_half: torch.Tensor
    align_early_half: torch.Tensor
    diverged: torch.Tensor


@dataclass(frozen=True)
class Result:
    """What :func:`run` returns (CPU tensors): the config, the device, per-part wall times and one
    record per sub-experiment."""

    config: Config
    device: str
    seconds: dict[str, float]
    toy: Toy
    threshold: Threshold
    scales: Scales
    extremal: Extremal


# --------------------------------------------------------------------------------------------
# Seeds: one place
# --------------------------------------------------------------------------------------------


def _seed(cfg: Config, part: str, n: int | None = None) -> int:
    """The seed of one part: ``toy`` (init), ``toy_ascent``, and per n: ``data``, ``test``,
    ``small``, ``large`` (inits), ``ascent``."""
    return derive_seed(cfg.seed, part) if n is None else derive_seed(cfg.seed, part, n)


# --------------------------------------------------------------------------------------------
# (a) the toy
# --------------------------------------------------------------------------------------------


def _toy_snapshot_steps(cfg: Config) -> list[int]:
    """About ``frames`` log-spaced snapshot steps, always the first and last."""
    snaps = train.log_steps(cfg.toy_steps, 200)
    if len(snaps) > cfg.frames:
        pick = np.unique(np.round(np.geomspace(1, len(snaps), cfg.frames)).astype(int) - 1)
        snaps = sorted({snaps[i] for i in pick} | {0, cfg.toy_steps})
    return snaps


def _toy(cfg: Config, dev, progress: bool) -> Toy:
    m = cfg.toy_width
    model = models.TwoLayerReLU(d=1, width=m, bias=True, init_scale=cfg.toy_init / math.sqrt(m), output_init="balanced")
    x = torch.tensor(TOY_X, dtype=torch.float32)[:, None].to(dev)
    y = torch.tensor(TOY_Y, dtype=torch.float32).to(dev)
    res = train.train(
        model, model.init(cfg.toy_seeds, seed=_seed(cfg, "toy"), device=dev), x, y, steps=cfg.toy_steps,
        lr=cfg.toy_lr, record_steps=train.log_steps(cfg.toy_steps, 60), snapshot_steps=_toy_snapshot_steps(cfg),
        metrics={"grad": lambda p: grad_norm(model, p, x, y)}, on_divergence="mask", progress=progress,
        desc="3 points",
    )
    # G on the circle of unit (w, b): the lifted input is (x, 1).
    theta = torch.linspace(-math.pi, math.pi, 721, dtype=torch.float64)
    xl = torch.stack([x[:, 0].cpu().double(), torch.ones(3, dtype=torch.float64)], -1)[None]
    yl = y.cpu().double()[None]
    G = G_values(torch.stack([theta.cos(), theta.sin()], -1)[None], xl, yl)[0]
    ext = extremal_vectors(xl, yl, starts=cfg.starts, steps=cfg.ascent_steps, lr=cfg.ascent_lr,
                           seed=_seed(cfg, "toy_ascent"))[0]
    ls_pred, ls_loss = toy_least_squares()
    ok = torch.nonzero(~res.diverged).flatten()
    shown = int(ok[0]) if len(ok) else 0
    snaps = tuple({k: v[shown].clone() for k, v in s.items()} for s in res.snapshots)
    return Toy(
        steps=res.steps, loss=res.loss, grad=res.metrics["grad"], snap_steps=tuple(res.snapshot_steps),
        snaps=snaps, shown=shown, params={k: v.cpu() for k, v in res.params.items()}, theta=theta, G=G,
        ext=ext, align=torch.tensor([_toy_score(s, ext) for s in snaps]),
        pred=model.forward(res.params, x).detach().cpu(), ls_pred=ls_pred, ls_loss=ls_loss, diverged=res.diverged,
    )


def toy_least_squares() -> tuple[torch.Tensor, float]:
    """The affine least-squares fit ``c x + e`` of the 3 points: its values ``(3,)`` on them and its loss
    ``(1/2n) sum (c x_i + e - y_i)^2`` (float64). One ReLU active on all three points is affine there,
    so this is the lowest loss such a network can reach."""
    x, y = torch.tensor(TOY_X, dtype=torch.float64), torch.tensor(TOY_Y, dtype=torch.float64)
    A = torch.stack([x, torch.ones_like(x)], -1)
    coef = torch.linalg.lstsq(A, y[:, None]).solution[:, 0]
    pred = A @ coef
    return pred, float(0.5 * (pred - y).square().mean())


def _toy_score(snap, ext) -> float:
    """:func:`alignment_score` of one toy network (``w (m, 1)``, ``b (m,)``, ``a (m,)``) in the lifted
    coordinates ``(w, b)``."""
    return alignment_score(torch.stack([snap["w"][:, 0], snap["b"]], -1).double(), snap["a"].double(), ext)


# --------------------------------------------------------------------------------------------
# (b) the threshold sweep, the init-scale sweep and (c) the extremal vectors of their data sets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    """The ``S`` training sets ``x (S, n, d)``, ``y (S, n)`` of one n, their teachers ``beta``, and
    test sets ``xt``, ``yt``."""

    x: torch.Tensor
    y: torch.Tensor
    beta: torch.Tensor
    xt: torch.Tensor
    yt: torch.Tensor


def _draw(cfg: Config, n: int) -> _Data:
    S, d = cfg.seeds, cfg.d
    x, y, beta = data.linear_teacher(n, d, noise=cfg.noise, seed=_seed(cfg, "data", n), members=S)
    xt, yt, _ = data.linear_teacher(cfg.n_test, d, noise=cfg.noise, seed=_seed(cfg, "test", n), beta=beta, members=S)
    return _Data(x, y, beta, xt, yt)


def _net(cfg: Config, scale: float) -> models.TwoLayerReLU:
    return models.TwoLayerReLU(d=cfg.d, width=cfg.width, init_scale=scale / math.sqrt(cfg.width), output_init="balanced")


def _scale_lams(cfg: Config) -> tuple[float, ...]:
    """The init scales of the init-scale sweep: ``small_init`` then ``scales``."""
    return (cfg.small_init, *cfg.scales)


def _init(cfg: Config, n: int, dev) -> dict[str, torch.Tensor]:
    """Small-init members (``S``), then large-init members paired so that ``f = 0`` at init (the
    code's ``zero_output`` option for the lazy regime); at ``n = scale_n`` then ``S`` balanced members
    for each of ``scales`` (same law as the small init, only lambda changes)."""
    S = cfg.seeds
    p_small = _net(cfg, cfg.small_init).init(S, seed=_seed(cfg, "small", n), device=dev)
    parts = [p_small, models.paired_init(_net(cfg, cfg.large_init).init(S, seed=_seed(cfg, "large", n), device=dev))]
    if n == cfg.scale_n:
        # Same draw as the small init, rescaled: the init scale is the only thing that changes.
        parts += [{k: v * (lam / cfg.small_init) for k, v in p_small.items()} for lam in cfg.scales]
    return {k: torch.cat([p[k] for p in parts]) for k in p_small}


def _window(cfg: Config) -> int:
    """Steps over which the mean gradient is measured."""
    return max(1, min(200, cfg.steps // 10))


def _fit(cfg: Config, n: int, dat: _Data, dev, progress: bool) -> tuple[train.TrainResult, Fits]:
    """Train every initialization on the ``S`` data sets of one n, as one ensemble (``K S`` members,
    blocks of ``S``: small, large, then the init-scale sweep at ``scale_n``), one learning rate."""
    net, S, window = _net(cfg, cfg.small_init), cfg.seeds, _window(cfg)
    p0 = _init(cfg, n, dev)
    K = p0["w"].shape[0] // S
    half = cfg.steps // 2
    early = [s for s in train.log_steps(cfg.steps, 80) if s <= cfg.steps // 4]
    X, Y = dat.x.to(dev).repeat(K, 1, 1), dat.y.to(dev).repeat(K, 1)
    res = train.train(
        net, p0, X, Y, steps=cfg.steps, lr=cfg.lr, record_steps=sorted(set(train.log_steps(cfg.steps, 40)) | {half}),
        snapshot_steps=sorted(set(early) | {cfg.steps - window}), on_divergence="mask", progress=progress,
        desc=f"n={n}",
    )
    P = res.params
    last = res.snapshots[res.snapshot_steps.index(cfg.steps - window)]
    # Mean gradient over the last `window` steps = displacement / (window * lr): at a ReLU kink GD can
    # bounce with a gradient that does not vanish while the iterate (and the loss) stay put.
    disp = sum((P[k].cpu() - last[k]).square().flatten(1).sum(1) for k in net.trainable).sqrt()
    gavg = disp / (window * cfg.lr)
    with torch.no_grad():
        gn = grad_norm(net, P, X, Y).cpu()
        te = train.loss_per_member(net.forward(P, dat.xt.to(dev).repeat(K, 1, 1)), dat.yt.to(dev).repeat(K, 1)).cpu()
    change = (res.loss[res.steps.tolist().index(half)] - res.loss[-1]) / (0.5 * cfg.noise**2)
    diverged = res.diverged
    conv = (gavg < cfg.grad_tol) & (change.abs() < cfg.plateau_tol) & torch.isfinite(res.loss[-1]) & ~diverged
    move = ((P["w"] - p0["w"]).flatten(1).norm(dim=1) / p0["w"].flatten(1).norm(dim=1)).cpu()
    return res, Fits(res.loss[-1], te, gn, gavg, change, move, conv, diverged)


def _ols(dat: _Data) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and test loss ``(S,)`` of least squares on each data set."""
    beta = torch.linalg.lstsq(dat.x.double(), dat.y.double()[..., None]).solution  # (S, d, 1)
    tr = 0.5 * (torch.matmul(dat.x.double(), beta).squeeze(-1) - dat.y.double()).square().mean(-1)
    te = 0.5 * (torch.matmul(dat.xt.double(), beta).squeeze(-1) - dat.yt.double()).square().mean(-1)
    return tr.float(), te.float()


def _phase_end(res: train.TrainResult, s: int, steps: int) -> int:
    """Index of member ``s``'s last snapshot before its loss fell by 1% (end of the alignment phase)."""
    l0 = float(res.loss[0, s])
    moved = [t for t, lv in zip(res.steps.tolist(), res.loss[:, s].tolist()) if lv < 0.99 * l0]
    t_end = moved[0] if moved else steps
    cands = [k for k, t in enumerate(res.snapshot_steps) if t < t_end]
    return cands[-1] if cands else 0


def _extremal_at(cfg: Config, n: int, dat: _Data, res: train.TrainResult, p0, dev) -> list[list[float]]:
    """Per data set ``s < S``: ``[cos_beta, align_early, align_final, align_random, align_step]`` from the
    ascent's end points after ``ascent_steps``, then ``[cos_beta, align_early]`` after half of them."""
    full, half = (extremal_vectors(dat.x.to(dev), dat.y.to(dev), starts=cfg.starts, steps=k, lr=cfg.ascent_lr,
                                   seed=_seed(cfg, "ascent", n)) for k in (cfg.ascent_steps, cfg.ascent_steps // 2))
    P, rows = res.params, []
    beta = dat.beta.double()
    for s, (e, e2) in enumerate(zip(full, half)):
        k = _phase_end(res, s, cfg.steps)
        snap = res.snapshots[k]
        row = [float(e["max"][0].double() @ beta) if len(e["max_G"]) else 0.0,
               alignment_score(snap["w"][s].double(), snap["a"][s].double(), e),
               alignment_score(P["w"][s].cpu().double(), P["a"][s].cpu().double(), e),
               # control: the same score for the random directions of the initialization
               alignment_score(p0["w"][s].cpu().double(), p0["a"][s].cpu().double(), e),
               res.snapshot_steps[k] if res.snapshot_steps else 0,
               float(e2["max"][0].double() @ beta) if len(e2["max_G"]) else 0.0,
               alignment_score(snap["w"][s].double(), snap["a"][s].double(), e2)]
        rows.append(row)
    return rows


def _threshold(cfg: Config, dev, progress: bool) -> tuple[Threshold, Scales, Extremal]:
    S, fits, ols, rows, scale = cfg.seeds, [], [], [], None
    for n in cfg.n_grid:
        # Seeds in the ensemble axis: S data sets drawn once, shared by every initialization.
        dat = _draw(cfg, n)
        res, fit = _fit(cfg, n, dat, dev, progress)
        fits.append({f.name: getattr(fit, f.name)[: 2 * S] for f in fields(Fits)})
        ols.append(_ols(dat))
        rows.append(_extremal_at(cfg, n, dat, res, _init(cfg, n, torch.device("cpu")), dev))
        if n == cfg.scale_n:
            L = len(_scale_lams(cfg))
            keep = torch.cat([torch.arange(S), torch.arange(2 * S, (L + 1) * S)])  # small, then the scales
            scale = Scales(**{f.name: getattr(fit, f.name)[keep].reshape(L, S) for f in fields(Fits)},
                           lams=_scale_lams(cfg), n=n, ols_train=ols[-1][0], ols_test=ols[-1][1])

    stacked = {k: torch.stack([f[k].reshape(2, S) for f in fits]) for k in fits[0]}
    thr = Threshold(**stacked, n_grid=cfg.n_grid, noise_level=0.5 * cfg.noise**2,
                    ols_train=torch.stack([o[0] for o in ols]), ols_test=torch.stack([o[1] for o in ols]))
    cols = torch.tensor(rows, dtype=torch.float64)  # (N, S, 7)
    ext = Extremal(*(cols[..., j].float() for j in range(7)), diverged=thr.diverged[:, 0].clone())
    return thr, scale, ext


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def estimate_seconds(cfg: Config, device="auto") -> float:
    """Rough wall seconds of :func:`run`: per-step overhead plus work per (member x sample x neuron) for
    the training runs, and per (start x sample) for the ascent (run to ``ascent_steps`` and to half of
    them). CPU constants measured on one thread (book: ~90 s); CUDA constants are rough. ``device``
    may name a GPU this machine does not have (an estimate is for planning)."""
    cuda = str(device).startswith("cuda") or (device == "auto" and resolve_device("auto").type == "cuda")
    per_step = 2e-4 if cuda else 3e-4
    per_elem = 5e-12 if cuda else 1.2e-9
    toy = cfg.toy_steps * (per_step + per_elem * cfg.toy_seeds * 3 * cfg.toy_width * 6)
    members = [(2 + (len(cfg.scales) if n == cfg.scale_n else 0)) * cfg.seeds for n in cfg.n_grid]
    thr = sum(cfg.steps * (per_step + per_elem * k * n * cfg.width * 8) for k, n in zip(members, cfg.n_grid))
    asc = sum(1.5 * cfg.ascent_steps * (per_step + per_elem * 2 * cfg.starts * cfg.seeds * n * cfg.d) for n in cfg.n_grid)
    return float(toy + thr + asc)


def run(cfg: Config, *, device="auto", progress: bool = True) -> Result:
    """Run the three experiments of the chapter (arXiv 2410.02348, Sections 3-4 and its experiments;
    arXiv 2401.10791 for the toy). One batched training for the toy and one per n (seeds and both
    initializations in the ensemble axis). Prints the estimate first when it exceeds 10 s."""
    require_config(cfg, Config, "alignment")
    dev = resolve_device(device)
    announce("alignment", estimate_seconds(cfg, dev), dev, progress)
    timer = Timer("alignment", progress)
    # Tiny tensors: per-op overhead dominates and a second intra-op thread only adds synchronisation.
    with cpu_threads(dev, 1):
        with timer("toy"):
            toy = _toy(cfg, dev, progress)
        with timer("threshold"):
            thr, scales, ext = _threshold(cfg, dev, progress)
    return Result(cfg, str(dev), timer.total(), toy, thr, scales, ext)
