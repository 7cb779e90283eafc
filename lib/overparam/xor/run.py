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
from .measures import (
    BAD_TOL, clustering, exact_test_error, exploration, failure_modes, mnist_clustering, pos_explored, wrong_sets,
)

__all__ = ["Result", "Sweep", "Stuck", "Ablations", "Mnist", "Frames", "run", "estimate_seconds"]

_CURVES = ("train_err", "test_err", "clustering", "exploration")


@dataclass(frozen=True, eq=False)
class Frames:
    """Parameter snapshots for the animation: ``steps[i]`` and ``params[i]`` (``{"w", "u"}``, CPU)."""

    steps: tuple[int, ...]
    params: tuple[dict, ...]


@dataclass(frozen=True, eq=False)
class Sweep:
    """XORD at one ``d``, one batched run per width in ``ks`` (``K = len(ks)``, ``E`` runs, CPU tensors).

    ``lrs (K,)``: the step size of each width; ``n_train``, ``p_train`` (p+ = p- of the training sets;
    the test distribution's pattern-set probabilities are ``probs (16,)``). ``train_err, test_err,
    train_loss (K, E)``: final training error, exact test error and hinge loss; ``outputs (K, E, 16)``:
    final output on each pattern set (:meth:`~overparam.models.XORPatternNet.subset_outputs`);
    ``train_sets (E, 16)`` bool: the pattern sets present in each run's training set; ``explore_init (K, E)``
    (:func:`~overparam.xor.measures.exploration` at init); ``pos_explored_init (K, E)`` bool (w filters
    detect p1 and p3 at init); ``clustering_final (K, E)``; ``diverged (K, E)`` bool (masked members).
    ``steps (T,)`` and ``curves[name] (K, T, E)`` over training. ``check_err (E,)``: the widest k's
    test error computed independently (``check`` says how). ``frames``: snapshots by k (animation).
    """

    d: int
    ks: tuple[int, ...]
    lrs: tuple[float, ...]
    n_train: int
    p_train: float
    probs: torch.Tensor
    train_err: torch.Tensor
    test_err: torch.Tensor
    train_loss: torch.Tensor
    outputs: torch.Tensor
    train_sets: torch.Tensor
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
    def fitted(self) -> torch.Tensor:
        """``(K, E)`` bool: runs at a global minimum of the hinge loss (loss exactly 0; not diverged)."""
        return (self.train_loss == 0) & ~self.diverged

    @property
    def bad(self) -> torch.Tensor:
        """``(K, E)`` bool: nonzero test error (a bad global minimum where :attr:`fitted`)."""
        return self.test_err > BAD_TOL

    def modes(self) -> dict[str, torch.Tensor]:
        """:func:`~overparam.xor.measures.failure_modes` of every run, each ``(K, E)`` bool."""
        return failure_modes(self.outputs, self.probs)

    def unseen(self) -> torch.Tensor:
        """``(K, E)`` bool: every pattern set the run gets wrong is absent from its training set."""
        wrong = wrong_sets(self.outputs, self.probs)
        return ~(wrong & self.train_sets[None]).any(-1)


@dataclass(frozen=True, eq=False)
class Stuck:
    """The runs of width ``k`` (main sweep) not at zero hinge loss after ``steps``, trained on to
    ``steps_after`` total steps (same data and step size). Tensors ``(R,)`` over those runs:
    ``train_err_before/after``, ``loss_before/after``, ``diverged`` (bool)."""

    k: int
    steps: int
    steps_after: int
    train_err_before: torch.Tensor
    train_err_after: torch.Tensor
    loss_before: torch.Tensor
    loss_after: torch.Tensor
    diverged: torch.Tensor


