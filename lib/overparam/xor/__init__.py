"""Chapter 1: XOR detection. Over-parameterized conv nets find better global minima.

Reproduces Brutzkus & Globerson, "Why do Larger Models Generalize Better? A Theoretical
Perspective via the XOR Problem", ICML 2019 (arXiv:1810.03037), at laptop scale:

- the XOR-detection problem (XORD) with its "diverse" distribution (``p_plus``, ``p_minus``), see
  :func:`overparam.data.xord_sample`;
- the 3-layer conv net ``N(x) = sum_i [max_j relu(w_i . x_j) - max_j relu(u_i . x_j)]`` with 2k
  filters, max-pooling and a fixed +-1 readout (:class:`overparam.models.XORConvNet`), trained by
  full-batch gradient descent on the hinge loss from a small Gaussian initialization;
- the measurements of the paper's analysis (:mod:`.measures`): test error (exact), the share of
  runs at a global minimum (zero hinge loss) whose test error is nonzero ("bad global minima"),
  split by cause (mode i: a positive pattern missed; mode ii: every pattern detected, errors on
  pattern sets the training data do not contain), exploration at initialization and clustering of
  the trained filters on the pattern directions;
- the controls: the same runs at a step size proportional to 1/k, 10x the steps for the small
  networks that do not fit, and ablations of the training data (all diverse, larger n, p = 0.5);
- the paper's MNIST experiment at reduced scale (:class:`overparam.models.ConvNet`, small vs wide).

The chapter contract (``DESIGN.md``): :mod:`.config` (``Config``, ``PRESETS``, ``config``),
:mod:`.run` (``run``, ``Result``, ``estimate_seconds``), :mod:`.report` (``CLAIM``, ``numbers``,
``paper_vs_ours``), :mod:`.figures` (``FIGURES``, ``LIVE_CONTROLS``, ``live``).
"""

from .config import PRESETS, Config, config
from .figures import (
    FIGURES, LIVE_CONTROLS, animation, key_data, live, plot_ablations, plot_bad_minima, plot_clustering, plot_exploration,
    plot_key, plot_mnist, plot_test_error,
)
from .measures import (
    PAIR_SETS, RANDOM_COSINE, clustering, detected_patterns, exact_test_error, exploration, exploration_theory,
    failure_modes, mnist_clustering, pos_explored, pos_explored_theory, set_name, subset_labels, wrong_sets,
)
from .report import CLAIM, numbers, paper_vs_ours, scale
from .run import Ablations, Frames, Mnist, Result, Stuck, Sweep, estimate_seconds, run

__all__ = [
    "Config", "PRESETS", "config", "run", "Result", "Sweep", "Stuck", "Ablations", "Mnist", "Frames", "estimate_seconds",
    "CLAIM", "numbers", "paper_vs_ours", "scale", "FIGURES", "LIVE_CONTROLS", "live", "key_data", "plot_key",
    "plot_test_error", "plot_bad_minima", "plot_ablations", "plot_exploration", "plot_clustering", "plot_mnist", "animation",
    "RANDOM_COSINE", "PAIR_SETS", "subset_labels", "exact_test_error", "wrong_sets", "failure_modes", "set_name", "detected_patterns", "exploration",
    "exploration_theory", "pos_explored", "pos_explored_theory", "clustering", "mnist_clustering",
]
