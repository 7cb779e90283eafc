"""Compute only: :func:`run` trains the ensemble and returns a :class:`Result` (CPU tensors).

Sub-experiments (one frozen dataclass each, each with ``.diverged``):

- :class:`Spectrum`: ``H^inf`` of the training inputs, its eigenvalues and the step ``eta``;
- :class:`Sweep`: kernel-only quantities on a fine grid of corruption levels (trains nothing);
- :class:`Training`: the ``seeds x levels`` trained networks;
- :class:`Prediction`: the kernel-regime prediction of each of those runs (Theorem 4.1);
- :class:`Drift`: how far the network's own Gram matrix ``H(W)`` is from ``H^inf``, at
  initialization and after training (the finite-width check of the kernel regime);
- :class:`Kernel`: the infinite-width predictor (:mod:`.kernel_predictor`), fully trained
  (``k -> inf``, the regime of Theorem 5.1) and stopped at the networks' step count, per label draw;
- :class:`Pair`: the kernel-side quantities for a second pair of digits (nothing trained);
- :class:`Widths`: the width sweep of the distance from initialization (measured vs the kernel
  prediction) and of the kernel drift, at p = 0 and p = 1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .. import data, kernels, models, train
from ..chapter import Timer, announce, derive_seed, require_config
from ..device import resolve_device
from . import kernel_predictor as kp
from .config import Config

__all__ = ["Result", "Spectrum", "Sweep", "Training", "Prediction", "Drift", "Kernel", "Pair", "Widths", "run",
           "estimate_seconds", "FINE_LEVELS"]

#: Corruption levels of the fine grid on which the first vacuous level of the bound is located.
FINE_LEVELS = 101


@dataclass(frozen=True)
class Spectrum:
    """``H^inf`` of the ``n`` training inputs (``d`` non-zero pixels): ``eigenvalues (n,)``
    descending, ``lambda_min``, ``lambda_max``, the GD step ``lr``. ``diverged``: ``(1,)`` False."""

    n: int
    n_test: int
    d: int
    eigenvalues: torch.Tensor
    lambda_min: float
    lambda_max: float
    lr: float
    diverged: torch.Tensor


@dataclass(frozen=True)
class Sweep:
    """Kernel-only curves over ``levels (F,)`` (seed 0's nested label draw): ``projections (F, n)``
    ``(v_i . y)^2``, ``bound (F,)`` ``sqrt(2 y^T H^-1 y / n)``, ``distance_bound (F,)``
    ``sqrt(y^T H^-1 y)``, ``predicted (T, F)`` the predicted ``1/2 ||y - u(k)||^2``. Trains nothing;
    ``diverged (F,)`` flags a predicted loss that is non-finite or rises (an unstable step)."""

    levels: torch.Tensor
    projections: torch.Tensor
    bound: torch.Tensor
    distance_bound: torch.Tensor
    predicted: torch.Tensor
    diverged: torch.Tensor

    def top_fraction(self, level: float, k: int = 10) -> float:
        """Fraction of ``||y||^2`` on the top ``k`` eigenvectors at the sweep level nearest ``level``."""
        p = self.projections[int((self.levels - level).abs().argmin())]
        return float(p[:k].sum() / p.sum())


@dataclass(frozen=True)
class Training:
    """The trained networks, ``S`` seeds x ``L`` levels, recorded at ``steps (T,)``.

    ``loss`` (``1/2 ||y - u(k)||^2``) and ``distance`` (``||W(k) - W(0)||_F``): ``(T, S, L)``. Per run
    ``(S, L)``: ``bound``, ``distance_bound`` (from ``H^inf`` and the run's labels), ``train_error``,
    ``test_error``, ``test_loss`` (``min(1, |f(x) - y|)``, test labels corrupted like the training
    labels), ``clean_test_error`` (true test labels), ``diverged`` and ``diverged_at`` (the step at
    which the loss became non-finite or exceeded the trainer's ``max_loss``, or -1). A run also counts
    as diverged when its last loss is above its initial one (gradient descent failed to descend;
    ``diverged_at`` is then the last step). A diverged run is frozen; its numbers are not to be used.
    """

    levels: torch.Tensor
    steps: torch.Tensor
    loss: torch.Tensor
    distance: torch.Tensor
    bound: torch.Tensor
    distance_bound: torch.Tensor
    train_error: torch.Tensor
    test_error: torch.Tensor
    test_loss: torch.Tensor
    clean_test_error: torch.Tensor
    diverged: torch.Tensor
    diverged_at: torch.Tensor

    def level_index(self, level: float) -> int:
        """Index of the trained corruption level closest to ``level``."""
        return int((self.levels - level).abs().argmin())

    def loss_fraction(self, level: float) -> torch.Tensor:
        """``loss(K) / loss(0)`` at the last step for the trained ``level``, per seed ``(S,)``."""
        j = self.level_index(level)
        return self.loss[-1, :, j] / self.loss[0, :, j]


@dataclass(frozen=True)
class Prediction:
    """The kernel-regime (linearized) prediction of each trained run from ``H^inf`` and its initial
    residual ``y - u(0)`` (Theorem 4.1): ``loss`` and ``distance`` ``(T, S, L)``, and ``curve_error``
    ``(S, L)`` = ``max_k |loss - predicted| / loss(0)`` against the trained network. ``diverged (S, L)``:
    the predicted loss is non-finite or rises above its initial value (the step is unstable for the
    linearized dynamics, ``eta lambda_max > 2``); such a prediction, and its curve error, are not used.

    ``long_steps (T',)`` (log-spaced up to ``config.long_steps``) and ``long_loss (T', S, L)``: the same
    prediction far beyond the trained steps. The initial outputs: ``init_top10 (S, L)``, the share of
    ``||u(0)||^2`` on the top 10 eigenvectors (NaN when ``u(0) = 0``), ``init_complexity (S, L)``
    ``u(0)^T (H^inf)^-1 u(0) / n`` and ``label_complexity (S, L)`` ``y^T (H^inf)^-1 y / n``.
    """

    loss: torch.Tensor
    distance: torch.Tensor
    curve_error: torch.Tensor
    long_steps: torch.Tensor
    long_loss: torch.Tensor
    init_top10: torch.Tensor
    init_complexity: torch.Tensor
    label_complexity: torch.Tensor
    diverged: torch.Tensor


@dataclass(frozen=True)
class Drift:
    """``||H(W) - H^inf||_2 / ||H^inf||_2``: ``init`` for the first network at initialization, ``final``
    ``(S, L)`` for every network after the last step; ``diverged (S, L)`` as in :class:`Training`."""

    init: float
    final: torch.Tensor
    diverged: torch.Tensor


@dataclass(frozen=True)
class Kernel:
    """The infinite-width predictor ``f_k(x) = H^inf(x, X) (H^inf)^-1 (I - (I - eta H^inf)^k) y``
    (:mod:`.kernel_predictor`), for every seed's label draw ``s``.

    Fully trained (``k -> inf``: it fits every training label) on the sweep's ``levels (F,)``:
    ``full_test_error (S, F)`` (corrupted test labels), ``full_clean_error (S, F)`` (true test labels),
    ``full_test_loss (S, F)`` (``min(1, |f - y|)``, corrupted test labels), ``bound (S, F)`` (the
    leading term ``sqrt(2 y^T (H^inf)^-1 y / n)`` of the same draw). On the fine grid
    ``fine_levels (G,)``: ``first_vacuous (S,)``, the first level whose bound exceeds 1 (NaN if none).
    At the trained levels ``(S, L)``: ``full_clean_at``, ``full_test_at`` (``k -> inf``) and
    ``stopped_train_error``, ``stopped_test_error``, ``stopped_clean_error`` (``k`` = the networks'
    steps). ``diverged (S, L)``: the step is unstable for the linearized dynamics (``eta lambda_max >= 2``),
    so the stopped predictor is not used (the ``k -> inf`` interpolant does not depend on ``eta``).
    """

    levels: torch.Tensor
    full_test_error: torch.Tensor
    full_clean_error: torch.Tensor
    full_test_loss: torch.Tensor
    bound: torch.Tensor
    fine_levels: torch.Tensor
    first_vacuous: torch.Tensor
    full_clean_at: torch.Tensor
    full_test_at: torch.Tensor
    stopped_train_error: torch.Tensor
    stopped_test_error: torch.Tensor
    stopped_clean_error: torch.Tensor
    diverged: torch.Tensor


@dataclass(frozen=True)
class Pair:
    """Kernel-side quantities for a second pair of digits ``classes`` (``n`` training and ``n_test``
    test points drawn like the main pair's; nothing is trained): the spectrum's ``lambda_min``,
    ``lambda_max``, ``projections_true (n,)`` ``(v_i . y)^2`` of the true labels, and per seed's label
    draw on the sweep's ``levels (F,)``: ``bound (S, F)`` and ``full_clean_error (S, F)`` (the fully
    trained kernel predictor on the true test labels). ``diverged``: ``(1,)`` False."""

    classes: tuple[int, ...]
    n: int
    n_test: int
    lambda_min: float
    lambda_max: float
    projections_true: torch.Tensor
    levels: torch.Tensor
    bound: torch.Tensor
    full_clean_error: torch.Tensor
    diverged: torch.Tensor

    def top_fraction(self, k: int = 10) -> float:
        """Fraction of ``||y||^2`` (true labels) on the top ``k`` eigenvectors."""
        p = self.projections_true
        return float(p[:k].sum() / p.sum())


@dataclass(frozen=True)
class Widths:
    """The width sweep at ``widths (W,)``, labels at ``levels (2,)`` = (0, 1) (true, random; seed
    ``s``'s draw, as in :class:`Training`), ``S`` seeds, all after ``config.steps`` steps: per run
    ``(W, S, 2)`` the measured ``distance`` ``||W(K) - W(0)||_F``, its kernel prediction ``predicted``
    (Theorem 4.1 from ``y - u(0)``), the relative excess ``gap = (predicted - distance) / distance``
    and the final kernel drift ``drift = ||H(W(K)) - H^inf||_2 / ||H^inf||_2``; ``drift_init (W,)``
    the drift of the first network at initialization. ``diverged (W, S, 2)`` as in :class:`Training`
    (loss non-finite, above the trainer's limit, or ending above its start); such runs are not used."""

    widths: torch.Tensor
    levels: torch.Tensor
    distance: torch.Tensor
    predicted: torch.Tensor
    gap: torch.Tensor
    drift: torch.Tensor
    drift_init: torch.Tensor
    diverged: torch.Tensor


@dataclass(frozen=True)
class Result:
    """What :func:`run` returns: the config, the device it ran on, wall times per part, and the
    sub-experiments (``pair`` and ``widths`` are ``None`` when ``config.pair`` / ``config.widths`` are)."""

    config: Config
    device: str
    seconds: dict[str, float]
    spectrum: Spectrum
    sweep: Sweep
    training: Training
    prediction: Prediction
    drift: Drift
    kernel: Kernel
    pair: Pair | None
    widths: Widths | None


@dataclass(frozen=True)
class _Fit:
    """The trained ensemble and what the reports need from its start: labels ``Y (E, n)``, outputs
    ``u0 (E, n)`` at initialization, and the Gram-matrix drift of the first network at init."""

    model: models.TwoLayerReLU
    res: train.TrainResult
    Y: torch.Tensor
    u0: torch.Tensor
    drift_init: float


@dataclass(frozen=True)
class _Data:
    """Unit-norm images (pixels that are zero everywhere dropped) and the true +-1 labels."""

    x: torch.Tensor
    x_test: torch.Tensor
    y: torch.Tensor
    y_test: torch.Tensor


def estimate_seconds(cfg: Config, device="cpu", d: int = 650) -> float:
    """A rough run-time estimate from the flop count: ``4 E n d m`` per GD step, the Gram-matrix drift
    (``E n m (d + n)``) and the eigendecompositions (``~10 n^3`` each, two digit pairs), at 3e10 flop/s
    on a CPU core and 3e13 on a GPU. ``d`` is the number of non-zero pixels (about 500-650). The width
    sweep adds ``2 seeds`` networks at each of ``cfg.widths`` other than ``cfg.width`` (same cost per unit)."""
    n, E = cfg.n_train, cfg.members
    extra = [m for m in cfg.widths or () if not (m == cfg.width and _reusable(cfg))]  # trained anew
    mE = E * cfg.width + 2 * cfg.seeds * sum(extra)  # sum of widths over all trained networks
    flops = 4.0 * mE * n * d * cfg.steps + mE * n * (d + n) + 20.0 * n**3
    kind = device.type if isinstance(device, torch.device) else str(device)
    gpu = kind.startswith("cuda") or (kind == "auto" and resolve_device("auto").type == "cuda")
    rate = 3e13 if gpu else 3e10
    return float(flops / rate + 2.0)


def _label_seed(cfg: Config, s: int, test: bool) -> int:
    """Seed of seed ``s``'s label corruption (one draw, nested across levels), train or test."""
    return derive_seed(cfg.seed, "labels", "test" if test else "train", s)


def _load(cfg: Config, classes: tuple[int, ...] | None = None) -> _Data:
    """The two digits ``classes`` (default ``cfg.classes``) from ``cfg.source``, unit-norm images
    (renormalized in float64), +-1 labels. Pixels that are zero in every training and test image are
    dropped: an exact reduction (their weights get zero gradient and never touch an output)."""
    split = data.mnist_split(classes=classes or cfg.classes, n_train=cfg.n_train, n_test=cfg.n_test,
                             seed=derive_seed(cfg.seed, "split"), source=cfg.source, unit_norm=True, pm1=True)
    keep = (split.x_train != 0).any(0) | (split.x_test != 0).any(0)
    return _Data(kp.unit_rows(split.x_train[:, keep]), kp.unit_rows(split.x_test[:, keep]), split.y_train, split.y_test)


def _labels(cfg: Config, y: torch.Tensor, test: bool, levels=None) -> torch.Tensor:
    """``(S, L, n)`` corrupted labels at ``levels`` (default: the trained ones): per seed one draw,
    nested across levels."""
    levels = cfg.corruption if levels is None else [float(p) for p in levels]
    return torch.stack([torch.stack([data.corrupt_labels(y, p, seed=_label_seed(cfg, s, test))
                                     for p in levels]) for s in range(cfg.seeds)])


def _spectrum(cfg: Config, d: _Data, dev: torch.device) -> tuple[torch.Tensor, kernels.Spectrum, Spectrum]:
    hinf = kernels.relu_ntk_gram(d.x.to(dev))
    spec = kernels.spectrum(hinf)
    out = Spectrum(n=d.x.shape[0], n_test=d.x_test.shape[0], d=d.x.shape[1], eigenvalues=spec.values.cpu(),
                   lambda_min=spec.lambda_min, lambda_max=spec.lambda_max, lr=cfg.lr_scale / spec.lambda_max,
                   diverged=torch.zeros(1, dtype=torch.bool))
    return hinf, spec, out


def _rises(pred: torch.Tensor) -> torch.Tensor:
    """``(T, ...) -> (...)``: a predicted loss that is non-finite or rises above its start (the step
    is unstable for the linearized dynamics; a stable one never increases it)."""
    return ~torch.isfinite(pred).all(0) | (pred > pred[0] * (1 + 1e-9)).any(0)


def _sweep(cfg: Config, d: _Data, spec: kernels.Spectrum, lr: float, steps: torch.Tensor) -> Sweep:
    """Kernel-only curves over ``cfg.sweep`` levels (seed 0's training-label draw)."""
    levels = torch.linspace(0, 1, cfg.sweep, dtype=torch.float64)
    y = torch.stack([data.corrupt_labels(d.y, float(p), seed=_label_seed(cfg, 0, False)) for p in levels])
    y = y.to(spec.values.device, torch.float64)
    pred = (0.5 * kernels.predicted_residual(spec, y, lr, steps)).cpu()
    return Sweep(levels=levels, projections=kernels.projections(spec, y).cpu(),
                 bound=kernels.generalization_bound(spec, y).cpu(),
                 distance_bound=kernels.distance_bound(spec, y).cpu(),
                 predicted=pred, diverged=_rises(pred))


def _network(cfg: Config, d: int, dev: torch.device):
    """The model and its ``S * L`` initial networks (paired when ``symmetric_init``)."""
    dtype = torch.float32 if cfg.dtype == "float32" else torch.float64
    model = models.TwoLayerReLU(d=d, width=cfg.width, output_init="sign", train_output=False,
                                output_scale="ntk", init_scale=cfg.kappa)
    params = model.init(cfg.members, seed=derive_seed(cfg.seed, "init"), device=dev, dtype=dtype)
    return model, (models.paired_init(params) if cfg.symmetric_init else params)


def _drift(w: torch.Tensor, x: torch.Tensor, hinf: torch.Tensor, lambda_max: float) -> torch.Tensor:
    """``||H(w_e) - H^inf||_2 / lambda_max`` for each member ``e`` of ``w (E, m, d)`` (float64, ``(E,)``)."""
    out = [torch.linalg.matrix_norm(kernels.empirical_gram(we, x) - hinf, ord=2) / lambda_max for we in w]
    return torch.stack(out).cpu()


def _fit(cfg: Config, d: _Data, hinf: torch.Tensor, spec: kernels.Spectrum, lr: float, dev, progress: bool) -> _Fit:
    """Train all ``S * L`` networks as one ensemble (diverging members are frozen, not raised)."""
    model, params = _network(cfg, d.x.shape[1], dev)
    w0 = params["w"].clone()
    xd = d.x.to(dev, w0.dtype)
    Y = _labels(cfg, d.y, test=False).reshape(cfg.members, -1).to(dev, w0.dtype)
    with torch.no_grad():
        u0 = model.forward(params, xd)
        init = float(_drift(params["w"][:1], d.x.to(dev), hinf, spec.lambda_max)[0])
    every = max(1, cfg.steps // 400)
    record = sorted(set(range(0, cfg.steps + 1, every)) | {cfg.steps})
    metrics = {"distance": lambda p: (p["w"] - w0).flatten(1).norm(dim=1)}
    res = train.train(model, params, xd, Y, steps=cfg.steps, lr=lr, loss="sse", record_steps=record,
                      metrics=metrics, on_divergence="mask", progress=progress,
                      desc=f"gram: {cfg.members} nets x width {cfg.width}")
    return _Fit(model, res, Y, u0, init)


def _test_metrics(model, params, d: _Data, Y: torch.Tensor, y_te: torch.Tensor, dev) -> dict[str, torch.Tensor]:
    """Train error, test error and clipped test loss (corrupted test labels), clean test error: ``(E,)``."""
    with torch.no_grad():
        f_tr = model.forward(params, d.x.to(dev, Y.dtype)).to(torch.float64)
        f_te = model.forward(params, d.x_test.to(dev, Y.dtype)).to(torch.float64)
    yt = y_te.reshape(Y.shape[0], -1).to(dev, torch.float64)
    clean = d.y_test.to(dev, torch.float64)
    return {"train_error": (f_tr * Y.to(torch.float64) <= 0).double().mean(-1),
            "test_error": (f_te * yt <= 0).double().mean(-1),
            "test_loss": (f_te - yt).abs().clamp(max=1.0).mean(-1),
            "clean_test_error": (f_te * clean <= 0).double().mean(-1)}


def _training(cfg: Config, d: _Data, spec: kernels.Spectrum, fit: _Fit) -> Training:
    """Bounds and test metrics of the trained ensemble ``fit``; runs whose loss ended above its start
    are flagged as diverged too."""
    res, Y = fit.res, fit.Y
    Yd = Y.to(torch.float64)
    tests = _test_metrics(fit.model, res.params, d, Y, _labels(cfg, d.y_test, test=True), Y.device)
    rose = res.loss[-1] > res.loss[0]
    at = torch.where(rose & (res.diverged_at < 0), res.steps[-1], res.diverged_at)
    return Training(levels=torch.tensor(cfg.corruption, dtype=torch.float64), steps=res.steps,
                    loss=_sl(cfg, res.loss), distance=_sl(cfg, res.metrics["distance"]),
                    bound=_sl(cfg, kernels.generalization_bound(spec, Yd)),
                    distance_bound=_sl(cfg, kernels.distance_bound(spec, Yd)),
                    **{k: _sl(cfg, v) for k, v in tests.items()},
                    diverged=(at >= 0).reshape(cfg.seeds, -1), diverged_at=at.reshape(cfg.seeds, -1))


def _sl(cfg: Config, t: torch.Tensor) -> torch.Tensor:
    """``(..., E) -> (..., S, L)`` on the CPU, float64."""
    t = t.detach().to("cpu", torch.float64)
    return t.reshape(*t.shape[:-1], cfg.seeds, len(cfg.corruption))


def _long_steps(cfg: Config) -> torch.Tensor:
    """About 200 log-spaced step counts from 1 to ``cfg.long_steps``, with 0 first."""
    k = torch.logspace(0, torch.log10(torch.tensor(float(cfg.long_steps))), 200, dtype=torch.float64).round()
    return torch.cat([torch.zeros(1, dtype=torch.float64), k.unique()])


def _prediction(cfg: Config, spec: kernels.Spectrum, lr: float, fit: _Fit) -> Prediction:
    """Theorem 4.1's prediction of each run from ``y - u(0)``, its gap to the trained loss, the same
    prediction up to ``cfg.long_steps``, and where ``u(0)`` and ``y`` sit in the spectrum."""
    res = fit.res
    Y, u0 = fit.Y.to(torch.float64), fit.u0.to(torch.float64)
    r0 = Y - u0  # (E, n)
    pred = 0.5 * kernels.predicted_residual(spec, r0, lr, res.steps)  # (T, E)
    loss = res.loss.to(torch.float64)  # (T, E)
    p = pred.cpu()
    long_steps = _long_steps(cfg)
    proj0 = kernels.projections(spec, u0)  # (E, n)
    top10 = proj0[:, :10].sum(-1) / proj0.sum(-1)
    top10 = torch.where(proj0.sum(-1) > 1e-6 * spec.n, top10, torch.full_like(top10, float("nan")))  # u(0) = 0
    return Prediction(loss=_sl(cfg, pred), distance=_sl(cfg, kernels.predicted_distance(spec, r0, lr, res.steps)),
                      curve_error=_sl(cfg, (loss - p).abs().amax(0) / loss[0]),
                      long_steps=long_steps,
                      long_loss=_sl(cfg, 0.5 * kernels.predicted_residual(spec, r0, lr, long_steps)),
                      init_top10=_sl(cfg, top10), init_complexity=_sl(cfg, kernels.label_complexity(spec, u0) / spec.n),
                      label_complexity=_sl(cfg, kernels.label_complexity(spec, Y) / spec.n),
                      diverged=_rises(p).reshape(cfg.seeds, -1))


def _errors(f: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Share of sign errors of predictions ``f (..., t)`` against labels ``y (..., t)``."""
    return (f * y.to(f) <= 0).double().mean(-1)


def _first_above_one(levels: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
    """``(S, G) -> (S,)``: the first level at which ``bound`` exceeds 1 (NaN where it never does)."""
    above = bound > 1
    first = above.double().argmax(-1)
    return torch.where(above.any(-1), levels[first], torch.full_like(first, float("nan"), dtype=torch.float64))


def _kernel(cfg: Config, d: _Data, spec: kernels.Spectrum, lr: float, steps: int) -> Kernel:
    """The fully trained (``k -> inf``) and stopped (``k = steps``) infinite-width predictors for every
    seed's label draw, on the sweep's levels and the trained ones, and the bound on a fine grid."""
    dev = spec.vectors.device
    levels = torch.linspace(0, 1, cfg.sweep, dtype=torch.float64)
    fine = torch.linspace(0, 1, FINE_LEVELS, dtype=torch.float64)
    full = kp.predictor_matrix(spec, d.x, d.x_test)  # (t, n)
    Ys, Yt = _labels(cfg, d.y, False, levels).to(dev), _labels(cfg, d.y_test, True, levels).to(dev)  # (S, F, .)
    f = Ys.to(torch.float64) @ full.T  # (S, F, t)
    clean = d.y_test.to(dev)
    Yf = _labels(cfg, d.y, False, fine).to(dev)
    Ytr, Ytt = _labels(cfg, d.y, False).to(dev), _labels(cfg, d.y_test, True).to(dev)  # (S, L, .)
    fa = Ytr.to(torch.float64) @ full.T
    stable = lr * spec.lambda_max < 2
    if stable:
        fs = Ytr.to(torch.float64) @ kp.predictor_matrix(spec, d.x, d.x_test, lr, steps).T
        us = kp.train_outputs(spec, Ytr, lr, steps)
        stopped = [_errors(us, Ytr), _errors(fs, Ytt), _errors(fs, clean)]
    else:
        stopped = [torch.full(Ytr.shape[:2], float("nan"), dtype=torch.float64)] * 3
    cpu = lambda t: t.detach().cpu()  # noqa: E731
    return Kernel(levels=levels, full_test_error=cpu(_errors(f, Yt)), full_clean_error=cpu(_errors(f, clean)),
                  full_test_loss=cpu((f - Yt.to(f)).abs().clamp(max=1.0).mean(-1)),
                  bound=cpu(kernels.generalization_bound(spec, Ys)), fine_levels=fine,
                  first_vacuous=cpu(_first_above_one(fine.to(dev), kernels.generalization_bound(spec, Yf))),
                  full_clean_at=cpu(_errors(fa, clean)), full_test_at=cpu(_errors(fa, Ytt)),
                  stopped_train_error=cpu(stopped[0]), stopped_test_error=cpu(stopped[1]),
                  stopped_clean_error=cpu(stopped[2]),
                  diverged=torch.full(Ytr.shape[:2], not stable, dtype=torch.bool))


def _pair(cfg: Config, dev: torch.device) -> Pair | None:
    """The kernel side of ``cfg.pair`` (same ``n``, label draws and sweep levels as the main pair)."""
    if cfg.pair is None:
        return None
    d = _load(cfg, cfg.pair)
    spec = kernels.spectrum(kernels.relu_ntk_gram(d.x.to(dev)))
    levels = torch.linspace(0, 1, cfg.sweep, dtype=torch.float64)
    Ys = _labels(cfg, d.y, False, levels).to(dev)
    f = Ys.to(torch.float64) @ kp.predictor_matrix(spec, d.x, d.x_test).T
    return Pair(classes=tuple(cfg.pair), n=d.x.shape[0], n_test=d.x_test.shape[0], lambda_min=spec.lambda_min,
                lambda_max=spec.lambda_max, projections_true=kernels.projections(spec, d.y.to(dev)).cpu(),
                levels=levels, bound=kernels.generalization_bound(spec, Ys).cpu(),
                full_clean_error=_errors(f, d.y_test.to(dev)).cpu(), diverged=torch.zeros(1, dtype=torch.bool))


def _reusable(cfg: Config) -> bool:
    """Whether the main ensemble already holds the width sweep's runs at ``cfg.width`` (it trains p = 0 and p = 1)."""
    return cfg.corruption[0] == 0.0 and cfg.corruption[-1] == 1.0


def _widths(cfg: Config, d: _Data, hinf: torch.Tensor, spec: kernels.Spectrum, lr: float, dev, progress: bool,
            main: tuple[Training, Prediction, Drift]) -> Widths | None:
    """Train ``seeds`` networks at p = 0 and p = 1 at each of ``cfg.widths`` (one ensemble per width;
    same data, label draws, step and steps as the main run) and compare ``||W(K) - W(0)||_F`` with its
    kernel prediction; the drift of each network's Gram matrix after training. At ``m = cfg.width`` the
    main ensemble's runs at p = 0 and p = 1 are used (the same runs; nothing is trained twice)."""
    if cfg.widths is None:
        return None
    steps = torch.tensor([cfg.steps], dtype=torch.float64)
    cols = {k: [] for k in ("distance", "predicted", "drift", "diverged")}
    init = []
    for m in cfg.widths:
        if m == cfg.width and _reusable(cfg):
            tr, pr, dr = main
            ends = [0, len(cfg.corruption) - 1]
            cols["distance"].append(tr.distance[-1][:, ends])
            cols["predicted"].append(pr.distance[-1][:, ends])
            cols["drift"].append(dr.final[:, ends])
            cols["diverged"].append(tr.diverged[:, ends])
            init.append(dr.init)
            continue
        c = replace(cfg, width=m, corruption=(0.0, 1.0))
        fit = _fit(c, d, hinf, spec, lr, dev, progress)
        res = fit.res
        r0 = fit.Y.to(torch.float64) - fit.u0.to(torch.float64)
        rose = res.loss[-1] > res.loss[0]
        with torch.no_grad():
            drift = _drift(res.params["w"], d.x.to(dev), hinf, spec.lambda_max)
        cols["distance"].append(_sl(c, res.metrics["distance"][-1]))
        cols["predicted"].append(_sl(c, kernels.predicted_distance(spec, r0, lr, steps)[-1]))
        cols["drift"].append(_sl(c, drift))
        cols["diverged"].append(((res.diverged_at >= 0) | rose).cpu().reshape(c.seeds, -1))
        init.append(fit.drift_init)
    t = {k: torch.stack(v) for k, v in cols.items()}
    return Widths(widths=torch.tensor(cfg.widths, dtype=torch.float64), levels=torch.tensor([0.0, 1.0], dtype=torch.float64),
                  distance=t["distance"], predicted=t["predicted"], gap=(t["predicted"] - t["distance"]) / t["distance"],
                  drift=t["drift"], drift_init=torch.tensor(init, dtype=torch.float64), diverged=t["diverged"])


def run(cfg: Config, *, device: str = "auto", progress: bool = True) -> Result:
    """Run the chapter's experiment (see :class:`Config`); returns a :class:`Result` on the CPU.

    1. Load the two digits; ``H^inf`` in float64 (:func:`overparam.kernels.relu_ntk_gram`), its
       eigenpairs, ``eta``.
    2. Corrupt the labels: per seed, one draw nested across levels (the points re-drawn at level
       ``p`` are among those re-drawn at any ``p' > p``).
    3. Train all ``seeds x levels`` networks as one ensemble (one :func:`overparam.train.train` call,
       loss ``"sse"``), recording ``||W(k) - W(0)||_F``; a diverging member is frozen and flagged.
    4. Bounds, test metrics, the kernel predictions, the Gram-matrix drift, the kernel-only sweep.
    5. The infinite-width predictor, fully trained and stopped, per label draw; the second pair.
    6. The width sweep (``cfg.widths``): ``seeds`` networks at p = 0 and p = 1 per width.

    ``source="full"`` reads the full MNIST from the cache that :func:`overparam.data.download_mnist`
    fills (an opt-in download, never done here).
    """
    require_config(cfg, Config, "gram")
    dev = resolve_device(device)
    announce("gram", estimate_seconds(cfg, dev), dev, progress)
    timer = Timer("gram", progress)
    with timer("kernel"):
        d = _load(cfg)
        hinf, spec, spectrum = _spectrum(cfg, d, dev)
    with timer("training"):
        fit = _fit(cfg, d, hinf, spec, spectrum.lr, dev, progress)
        training = _training(cfg, d, spec, fit)
        prediction = _prediction(cfg, spec, spectrum.lr, fit)
    with timer("drift"):
        with torch.no_grad():
            final = _drift(fit.res.params["w"], d.x.to(dev), hinf, spec.lambda_max)
        drift = Drift(init=fit.drift_init, final=_sl(cfg, final), diverged=training.diverged)
    with timer("sweep"):
        sweep = _sweep(cfg, d, spec, spectrum.lr, training.steps)
    with timer("kernel predictor"):
        kernel = _kernel(cfg, d, spec, spectrum.lr, cfg.steps)
        pair = _pair(cfg, dev)
    with timer("width sweep"):
        widths = _widths(cfg, d, hinf, spec, spectrum.lr, dev, progress, (training, prediction, drift))
    return Result(config=cfg, device=str(dev), seconds=timer.total(), spectrum=spectrum, sweep=sweep,
                  training=training, prediction=prediction, drift=drift, kernel=kernel, pair=pair,
                  widths=widths)
