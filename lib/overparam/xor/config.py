"""Chapter 1's configuration: :class:`Config` (validated when built) and its presets."""

from __future__ import annotations

from dataclasses import dataclass

from ..chapter import ChapterConfig, Float, Int, IntSeq, derive_seed, from_preset, param, require
from ..data import mnist_pool_sizes

__all__ = ["Config", "PRESETS", "config", "MNIST_SIDE"]

#: Side of an MNIST image in pixels (before pooling).
MNIST_SIDE = 28

_WIDTHS = IntSeq(1, 100000, min_len=2, increasing=True)


@dataclass(frozen=True, repr=False)
class Config(ChapterConfig):
    """Chapter 1 configuration. See :data:`PRESETS` for ``smoke`` / ``book`` / ``paper``.

    XORD: the test error at ``d`` is exact over all ``4**d`` inputs; at ``d_large`` (0 skips it) it is
    exact through pattern sets and checked by sampling ``n_test_samples`` inputs. MNIST (reduced):
    images standardized and average-pooled by ``mnist_pool`` (2: 14 x 14 pixels, to save CPU time);
    ``mnist_steps = 0`` skips the MNIST part.
    """

    d: int = param(4, Int(4, 8), "positions per XORD input (test error exact over 4**d inputs)")
    d_large: int = param(10, Int(0, 64), "a second, larger d (0 skips it; else at least 4)")
    p_plus: float = param(0.95, Float(0, 1), "probability that a positive point is diverse")
    p_minus: float = param(0.95, Float(0, 1), "probability that a negative point is diverse")
    n_train: int = param(50, Int(1, 100000), "training points per seed")
    ks: tuple[int, ...] = param((2, 3, 4, 6, 10, 20, 50, 120), _WIDTHS, "widths k (channels per readout sign) at d")
    ks_large: tuple[int, ...] = param((2, 10, 120), _WIDTHS, "widths k at d_large")
    seeds: int = param(100, Int(2, 10**6), "runs per width (own training set and init each)")
    steps: int = param(500, Int(1, 10**7), "full-batch GD steps")
    lr: float = param(0.1, Float(0, 10, low_open=True), "GD step size eta")
    init_scale: float = param(1e-3, Float(0, 1e40, low_open=True), "Gaussian init std sigma_g (huge: diverges)")
    n_test_samples: int = param(20000, Int(1, 10**8), "sampled test points checking the exact error at d_large")
    lr_scaled_seeds: int = param(100, Int(0, 10**6),
                                 "runs per width of the eta ~ 1/k control (0 skips; at most seeds are used)")
    lr_scaled_ks: tuple[int, ...] = param((2, 4, 10, 50, 120), _WIDTHS,
                                          "widths of the eta ~ 1/k control: eta_k = lr * k0 / k, k0 its first "
                                          "width (eta * k fixed)")
    stuck_factor: int = param(10, Int(1, 1000),
                              "the runs of the smallest k not at zero loss get this many times the steps (1 skips)")
    abl_seeds: int = param(60, Int(0, 10**6),
                           "runs per width and condition of the ablations (0 skips; at most seeds are used)")
    abl_ks: tuple[int, ...] = param((2, 120), IntSeq(1, 100000, min_len=2, max_len=2, increasing=True),
                                    "the two widths of the ablations (each one of ks)")
    abl_ns: tuple[int, ...] = param((200, 1000), IntSeq(1, 100000, min_len=1, increasing=True),
                                    "training-set sizes of the n ablation (p as in the main sweep)")
    abl_p: float = param(0.5, Float(0, 1), "p+ = p- of the diversity ablation (training and test)")
    frames: int = param(30, Int(2, 40), "frames of the training animation")
    seed: int = param(0, Int(0, 2**31 - 1), "base seed")
    mnist_classes: tuple[int, ...] = param((4, 9), IntSeq(0, 9, min_len=2, max_len=2), "the two MNIST digits")
    mnist_n_train: int = param(200, Int(2, 8000), "MNIST training images")
    mnist_n_test: int = param(390, Int(2, 2000), "MNIST test images (at most)")
    mnist_k_small: int = param(4, Int(1, 100000), "filters per readout sign of the small MNIST net")
    mnist_k_wide: int = param(24, Int(2, 100000), "filters per readout sign of the wide MNIST net")
    mnist_seeds: int = param(5, Int(1, 10**6), "MNIST runs per width")
    mnist_steps: int = param(150, Int(0, 10**7), "MNIST GD steps (0 skips the MNIST part)")
    mnist_lr: float = param(0.02, Float(0, 100, low_open=True), "MNIST GD step size")
    mnist_init_scale: float = param(1e-2, Float(0, 1e40, low_open=True), "MNIST Gaussian init std")
    mnist_kernel: int = param(3, Int(1, MNIST_SIDE), "MNIST filter size (kernel x kernel)")
    mnist_pool: int = param(2, Int(1, 4), "average-pooling factor of the MNIST images")

    @property
    def scaled_runs(self) -> int:
        """Runs per width of the eta ~ 1/k control: ``min(lr_scaled_seeds, seeds)``."""
        return min(self.lr_scaled_seeds, self.seeds)

    @property
    def abl_runs(self) -> int:
        """Runs per width and condition of the ablations: ``min(abl_seeds, seeds)``."""
        return min(self.abl_seeds, self.seeds)

    def check(self) -> None:
        require(self.d_large == 0 or self.d_large >= 4, "d_large", self.d_large, "0 (skip) or in [4, 64]")
        require(self.abl_seeds == 0 or set(self.abl_ks) <= set(self.ks), "abl_ks", self.abl_ks,
                f"two widths of ks={self.ks} (or abl_seeds = 0)")
        a, b = self.mnist_classes
        require(a != b, "mnist_classes", self.mnist_classes, "two different digits in [0, 9]")
        require(self.mnist_k_wide > self.mnist_k_small, "mnist_k_wide", self.mnist_k_wide,
                f"larger than mnist_k_small={self.mnist_k_small}")
        side = MNIST_SIDE // self.mnist_pool
        require(self.mnist_kernel <= side, "mnist_kernel", self.mnist_kernel,
                f"at most the pooled image side {MNIST_SIDE} // mnist_pool = {side} (mnist_pool={self.mnist_pool})")
        if self.mnist_steps:  # the MNIST pool is checked here, not after the XOR part has trained
            pool, _ = mnist_pool_sizes(tuple(self.mnist_classes), derive_seed(self.seed, "mnist_split"))
            require(self.mnist_n_train <= pool, "mnist_n_train", self.mnist_n_train,
                    f"at most the {pool} training images of digits {tuple(self.mnist_classes)} in the offline pool")


