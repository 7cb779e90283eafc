"""Chapter 2: student specialization (Tian, ICML 2020, arXiv 1909.13458).

A fixed two-layer ReLU *teacher* with ``m`` hidden nodes labels Gaussian inputs; two-layer ReLU
*students* with ``n = multi * m`` hidden nodes (over-realization ``multi``) are trained on the
teacher's outputs with the squared loss. The paper's claim: at (near-)critical points student nodes
*specialize*, i.e. each teacher node gets a student node whose activation is (almost) perfectly
correlated with it; strong teacher nodes (large fan-out weights) are learned first, weak ones late,
and over-realization makes more teacher nodes recovered in fewer iterations. Student nodes that do
not specialize end up with small fan-out weights (the "L-shape").

The setup follows the official code (``facebookresearch/luckmatters``, folder
``student_specialization/``, the two-layer script and ``conf/config.yaml``):

- teacher first layer: ``m`` distinct vectors with entries in ``{-1, -0.75, ..., 1}``, each
  normalized to unit norm, bias ``-0.1``; fan-out (output) weights: ``c`` distinct vectors of length
  ``m`` with entries from the same grid, the fan-out of teacher node ``j`` (1-based) divided by
  ``j**p`` (``teacher_strength_decay``), output bias ``-0.1``;
- student: both layers ``~ N(0, 0.005^2)``, biases 0;
- inputs ``x ~ N(0, 1.5^2 I_d)``; loss ``(1/2N) sum_i ||f(x_i) - f*(x_i)||^2`` (the code's update);
- specialization: Pearson correlation of mean-centred post-ReLU activations over samples; a teacher
  node is *recovered* if some student node has correlation > 0.95 on the evaluation set;
- "early" is read at 5% of training (the paper's figure compares epoch 5 with epoch 100).

Modules: :mod:`.config` (Config, presets), :mod:`.run` (compute: teacher, correlation, ``run``),
:mod:`.report` (``numbers``, ``paper_vs_ours``), :mod:`.figures` (figures, ``live``).
"""

from .config import PRESETS, WEIGHT_CHOICES, Config, config
from .figures import FIGURES, LIVE_CONTROLS, animation, live, plot_loss, plot_lshape, plot_recovery
from .report import (
    CLAIM, estimates, fanout_ratios, fanout_shares, final_eval_losses, node_rates, numbers, paper_vs_ours, recovered,
)
from .run import Result, Sweep, Width, activation_correlation, estimate_seconds, make_teacher, run, separate_vectors

__all__ = [
    "Config", "PRESETS", "config", "WEIGHT_CHOICES",
    "run", "Result", "Sweep", "Width", "estimate_seconds", "make_teacher", "separate_vectors", "activation_correlation",
    "CLAIM", "numbers", "paper_vs_ours", "estimates", "recovered", "node_rates", "fanout_shares", "fanout_ratios",
    "final_eval_losses",
    "FIGURES", "LIVE_CONTROLS", "live", "plot_recovery", "plot_lshape", "plot_loss", "animation",
]
