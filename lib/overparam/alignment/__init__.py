"""Chapter 3: early alignment and the optimization threshold (Boursier & Flammarion, ICML 2025,
arXiv 2410.02348; the toy from arXiv 2401.10791, code ``eboursier/early_alignment``).

``from overparam import alignment; r = alignment.run(alignment.config("book"))``; then
``alignment.numbers(r)``, ``alignment.paper_vs_ours(r)`` and the figures in ``alignment.FIGURES``.
"""

from .config import PRESETS, Config, config
from .extremal import G_values, alignment_score, extremal_vectors, grad_norm
from .figures import (FIGURES, LIVE_CONTROLS, animation, key_data, live, plot_extremal, plot_key, plot_polar, plot_threshold,
                      plot_toy_training, plot_transition)
from .report import CLAIM, estimates, numbers, paper_vs_ours, scale, stall_share, threshold_n
from .run import TOY_X, TOY_Y, Extremal, Result, Scales, Threshold, Toy, estimate_seconds, run, toy_least_squares

__all__ = [
    "CLAIM", "Config", "PRESETS", "config", "run", "Result", "Toy", "Threshold", "Scales", "Extremal", "numbers",
    "estimates", "paper_vs_ours", "scale", "FIGURES", "LIVE_CONTROLS", "live", "key_data", "plot_key", "estimate_seconds", "TOY_X", "TOY_Y",
    "grad_norm", "G_values", "extremal_vectors", "alignment_score", "threshold_n", "stall_share", "toy_least_squares",
    "plot_toy_training", "plot_polar", "animation", "plot_threshold", "plot_transition", "plot_extremal",
]
