"""Small helpers the chapter notebooks share: glued numbers, the static interactive figure, and
the live widget panel.

- :func:`glue` stores a value for ``{glue:}`` roles in the built book (myst-nb), and does nothing
  where myst-nb is not installed (e.g. in Colab), so notebooks run everywhere.
- :func:`jshtml` turns a matplotlib figure plus an update function into a self-contained
  JavaScript animation with a frame slider (``Animation.to_jshtml``): it stays interactive in the
  static HTML page, with no kernel and nothing loaded from a CDN.
- :func:`live_panel` builds an ipywidgets panel that reruns a small experiment on a button press
  (live in Jupyter/Colab; the static page shows the animation instead).
- The closing "paper vs ours" table: :func:`table_rows` builds a chapter's rows from
  ``(numbers, config)`` for its run and for a stored ``paper`` record (``paper_preset`` cells),
  :func:`check_rows` checks them, :func:`comparison_table` renders them;
  :func:`show_paper_vs_ours`, :func:`show_key_figure` and :func:`show_paper_scale` are what the
  notebooks call (they glue the table, claim, scale and key figure for the summary page).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
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
    "row",
    "check_rows",
    "table_rows",
    "ci",
    "separate",
    "paper_config",
    "show_key_figure",
    "show_paper_scale",
    "FigureImage",
    "VERDICTS",
    "ascii_maths",
    "no_e_notation",
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


# --------------------------------------------------------------------------------------------
# The closing "paper vs ours" table: rows, their check, the Markdown table
# --------------------------------------------------------------------------------------------

#: The verdicts a row may carry in ``"reproduced"``.
VERDICTS = ("yes", "partly", "no")
#: The keys every row of a chapter's ``paper_vs_ours`` has (``"paper_preset"`` besides, when a
#: stored ``paper`` record was passed).
ROW_KEYS = ("id", "quantity", "paper", "reproduced", "why", "ours")


def row(id_: str, quantity: str, paper: str, verdict: tuple[str, str], ours: str) -> dict[str, str]:
    """One row of a chapter's closing table (keys :data:`ROW_KEYS`); ``verdict`` is
    ``(reproduced, why)``, e.g. ``("yes", "intervals separate")``."""
    return {"id": id_, "quantity": quantity, "paper": paper, "reproduced": verdict[0], "why": verdict[1], "ours": ours}

#: Plain-text maths that must be written as MyST maths (``$...$``) in a row's text.
ASCII_MATHS = re.compile(r"\^|sqrt\(|\w_[{\w]|->|<=|>=|\|\||\beta\s*\*|\*\s*k\b|\b(?:lambda|eps|sigma|beta)\b")


def ci(nums: dict[str, float], key: str, spec: str = ".3g") -> str:
    """``numbers()``'s estimate ``key`` (with ``key_lo``, ``key_hi``, ``key_n``) as a table cell:
    ``"0.48 [0.35, 0.62] (n=100)"``; ``"n/a (no valid run)"`` when it rests on no run, and
    ``"0.48 (1 run)"`` on one. A missing key raises ``KeyError`` naming it."""
    for k in (key, f"{key}_lo", f"{key}_hi", f"{key}_n"):
        if k not in nums:
            raise KeyError(f"numbers() has no {k!r} (needed for the table cell of {key!r})")
    v, lo, hi, n = (float(nums[k]) for k in (key, f"{key}_lo", f"{key}_hi", f"{key}_n"))
    if n == 0 or math.isnan(v):
        return "n/a (no valid run)"
    if n == 1:
        return f"{v:{spec}} (1 run)"
    return f"{v:{spec}} [{lo:{spec}}, {hi:{spec}}] (n={n:.0f})"


def separate(nums: dict[str, float], above: str, below: str) -> bool:
    """True when estimate ``above`` lies above estimate ``below`` with separated 95% intervals (both
    resting on at least one run)."""
    return (nums.get(f"{above}_n", 0) > 0 and nums.get(f"{below}_n", 0) > 0
            and nums[f"{above}_lo"] > nums[f"{below}_hi"])


def check_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Raise ``ValueError`` unless ``rows`` are closing-table rows: every key of :data:`ROW_KEYS`
    (strings), unique ``id``s, ``reproduced`` one of :data:`VERDICTS`, no plain-text maths
    (:data:`ASCII_MATHS`) in ``quantity``/``paper``/``why``. Returns ``rows``."""
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"rows must be a non-empty list of dicts (a chapter's paper_vs_ours); got {rows!r:.80}")
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValueError(f"rows[{i}] must be a dict; got {type(row).__name__}")
        missing = [k for k in ROW_KEYS if k not in row]
        if missing:
            raise ValueError(f"rows[{i}] is missing {missing}; each row needs {list(ROW_KEYS)}")
        bad = [k for k in (*ROW_KEYS, "paper_preset") if k in row and not isinstance(row[k], str)]
        if bad:
            raise ValueError(f"rows[{i}] ({row['id']!r}): {bad} must be str (format numbers in the chapter)")
        if row["reproduced"] not in VERDICTS:
            raise ValueError(f"rows[{i}] ({row['id']!r}): reproduced must be one of {VERDICTS}; got {row['reproduced']!r}")
        if row["id"] in seen:
            raise ValueError(f"rows[{i}]: id {row['id']!r} is not unique")
        seen.add(row["id"])
        for k in ("quantity", "paper", "why"):
            found = ascii_maths(row[k])
            if found:
                raise ValueError(f"rows[{i}] ({row['id']!r}): {k} has plain-text maths {found!r}; write $...$")
    return rows


