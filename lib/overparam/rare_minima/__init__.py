"""Chapter 5: bad global minima are rare (Martinetz & Martinetz 2022, arXiv 2211.03570; the
learning-curve model of Martinetz, Linse & Martinetz, IJCNN 2024, arXiv 2410.16868).

The argument (both papers' abstracts; the equations below are our derivation of it). Draw a
classifier ``h`` from some measure over a function set and let ``eps(h)`` be its true error, with
density ``Q(eps)``. On ``n`` i.i.d. training points ``h`` makes no mistake with probability
``(1 - eps)^n``. So among the zero-training-error solutions ("global minima") the errors have density

    Q_n(eps) = Q(eps) (1 - eps)^n / Z_n,        Z_n = int_0^1 Q(e) (1 - e)^n de,

the fraction of *bad* minima, ``P_n(eps > eps0) = int_{eps0}^1 Q (1-e)^n / Z_n``, decays exponentially in
``n``, and the learning curve is ``E_n[eps] = int e Q (1-e)^n / Z_n``. Nothing here counts parameters.
These are expectations over training sets (the "annealed" ratio of expectations).

What :func:`run` computes (all batched; tensors returned on the CPU), one sub-experiment each:

(a) the exactly solvable toy: homogeneous perceptrons ``sign(w . x)`` in ``d`` dimensions, a teacher
    ``w*``, isotropic Gaussian inputs, so ``eps(w) = angle(w, w*) / pi`` in closed form and, for ``w``
    uniform on the sphere, ``Q(eps) ∝ sin^{d-2}(pi eps)``. A million or more classifiers are
    sampled in chunks; rejection on nested training sequences gives the survivors for every
    ``n = 0..N`` at once (from each classifier's first mistake).
(b) two-layer ReLU networks on two MNIST digits (offline set, 7x7 average-pooled): ``Q`` of random
    networks ("guess and check") with rejection, and GD-trained networks from many seeds with a
    Beta model ``Q = Beta(a, b)`` fitted to the small-``n`` runs, for which ``Q_n = Beta(a, b + n)``
    and ``E_n = a / (a + b + n)``; its prediction at larger ``n`` is compared with the trained nets.
(c) the same for very different widths (parameter counts).

Modules: ``config`` (Config, presets), ``theory`` (closed forms), ``run`` (compute; ``Result`` with
``toy``, ``random``, ``gd``), ``report`` (``numbers``, ``paper_vs_ours``), ``figures``.
"""

from .config import PRESETS, Config, config
from .figures import (
    FIGURES,
    LIVE_CONTROLS,
    animation,
    live,
    plot_mnist_learning_curves,
    plot_mnist_random,
    plot_toy_bad_fraction,
    plot_toy_histograms,
)
from .report import CLAIM, numbers, paper_vs_ours
from .run import GDRuns, RandomNets, Result, Toy, estimate_seconds, random_relu_outputs, run, run_toy
from .theory import bad_fraction_bound, beta_fit, perceptron_Q, survivor_theory

__all__ = [
    "CLAIM", "Config", "PRESETS", "config", "run", "Result", "Toy", "RandomNets", "GDRuns", "run_toy",
    "numbers", "paper_vs_ours", "estimate_seconds", "FIGURES", "LIVE_CONTROLS", "live",
    "perceptron_Q", "survivor_theory", "bad_fraction_bound", "beta_fit", "random_relu_outputs",
    "plot_toy_histograms", "plot_toy_bad_fraction", "plot_mnist_random", "plot_mnist_learning_curves", "animation",
]