PRESETS = {
    "smoke": Config(
        ks=(2, 4, 20), ks_large=(2, 20), seeds=100, steps=300, d_large=8, frames=8, n_test_samples=4000,
        lr_scaled_ks=(2, 4, 20), lr_scaled_seeds=100, abl_ks=(2, 20), abl_seeds=40,
        mnist_n_train=60, mnist_n_test=200, mnist_k_small=2, mnist_k_wide=8, mnist_seeds=2, mnist_steps=30,
    ),
    "book": Config(),
    # The paper's scale as far as we know it (k from 2 to 120+, many seeds); for a GPU.
    "paper": Config(
        ks=(2, 3, 4, 6, 8, 10, 16, 20, 30, 50, 80, 120, 200), seeds=1000, steps=5000, lr=0.01, frames=40,
        lr_scaled_ks=(2, 4, 10, 20, 50, 120, 200), lr_scaled_seeds=1000, abl_seeds=1000, abl_ns=(200, 1000, 5000),
        n_test_samples=200000, mnist_n_train=1500, mnist_n_test=390, mnist_k_small=4, mnist_k_wide=120,
        mnist_seeds=5, mnist_steps=1000, mnist_lr=0.02, mnist_pool=1,
    ),
}


def config(preset: str = "book", **overrides) -> Config:
    """The named preset with ``overrides`` applied (validated)."""
    return from_preset(PRESETS, preset, **overrides)
