"""Chapter 2's configuration: :class:`Config`, its presets ``smoke`` / ``book`` / ``paper``, and
:func:`config`.

The setup follows the official code of Tian (ICML 2020) (``facebookresearch/luckmatters``, folder
``student_specialization/``, the two-layer script and ``conf/config.yaml``); see the package
docstring for what each part copies.

Time is gradient-flow time ``lr * t`` (the loss is a mean over samples, so SGD with step ``lr`` and
full-batch GD with step ``lr`` cover the same flow time in ``t`` steps): the paper's SGD runs
(lr 0.01, 100 epochs of 1000 iterations, early = epoch 5) end at ``lr * t = 1000`` and read "early"
at ``lr * t = 50``; every preset states its own ``flow_time`` and ``early_time``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..chapter import ChapterConfig, Float, FloatSeq, Int, IntSeq, Optional, from_preset, param, require

__all__ = ["WEIGHT_CHOICES", "Config", "PRESETS", "config"]

#: The weight grid of the official code's ``init_separate_w`` (``choices``).
WEIGHT_CHOICES = (-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True, repr=False)
class Config(ChapterConfig):
    """One student-specialization experiment (Tian 2020, two-layer setting).

    For each seed and each fan-out decay ``p`` in ``decays`` a teacher with ``m`` hidden nodes labels
    Gaussian inputs; students of width ``multi * m`` for each ``multi`` in ``multis`` are trained on
    its outputs. All (decay, seed) members of one width are trained as one ensemble.
    """

    d: int = param(10, Int(2, 10_000), "input dimension")
    m: int = param(10, Int(1, 1000), "teacher hidden nodes")
    c: int = param(10, Int(1, 10_000), "outputs")
    multis: tuple[int, ...] = param((1, 2, 5, 10), IntSeq(1, 100), "over-realization factors (student width multi*m)")
    decays: tuple[float, ...] = param(
        (0.0, 1.5, 2.5), FloatSeq(0, 10, increasing=True), "fan-out decays p: teacher node j's fan-out is divided by j**p"
    )
    bias: float = param(-0.1, Float(-10, 10), "teacher biases (both layers)")
    data_std: float = param(1.5, Float(0, 100, low_open=True), "std of the Gaussian inputs")
    n_train: int = param(500, Int(2, 10_000_000), "training samples N")
    n_eval: int = param(500, Int(2, 10_000_000), "evaluation samples")
    student_scale: float = param(0.005, Float(0, 10, low_open=True), "student init std")
    lr: float = param(0.1, Float(0, 10, low_open=True), "step size")
    flow_time: float = param(300.0, Float(0, 1e9, low_open=True), "training length as gradient-flow time lr*steps")
    early_time: float = param(15.0, Float(0, 1e9, low_open=True), "gradient-flow time lr*t at which 'early' is read")
    batch_size: int | None = param(None, Optional(Int(1, 10_000_000)), "SGD batch (None: full-batch GD)")
    threshold: float = param(0.95, Float(0, 1, low_open=True, high_open=True), "correlation for 'recovered'")
    seeds: int = param(6, Int(1, 10_000), "seeds per decay (teacher grid draw + data + student init each)")
    seed: int = param(0, Int(0, 2**31 - 1), "base seed")
    records: int = param(60, Int(3, 10_000), "recorded steps (loss, correlations), about")
    frames: int = param(30, Int(1, 40), "frames of the animation")

    def check(self) -> None:
        require(len(set(self.multis)) == len(self.multis), "multis", self.multis, "without repeated values")
        require(self.early_time < self.flow_time, "early_time", self.early_time, f"below flow_time={self.flow_time:g}")
        if self.batch_size is not None:
            require(self.batch_size <= self.n_train, "batch_size", self.batch_size, f"at most n_train={self.n_train}")
        # the teacher needs m distinct nonzero first-layer rows and c distinct fan-out rows
        rows_d = len(WEIGHT_CHOICES) ** min(self.d, 30) - 1
        require(self.m <= rows_d, "m", self.m, f"at most {rows_d} (distinct nonzero teacher weight vectors in d={self.d})")
        rows_m = len(WEIGHT_CHOICES) ** min(self.m, 30) - 1
        require(self.c <= rows_m, "c", self.c, f"at most {rows_m} (distinct fan-out vectors for m={self.m})")

    @property
    def steps(self) -> int:
        """(S)GD steps: ``ceil(flow_time / lr)`` (rounded first, so 1000 / 0.01 is 100,000)."""
        return max(1, math.ceil(round(self.flow_time / self.lr, 6)))

    @property
    def early_step(self) -> int:
        """The step at which "early" recovery is read (``round(early_time / lr)``, at least 1)."""
        return min(self.steps, max(1, int(round(self.early_time / self.lr))))

    @property
    def main_decay(self) -> float:
        """The decay the headline numbers use: the middle of ``decays`` (1.5 for the book's and the
        paper's sweeps)."""
        return self.decays[len(self.decays) // 2]

    @property
    def members(self) -> int:
        """Ensemble members per width: ``len(decays) * seeds`` (decay-major)."""
        return len(self.decays) * self.seeds

    @property
    def widths(self) -> tuple[int, ...]:
        """Student widths ``multi * m``."""
        return tuple(k * self.m for k in self.multis)


PRESETS = {
    # the tests' size: a smaller problem (d=10, m=5, c=10), p in {0, 1.5}, 6 seeds, lr*T = 100, early 5
    "smoke": Config(
        d=10, m=5, c=10, decays=(0.0, 1.5), n_train=400, n_eval=400, flow_time=100.0, early_time=5.0,
        seeds=6, records=40, frames=16,
    ),
    # what the book executes: d=10, m=10, c=10, N=500, p in {0, 1.5, 2.5}, 6 seeds, full-batch GD with
    # lr 0.1 (at p=0, lr 0.2 and 0.3 make the loss oscillate) to lr*T = 300 with early at lr*t = 15:
    # the paper's ratio 1:20 at 30% of its time (lr*T = 1000 at lr 0.1 would take 3x the 2-minute budget)
    "book": Config(),
    # the paper's two-layer sweep (README): d=100, m=20, c=50 (config default), N=10,000, SGD batch 16,
    # lr 0.01, 100 epochs x 1000 iterations (lr*T = 1000, early = epoch 5: lr*t = 50), seeds 1..32,
    # p in {0, 0.5, ..., 2.5}
    "paper": Config(
        d=100, m=20, c=50, decays=(0.0, 0.5, 1.0, 1.5, 2.0, 2.5), n_train=10_000, n_eval=10_000, lr=0.01,
        flow_time=1000.0, early_time=50.0, batch_size=16, seeds=32, records=101, frames=30,
    ),
}


def config(preset: str = "book", **overrides) -> Config:
    """The ``preset`` config (``"smoke"``, ``"book"``, ``"paper"``) with ``overrides`` applied."""
    return from_preset(PRESETS, preset, **overrides)