@dataclass(frozen=True, eq=False)
class Ablations:
    """The same two widths under changed training data, one :class:`Sweep` per condition:
    ``names[c]`` describes condition c; ``diverged (C, 2, E)``."""

    names: tuple[str, ...]
    sweeps: tuple[Sweep, ...]
    diverged: torch.Tensor


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
    """What :func:`run` returns: ``main`` (XORD at ``d``, fixed step ``lr``), ``scaled`` (the same
    training sets and inits at widths ``lr_scaled_ks`` with ``eta_k = lr * lr_scaled_ks[0] / k``; ``None``
    when ``lr_scaled_seeds == 0``),
    ``stuck`` (the 10x-steps check; ``None`` when ``stuck_factor == 1``), ``ablations`` (``None`` when
    ``abl_seeds == 0``), ``large`` (at ``d_large``; ``None`` when ``d_large == 0``), ``mnist``
    (``None`` when ``mnist_steps == 0``), wall ``seconds`` per part."""

    config: Config
    device: str
    seconds: dict[str, float]
    main: Sweep
    scaled: Sweep | None
    stuck: Stuck | None
    ablations: Ablations | None
    large: Sweep | None
    mnist: Mnist | None


def _seed(cfg: Config, part: str, *ids: int) -> int:
    """The seed of one named part of the experiment: ``derive_seed(cfg.seed, part, *ids)``. Parts:
    ``"xord_train_set", d``; ``"xord_ablation_set", d, n, round(1e6 p)``; ``"xord_init", d, k``; ``"xord_test_sample", d``; ``"mnist_split"``;
    ``"mnist_init", k``."""
    return derive_seed(cfg.seed, part, *ids)


# --------------------------------------------------------------------------------------------
# XORD
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Problem:
    """One training set per member (``x_pres (E, n, 4)`` pattern presence, ``y (E, n)``), the
    pattern-set probabilities ``probs (16,)`` of the test distribution at ``d``, and the training
    sets' pattern sets ``train_sets (E, 16)`` bool."""

    d: int
    n: int
    p_train: float
    x_pres: torch.Tensor
    y: torch.Tensor
    probs: torch.Tensor
    train_sets: torch.Tensor


def _problem(cfg: Config, d: int, dev, *, n: int | None = None, p_train: float | None = None,
             p_test: float | None = None, part: str = "xord_train_set") -> _Problem:
    """Training sets of ``n`` points (default ``n_train``) with ``p+ = p- = p_train`` (default: the
    config's ``p_plus``, ``p_minus``); the test distribution has ``p+ = p- = p_test`` (default: same)."""
    n = cfg.n_train if n is None else n
    pp, pm = (cfg.p_plus, cfg.p_minus) if p_train is None else (p_train, p_train)
    tp, tm = (pp, pm) if p_test is None else (p_test, p_test)
    ids = (d,) if part == "xord_train_set" else (d, n, round(pp * 1e6))
    x, y = data.xord_sample(n, d, p_plus=pp, p_minus=pm, seed=_seed(cfg, part, *ids), members=cfg.seeds)
    probs = data.xord_presence_probabilities(d, tp, tm)
    pres = data.xord_presence(x)
    sid = ((pres > 0.5).long() * (2 ** torch.arange(4))).sum(-1)  # (E, n)
    train_sets = torch.zeros(cfg.seeds, 16, dtype=torch.bool).scatter_(1, sid, True)
    return _Problem(d, n, pp, pres.to(dev), y.to(dev), probs, train_sets)


def _metrics(net: models.XORPatternNet, prob: _Problem, dev) -> dict:
    probs = prob.probs.to(dev)
    return {
        "train_err": lambda p: (net.forward(p, prob.x_pres) * prob.y <= 0).to(torch.float64).mean(-1),
        "test_err": lambda p: exact_test_error(net, p, probs),
        "clustering": clustering,
        "exploration": exploration,
        "pos_explored": pos_explored,
    }


def _members(prob: _Problem, members: int) -> _Problem:
    """The first ``members`` training sets of ``prob``."""
    return _Problem(prob.d, prob.n, prob.p_train, prob.x_pres[:members], prob.y[:members], prob.probs,
                    prob.train_sets[:members])


