"""Figure conventions, set in one place (the chapter contract, ``DESIGN.md``).

Every chapter figure is made with :func:`panels`, so that it reads at 390 px (a phone) and at
1280 px: at most two panels per row (more are stacked), a width of 6.4 inches (the page's text
column), text of at least 9 pt at that size, output at 2x resolution, and a colour-blind-safe cycle
without pale yellows (Okabe & Ito's palette, its yellow dropped). A figure never hides that runs
diverged: :func:`note_diverged` writes "N of M runs diverged" on a panel, and :func:`empty_panel`
keeps a panel with nothing valid to show readable instead of crashing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["COLORS", "WIDTH", "apply", "panels", "note_diverged", "empty_panel", "color", "log_ticks"]

#: Okabe & Ito (2008) without its yellow (#F0E442), which vanishes on white: blue, vermillion,
#: bluish green, orange, reddish purple, sky blue, black.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000")
#: Figure width in inches (the page's text column).
WIDTH = 6.4
#: Height of one row of panels, in inches.
ROW_HEIGHT = 3.2

RC = {
    "axes.prop_cycle": None,  # set in apply()
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "figure.figsize": (WIDTH, ROW_HEIGHT),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.constrained_layout.use": True,
}


def apply() -> None:
    """Set the book's matplotlib defaults (idempotent), and 2x PNGs in Jupyter when available."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({**RC, "axes.prop_cycle": cycler(color=list(COLORS))})
    try:  # crisp figures in notebooks (Jupyter's inline backend); a no-op elsewhere
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("retina")
    except Exception:  # noqa: BLE001 - no IPython / inline backend: nothing to configure
        pass


def color(i: int) -> str:
    """The ``i``-th colour of the cycle (wraps around)."""
    return COLORS[i % len(COLORS)]


def panels(n: int = 1, *, height: float = ROW_HEIGHT, width: float = WIDTH, **kw):
    """A figure with ``n`` panels, at most two per row: ``(fig, [ax, ...])`` (a flat list of ``n`` axes).

    ``height`` is per row; ``kw`` goes to ``plt.subplots`` (e.g. ``sharey=True``).
    """
    import matplotlib.pyplot as plt

    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (number of panels); got {n!r}")
    apply()
    cols = 1 if n == 1 else 2
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width, height * rows), squeeze=False, **kw)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.remove()
    return fig, flat[:n]


def note_diverged(ax, n_diverged: int, n_total: int) -> None:
    """Write "N of M runs diverged (excluded)" in the corner of ``ax`` when ``n_diverged > 0``."""
    if n_diverged > 0:
        ax.text(0.99, 0.99, f"{n_diverged} of {n_total} runs diverged (excluded)", transform=ax.transAxes,
                ha="right", va="top", fontsize=9, color=COLORS[1],
                bbox=dict(boxstyle="round", fc="white", ec=COLORS[1], alpha=0.9))


def empty_panel(ax, message: str = "no valid run to show (all diverged)") -> None:
    """Leave ``ax`` empty with ``message`` in the middle (e.g. when every run diverged)."""
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=10, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def log_ticks(ax, values: Sequence[float], axis: str = "x") -> None:
    """Log scale on ``axis`` with a tick at each of ``values``, labelled plainly (``2, 10, 120``)."""
    from matplotlib.ticker import NullFormatter

    getattr(ax, f"set_{axis}scale")("log")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_ticks(list(values))
    target.set_ticklabels([f"{v:g}" for v in values])
    target.set_minor_formatter(NullFormatter())
