"""Settings of chapter 3's experiments, and the presets ``smoke`` / ``book`` / ``paper``.

Initial scales follow the official code (``eboursier/early_alignment``, ``early_alignment.py``): every
first-layer entry (and bias) is drawn ``N(0, lambda^2 / m)`` and ``a_j = +-||(w_j, b_j)||`` (balanced).
Losses are ``(1/2n) sum_i (f(x_i) - y_i)^2``: the code's ``MSELoss`` is twice ours, so its learning
rate ``1e-3`` is our ``2e-3``.

The threshold sweep is over-parameterized at every n: the check below requires ``width * (d + 1)``
(the parameter count of the bias-free network) to be at least ``4 * max(n_grid)``. Both
initializations (and the init-scale sweep) share one learning rate and one number of steps, so they
are compared at equal gradient-flow time ``lr * steps``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chapter import ChapterConfig, Float, FloatSeq, Int, IntSeq, from_preset, param, require

__all__ = ["Config", "PRESETS", "config"]

_POS = dict(low=0, low_open=True)


@dataclass(frozen=True, repr=False)
class Config(ChapterConfig):
    """Settings of the toy (a), the threshold sweep (b), the init-scale sweep and the extremal vectors (c)."""

    seed: int = param(0, Int(0), "base seed of every random draw")
    # (a) the "3 points" toy
    toy_width: int = param(200, Int(2, 10_000_000), "toy: hidden units m")
    toy_init: float = param(1e-3, Float(0, 10, low_open=True), "toy: init scale lambda")
    toy_lr: float = param(0.1, Float(0, 100, low_open=True), "toy: GD step size")
    toy_steps: int = param(20_000, Int(1, 100_000_000), "toy: GD steps")
    toy_seeds: int = param(4, Int(1, 1000), "toy: independent initializations")
    frames: int = param(30, Int(2, 40), "toy: snapshots for the polar animation")
    # (b) the optimization threshold
    d: int = param(5, Int(1, 1000), "input dimension of the linear teacher")
    noise: float = param(0.5, Float(**_POS), "label noise sigma")
    n_grid: tuple[int, ...] = param((8, 16, 32, 64, 128), IntSeq(2, 1_000_000, increasing=True), "sample sizes n")
    width: int = param(86, Int(2, 1_000_000), "hidden units m (even; width*(d+1) >= 4*max(n_grid))")
    small_init: float = param(1e-6, Float(0, 1, low_open=True), "small init scale lambda")
    large_init: float = param(2.0, Float(0, 1000, low_open=True), "large init scale (paired neurons, f = 0 at init)")
    lr: float = param(0.1, Float(0, 100, low_open=True), "GD step size (every initialization)")
    steps: int = param(12_000, Int(1, 100_000_000), "GD steps per run (every initialization)")
    seeds: int = param(10, Int(1, 10_000), "data sets (and inits) per n")
    n_test: int = param(2000, Int(10, 10_000_000), "test samples per data set")
    grad_tol: float = param(1e-2, Float(**_POS), "convergence: mean-gradient norm below this")
    plateau_tol: float = param(0.02, Float(**_POS), "convergence: loss drop over the 2nd half (noise units)")
    # init-scale sweep at one n of the grid (balanced init as the small one; empty: skipped)
    scale_n: int = param(64, Int(2, 1_000_000), "n of the init-scale sweep (one of n_grid)")
    scales: tuple[float, ...] = param((1e-4, 1e-2, 0.1, 1.0), FloatSeq(0, 1000, low_open=True, min_len=0, increasing=True),
                                      "init scales lambda swept at scale_n (besides small_init)")
    # (c) extremal vectors by projected gradient ascent on the sphere
    starts: int = param(256, Int(2, 1_000_000), "ascent starts per sign")
    ascent_steps: int = param(400, Int(2, 1_000_000), "ascent steps (quantities also read at half of them)")
    ascent_lr: float = param(0.5, Float(0, 10, low_open=True), "ascent step size")

    def check(self) -> None:
        require(self.width % 2 == 0, "width", self.width, "even (the large initialization pairs neurons)")
        require(self.large_init > self.small_init, "large_init", self.large_init, f"larger than small_init={self.small_init}")
        need = 4 * max(self.n_grid)
        require(self.width * (self.d + 1) >= need, "width", self.width,
                f"such that width*(d+1) >= 4*max(n_grid) = {need} (over-parameterized at every n)")
        require(self.scale_n in self.n_grid, "scale_n", self.scale_n, f"one of n_grid={self.n_grid}")
        require(all(s > self.small_init for s in self.scales), "scales", self.scales, f"all above small_init={self.small_init}")


PRESETS = {
    "smoke": Config(
        toy_width=100, toy_steps=6000, toy_seeds=2, frames=16,
        n_grid=(8, 16, 32, 64), width=44, steps=5000, seeds=8, n_test=1000, scale_n=32, scales=(1e-2, 1.0),
        starts=128, ascent_steps=200,
    ),
    "book": Config(),
    # The code's toy width (its default 2e4) and the same gradient-flow time as its 2e6 steps at
    # lr 1e-3 (time 4000 in our loss units): 2e5 steps at lr 0.02. Threshold: a longer n grid (width
    # kept at 4 x n_max / (d + 1) parameters), more seeds, 4x the gradient-flow time.
    "paper": Config(
        toy_width=20_000, toy_lr=0.02, toy_steps=200_000, toy_seeds=8, frames=40,
        n_grid=(8, 16, 32, 64, 128, 256, 512, 1024), width=684, steps=48_000, seeds=20,
        n_test=20_000, scale_n=128, scales=(1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0), starts=2048, ascent_steps=2000,
    ),
}


def config(preset: str = "book", **overrides) -> Config:
    """The preset ``smoke`` / ``book`` / ``paper`` with ``overrides`` applied (validated)."""
    return from_preset(PRESETS, preset, **overrides)
