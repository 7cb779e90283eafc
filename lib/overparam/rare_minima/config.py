"""Settings of chapter 5 (bad global minima are rare) and its presets ``smoke`` / ``book`` / ``paper``.

Three sub-experiments (see :mod:`overparam.rare_minima`): the perceptron toy (``toy_*`` fields),
random two-layer ReLU networks on two MNIST digits checked by rejection (``random_*``), and
networks trained by gradient descent on the same digits (``gd_*``, ``steps``, ``lr``, ``loss``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..chapter import ChapterConfig, Choice, Float, Int, IntSeq, derive_seed, from_preset, param, require

__all__ = ["Config", "PRESETS", "config", "training_pool_size"]


@functools.lru_cache(maxsize=16)
def training_pool_size(classes: tuple[int, int], split_seed: int) -> int:
    """Images of the two digits ``classes`` in the training pool of the offline MNIST split with
    ``split_seed`` (the pool the GD training sets are drawn from without replacement). Cached."""
    from ..data import mnist_split

    return len(mnist_split(classes=classes, seed=split_seed, pm1=True, flatten=False).y_train)


@dataclass(frozen=True, repr=False)
class Config(ChapterConfig):
    """Settings of the chapter's three experiments (one line of doc per field; see ``param``)."""

    seed: int = param(0, Int(0, 2**31 - 1), "base seed of every random draw")
    toy_d: int = param(5, Int(2, 1000), "toy: input dimension d of the perceptrons")
    toy_classifiers: int = param(2**18, Int(1000, 2**34), "toy: random perceptrons checked on every sequence")
    toy_train_sets: int = param(256, Int(1, 2**16), "toy: independent nested training sequences (shared by all classifiers)")
    toy_fresh: int = param(2**24, Int(1000, 2**34), "toy: classifiers of the fresh-set control (one sequence each)")
    toy_n_max: int = param(60, Int(1, 10000), "toy: length N of each training sequence")
    toy_eps0: float = param(0.1, Float(0, 0.5, low_open=True, high_open=True), "toy: 'bad' threshold eps0")
    toy_noise: float = param(0.1, Float(0, 0.5, high_open=True), "toy, label-noise variant: fraction of flipped training labels")
    toy_noise_sets: int = param(128, Int(1, 2**16), "toy, label-noise variant: shared nested training sequences with flipped labels")
    toy_noise_fresh: int = param(2**23, Int(1000, 2**34), "toy, label-noise variant: classifiers of its fresh-set control")
    toy_chunk: int = param(2**20, Int(1, 2**26), "toy: classifiers drawn per chunk (memory)")
    toy_bins: int = param(40, Int(2, 1000), "toy: histogram bins of the true error on [0, 1]")
    classes: tuple[int, int] = param((4, 9), IntSeq(0, 9, min_len=2, max_len=2), "MNIST: the two digits (+1, -1)")
    pool: int = param(4, Choice((1, 2, 4, 7)), "MNIST: average-pooling factor (28/pool pixels a side)")
    widths: tuple[int, ...] = param((10, 1000), IntSeq(1, 10**6, min_len=2), "hidden widths m of the networks")
    random_nets: tuple[int, ...] = param((2**16, 4096), IntSeq(1, 2**30), "random networks per width")
    random_q_nets: tuple[int, ...] = param((2**16, 1024), IntSeq(1, 2**30),
                                           "random nets per width whose held-out error samples Q (the rest: survivors only)")
    random_train_sets: int = param(16, Int(1, 4096), "random nets: nested training sequences")
    random_n_max: int = param(8, Int(1, 1000), "random nets: length of each training sequence")
    gd_n: tuple[int, ...] = param((2, 4, 8, 16, 32, 64, 128), IntSeq(1, 5000, min_len=2, increasing=True),
                                  "GD: training-set sizes n")
    gd_seeds: int = param(16, Int(2, 100000), "GD: networks (seeds) per width and n")
    steps: int = param(200, Int(1, 10**6), "GD: full-batch steps")
    lr: float = param(4.0, Float(0, None, low_open=True), "GD: step size")
    loss: str = param("hinge", Choice(("hinge", "logistic")), "GD: training loss")
    fit_n_max: int = param(8, Int(1, 5000), "Beta model fitted on the GD runs with n <= fit_n_max")
    under_width: int = param(2, Int(1, 10**6), "(c) the under-parameterized width (2: the smallest that can fit both classes)")
    under_nets: int = param(2**16, Int(1, 2**30), "(c) random nets of the under-parameterized width whose held-out error samples its Q")
    under_seeds: int = param(128, Int(2, 100000), "(c) GD networks (seeds) of the under-parameterized width per n")
    under_steps: int = param(1000, Int(1, 10**6), "(c) full-batch GD steps of the under-parameterized width")
    under_lr: float = param(1.0, Float(0, None, low_open=True), "(c) GD step size of the under-parameterized width")
    under_loss: str = param("logistic", Choice(("hinge", "logistic")), "(c) training loss of the under-parameterized width")
    under_n: tuple[int, ...] = param((8, 32, 128, 256), IntSeq(1, 5000, min_len=1, increasing=True),
                                     "(c) GD training-set sizes n of the under-parameterized width")
    hidden_chunk: int = param(2**17, Int(1, 2**30), "random nets: hidden units evaluated per chunk (memory)")

    def check(self) -> None:
        edge = self.toy_eps0 * self.toy_bins
        require(abs(edge - round(edge)) <= 1e-9, "toy_eps0", self.toy_eps0,
                f"a histogram bin edge (toy_eps0 * toy_bins an integer; toy_bins={self.toy_bins})")
        require(self.classes[0] != self.classes[1], "classes", self.classes, "two distinct digits")
        require(len(self.random_nets) == len(self.widths), "random_nets", self.random_nets,
                f"one entry per width ({len(self.widths)})")
        require(len(self.random_q_nets) == len(self.widths), "random_q_nets", self.random_q_nets,
                f"one entry per width ({len(self.widths)})")
        require(self.fit_n_max >= self.gd_n[0], "fit_n_max", self.fit_n_max, f">= the smallest gd_n ({self.gd_n[0]})")
        pool = training_pool_size(self.classes, self.split_seed)
        require(self.gd_n[-1] <= pool, "gd_n", self.gd_n,
                f"at most the training pool of {pool} images of digits {self.classes} (drawn without replacement)")
        require(self.under_n[-1] <= pool, "under_n", self.under_n,
                f"at most the training pool of {pool} images of digits {self.classes} (drawn without replacement)")

    @property
    def split_seed(self) -> int:
        """Seed of the MNIST train/test split, ``derive_seed(seed, "mnist_split")``."""
        return derive_seed(self.seed, "mnist_split")

    @property
    def d_input(self) -> int:
        """Input dimension of the pooled MNIST images."""
        return (28 // self.pool) ** 2

    def params_count(self, wi: int) -> int:
        """Parameters of a network of width ``widths[wi]``: ``m (d + 2)`` (w, b, a)."""
        return self.widths[wi] * (self.d_input + 2)

    @property
    def under_params(self) -> int:
        """Parameters of the under-parameterized network, ``under_width (d + 2)``."""
        return self.under_width * (self.d_input + 2)


PRESETS = {
    "smoke": Config(
        toy_classifiers=2**17,
        toy_train_sets=64,
        toy_fresh=2**21,
        toy_noise_sets=64,
        toy_noise_fresh=2**20,
        random_nets=(2**14, 512),
        random_q_nets=(2**14, 256),
        random_train_sets=8,
        gd_n=(2, 8, 32),
        gd_seeds=10,
        steps=100,
        widths=(10, 1000),
        under_nets=2**14,
        under_seeds=64,
        under_n=(8, 32, 128),
    ),
    "book": Config(),
    "paper": Config(
        toy_classifiers=2**22,
        toy_train_sets=1024,
        toy_fresh=2**25,
        toy_noise_sets=256,
        toy_noise_fresh=2**24,
        toy_n_max=100,
        toy_chunk=2**20,
        random_nets=(2**20, 2**15),
        random_q_nets=(2**20, 2**13),
        random_train_sets=64,
        gd_n=(2, 4, 8, 16, 32, 64, 128, 256, 512),
        gd_seeds=128,
        steps=2000,
        hidden_chunk=2**21,
        under_nets=2**20,
        under_seeds=1024,
        under_n=(2, 4, 8, 16, 32, 64, 128, 256, 512),
    ),
}


def config(preset: str = "book", **overrides) -> Config:
    """The named preset (``smoke``, ``book``, ``paper``) with ``overrides`` applied and validated."""
    return from_preset(PRESETS, preset, **overrides)
