"""Chapter 1's experiments, compute only: :func:`run` -> :class:`Result`.

Every width ``k`` is one batched training call over ``seeds`` ensemble members. Training uses
:class:`overparam.models.XORPatternNet`, the conv net evaluated through the set of patterns each
input contains (exact on XORD inputs), so cost does not grow with n or d.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import data, models, train
from ..chapter import Timer, announce, derive_seed, require_config
from ..device import cpu_threads, resolve_device
from .config import MNIST_SIDE, Config
from .measures import BAD_TOL, clustering, exact_test_error, exploration, mnist_clustering, pos_explored

__all__ = ["Result", "Sweep", "Mnist", "Frames", "run", "estimate_seconds"]

_CURVES = ("train_err", "test_err", "clustering", "exploration")


@dataclass(frozen=True, eq=False)
class Frames:
    """Parameter snapshots for the animation: ``steps[i]`` and ``params[i]`` (``{"w", "u"}``, CPU)."""

    steps: tuple[int, ...]
    params: tuple[dict, ...]


@dataclass(frozen=True, eq=False)
class Sweep:
    """XORD at one ``d``, one batched run per width in ``ks`` (``K = len(ks)``, ``E = seeds``, CPU tensors).

    ``train_err, test_err (K, E)``: final training error and exact test error; ``explore_init (K, E)``
    (:func:`~overparam.xor.measures.exploration` at init); ``pos_explored_init (K, E)`` bool (w filters
    detect p1 and p3 at init); ``clustering_final (K, E)``; ``diverged (K, E)`` bool (masked members).
    ``steps (T,)`` and ``curves[name] (K, T, E)`` over training. ``check_err (E,)``: the widest k's
    test error computed independently (``check`` says how). ``frames``: snapshots by k (animation).
    """

    d: int
    ks: tuple[int, ...]
    train_err: torch.Tensor
    test_err: torch.Tensor
    explore_init: torch.Tensor
    pos_explored_init: torch.Tensor
    clustering_final: torch.Tensor
    diverged: torch.Tensor
    steps: torch.Tensor
    curves: dict[str, torch.Tensor]
    check_err: torch.Tensor
    check: str
    frames: dict[int, Frames]

    @property
    def zero_train(self) -> torch.Tensor:
        """``(K, E)`` bool: runs that reached zero training error (and did not diverge)."""
        return (self.train_err == 0) & ~self.diverged

    @property
    def bad(self) -> torch.Tensor:
        """``(K, E)`` bool: nonzero test error (a bad global minimum where :attr:`zero_train`)."""
        return self.test_err > BAD_TOL


@dataclass(frozen=True, eq=False)
class Mnist:
    """The reduced MNIST experiment, widths ``ks = (k_small, k_wide)``: tensors ``(2, S)`` (S seeds):
    ``train_err``, ``test_err``, ``cos_trained`` / ``cos_init`` (norm-weighted cosine of each filter to
    the nearest of ``k_small`` spherical k-means centres of its readout group), ``diverged`` (bool)."""

    ks: tuple[int, int]
    n_train: int
    n_test: int
    train_err: torch.Tensor
    test_err: torch.Tensor
    cos_trained: torch.Tensor
    cos_init: torch.Tensor
    diverged: torch.Tensor


@dataclass(frozen=True, eq=False)
class Result:
    """What :func:`run` returns: ``main`` (XORD at ``d``), ``large`` (at ``d_large``; ``None`` when
    ``d_large == 0``), ``mnist`` (``None`` when ``mnist_steps == 0``), wall ``seconds`` per part."""

    config: Config
    device: str
    seconds: dict[str, float]
    main: Sweep
    large: Sweep | None
    mnist: Mnist | None


def _seed(cfg: Config, part: str, *ids: int) -> int:
    """The seed of one named part of the experiment: ``derive_seed(cfg.seed, part, *ids)``. Parts:
    ``"xord_train_set", d``; ``"xord_init", d, k``; ``"xord_test_sample", d``; ``"mnist_split"``;
    ``"mnist_init", k``."""
    return derive_seed(cfg.seed, part, *ids)


# --------------------------------------------------------------------------------------------
# XORD
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Problem:
    """One training set per member (``x_pres (E, n, 4)`` pattern presence, ``y (E, n)``) and the
    pattern-set probabilities ``probs (16,)`` of the test distribution at ``d``."""

    d: int
    x_pres: torch.Tensor
    y: torch.Tensor
    probs: torch.Tensor


def _problem(cfg: Config, d: int, dev) -> _Problem:
    x, y = data.xord_sample(cfg.n_train, d, p_plus=cfg.p_plus, p_minus=cfg.p_minus,
                            seed=_seed(cfg, "xord_train_set", d), members=cfg.seeds)
    probs = data.xord_presence_probabilities(d, cfg.p_plus, cfg.p_minus)
    return _Problem(d, data.xord_presence(x).to(dev), y.to(dev), probs)


def _metrics(net: models.XORPatternNet, prob: _Problem, dev) -> dict:
    probs = prob.probs.to(dev)
    return {
        "train_err": lambda p: (net.forward(p, prob.x_pres) * prob.y <= 0).to(torch.float64).mean(-1),
        "test_err": lambda p: exact_test_error(net, p, probs),
        "clustering": clustering,
        "exploration": exploration,
        "pos_explored": pos_explored,
    }


def _train_width(cfg: Config, k: int, prob: _Problem, dev, record, snapshot_steps, progress) -> train.TrainResult:
    """One batched GD run: all seeds of width k."""
    net = models.XORPatternNet(k, init_scale=cfg.init_scale)
    params = net.init(cfg.seeds, seed=_seed(cfg, "xord_init", prob.d, k), device=dev)
    return train.train(net, params, prob.x_pres, prob.y, steps=cfg.steps, lr=cfg.lr, loss="hinge",
                       record_steps=record, snapshot_steps=snapshot_steps, metrics=_metrics(net, prob, dev),
                       on_divergence="mask", progress=progress, desc=f"xor d={prob.d} k={k} x{cfg.seeds}")


def _frame_steps(cfg: Config) -> list[int]:
    """``cfg.frames`` log-spaced steps for the animation, always the first and the last."""
    steps = train.log_steps(cfg.steps, cfg.frames + 6)
    if len(steps) > cfg.frames:
        idx = np.unique(np.round(np.linspace(0, len(steps) - 1, cfg.frames)).astype(int))
        steps = [steps[i] for i in idx]
    return steps


def _frames(res: train.TrainResult, keep: int) -> Frames:
    return Frames(tuple(res.snapshot_steps), tuple({n: v[:keep].clone() for n, v in s.items()} for s in res.snapshots))


def _sweep(cfg: Config, d: int, ks: tuple[int, ...], dev, *, animate: bool, progress: bool) -> Sweep:
    """Train every width of ``ks`` at ``d``; snapshots of the smallest (25 seeds) and largest k (one
    seed) when ``animate``; the widest k's test error checked independently (:func:`_check`)."""
    prob, record, frame_steps = _problem(cfg, d, dev), train.log_steps(cfg.steps, 30), _frame_steps(cfg)
    runs, frames = [], {}
    for k in ks:
        snap = frame_steps if (animate and k in (ks[0], ks[-1])) else ()
        runs.append(_train_width(cfg, k, prob, dev, record, snap, progress))
        if snap:
            frames[k] = _frames(runs[-1], 25 if k == ks[0] else 1)
    final = {n: torch.stack([r.metrics[n][-1] for r in runs]).cpu() for n in ("train_err", "test_err", "clustering")}
    init = {n: torch.stack([r.metrics[n][0] for r in runs]).cpu() for n in ("exploration", "pos_explored")}
    check_err, check = _check(cfg, d, ks[-1], runs[-1].params, dev, exhaustive=animate)
    return Sweep(
        d=d, ks=tuple(ks), train_err=final["train_err"], test_err=final["test_err"],
        explore_init=init["exploration"], pos_explored_init=init["pos_explored"] > 0.5,
        clustering_final=final["clustering"], diverged=torch.stack([r.diverged for r in runs]).cpu(),
        steps=runs[-1].steps.cpu(), curves={n: torch.stack([r.metrics[n] for r in runs]).cpu() for n in _CURVES},
        check_err=check_err, check=check, frames=frames,
    )


