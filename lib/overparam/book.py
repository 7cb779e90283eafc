"""Small helpers the chapter notebooks share: glued numbers, the static interactive figure, and
the live widget panel.

- :func:`glue` stores a value for ``{glue:}`` roles in the built book (myst-nb), and does nothing
  where myst-nb is not installed (e.g. in Colab), so notebooks run everywhere.
- :func:`jshtml` turns a matplotlib figure plus an update function into a self-contained
  JavaScript animation with a frame slider (``Animation.to_jshtml``): it stays interactive in the
  static HTML page, with no kernel and nothing loaded from a CDN.
- :func:`live_panel` builds an ipywidgets panel that reruns a small experiment on a button press
  (live in Jupyter/Colab; the static page shows the animation instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "glue",
    "glue_numbers",
    "show_paper_vs_ours",
    "jshtml",
    "Slider",
    "live_panel",
    "in_colab",
    "comparison_table",
]


def in_colab() -> bool:
    """True inside Google Colab."""
    import sys

    return "google.colab" in sys.modules


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}`name:.3f``` roles (myst-nb), if available.

    Numbers are converted to plain Python floats/ints first, so that the glued text is a number
    (not ``tensor(0.1234)``) and tests can read it back.
    """
    try:
        import torch

        if isinstance(value, torch.Tensor):
            value = value.item() if value.numel() == 1 else value.tolist()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover
        pass
    try:
        from myst_nb import glue as _glue
    except ImportError:
        if display:
            from IPython.display import display as _display

            _display(value)
        return
    _glue(name, value, display=display)


def glue_numbers(chapter: str, numbers: dict[str, float]) -> None:
    """Glue every entry of a chapter's ``numbers()`` as ``<chapter>_<key>`` (one call per notebook).

    The prose quotes them with ``{glue:text}`<chapter>_<key>:.3f```; an estimate's interval is
    ``<chapter>_<key>_lo`` / ``_hi`` and its run count ``<chapter>_<key>_n``.
    """
    if not isinstance(numbers, dict) or not all(isinstance(k, str) for k in numbers):
        raise ValueError(f"numbers must be a dict of str keys (a chapter's numbers()); got {type(numbers).__name__}")
    for key, value in numbers.items():
        glue(f"{chapter}_{key}", float(value))


def show_paper_vs_ours(chapter: str, rows: list[dict[str, Any]], claim: str) -> None:
    """Display the chapter's closing table and glue it (``<chapter>_table``) and its ``claim``
    (``<chapter>_claim``) for the summary page."""
    from IPython.display import Markdown

    glue(f"{chapter}_table", Markdown(comparison_table(rows)), display=True)
    glue(f"{chapter}_claim", claim)


def jshtml(fig, update: Callable[[int], Any], frames: int, *, interval: int = 200, default_mode: str = "once",
           dpi: int = 110):
    """A JavaScript animation of ``fig`` over ``frames`` frames, as an ``IPython.display.HTML``.

    ``update(i)`` redraws the figure for frame ``i``. The figure is closed afterwards so it is not
    also shown as a static image. The result has a slider and play buttons that work in a static
    HTML page (frames are embedded as PNGs at ``dpi``, lower than the static figures' 2x so that a
    few dozen frames stay a few MB; keep ``frames`` to a few dozen).
    """
    import matplotlib as mpl
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib import animation

    from ._validate import check_int

    frames = check_int("frames", frames, 1, 500)
    dpi = check_int("dpi", dpi, 20, 400)
    anim = animation.FuncAnimation(fig, update, frames=frames, interval=interval, blit=False)
    with mpl.rc_context({"savefig.dpi": dpi}):
        html = anim.to_jshtml(default_mode=default_mode, embed_frames=True)
    plt.close(fig)
    return HTML(html)


@dataclass(frozen=True)
class Slider:
    """A live-panel control, declared in the library without importing ipywidgets:
    ``Slider(value, low, high, step, description)``; an int slider when all numbers are ints."""

    value: float
    low: float
    high: float
    step: float | None = None
    description: str = ""

    def widget(self, name: str):
        """The ipywidgets slider for this control (``name`` when no ``description``)."""
        import ipywidgets as w

        is_int = all(isinstance(v, int) for v in (self.value, self.low, self.high, self.step or 1))
        cls = w.IntSlider if is_int else w.FloatSlider
        kw = {} if self.step is None else {"step": self.step}
        return cls(value=self.value, min=self.low, max=self.high, description=self.description or name,
                   style={"description_width": "initial"}, **kw)


def live_panel(run_and_plot: Callable[..., Any], controls: dict[str, Slider], *, button: str = "Run", **fixed):
    """A live panel: one slider per entry of ``controls`` plus a button that calls
    ``run_and_plot(**slider_values, **fixed)`` (e.g. ``fixed={"device": device}``).

    The experiment runs only when the button is pressed, so executing the notebook (papermill,
    the book build) costs nothing. Output (figures, text) goes into the panel's output area.
    """
    import ipywidgets as w
    from IPython.display import display

    sliders = {name: spec.widget(name) for name, spec in controls.items()}
    out = w.Output()
    go = w.Button(description=button, button_style="primary")

    def on_click(_):
        out.clear_output(wait=True)
        with out:
            run_and_plot(**{k: c.value for k, c in sliders.items()}, **fixed)

    go.on_click(on_click)
    panel = w.VBox([*sliders.values(), go, out])
    display(panel)
    return panel


def comparison_table(rows: list[dict[str, Any]], fmt: str = ".3g") -> str:
    """The "paper vs ours" table as Markdown, from ``rows`` of
    ``{"quantity": str, "paper": str, "ours": float | str, "scale": str}``.

    ``paper`` is the paper's value with where it is reported (e.g. "0.07 (Fig. 3)"); ``ours`` is the
    number this run computed (formatted with ``fmt``), never typed by hand; ``scale`` says what we
    ran (seeds, n, width). Display it with ``IPython.display.Markdown`` and glue it for the summary.
    """
    keys = ("quantity", "paper", "ours", "scale")
    for i, row in enumerate(rows):
        missing = [k for k in keys if k not in row]
        if missing:
            raise ValueError(f"rows[{i}] is missing {missing}; each row needs {list(keys)}")

    def cell(v):
        if isinstance(v, float):
            return format(v, fmt)
        return str(v).replace("|", "\\|")

    lines = ["| Quantity | Paper | Ours | Our scale |", "|---|---|---|---|"]
    lines += [f"| {cell(r['quantity'])} | {cell(r['paper'])} | {cell(r['ours'])} | {cell(r['scale'])} |" for r in rows]
    return "\n".join(lines)
