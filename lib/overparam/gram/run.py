"""Compute only: :func:`run` trains the ensemble and returns a :class:`Result` (CPU tensors).

Sub-experiments (one frozen dataclass each, each with ``.diverged``):

- :class:`Spectrum`: ``H^inf`` of the training inputs, its eigenvalues and the step ``eta``;
- :class:`Sweep`: kernel-only quantities on a fine grid of corruption levels (trains nothing);
- :class:`Training`: the ``seeds x levels`` trained networks;
- :class:`Prediction`: the kernel-regime prediction of each of those runs (Theorem 4.1);
- :class:`Drift`: how far the network's own Gram matrix ``H(W)`` is from ``H^inf``, at
  initialization and after training (the finite-width check of the kernel regime).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import data, kernels, models, train
from ..chapter import Timer, announce, derive_seed, require_config
from ..device import resolve_device
from .config import Config

__all__ = ["Result", "Spectrum", "Sweep", "Training", "Prediction", "Drift", "run", "estimate_seconds"]


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
    """

    loss: torch.Tensor
    distance: torch.Tensor
    curve_error: torch.Tensor
    diverged: torch.Tensor


@dataclass(frozen=True)
class Drift:
    """``||H(W) - H^inf||_2 / ||H^inf||_2``: ``init`` for the first network at initialization, ``final``
    ``(S, L)`` for every network after the last step; ``diverged (S, L)`` as in :class:`Training`."""

    init: float
    final: torch.Tensor
    diverged: torch.Tensor


@dataclass(frozen=True)
class Result:
    """What :func:`run` returns: the config, the device it ran on, wall times per part, and the
    five sub-experiments."""

    config: Config
    device: str
    seconds: dict[str, float]
    spectrum: Spectrum
    sweep: Sweep
    training: Training
    prediction: Prediction
    drift: Drift


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


def estimate_seconds(cfg: Config, device="cpu", d: int = 500) -> float:
    """A rough run-time estimate from the flop count (``4 E n d m`` per GD step)."""
    flops = 4.0 * cfg.members * cfg.n_train * d * cfg.width * cfg.steps
    rate = 3e13 if resolve_device(device).type == "cuda" else 3e10
    return float(flops / rate + 2.0)


def _label_seed(cfg: Config, s: int, test: bool) -> int:
    """Seed of seed ``s``'s label corruption (one draw, nested across levels), train or test."""
    return derive_seed(cfg.seed, "labels", "test" if test else "train", s)


def _load(cfg: Config) -> _Data:
    """The two digits (offline MNIST), unit-norm images, +-1 labels. Pixels that are zero in every
    training and test image are dropped: an exact reduction (their weights get zero gradient and
    never touch an output)."""
    split = data.mnist_split(classes=cfg.classes, n_train=cfg.n_train, n_test=cfg.n_test,
                             seed=derive_seed(cfg.seed, "split"), unit_norm=True, pm1=True)
    keep = (split.x_train != 0).any(0) | (split.x_test != 0).any(0)
    return _Data(split.x_train[:, keep], split.x_test[:, keep], split.y_train, split.y_test)


def _labels(cfg: Config, y: torch.Tensor, test: bool) -> torch.Tensor:
    """``(S, L, n)`` corrupted labels: per seed one draw, nested across levels."""
    return torch.stack([torch.stack([data.corrupt_labels(y, p, seed=_label_seed(cfg, s, test))
                                     for p in cfg.corruption]) for s in range(cfg.seeds)])


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
        init = float(_drift(params["w"][:1], xd, hinf, spec.lambda_max)[0])
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


def _prediction(cfg: Config, spec: kernels.Spectrum, lr: float, fit: _Fit) -> Prediction:
    """Theorem 4.1's prediction of each run from ``y - u(0)``, and its gap to the trained loss."""
    res = fit.res
    r0 = fit.Y.to(torch.float64) - fit.u0.to(torch.float64)  # (E, n)
    pred = 0.5 * kernels.predicted_residual(spec, r0, lr, res.steps)  # (T, E)
    loss = res.loss.to(torch.float64)  # (T, E)
    p = pred.cpu()
    return Prediction(loss=_sl(cfg, pred), distance=_sl(cfg, kernels.predicted_distance(spec, r0, lr, res.steps)),
                      curve_error=_sl(cfg, (loss - p).abs().amax(0) / loss[0]),
                      diverged=_rises(p).reshape(cfg.seeds, -1))


def run(cfg: Config, *, device: str = "auto", progress: bool = True) -> Result:
    """Run the chapter's experiment (see :class:`Config`); returns a :class:`Result` on the CPU.

    1. Load the two digits; ``H^inf`` in float64 (:func:`overparam.kernels.relu_ntk_gram`), its
       eigenpairs, ``eta``.
    2. Corrupt the labels: per seed, one draw nested across levels (the points re-drawn at level
       ``p`` are among those re-drawn at any ``p' > p``).
    3. Train all ``seeds x levels`` networks as one ensemble (one :func:`overparam.train.train` call,
       loss ``"sse"``), recording ``||W(k) - W(0)||_F``; a diverging member is frozen and flagged.
    4. Bounds, test metrics, the kernel predictions, the Gram-matrix drift, the kernel-only sweep.
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
            final = _drift(fit.res.params["w"], d.x.to(dev, fit.Y.dtype), hinf, spec.lambda_max)
        drift = Drift(init=fit.drift_init, final=_sl(cfg, final), diverged=training.diverged)
    with timer("sweep"):
        sweep = _sweep(cfg, d, spec, spectrum.lr, training.steps)
    return Result(config=cfg, device=str(dev), seconds=timer.total(), spectrum=spectrum, sweep=sweep,
                  training=training, prediction=prediction, drift=drift)