def _check(cfg: Config, d: int, k: int, params, dev, *, exhaustive: bool) -> tuple[torch.Tensor, str]:
    """The widest net's test error, independently of the pattern-set sum: with the plain
    :class:`~overparam.models.XORConvNet` over all ``4**d`` inputs (``exhaustive``), else on
    ``n_test_samples`` sampled test points."""
    with torch.no_grad():
        if exhaustive:
            x = data.xord_all_inputs(d).to(dev)
            out = models.XORConvNet(k, cfg.init_scale).forward(params, x)
            pr = data.xord_probabilities(x, cfg.p_plus, cfg.p_minus).to(dev)
            return ((out * data.xord_labels(x) <= 0).to(torch.float64) @ pr).cpu(), f"conv net over all 4^{d} inputs"
        xs, ys = data.xord_sample(cfg.n_test_samples, d, p_plus=cfg.p_plus, p_minus=cfg.p_minus,
                                  seed=_seed(cfg, "xord_test_sample", d))
        out = models.XORPatternNet(k, init_scale=cfg.init_scale).forward(params, data.xord_presence(xs).to(dev))
        return (out * ys.to(dev) <= 0).to(torch.float64).mean(-1).cpu(), f"{cfg.n_test_samples} sampled test points"


# --------------------------------------------------------------------------------------------
# MNIST (reduced): small vs wide ConvNet
# --------------------------------------------------------------------------------------------