def _train_width(cfg: Config, k: int, prob: _Problem, dev, lr: float, record, snapshot_steps,
                 progress) -> tuple[models.XORPatternNet, train.TrainResult]:
    """One batched GD run: all members of ``prob`` at width k. The init of member e does not depend
    on how many members train (the first members of the full ``seeds`` draw), so runs pair up across parts."""
    E = prob.y.shape[0]
    net = models.XORPatternNet(k, init_scale=cfg.init_scale)
    params = {n: v[:E].contiguous() for n, v in net.init(cfg.seeds, seed=_seed(cfg, "xord_init", prob.d, k), device=dev).items()}
    return net, train.train(net, params, prob.x_pres, prob.y, steps=cfg.steps, lr=lr, loss="hinge",
                            record_steps=record, snapshot_steps=snapshot_steps, metrics=_metrics(net, prob, dev),
                            on_divergence="mask", progress=progress,
                            desc=f"xor d={prob.d} n={prob.n} k={k} lr={lr:.3g} x{E}")


def _frame_steps(cfg: Config) -> list[int]:
    """``cfg.frames`` log-spaced steps for the animation, always the first and the last."""
    steps = train.log_steps(cfg.steps, cfg.frames + 6)
    if len(steps) > cfg.frames:
        idx = np.unique(np.round(np.linspace(0, len(steps) - 1, cfg.frames)).astype(int))
        steps = [steps[i] for i in idx]
    return steps


def _frames(res: train.TrainResult, keep: int) -> Frames:
    return Frames(tuple(res.snapshot_steps), tuple({n: v[:keep].clone() for n, v in s.items()} for s in res.snapshots))


def _sweep(cfg: Config, prob: _Problem, ks: tuple[int, ...], dev, *, lrs: tuple[float, ...], animate: bool,
           check: bool, curves: bool, progress: bool, keep_first: bool = False) -> tuple[Sweep, dict | None]:
    """Train every width of ``ks`` (step ``lrs[i]``) on ``prob``; snapshots of the smallest (25 seeds) and
    largest k (one seed) when ``animate``; the widest k's test error checked independently when
    ``check`` (:func:`_check`); recorded curves when ``curves`` (else the first and last step only).
    Returns the sweep and, with ``keep_first``, the smallest width's net, final params and problem."""
    record = train.log_steps(cfg.steps, 30) if curves else [0, cfg.steps]
    frame_steps = _frame_steps(cfg)
    runs, outputs, frames, first = [], [], {}, None
    for k, lr in zip(ks, lrs):
        snap = frame_steps if (animate and k in (ks[0], ks[-1])) else ()
        net, res = _train_width(cfg, k, prob, dev, lr, record, snap, progress)
        runs.append(res)
        if snap:
            frames[k] = _frames(res, 25 if k == ks[0] else 1)
        if keep_first and first is None:
            first = {"net": net, "params": res.params, "lr": lr}
        with torch.no_grad():
            outputs.append(net.subset_outputs(res.params).double().cpu())
    final = {n: torch.stack([r.metrics[n][-1] for r in runs]).cpu() for n in ("train_err", "test_err", "clustering")}
    init = {n: torch.stack([r.metrics[n][0] for r in runs]).cpu() for n in ("exploration", "pos_explored")}
    if check:
        check_err, how = _check(cfg, prob.d, ks[-1], runs[-1].params, dev, exhaustive=animate)
    else:
        check_err, how = torch.full((prob.y.shape[0],), float("nan"), dtype=torch.float64), "not checked"
    sw = Sweep(
        d=prob.d, ks=tuple(ks), lrs=tuple(float(v) for v in lrs), n_train=prob.n, p_train=prob.p_train,
        probs=prob.probs, train_err=final["train_err"], test_err=final["test_err"],
        train_loss=torch.stack([r.final_loss for r in runs]).double().cpu(),
        outputs=torch.stack(outputs), train_sets=prob.train_sets.clone(),
        explore_init=init["exploration"], pos_explored_init=init["pos_explored"] > 0.5,
        clustering_final=final["clustering"], diverged=torch.stack([r.diverged for r in runs]).cpu(),
        steps=runs[-1].steps.cpu(), curves={n: torch.stack([r.metrics[n] for r in runs]).cpu() for n in _CURVES},
        check_err=check_err, check=how, frames=frames,
    )
    return sw, first


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


