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
        (0.0, 1.0, 1.5, 2.0, 2.5), FloatSeq(0, 10, increasing=True), "fan-out decays p: teacher node j's fan-out is divided by j**p"
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
    seeds: int = param(4, Int(1, 10_000), "seeds per decay (teacher grid draw + data + student init each)")
    seed: int = param(0, Int(0, 2**31 - 1), "base seed")
    records: int = param(60, Int(3, 10_000), "recorded steps (loss, correlations), about")
    frames: int = param(16, Int(1, 40), "frames of the animation")
    # --- sample complexity: teacher-aware augmented data vs plain Gaussian data, recovery vs N ---
    sc_d: int = param(20, Int(2, 10_000), "sample complexity: input dimension")
    sc_m: int = param(5, Int(1, 1000), "sample complexity: teacher hidden nodes")
    sc_c: int = param(10, Int(1, 10_000), "sample complexity: outputs")
    sc_decay: float = param(1.0, Float(0, 10), "sample complexity: fan-out decay p")
    sc_multis: tuple[int, ...] = param((2,), IntSeq(1, 100), "sample complexity: over-realization factors")
    sc_ns: tuple[int, ...] = param((30, 60, 120), IntSeq(3, 10_000_000, increasing=True), "sample complexity: training-set sizes N (multiples of 3 sc_m)")
    sc_compare_n: int = param(60, Int(3, 10_000_000), "sample complexity: the N of the headline pair (one of sc_ns)")
    sc_aug_mean: float = param(2.0, Float(0, 100), "augmentation: offset alpha ~ U[mean, mean + sigma] along the teacher weight")
    sc_aug_sigma: float = param(2.0, Float(0, 100), "augmentation: width of the offset's range")
    sc_seeds: int = param(12, Int(1, 10_000), "sample complexity: seeds")
    sc_lr: float = param(0.1, Float(0, 10, low_open=True), "sample complexity: step size")
    sc_flow_time: float = param(200.0, Float(0, 1e9, low_open=True), "sample complexity: lr*steps")
    sc_batch: int | None = param(None, Optional(Int(1, 10_000_000)), "sample complexity: SGD batch (None: GD)")
    # --- multi-layer teacher: lowest-layer specialization ---
    deep_d: int = param(20, Int(2, 10_000), "multi-layer: input dimension")
    deep_widths: tuple[int, ...] = param((5, 6, 7, 8), IntSeq(1, 10_000), "multi-layer: teacher hidden widths, bottom to top")
    deep_c: int = param(20, Int(1, 10_000), "multi-layer: outputs")
    deep_std: float = param(10.0, Float(0, 1000, low_open=True), "multi-layer: input std")
    deep_multis: tuple[int, ...] = param((2, 5), IntSeq(1, 100), "multi-layer: over-realization factors")
    deep_n: int = param(2000, Int(64, 100_000_000), "multi-layer: training samples N")
    deep_n_eval: int = param(2048, Int(2, 10_000_000), "multi-layer: evaluation samples")
    deep_epochs: int = param(100, Int(1, 100_000), "multi-layer: SGD epochs")
    deep_batch: int = param(64, Int(1, 1_000_000), "multi-layer: SGD batch")
    deep_lr: float = param(0.2, Float(0, 10, low_open=True), "multi-layer: step size before deep_drop")
    deep_lr2: float = param(0.1, Float(0, 10, low_open=True), "multi-layer: step size from epoch deep_drop on")
    deep_drop: int = param(10, Int(0, 100_000), "multi-layer: epoch at which the step size drops")
    deep_seeds: int = param(6, Int(1, 10_000), "multi-layer: seeds")
    deep_student_scale: float = param(1.0, Float(0, 100, low_open=True), "multi-layer: factor on nn.Linear's default student init")

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
        for n in self.sc_ns:
            require(n % (3 * self.sc_m) == 0, "sc_ns", self.sc_ns, f"multiples of 3 * sc_m = {3 * self.sc_m}")
        require(self.sc_compare_n in self.sc_ns, "sc_compare_n", self.sc_compare_n, f"one of sc_ns={self.sc_ns}")
        if self.sc_batch is not None:
            require(self.sc_batch <= self.sc_ns[0], "sc_batch", self.sc_batch, f"at most the smallest N={self.sc_ns[0]}")
        require(self.deep_batch <= self.deep_n, "deep_batch", self.deep_batch, f"at most deep_n={self.deep_n}")

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
        sc_ns=(30, 60), sc_compare_n=30, sc_seeds=8, sc_flow_time=100.0,
        deep_multis=(2,), deep_epochs=80, deep_drop=8, deep_seeds=4,
    ),
    # what the book executes: d=10, m=10, c=10, N=500, p in {0, 1, 1.5, 2, 2.5} (the recovery figure's
    # 0, 1.5, 2.5 and the L-shape figure's 0, 1, 2), 4 seeds per decay, full-batch GD with
    # lr 0.1 (at p=0, lr 0.2 and 0.3 make the loss oscillate) to lr*T = 300 with early at lr*t = 15:
    # the paper's ratio 1:20 at 30% of its time (lr*T = 1000 at lr 0.1 would take 3x the 2-minute budget)
    # sample complexity (book): d=20, m=5, c=10, p=1, 2x, N in {30, 60, 120}, 12 seeds, GD lr 0.1 to
    # lr*T = 200; multi-layer (book): teacher 5-6-7-8 (a width set in the official script's comments),
    # d=20, c=20, N=2000, 100 epochs (step drop at epoch 10, the published 1:10), 6 seeds
    "book": Config(),
    # the paper's two-layer sweep (README): d=100, m=20, c=50 (config default), N=10,000, SGD batch 16,
    # lr 0.01, 100 epochs x 1000 iterations (lr*T = 1000, early = epoch 5: lr*t = 50), seeds 1..32,
    # p in {0, 0.5, ..., 2.5}
    "paper": Config(
        d=100, m=20, c=50, decays=(0.0, 0.5, 1.0, 1.5, 2.0, 2.5), n_train=10_000, n_eval=10_000, lr=0.01,
        flow_time=1000.0, early_time=50.0, batch_size=16, seeds=32, records=101, frames=30,
        # sample complexity (README, Fig. 9): d=100, m=5, c=50, p=1, multi 1/2/5/10, N from 30 to 1110,
        # SGD batch 16, lr 0.01, 20 x 5000 steps, augmentation alpha ~ U[2, 4], 32 seeds
        sc_d=100, sc_m=5, sc_c=50, sc_decay=1.0, sc_multis=(1, 2, 5, 10),
        sc_ns=(30, 45, 60, 75, 90, 105, 120, 135, 150, 165, 180, 195, 210, 270, 330, 390, 510, 630, 810, 1110),
        sc_compare_n=60, sc_seeds=32, sc_lr=0.01, sc_flow_time=1000.0, sc_batch=16,
        # multi-layer (README, Fig. 6): teacher 50-75-100-125, d=20, c=100, input std 10, multi 2 and 5,
        # N=20,000 (one of the published sizes 5k..2M), SGD batch 64, lr 0.2 then 0.1 from epoch 20,
        # 200 epochs, 10 seeds, evaluation on 10,240 samples
        deep_widths=(50, 75, 100, 125), deep_c=100, deep_n=20_000, deep_n_eval=10_240, deep_epochs=200,
        deep_drop=20, deep_seeds=10,
    ),
}


def config(preset: str = "book", **overrides) -> Config:
    """The ``preset`` config (``"smoke"``, ``"book"``, ``"paper"``) with ``overrides`` applied."""
    return from_preset(PRESETS, preset, **overrides)
