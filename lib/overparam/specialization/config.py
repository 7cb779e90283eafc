"""Chapter 2's configuration: :class:`Config`, its presets ``smoke`` / ``book`` / ``paper``, and
:func:`config`.

The setup follows the official code of Tian (ICML 2020) (``facebookresearch/luckmatters``, folder
``student_specialization/``, the two-layer script and ``conf/config.yaml``); see the package
docstring for what each part copies.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chapter import ChapterConfig, Float, Int, IntSeq, Optional, from_preset, param, require

__all__ = ["WEIGHT_CHOICES", "Config", "PRESETS", "config"]

#: The weight grid of the official code's ``init_separate_w`` (``choices``).
WEIGHT_CHOICES = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True, repr=False)
class Config(ChapterConfig):
    """One student-specialization experiment (Tian 2020, two-layer setting).

    A teacher with ``m`` hidden nodes labels Gaussian inputs; students of width ``multi * m`` for
    each ``multi`` in ``multis`` are trained on its outputs, ``seeds`` members per width.
    """

    d: int = param(20, Int(2, 10_000), "input dimension")
    m: int = param(10, Int(1, 1000), "teacher hidden nodes")
    c: int = param(20, Int(1, 10_000), "outputs")
    multis: tuple[int, ...] = param((1, 2, 5, 10), IntSeq(1, 100), "over-realization factors (student width multi*m)")
    decay: float = param(1.5, Float(0, 10), "fan-out decay p: teacher node j's fan-out is divided by j**p")
    bias: float = param(-0.1, Float(-10, 10), "teacher biases (both layers)")
    data_std: float = param(1.5, Float(0, 100, low_open=True), "std of the Gaussian inputs")
    n_train: int = param(2000, Int(2, 10_000_000), "training samples N")
    n_eval: int = param(2000, Int(2, 10_000_000), "evaluation samples")
    student_scale: float = param(0.005, Float(0, 10, low_open=True), "student init std")
    lr: float = param(0.1, Float(0, 10, low_open=True), "step size")
    steps: int = param(1500, Int(1, 100_000_000), "(S)GD steps")
    batch_size: int | None = param(None, Optional(Int(1, 10_000_000)), "SGD batch (None: full-batch GD)")
    threshold: float = param(0.95, Float(0, 1, low_open=True, high_open=True), "correlation for 'recovered'")
    early_fraction: float = param(0.05, Float(0, 1, low_open=True, high_open=True), "where 'early' is read (share of steps)")
    seeds: int = param(4, Int(1, 10_000), "ensemble members per width (teacher + data + student each)")
    seed: int = param(0, Int(0, 2**31 - 1), "base seed")
    records: int = param(60, Int(3, 10_000), "recorded steps (loss, correlations), about")
    frames: int = param(30, Int(1, 40), "frames of the animation")

    def check(self) -> None:
        require(len(set(self.multis)) == len(self.multis), "multis", self.multis, "without repeated values")
        if self.batch_size is not None:
            require(self.batch_size <= self.n_train, "batch_size", self.batch_size, f"at most n_train={self.n_train}")
        # the teacher needs m distinct nonzero first-layer rows and c distinct fan-out rows
        rows_d = len(WEIGHT_CHOICES) ** min(self.d, 30) - 1
        require(self.m <= rows_d, "m", self.m, f"at most {rows_d} (distinct nonzero teacher weight vectors in d={self.d})")
        rows_m = len(WEIGHT_CHOICES) ** min(self.m, 30) - 1
        require(self.c <= rows_m, "c", self.c, f"at most {rows_m} (distinct fan-out vectors for m={self.m})")

    @property
    def early_step(self) -> int:
        """The step at which "early" recovery is read (``round(early_fraction * steps)``, at least 1)."""
        return max(1, int(round(self.early_fraction * self.steps)))

    @property
    def widths(self) -> tuple[int, ...]:
        """Student widths ``multi * m``."""
        return tuple(k * self.m for k in self.multis)


PRESETS = {
    # the tests' size: a smaller problem (d=10, m=5), 4 seeds, 800 GD steps
    "smoke": Config(d=10, m=5, c=10, n_train=600, n_eval=600, steps=800, lr=0.1, seeds=4, records=40, frames=16),
    # what the book executes (d=20, m=10, c=20, p=1.5, N=2000)
    "book": Config(),
    # the paper's two-layer sweep (README): d=100, m=20, c=50 (config default), N=10,000, SGD batch 16,
    # lr 0.01, 100 epochs x 1000 iterations, seeds 1..32
    "paper": Config(
        d=100, m=20, c=50, n_train=10_000, n_eval=10_000, lr=0.01, steps=100_000, batch_size=16,
        seeds=32, records=101, frames=30,
    ),
}


def config(preset: str = "book", **overrides) -> Config:
    """The ``preset`` config (``"smoke"``, ``"book"``, ``"paper"``) with ``overrides`` applied."""
    return from_preset(PRESETS, preset, **overrides)