def _stuck(cfg: Config, main: Sweep, first: dict, prob: _Problem, dev, progress: bool) -> Stuck:
    """Train the smallest width's runs that are not at zero hinge loss on, to ``stuck_factor * steps``."""
    todo = torch.nonzero(~main.fitted[0] & ~main.diverged[0]).flatten()
    k, extra = main.ks[0], (cfg.stuck_factor - 1) * cfg.steps
    net, lr = first["net"], first["lr"]
    empty = torch.empty(0, dtype=torch.float64)
    if len(todo) == 0:
        return Stuck(k, cfg.steps, cfg.steps + extra, empty, empty, empty, empty, torch.zeros(0, dtype=torch.bool))
    idx = todo.to(dev)
    params = {n: v[idx].clone() for n, v in first["params"].items()}
    x, y = prob.x_pres[idx], prob.y[idx]
    res = train.train(net, params, x, y, steps=extra, lr=lr, loss="hinge", record_steps=[0, extra],
                      on_divergence="mask", progress=progress, desc=f"xor k={k} +{extra} steps x{len(todo)}")
    with torch.no_grad():
        err = (net.forward(res.params, x) * y <= 0).double().mean(-1).cpu()
    return Stuck(k, cfg.steps, cfg.steps + extra, main.train_err[0][todo].double(), err,
                 main.train_loss[0][todo], res.final_loss.double().cpu(), res.diverged.cpu())


def _ablations(cfg: Config, dev, progress: bool) -> Ablations:
    """The two widths ``abl_ks`` at fixed ``lr`` under changed training data (``abl_runs`` runs each):
    all training points diverse (p+ = p- = 1, tested at the main p), ``n`` in ``abl_ns``, and
    ``p+ = p- = abl_p`` (training and test)."""
    conds = [(f"all diverse (n={cfg.n_train})", dict(p_train=1.0, p_test=cfg.p_plus))]
    conds += [(f"n={n}", dict(n=n)) for n in cfg.abl_ns]
    conds += [(f"p+ = p- = {cfg.abl_p:g}", dict(p_train=cfg.abl_p))]
    sweeps = []
    for _, kw in conds:
        prob = _members(_problem(cfg, cfg.d, dev, part="xord_ablation_set", **kw), cfg.abl_runs)
        sweeps.append(_sweep(cfg, prob, cfg.abl_ks, dev, lrs=(cfg.lr,) * 2, animate=False, check=False,
                             curves=False, progress=progress)[0])
    return Ablations(tuple(n for n, _ in conds), tuple(sweeps), torch.stack([s.diverged for s in sweeps]))


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
    """A rough run-time estimate in seconds. On the CPU: one thread's time, calibrated on the smoke and
    book presets. On a GPU (``device`` "cuda", or "auto" with one present) the same counts at assumed,
    NOT measured, rates: 1e-9 s per unit of work (a thousandth of a CPU thread's) and 2.5e-4 s of kernel
    launches per batched call and GD step; no GPU run of this chapter has been timed yet."""
    kind = device.type if isinstance(device, torch.device) else str(device)
    gpu = kind.startswith("cuda") or (kind == "auto" and resolve_device("auto").type == "cuda")
    per_unit = 1.0e-9 if gpu else 1.0e-6  # seconds per (member * channel * GD step) of the XORD networks

    def units(ks):
        return sum(ks) + 3 * len(ks)

    xord = cfg.seeds * units(cfg.ks) + (cfg.seeds * units(cfg.ks_large) if cfg.d_large else 0)
    xord += cfg.scaled_runs * units(cfg.lr_scaled_ks)
    xord += cfg.abl_runs * units(cfg.abl_ks) * (2 + len(cfg.abl_ns)) * (1 + sum(cfg.abl_ns) / cfg.n_train / 40)
    xord *= cfg.steps
    xord += cfg.seeds * units(cfg.ks[:1]) * cfg.steps * (cfg.stuck_factor - 1)  # at most every run is stuck
    # a fixed cost per GD step of each batched call (the Python loop), dominant at smoke size
    calls = len(cfg.ks) + (len(cfg.ks_large) if cfg.d_large else 0) + (len(cfg.lr_scaled_ks) if cfg.lr_scaled_seeds else 0)
    calls += 2 * (2 + len(cfg.abl_ns)) if cfg.abl_seeds else 0
    overhead = (2.5e-4 if gpu else 1e-3) * cfg.steps * (calls + cfg.stuck_factor - 1)
    mn = 0.0
    if cfg.mnist_steps:
        side = MNIST_SIDE // cfg.mnist_pool - cfg.mnist_kernel + 1
        macs = cfg.mnist_seeds * cfg.mnist_steps * cfg.mnist_n_train * 2 * (cfg.mnist_k_small + cfg.mnist_k_wide)
        mn = (1.6e-12 if gpu else 1.6e-9) * macs * side**2 * cfg.mnist_kernel**2 * 3
    return float(per_unit * xord + overhead + mn)