def _mnist_data(cfg: Config, dev) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """``((x_train, y_train), (x_test, y_test))`` on ``dev``: standardized pixels (with raw [0, 1]
    inputs every patch is nonnegative and filters pushed negative by the first steps never respond
    again), average-pooled by ``mnist_pool`` to cut the cost on a CPU."""
    sp = data.mnist_split(classes=cfg.mnist_classes, n_train=cfg.mnist_n_train, n_test=None,
                          seed=_seed(cfg, "mnist_split"), pm1=True, flatten=False)
    n_test = min(cfg.mnist_n_test, len(sp.y_test))

    def prep(x):
        return data.pool_images(data.standardize_pixels(x), cfg.mnist_pool).to(dev)

    return (prep(sp.x_train), sp.y_train.to(dev)), (prep(sp.x_test[:n_test]), sp.y_test[:n_test].to(dev))


def _error(net, params, x: torch.Tensor, y: torch.Tensor, chunk: int = 500) -> torch.Tensor:
    """``(E,)`` classification error of every member on ``(x, y)``, in chunks of ``chunk`` images."""
    with torch.no_grad():
        return torch.cat([(net.forward(params, x[i:i + chunk]) * y[i:i + chunk] <= 0).double()
                          for i in range(0, len(y), chunk)], dim=1).mean(1).cpu()


def _mnist_width(cfg: Config, k: int, train_set, test_set, dev, progress) -> dict[str, torch.Tensor]:
    net = models.ConvNet(k, kernel=cfg.mnist_kernel, init_scale=cfg.mnist_init_scale)
    p0 = net.init(cfg.mnist_seeds, seed=_seed(cfg, "mnist_init", k), device=dev)
    res = train.train(net, p0, *train_set, steps=cfg.mnist_steps, lr=cfg.mnist_lr, loss="hinge",
                      record_steps=[0, cfg.mnist_steps], on_divergence="mask", progress=progress,
                      desc=f"mnist k={k} x{cfg.mnist_seeds}")
    with torch.no_grad():
        return {"train_err": _error(net, res.params, *train_set), "test_err": _error(net, res.params, *test_set),
                "cos_trained": mnist_clustering(res.params, cfg.mnist_k_small).cpu(),
                "cos_init": mnist_clustering(p0, cfg.mnist_k_small).cpu(), "diverged": res.diverged.cpu()}


def _run_mnist(cfg: Config, dev, progress: bool) -> Mnist:
    train_set, test_set = _mnist_data(cfg, dev)
    ks = (cfg.mnist_k_small, cfg.mnist_k_wide)
    per = [_mnist_width(cfg, k, train_set, test_set, dev, progress) for k in ks]
    return Mnist(ks=ks, n_train=len(train_set[1]), n_test=len(test_set[1]),
                 **{n: torch.stack([p[n] for p in per]) for n in per[0]})


# --------------------------------------------------------------------------------------------
# The chapter's run
# --------------------------------------------------------------------------------------------


def estimate_seconds(cfg: Config, device="cpu") -> float:
    """A rough wall-time estimate in seconds, measured on a shared 2-core CPU (``device`` is accepted
    for the contract; on a GPU the paper preset runs much faster than this CPU figure)."""
    per_unit = 1.7e-6  # seconds per (member * channel * GD step) of the XORD networks
    units = sum(cfg.ks) + 2 * len(cfg.ks) + ((sum(cfg.ks_large) + 2 * len(cfg.ks_large)) if cfg.d_large else 0)
    mn = 0.0
    if cfg.mnist_steps:
        side = MNIST_SIDE // cfg.mnist_pool - cfg.mnist_kernel + 1
        macs = cfg.mnist_seeds * cfg.mnist_steps * cfg.mnist_n_train * 2 * (cfg.mnist_k_small + cfg.mnist_k_wide)
        mn = 1.6e-9 * macs * side**2 * cfg.mnist_kernel**2 * 3
    return float(per_unit * cfg.seeds * cfg.steps * units + mn)


def run(cfg: Config, *, device: str = "auto", progress: bool = True) -> Result:
    """Train every width in ``cfg.ks`` on XORD at ``d`` (and ``ks_large`` at ``d_large``), then the
    reduced MNIST experiment. Member e of every width trains on the same training set, so widths
    are compared on identical data. Diverged members are masked and reported (``.diverged``)."""
    require_config(cfg, Config, "xor")
    dev = resolve_device(device)
    announce("xor", estimate_seconds(cfg, str(dev)), dev, progress)
    timer = Timer("xor", progress)
    with timer("main"), cpu_threads(dev, 1):
        main = _sweep(cfg, cfg.d, cfg.ks, dev, animate=True, progress=progress)
    large = mnist = None
    if cfg.d_large:
        with timer("large"), cpu_threads(dev, 1):
            large = _sweep(cfg, cfg.d_large, cfg.ks_large, dev, animate=False, progress=progress)
    if cfg.mnist_steps:
        with timer("mnist"):
            mnist = _run_mnist(cfg, dev, progress)
    return Result(config=cfg, device=str(dev), seconds=timer.total(), main=main, large=large, mnist=mnist)
