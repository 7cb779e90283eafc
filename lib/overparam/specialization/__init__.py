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
- time is gradient-flow time ``lr * t``: the paper's SGD (lr 0.01, 100 x 1000 iterations) ends at
  ``lr * t = 1000`` and its "early" (epoch 5) is ``lr * t = 50``; the presets say where they stop;
- the script reseeds per run and draws the teacher first, so its teacher is the same at every width
  for a seed (only its data differ); here the data are shared across widths too, and the decays
  ``p`` of one seed share the teacher's grid draw (only the fan-out scaling differs).

Training (:func:`.run.grads`) is the script's hand-written two-layer update; all widths and all
(decay, seed) members run in one loop, one ensemble.

Two smaller experiments of the paper run beside the sweep: :mod:`.samples` (recovery vs the number
of training samples, plain Gaussian vs the official code's teacher-aware augmented inputs) and
:mod:`.deep` (a four-layer teacher: how well each student layer specializes, the lowest layer being
the main theorem's subject).

Modules: :mod:`.config` (Config, presets), :mod:`.run` (compute: teacher, correlation, ``run``),
:mod:`.report` (``numbers``, ``paper_vs_ours``), :mod:`.figures` (figures, ``live``).
"""

from .config import PRESETS, WEIGHT_CHOICES, Config, config
from .deep import DeepSweep, deep_student, deep_teacher, mlp_forward, mlp_grads
from .figures import (
    FIGURES, LIVE_CONTROLS, animation, key_data, live, plot_deep, plot_key, plot_loss, plot_lshape, plot_recovery,
    plot_samples,
)
from .report import (
    BINS, CLAIM, binned_fanout, decay_tag, deep_estimates, deep_params, estimates, fanout_ratios, final_eval_losses,
    loss_rises, node_rates, numbers, paper_vs_ours, recovered, relative_fanout, sample_estimates, sc_main_multi, scale,
    student_params,
)
from .run import (
    MAX_LOSS, Result, Sweep, Width, activation_correlation, estimate_seconds, grads, make_teacher, run,
    separate_vectors,
)
from .samples import KINDS, SampleSweep, augmented_inputs, sample_teacher

__all__ = [
    "Config", "PRESETS", "config", "WEIGHT_CHOICES",
    "run", "Result", "Sweep", "Width", "estimate_seconds", "make_teacher", "separate_vectors", "activation_correlation",
    "grads", "MAX_LOSS",
    "CLAIM", "BINS", "numbers", "paper_vs_ours", "estimates", "recovered", "node_rates", "fanout_ratios",
    "relative_fanout", "binned_fanout", "final_eval_losses", "student_params", "decay_tag", "loss_rises",
    "FIGURES", "LIVE_CONTROLS", "live", "plot_recovery", "plot_lshape", "plot_loss", "animation",
    "plot_samples", "plot_deep", "key_data", "plot_key", "scale", "sample_estimates", "deep_estimates", "sc_main_multi",
    "deep_params", "SampleSweep", "DeepSweep", "KINDS", "augmented_inputs", "sample_teacher", "deep_teacher",
    "deep_student", "mlp_forward", "mlp_grads",
]