def run(cfg: Config, *, device: str = "auto", progress: bool = True) -> Result:
    """Train every width in ``cfg.ks`` on XORD at ``d`` at fixed step ``lr`` (``main``), the same
    training sets and inits at ``eta_k = lr * ks[0] / k`` (``scaled``), the smallest width's runs not
    at zero loss for ``stuck_factor`` times the steps (``stuck``), the ablations, ``ks_large`` at
    ``d_large``, then the reduced MNIST experiment. Member e of every width and step rule trains on
    the same training set from the same init, so the comparisons are paired. Diverged members are
    masked and reported (``.diverged``)."""
    require_config(cfg, Config, "xor")
    dev = resolve_device(device)
    announce("xor", estimate_seconds(cfg, str(dev)), dev, progress)
    timer = Timer("xor", progress)
    scaled = stuck = abl = large = mnist = None
    with cpu_threads(dev, 1):
        with timer("main"):
            prob = _problem(cfg, cfg.d, dev)
            main, first = _sweep(cfg, prob, cfg.ks, dev, lrs=(cfg.lr,) * len(cfg.ks), animate=True, check=True,
                                 curves=True, progress=progress, keep_first=True)
        if cfg.stuck_factor > 1:
            with timer("stuck"):
                stuck = _stuck(cfg, main, first, prob, dev, progress)
        if cfg.lr_scaled_seeds:
            with timer("scaled"):
                k0 = cfg.lr_scaled_ks[0]
                scaled = _sweep(cfg, _members(prob, cfg.scaled_runs), cfg.lr_scaled_ks, dev,
                                lrs=tuple(cfg.lr * k0 / k for k in cfg.lr_scaled_ks), animate=False, check=False,
                                curves=False, progress=progress)[0]
        if cfg.abl_seeds:
            with timer("ablations"):
                abl = _ablations(cfg, dev, progress)
        if cfg.d_large:
            with timer("large"):
                large = _sweep(cfg, _problem(cfg, cfg.d_large, dev), cfg.ks_large, dev, lrs=(cfg.lr,) * len(cfg.ks_large),
                               animate=False, check=True, curves=True, progress=progress)[0]
    if cfg.mnist_steps:
        with timer("mnist"):
            mnist = _run_mnist(cfg, dev, progress)
    return Result(config=cfg, device=str(dev), seconds=timer.total(), main=main, scaled=scaled, stuck=stuck,
                  ablations=abl, large=large, mnist=mnist)