def ascii_maths(text: str) -> str | None:
    """The first plain-text maths pattern (:data:`ASCII_MATHS`) of ``text`` outside its ``$...$``
    maths and ``code`` spans, or None."""
    m = ASCII_MATHS.search(_outside_math(text))
    return m.group() if m else None


def _outside_math(text: str) -> str:
    """``text`` without its ``$...$`` maths and its ``code`` spans."""
    return re.sub(r"\$[^$]*\$|`[^`]*`", " ", text)


def paper_config(record: dict[str, Any], config_cls: type):
    """The chapter ``Config`` of a stored ``paper`` record (its ``"config"`` dict; lists become
    tuples). ``ValueError`` when the record is not one of this chapter."""
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict) or "numbers" not in record:
        raise ValueError("paper must be a stored paper record (a dict with 'config' and 'numbers'; "
                         f"overparam.paper_runs.load); got {type(record).__name__}")

    def tup(v):
        return tuple(tup(x) for x in v) if isinstance(v, list) else v

    try:
        return config_cls(**{k: tup(v) for k, v in record["config"].items()})
    except TypeError as exc:
        raise ValueError(f"paper's config does not fit {config_cls.__module__}.Config ({exc}); "
                         "is the record stale or of another chapter?") from exc


def record_numbers(record: dict[str, Any]) -> dict[str, float]:
    """A stored record's ``numbers`` as floats (``None`` and the strings ``"nan"``, ``"inf"`` too)."""
    return {k: math.nan if v is None else float(v) for k, v in record["numbers"].items()}


