"""Chapter 2's multi-layer experiment: a deep ReLU teacher, over-realized deep students, and how well
each student layer's nodes match the teacher's (the lowest layer is the paper's main theorem).

It follows the official ``recon_multilayer.py`` (README, "Fig. 6") and ``model_gen.py``:

- teacher: hidden widths ``deep_widths`` (published ``50-75-100-125``), ``deep_c`` outputs
  (published 100); every layer's weights are distinct rows from the weight grid, biases
  ``U(-0.5, 0.5)``, each row (with its bias) divided by its weight norm; then the biases are tuned
  layer by layer so that every hidden node is active on half of the evaluation inputs (the median
  pre-activation is subtracted), and the outputs are standardized (``teacher_bias_tune``);
- student: widths ``multi * deep_widths``, PyTorch's default ``nn.Linear`` initialization
  (``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weights and biases) scaled by 0.1;
- inputs ``N(0, deep_std^2 I)`` (published: d = 20, std 10), a fixed training set of ``deep_n``
  samples, SGD with batch 64 over shuffled epochs, step ``deep_lr`` then ``deep_lr2`` from epoch
  ``deep_drop`` (published ``lr=0-0.2-20-0.1``, 200 epochs), loss ``nn.MSELoss`` (mean over the batch
  and the outputs);
- correlation of post-ReLU activations on the evaluation set (``StatsCorr``); a teacher node of
  layer ``l`` is recovered when some student node of layer ``l`` has correlation > ``threshold``.

The backward pass is written out for the batched ensemble (checked against autograd in the tests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import data as _data
from ..chapter import derive_seed
from ..device import cpu_generator
from .config import Config

__all__ = ["DeepSweep", "deep_teacher", "deep_student", "mlp_forward", "mlp_grads", "run_deep", "deep_flops"]

Layers = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class DeepSweep:
    """``multis``; ``best_corr``: per multi a list over hidden layers of ``(S, k_l)`` tensors, each
    teacher node's best correlation with a student node of the same layer at the end (evaluation
    set), stacked as ``(M, S, sum k_l)`` with ``layer_sizes`` giving the split; ``train_loss (M, S)``
    the final training MSE (last epoch's mean); ``diverged (M, S)`` bool."""

    multis: tuple[int, ...]
    layer_sizes: tuple[int, ...]
    best_corr: torch.Tensor
    train_loss: torch.Tensor
    diverged: torch.Tensor

    def layer(self, l: int) -> torch.Tensor:
        """``(M, S, k_l)``: the best correlations of hidden layer ``l`` (0 is the lowest)."""
        start = sum(self.layer_sizes[:l])
        return self.best_corr[..., start:start + self.layer_sizes[l]]


def mlp_forward(layers: Layers, x: torch.Tensor) -> list[torch.Tensor]:
    """Batched MLP ``x (E, N, d)`` -> ``[x, h_1, ..., h_L, y]`` (post-ReLU hidden activations;
    ``layers``: ``(W (E, out, in), b (E, out))`` per layer, ReLU after all but the last)."""
    hs = [x]
    for i, (W, b) in enumerate(layers):
        z = torch.baddbmm(b[:, None, :], hs[-1], W.transpose(1, 2))
        hs.append(z.relu_() if i < len(layers) - 1 else z)
    return hs


def mlp_grads(layers: Layers, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Layers]:
    """``nn.MSELoss`` (mean over samples and outputs) per member and its gradients, written out:
    ``x (E, N, d)``, ``y (E, N, c)`` -> ``(loss (E,), [(dW, db) per layer])``."""
    hs = mlp_forward(layers, x)
    r = hs[-1] - y
    loss = r.square().mean((1, 2))
    g = r.mul_(2.0 / (r.shape[1] * r.shape[2]))
    out = []
    for i in range(len(layers) - 1, -1, -1):
        W, _ = layers[i]
        out.append((torch.bmm(g.transpose(1, 2), hs[i]), g.sum(1)))
        if i > 0:
            g = torch.bmm(g, W).mul_(hs[i] > 0)
    return loss, out[::-1]


def deep_teacher(cfg: Config, xe: torch.Tensor) -> Layers:
    """The teachers (one per seed, float64): grid weights, ``U(-0.5, 0.5)`` biases, rows normalized,
    biases tuned on the evaluation inputs ``xe (S, N_eval, d)`` so that each hidden node is active
    on half of them, outputs standardized (see the module docstring)."""
    from .run import separate_vectors

    g = cpu_generator(derive_seed(cfg.seed, "deep_teacher"))
    sizes, S = (cfg.deep_d, *cfg.deep_widths, cfg.deep_c), cfg.deep_seeds
    layers: Layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        W = separate_vectors(S, fan_out, fan_in, g)
        b = torch.rand(S, fan_out, generator=g, dtype=torch.float64) - 0.5
        norm = W.norm(dim=-1) + 1e-5
        layers.append((W / norm[..., None], b / norm))
    h = xe
    for i, (W, b) in enumerate(layers[:-1]):  # the median pre-activation of each node becomes 0
        z = torch.baddbmm(b[:, None, :], h, W.transpose(1, 2))
        b = b - z.median(dim=1).values
        layers[i] = (W, b)
        h = torch.baddbmm(b[:, None, :], h, W.transpose(1, 2)).relu_()
    W, b = layers[-1]
    y = torch.baddbmm(b[:, None, :], h, W.transpose(1, 2))
    mean, std = y.mean(1), y.std(1)
    layers[-1] = (W / std[..., None], (b - mean) / std)
    return layers


def deep_student(cfg: Config, multi: int) -> Layers:
    """Students of widths ``multi * deep_widths`` (one per seed, float32): ``nn.Linear``'s default
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for weights and biases, times 0.1."""
    g = cpu_generator(derive_seed(cfg.seed, "deep_student", multi))
    sizes, S = (cfg.deep_d, *(multi * k for k in cfg.deep_widths), cfg.deep_c), cfg.deep_seeds
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        W = (torch.rand(S, fan_out, fan_in, generator=g, dtype=torch.float64) * 2 - 1) * bound * cfg.deep_student_scale
        b = (torch.rand(S, fan_out, generator=g, dtype=torch.float64) * 2 - 1) * bound * cfg.deep_student_scale
        layers.append((W.float(), b.float()))
    return layers


def deep_flops(cfg: Config) -> float:
    """Floating-point operations of :func:`run_deep` (matmuls only), for the time estimate."""
    steps = cfg.deep_epochs * math.ceil(cfg.deep_n / cfg.deep_batch)
    total = 0.0
    for multi in cfg.deep_multis:
        sizes = (cfg.deep_d, *(multi * k for k in cfg.deep_widths), cfg.deep_c)
        total += sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 6.0 * cfg.deep_seeds * steps * cfg.deep_batch * total


def _sgd(cfg: Config, layers: Layers, x: torch.Tensor, y: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """SGD over shuffled epochs (the permutations drawn on the CPU); returns the last epoch's mean
    training loss ``(S,)``."""
    gen = cpu_generator(derive_seed(cfg.seed, "deep_batches"))
    S, n, B = cfg.deep_seeds, cfg.deep_n, cfg.deep_batch
    for epoch in range(cfg.deep_epochs):
        lr = cfg.deep_lr if epoch < cfg.deep_drop else cfg.deep_lr2
        perm = torch.argsort(torch.rand(S, n, generator=gen), dim=1).to(dev)
        total = torch.zeros(S, device=dev)
        for start in range(0, n, B):
            idx = perm[:, start:start + B]
            xb = torch.gather(x, 1, idx[..., None].expand(-1, -1, x.shape[2]))
            yb = torch.gather(y, 1, idx[..., None].expand(-1, -1, y.shape[2]))
            loss, g = mlp_grads(layers, xb, yb)
            total += loss * idx.shape[1] / n
            for (W, b), (dW, db) in zip(layers, g):
                W.sub_(dW, alpha=lr)
                b.sub_(db, alpha=lr)
    return total


def run_deep(cfg: Config, dev: torch.device) -> DeepSweep:
    """Train the students of every ``deep_multis`` on the seeds' teachers; best correlations per
    teacher node and layer on the evaluation set at the end."""
    from .run import MAX_LOSS, activation_correlation

    S = cfg.deep_seeds
    x = _data.gaussian_inputs(cfg.deep_n, cfg.deep_d, std=cfg.deep_std, seed=derive_seed(cfg.seed, "deep_train"), members=S)
    xe = _data.gaussian_inputs(cfg.deep_n_eval, cfg.deep_d, std=cfg.deep_std, seed=derive_seed(cfg.seed, "deep_eval"), members=S)
    teacher = deep_teacher(cfg, xe.double())
    tl = [(W.to(dev, torch.float32), b.to(dev, torch.float32)) for W, b in teacher]
    x, xe = x.to(dev), xe.to(dev)
    best, losses = [], []
    with torch.no_grad():
        y, hte = mlp_forward(tl, x)[-1], mlp_forward(tl, xe)[1:-1]
        for multi in cfg.deep_multis:
            layers = [(W.to(dev), b.to(dev)) for W, b in deep_student(cfg, multi)]
            losses.append(_sgd(cfg, layers, x, y, dev).double().cpu())
            hse = mlp_forward(layers, xe)[1:-1]
            best.append(torch.cat([activation_correlation(t, s).amax(-1) for t, s in zip(hte, hse)], -1).double().cpu())
    best_t, loss_t = torch.stack(best), torch.stack(losses)
    diverged = ~torch.isfinite(loss_t) | (loss_t > MAX_LOSS) | ~torch.isfinite(best_t).all(-1)
    return DeepSweep(multis=tuple(cfg.deep_multis), layer_sizes=tuple(cfg.deep_widths), best_corr=best_t,
                     train_loss=loss_t, diverged=diverged)
