"""Static pictures of the chapters' live panels, for the "Try it live" sections of the book.

The live panel (``book.live_panel``) needs a kernel, so the static page shows a picture of it instead:
for each chapter, this script runs its ``live(...)`` at the default controls (``LIVE_CONTROLS``), on the
CPU, and saves ``_static/panels/<chapter>.png``: the panel's sliders at their default values and its
Run button drawn above the figure that ``live`` draws (and the text it prints, if any).

    .venv/bin/python scripts/panel_pictures.py                 # all five chapters
    .venv/bin/python scripts/panel_pictures.py gram xor        # some of them

Rerun it when a chapter's ``live`` or ``LIVE_CONTROLS`` changes. It prints each chapter's wall time and
one-thread CPU time.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_static" / "panels"
CHAPTERS = ("xor", "specialization", "alignment", "gram", "rare_minima")


def _controls_axes(ax, controls: dict) -> None:
    """Draw ``controls`` (name -> book.Slider) as ipywidgets-like sliders and a Run button on ``ax``."""
    from matplotlib.patches import FancyBboxPatch

    ax.set_axis_off()
    ax.set_xlim(0, 1)
    n = len(controls)
    ax.set_ylim(-1.4, n)
    for row, (name, s) in enumerate(controls.items()):
        y = n - 1 - row
        frac = 0.0 if s.high == s.low else (s.value - s.low) / (s.high - s.low)
        ax.text(0.30, y, s.description or name, ha="right", va="center", fontsize=10)
        ax.plot([0.33, 0.78], [y, y], color="#bbbbbb", lw=4, solid_capstyle="round")
        ax.plot([0.33, 0.33 + 0.45 * frac], [y, y], color="#0072B2", lw=4, solid_capstyle="round")
        ax.plot([0.33 + 0.45 * frac], [y], "o", ms=9, color="white", mec="#555555")
        ax.text(0.81, y, f"{s.value:g}", ha="left", va="center", fontsize=10)
    ax.add_patch(FancyBboxPatch((0.33, -1.2), 0.12, 0.75, boxstyle="round,pad=0.01", color="#2196F3"))
    ax.text(0.39, -0.82, "Run", ha="center", va="center", color="white", fontsize=10)


def picture(chapter: str, out: Path = OUT) -> Path:
    """Run ``overparam.<chapter>.live()`` at its default controls and save the panel picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    from overparam import style

    style.apply()
    module = importlib.import_module(f"overparam.{chapter}")
    controls = module.LIVE_CONTROLS
    before = set(plt.get_fignums())
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        module.live(**{k: s.value for k, s in controls.items()}, device="cpu")
    new = [n for n in plt.get_fignums() if n not in before]
    if not new:
        raise RuntimeError(f"{chapter}.live() drew no figure")
    buf = io.BytesIO()
    plt.figure(new[-1]).savefig(buf, format="png", dpi=150)
    plt.close("all")
    buf.seek(0)
    img = mpimg.imread(buf)
    lines = [ln for ln in printed.getvalue().splitlines() if ln.strip()][-3:]
    text = [part for ln in lines for part in textwrap.wrap(ln, 96)]
    h_img = style.WIDTH * img.shape[0] / img.shape[1]
    h_ctl = 0.32 * (len(controls) + 1.6)
    h_txt = 0.25 * len(text)
    fig = plt.figure(figsize=(style.WIDTH, h_ctl + h_img + h_txt + 0.1), layout="none")
    total = h_ctl + h_img + h_txt + 0.1
    _controls_axes(fig.add_axes((0, (h_img + h_txt) / total, 1, h_ctl / total)), controls)
    ax = fig.add_axes((0, h_txt / total, 1, h_img / total))
    ax.imshow(img)
    ax.set_axis_off()
    for i, line in enumerate(text):
        fig.text(0.02, (h_txt - 0.25 * (i + 0.6)) / total, line, fontsize=8, family="monospace", va="center")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{chapter}.png"
    fig.savefig(path, dpi=110, facecolor="white")
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", metavar="CHAPTER",
                        help=f"chapter packages (default: all of {', '.join(CHAPTERS)})")
    args = parser.parse_args(argv)
    unknown = [c for c in args.chapters if c not in CHAPTERS]
    if unknown:
        parser.error(f"chapters must be among {', '.join(CHAPTERS)}; got {unknown}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for chapter in args.chapters or CHAPTERS:
        t0, c0 = time.perf_counter(), time.process_time()
        path = picture(chapter)
        print(f"{chapter}: {path.relative_to(ROOT)} in {time.perf_counter() - t0:.1f} s wall, "
              f"{time.process_time() - c0:.1f} s CPU", file=sys.stderr)


if __name__ == "__main__":
    main()
