"""Chapter 5: bad global minima are rare (Martinetz & Martinetz 2022, arXiv 2211.03570; the
learning-curve model of Martinetz, Linse & Martinetz, IJCNN 2024, arXiv 2410.16868).

The argument (both papers' abstracts; the equations below are our derivation of it). Draw a
classifier ``h`` from some measure over a function set and let ``eps(h)`` be its true error, with
density ``Q(eps)``. On ``n`` i.i.d. training points ``h`` makes no mistake with probability
``(1 - eps)^n``. So among the zero-training-error solutions ("global minima") the errors have density

    Q_n(eps) = Q(eps) (1 - eps)^n / Z_n,        Z_n = int_0^1 Q(e) (1 - e)^n de,

the fraction of *bad* minima, ``P_n(eps > eps0) = int_{eps0}^1 Q (1-e)^n / Z_n``, decays exponentially in
``n`` (asymptotically ``~ C n^(d-2) (1 - eps0)^n`` when ``Q ~ eps^(d-2)`` near 0), and the learning
curve is ``E_n[eps] = int e Q (1-e)^n / Z_n``. Nothing here counts parameters. These are ratios of
expectations over training sets (the "annealed" average, Schwartz, Samalam, Solla & Denker 1990); one
learner with one training set sees its own version space (the "quenched" average), and the measure
must not depend on the data (GD's solutions do; tested against prior conditioning below).

What :func:`run` computes (all batched; tensors returned on the CPU), one sub-experiment each:

(a) the exactly solvable toy: homogeneous perceptrons ``sign(w . x)`` in ``d`` dimensions, a teacher
    ``w*``, isotropic Gaussian inputs, so ``eps(w) = angle(w, w*) / pi`` in closed form and, for ``w``
    uniform on the sphere, ``Q(eps) ∝ sin^{d-2}(pi eps)``. The same classifiers are checked on
    hundreds of shared nested training sequences (rejection gives the survivors for every
    ``n = 0..N`` at once, from each classifier's first mistake): pooled over sequences (annealed) and
    per sequence (quenched); plus a fresh-set control, each classifier on its own sequence.
(b) two-layer ReLU networks on two MNIST digits (offline set, 7x7 average-pooled): ``Q`` of random
    networks ("guess and check") with rejection on many sequences, GD-trained networks from many seeds
    compared with the random survivors at the same ``n`` (GD vs prior conditioning), and a Beta model
    ``Q = Beta(a, b)`` fitted to the small-``n`` GD runs (a phenomenological fit), for which
    ``Q_n = Beta(a, b + n)`` and ``E_n = a / (a + b + n)``, checked at every larger ``n``.
(c) the same for two widths (parameter counts 100x apart; both over-parameterized), and an
    under-parameterized width (2 hidden units, fewer parameters than the largest ``n``) whose GD
    learning curve is compared with the one predicted from its own random networks' ``Q``; and
    (a') the toy with a fraction of flipped training labels (the non-separable regime).

Modules: ``config`` (Config, presets), ``theory`` (closed forms), ``run`` (compute; ``Result`` with
``toy``, ``random``, ``gd``, ``under``, ``noisy``), ``report`` (``numbers``, ``paper_vs_ours``), ``figures``.
"""

from .config import PRESETS, Config, config
from .figures import (
    FIGURES,
    LIVE_CONTROLS,
    animation,
    key_data,
    live,
    plot_key,
    plot_mnist_learning_curves,
    plot_mnist_random,
    plot_toy_bad_fraction,
    plot_toy_histograms,
    plot_under_and_noise,
)
from .report import CLAIM, diff_of_means, numbers, paper_vs_ours, scale, ratio_over_sets
from .run import GDRuns, NoisyToy, RandomNets, Result, Toy, UnderParam, estimate_seconds, random_relu_outputs, run, run_toy
from .theory import bad_fraction_bound, beta_fit, perceptron_Q, survivor_theory

__all__ = [
    "CLAIM", "Config", "PRESETS", "config", "run", "Result", "Toy", "NoisyToy", "UnderParam", "RandomNets", "GDRuns", "run_toy",
    "numbers", "paper_vs_ours", "scale", "ratio_over_sets", "diff_of_means", "estimate_seconds", "FIGURES", "LIVE_CONTROLS", "live", "key_data", "plot_key",
    "perceptron_Q", "survivor_theory", "bad_fraction_bound", "beta_fit", "random_relu_outputs",
    "plot_toy_histograms", "plot_toy_bad_fraction", "plot_mnist_random", "plot_mnist_learning_curves", "plot_under_and_noise", "animation",
]