def table_rows(build: Callable[[dict[str, float], Any], list[dict[str, Any]]], nums: dict[str, float], cfg: Any,
               paper: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """A chapter's ``paper_vs_ours`` rows: ``build(numbers, config)`` for the book run, checked by
    :func:`check_rows`; with a stored ``paper`` record, every row also gets ``"paper_preset"``, the
    same row's ``ours`` built from the record's numbers and config (its verdict appended when it
    differs; "not in that run" for a row the record does not have)."""
    rows = check_rows(build(nums, cfg))
    if paper is None:
        return rows
    pcfg = paper_config(paper, type(cfg))
    try:
        theirs = {r["id"]: r for r in check_rows(build(record_numbers(paper), pcfg))}
    except KeyError as exc:
        raise ValueError(f"the paper record lacks a number the rows need: {exc}; re-run the paper preset") from exc
    for row in rows:
        other = theirs.get(row["id"])
        if other is None:
            row["paper_preset"] = "not in that run"
        elif other["reproduced"] != row["reproduced"]:
            row["paper_preset"] = f"{other['ours']} (reproduced: {other['reproduced']})"
        else:
            row["paper_preset"] = other["ours"]
    return rows


def comparison_table(rows: list[dict[str, Any]]) -> str:
    """The closing table as Markdown (MyST maths kept): Quantity | Paper | Reproduced? | Ours, plus a
    `` `paper` preset`` column when the rows carry ``paper_preset``. The verdict cell reads
    "**yes**: intervals separate". ``rows`` as checked by :func:`check_rows`."""
    check_rows(rows)
    with_paper = any("paper_preset" in r for r in rows)
    head = ["Quantity", "Paper", "Reproduced?", "Ours"] + (["`paper` preset"] if with_paper else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        verdict = f"**{r['reproduced']}**" + (f": {r['why']}" if r["why"].strip() else "")
        cells = [r["quantity"], r["paper"], verdict, r["ours"]] + ([r.get("paper_preset", "-")] if with_paper else [])
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """A table cell: one line, pipes escaped, e-notation written as MyST maths."""
    return no_e_notation(" ".join(str(text).split())).replace("|", "\\|")


_E_NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)e([+-]?)0*(\d+)\b")


def no_e_notation(text: str) -> str:
    """``text`` with numbers like ``1.2e-05`` written as ``$1.2 \\times 10^{-5}$`` (inside ``$...$``
    maths without the dollars); the rest unchanged."""

    def sub(inside: bool):
        def repl(m: re.Match) -> str:
            tex = f"{m.group(1)} \\times 10^{{{'-' if m.group(2) == '-' else ''}{m.group(3)}}}"
            return tex if inside else f"${tex}$"
        return repl

    parts = re.split(r"(\$[^$]*\$)", text)
    return "".join(_E_NUMBER.sub(sub(p.startswith("$") and p.endswith("$") and len(p) > 1), p) for p in parts)


# --------------------------------------------------------------------------------------------
# What the notebooks call: key figure, closing table, paper-scale figure
# --------------------------------------------------------------------------------------------


def _chapter(module: Any, needs: tuple[str, ...]) -> str:
    """The chapter package name of ``module`` (``overparam.<name>``), after checking it has ``needs``."""
    if not isinstance(module, ModuleType) or not module.__name__.startswith("overparam."):
        raise TypeError(f"module must be a chapter package (e.g. overparam.gram); got {type(module).__name__}")
    missing = [n for n in needs if not hasattr(module, n)]
    if missing:
        raise TypeError(f"{module.__name__} lacks {missing}")
    return module.__name__.split(".")[-1]


def _check_prefix(prefix: Any) -> str:
    if not isinstance(prefix, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", prefix):
        raise ValueError(f"prefix must be a glue prefix like 'gram' (lowercase letters, digits, _); got {prefix!r}")
    return prefix


def _load_record(name: str) -> dict[str, Any] | None:
    """The stored ``paper`` record of chapter ``name`` (``overparam.paper_runs.load``), or None."""
    try:
        from . import paper_runs
    except ModuleNotFoundError as exc:  # the stored-runs module is not installed: no stored run
        if exc.name != f"{__package__}.paper_runs":
            raise
        return None
    return paper_runs.load(name)


class FigureImage:
    """A figure rendered once to PNG with alt text: displays as ``<img alt=...>`` (HTML) and as
    ``image/png`` (whose ``metadata["overparam"]["alt"]`` the pasting directive reads)."""

    def __init__(self, fig, alt: str) -> None:
        import io
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=2 * fig.dpi)
        plt.close(fig)
        self.png, self.alt = buf.getvalue(), alt
        self.width, self.height = (int(round(v * fig.dpi)) for v in fig.get_size_inches())

    def _repr_mimebundle_(self, include=None, exclude=None):
        import base64
        import html

        b64 = base64.b64encode(self.png).decode("ascii")
        img = (f'<img src="data:image/png;base64,{b64}" alt="{html.escape(self.alt)}" width="{self.width}" '
               'style="max-width:100%;height:auto" class="overparam-figure"/>')
        data = {"image/png": b64, "text/html": img, "text/plain": f"<figure: {self.alt}>"}
        meta = {"image/png": {"width": self.width, "height": self.height}, "overparam": {"alt": self.alt}}
        return data, meta


def show_key_figure(prefix: str, module: Any, result: Any, alt: str) -> None:
    """Draw the chapter's key figure (``module.plot_key(module.key_data(result))``), display it with
    ``alt`` as its alt text and glue it as ``<prefix>_key_figure`` (for the summary and landing pages)."""
    _check_prefix(prefix)
    _chapter(module, ("plot_key", "key_data"))
    if not isinstance(alt, str) or len(alt.split()) < 3:
        raise ValueError(f"alt must describe the figure in words (at least three); got {alt!r}")
    glue(f"{prefix}_key_figure", FigureImage(module.plot_key(module.key_data(result)), alt), display=True)


def show_paper_vs_ours(prefix: str, module: Any = None, result: Any = None, *old: Any) -> None:
    """Display the chapter's closing table (``module.paper_vs_ours(result, paper=record)``, the
    stored ``paper`` record when there is one and it is not stale) and the scale line; glue
    ``<prefix>_table``, ``<prefix>_claim``, ``<prefix>_scale`` and ``<prefix>_paper_scale`` (the
    stored run's scale, device and date, or a note that it is stale or missing)."""
    if isinstance(module, list) or isinstance(result, str) or old:
        raise TypeError("show_paper_vs_ours(prefix, rows, claim) is the old form; call "
                        f"book.show_paper_vs_ours({prefix!r}, <chapter package>, result), e.g. "
                        'book.show_paper_vs_ours("gram", gram, result)')
    _check_prefix(prefix)
    name = _chapter(module, ("paper_vs_ours", "CLAIM", "Config"))
    if not isinstance(result, getattr(module, "Result", object)):
        raise TypeError(f"result must be an overparam.{name}.Result (from {name}.run); got {type(result).__name__}")
    from IPython.display import Markdown, display

    record = _load_record(name)
    stale = bool(record and record.get("stale"))
    rows = module.paper_vs_ours(result, paper=None if record is None or stale else record)
    glue(f"{prefix}_table", Markdown(comparison_table(rows)), display=True)
    scale, note = no_e_notation(scale_of(module)(result.config)), no_e_notation(paper_note(module, record))
    display(Markdown(f"Scale: {scale}" + (f"\n\n{note}" if note else "")))
    glue(f"{prefix}_claim", module.CLAIM)
    glue(f"{prefix}_scale", scale)
    glue(f"{prefix}_paper_scale", note)


def scale_of(module: Any) -> Callable[[Any], str]:
    """The chapter's ``scale(config) -> str`` (from the package, else from its ``report`` module)."""
    fn = getattr(module, "scale", None)
    if fn is None:
        import importlib

        fn = getattr(importlib.import_module(f"{module.__name__}.report"), "scale", None)
    if not callable(fn):
        raise TypeError(f"{module.__name__} has no scale(config) -> str")
    return fn


def paper_note(module: Any, record: dict[str, Any] | None) -> str:
    """One line on the stored ``paper`` run: its scale, device, date and wall time; a stale record
    says so; no record: an empty string."""
    if record is None:
        return ""
    if record.get("stale"):
        return ("The stored `paper` run is stale (the `paper` preset changed since it ran), so its column is "
                "not shown; re-run it.")
    return f"`paper` preset: {scale_of(module)(paper_config(record, module.Config))} It {provenance(record)}."


def provenance(record: dict[str, Any]) -> str:
    """"ran on <device> on <date> in <minutes>, commit <sha>" from a record's ``provenance``."""
    p = record.get("provenance") or {}
    device = p.get("device_name") or p.get("device") or "an unrecorded device"
    wall = p.get("wall_seconds")
    took = f" in {float(wall) / 60:.1f} min" if isinstance(wall, (int, float)) and math.isfinite(wall) else ""
    commit = str(p.get("commit") or "unknown")[:7] + (" with local changes" if p.get("dirty") else "")
    return f"ran on {device} on {str(p.get('date', 'an unrecorded date'))[:10]}{took}, commit {commit}"


def show_paper_scale(prefix: str, module: Any) -> None:
    """The key figure of the stored ``paper`` run (``module.plot_key(record["key_data"])``, glued as
    ``<prefix>_paper_key_figure``) and its provenance; without a stored run, a note with the
    command that makes one."""
    _check_prefix(prefix)
    name = _chapter(module, ("plot_key",))
    from IPython.display import Markdown, display

    record = _load_record(name)
    if record is None:
        display(Markdown(f"The `paper` preset of this chapter has not been run yet. On a machine with a GPU, "
                         f"`python -m overparam.paper_runs {name}` runs it and stores its results in "
                         f"`chapters/paper_results/{name}.json`, which this section then shows."))
        return
    alt = f"The chapter's key figure from the stored run of the paper preset ({provenance(record)})"
    glue(f"{prefix}_paper_key_figure", FigureImage(module.plot_key(record["key_data"]), alt), display=True)
    stale = " Stale: the `paper` preset changed since this run." if record.get("stale") else ""
    display(Markdown(f"The `paper` preset {provenance(record)}.{stale}"))
