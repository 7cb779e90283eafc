"""Chapter 4: the Gram matrix. Why a wide two-layer ReLU network fits true labels fast and random
labels slowly, and a generalization bound that can tell the two apart.

Reproduces Arora, Du, Hu, Li & Wang, "Fine-Grained Analysis of Optimization and Generalization for
Overparameterized Two-Layer Neural Networks", ICML 2019 (arXiv `1901.08584
<https://arxiv.org/abs/1901.08584>`_), on two MNIST digits with a fraction ``p`` of the training
labels re-drawn at random (``p`` from 0 to 1):

- the training loss of the wide network against the kernel prediction
  ``1/2 sum_i (1 - eta lambda_i)^{2k} (v_i . y)^2`` (Theorem 4.1);
- the eigenvalues of ``H^inf`` and the projections ``(v_i . y)^2`` of true and random labels;
- the bound ``sqrt(2 y^T (H^inf)^{-1} y / n)`` (Theorem 5.1) against the test error and loss;
- ``||W(k) - W(0)||_F`` against ``sqrt(y^T (H^inf)^{-1} y)`` (Section 5);
- the drift of the network's Gram matrix ``H(W)`` from ``H^inf`` (the kernel regime's premise);
- the fully trained infinite-width predictor (:mod:`.kernel_predictor`), the regime Theorem 5.1 is
  about, beside the early-stopped networks, and the kernel side of a second digit pair.

All corruption levels (times seeds) are trained as one ensemble, in one call of
:func:`overparam.train.train`. The Gram-matrix math lives in :mod:`overparam.kernels`.
Layout: :mod:`.config` (Config, presets), :mod:`.run` (compute), :mod:`.report` (numbers, table),
:mod:`.figures` (figures, animation, live panel).
"""

from .config import PRESETS, Config, config
from .figures import (FIGURES, LIVE_CONTROLS, animation, key_data, live, plot_bound, plot_key, plot_distance, plot_loss, plot_spectrum,
                      plot_widths)
from .report import CLAIM, numbers, paper_vs_ours, scale
from .run import (Drift, Kernel, Pair, Prediction, Result, Spectrum, Sweep, Training, Widths, estimate_seconds,
                  run)

__all__ = [
    "CLAIM", "Config", "PRESETS", "config", "Result", "Spectrum", "Sweep", "Training", "Prediction", "Drift", "Kernel", "Pair", "run",
    "estimate_seconds", "numbers", "paper_vs_ours", "scale", "FIGURES", "LIVE_CONTROLS", "live", "key_data", "plot_key", "plot_loss",
    "plot_spectrum", "plot_bound", "plot_distance", "plot_widths", "animation",
]
