"""The summary page's machinery: the closing-table renderer (``overparam.book``) and the Sphinx
extension that pastes glued values and figures into other pages (``chapters/_ext/glued_summary.py``),
tested on its parsing functions and on a tiny Sphinx build (a fake chapter's glue file, no execution)
under ``-W``."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from overparam import book

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "chapters" / "_ext"))
import glued_summary as gs  # noqa: E402


def rows(paper: bool = False) -> list[dict]:
    out = [
        {"id": "a", "quantity": "share of $\\|y\\|^2$ on the top eigenvectors", "paper": "qualitative (Sec. 4)",
         "reproduced": "yes", "why": "intervals separate", "ours": "1.2e-05 [0.1, 0.2] (n=3)"},
        {"id": "b", "quantity": "diverged runs", "paper": "stable | not reported", "reproduced": "partly",
         "why": "2 runs diverged", "ours": "2 of 9"},
    ]
    if paper:
        out[0]["paper_preset"], out[1]["paper_preset"] = "0.3 [0.2, 0.4] (n=30)", "0 of 90"
    return out


# --------------------------------------------------------------------------------------------- the table


def test_comparison_table_columns_verdicts_and_escaping():
    table = book.comparison_table(rows())
    lines = table.splitlines()
    assert lines[0] == "| Quantity | Paper | Reproduced? | Ours |"
    assert "| **yes**: intervals separate |" in lines[2]
    assert "$1.2 \\times 10^{-5}$" in lines[2] and "e-05" not in table, "e-notation is written as maths"
    assert "stable \\| not reported" in lines[3], "a pipe inside a cell is escaped"
    with_paper = book.comparison_table(rows(paper=True)).splitlines()
    assert with_paper[0].endswith("| Ours | `paper` preset |") and with_paper[3].endswith("| 0 of 90 |")


@pytest.mark.parametrize("change, message", [
    ({"reproduced": "maybe"}, "reproduced must be one of"),
    ({"id": "b"}, "not unique"),
    ({"quantity": "sqrt(2 y^T H^-1 y / n)"}, "plain-text maths"),
    ({"paper": "int_{eps0} Q (1-eps)^n"}, "plain-text maths"),
    ({"why": "eta * k fixed"}, "plain-text maths"),
    ({"ours": 0.5}, "must be str"),
])
def test_check_rows_rejects_bad_rows(change, message):
    bad = rows()
    bad[0] = {**bad[0], **change}
    with pytest.raises(ValueError, match=message):
        book.comparison_table(bad)


def test_check_rows_names_a_missing_key():
    with pytest.raises(ValueError, match=r"missing \['why'\]"):
        book.check_rows([{k: v for k, v in rows()[0].items() if k != "why"}])


def test_maths_inside_dollars_and_code_is_allowed():
    assert book.ascii_maths("leading term $\\sqrt{2 y^\\top (H^\\infty)^{-1} y / n}$ of `lambda_min`") is None
    assert book.ascii_maths("lambda_min(H^inf)") is not None


def test_ci_formats_an_estimate_from_numbers():
    nums = {"x": 0.5, "x_lo": 0.25, "x_hi": 0.75, "x_n": 12.0, "y": float("nan"), "y_lo": float("nan"),
            "y_hi": float("nan"), "y_n": 0.0, "z": 0.5, "z_lo": -float("inf"), "z_hi": float("inf"), "z_n": 1.0}
    assert book.ci(nums, "x") == "0.5 [0.25, 0.75] (n=12)"
    assert book.ci(nums, "y") == "n/a (no valid run)" and book.ci(nums, "z") == "0.5 (1 run)"
    assert book.separate({"a_lo": 0.8, "a_n": 3, "b_hi": 0.7, "b_n": 3}, "a", "b")
    assert not book.separate({"a_lo": 0.6, "a_n": 3, "b_hi": 0.7, "b_n": 3}, "a", "b")
    with pytest.raises(KeyError, match="x_lo"):
        book.ci({"x": 1.0}, "x")


def test_table_rows_adds_the_paper_column_by_id():
    def build(nums, cfg):
        return [{"id": "a", "quantity": "q", "paper": "p", "reproduced": "yes" if nums["v"] > 1 else "no",
                 "why": "w", "ours": f"{nums['v']:g} at {cfg.width}"}]

    class Cfg:
        def __init__(self, width):
            self.width = width

    record = {"config": {"width": 9}, "numbers": {"v": "0.5"}}
    out = book.table_rows(build, {"v": 2.0}, Cfg(3), record)
    assert out[0]["ours"] == "2 at 3" and out[0]["paper_preset"] == "0.5 at 9 (reproduced: no)"
    with pytest.raises(ValueError, match="stored paper record"):
        book.table_rows(build, {"v": 2.0}, Cfg(3), {"numbers": {}})


def test_show_functions_validate_their_arguments():
    import overparam.gram as gram

    with pytest.raises(TypeError, match="old form"):
        book.show_paper_vs_ours("gram", [{"id": "a"}], "a claim")
    with pytest.raises(ValueError, match="prefix"):
        book.show_paper_vs_ours("Gram Chapter", gram, None)
    with pytest.raises(TypeError, match="chapter package"):
        book.show_key_figure("gram", "gram", None, "a figure of the gram chapter")
    with pytest.raises(TypeError, match="result must be"):
        book.show_paper_vs_ours("gram", gram, object())


def test_show_paper_scale_with_and_without_a_record(monkeypatch):
    import IPython.display

    import overparam.gram as gram

    if not hasattr(gram, "plot_key"):
        pytest.skip("overparam.gram has no plot_key yet")
    shown, glued = [], {}
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    monkeypatch.setattr(book, "glue", lambda key, value, display=False: glued.__setitem__(key, value))
    monkeypatch.setattr(book, "_load_record", lambda name: None)
    book.show_paper_scale("gram", gram)
    assert "python -m overparam.paper_runs gram" in shown[-1].data and not glued
    record = {"key_data": "not the chapter's key data", "stale": True,
              "provenance": {"device_name": "NVIDIA H200", "date": "2026-12-03T20:00:00", "wall_seconds": 300.0,
                             "commit": "abcdef0123", "dirty": False}}
    monkeypatch.setattr(book, "_load_record", lambda name: record)
    monkeypatch.setattr(gram, "plot_key", lambda data: plt.figure(figsize=(2, 2)))
    book.show_paper_scale("gram", gram)
    assert "gram_paper_key_figure" in glued
    assert "ran on NVIDIA H200 on 2026-12-03 in 5.0 min, commit abcdef0" in shown[-1].data
    assert "Stale" in shown[-1].data


def test_figure_image_carries_png_and_alt():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1])
    img = book.FigureImage(fig, "A rising line")
    data, meta = img._repr_mimebundle_()
    assert base64.b64decode(data["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'alt="A rising line"' in data["text/html"] and meta["overparam"]["alt"] == "A rising line"
    assert meta["image/png"]["width"] == 400
    assert not plt.get_fignums() or fig.number not in plt.get_fignums(), "the figure is closed"


# --------------------------------------------------------------------------------------------- the extension


def test_parse_and_compact_the_chapter_table():
    md = book.comparison_table(rows(paper=True))
    header, body = gs.parse_table(md)
    assert header == ["Quantity", "Paper", "Reproduced?", "Ours", "`paper` preset"] and len(body) == 2
    compact = gs.compact_table(md).splitlines()
    assert compact[0] == "| Quantity | Reproduced? | Ours | `paper` preset |"
    assert compact[2].startswith("| share of $\\\\|y\\\\|^2$"), "escaped pipes stay escaped"
    assert gs.compact_table(book.comparison_table(rows())).splitlines()[0] == "| Quantity | Reproduced? | Ours |"
    with pytest.raises(gs.GlueError, match="Reproduced"):
        gs.compact_table("| Quantity | Paper | Ours | Our scale |\n|---|---|---|---|\n| a | b | c | d |")
    with pytest.raises(gs.GlueError, match="not a Markdown table"):
        gs.parse_table("just text")


def test_summary_markdown_states_the_scale_once():
    before, after = gs.summary_markdown("A  claim\nwith $x$.", book.comparison_table(rows()), "MNIST, $n = 200$.", "")
    assert before == "A claim with $x$."
    assert after.count("**Scale.**") == 1 and after.endswith("**Scale.** MNIST, $n = 200$.")
    _, after = gs.summary_markdown("c", book.comparison_table(rows()), "s.", "`paper` preset: big.")
    assert after.endswith("s. `paper` preset: big.")


def test_refs_entries_and_images(tmp_path):
    assert gs.split_ref(" 04_gram_matrix.ipynb :: gram_key_figure ") == ("04_gram_matrix.ipynb", "gram_key_figure")
    with pytest.raises(gs.GlueError):
        gs.split_ref("04_gram_matrix.ipynb")
    assert gs.resolve_doc("chapters/summary", "04_gram_matrix") == "chapters/04_gram_matrix"
    assert gs.resolve_doc("intro", "chapters/04_gram_matrix.ipynb") == "chapters/04_gram_matrix"
    assert gs.resolve_doc("chapters/summary", "/intro") == "intro"
    assert gs.entry_text({"data": {"text/plain": "'a $\\\\sqrt{n}$ claim'"}}, "x") == "a $\\sqrt{n}$ claim"
    buf = io.BytesIO()
    fig, _ = plt.subplots(figsize=(2, 2))
    fig.savefig(buf, format="png")
    plt.close(fig)
    entry = {"data": {"image/png": base64.b64encode(buf.getvalue()).decode(), "text/plain": "<Figure>"},
             "metadata": {"image/png": {"width": 200, "height": 200}, "overparam": {"alt": "glued alt"}}}
    payload, ext, width, alt = gs.entry_image(entry, "x")
    assert payload == buf.getvalue() and ext == ".png" and width == 200 and alt == "glued alt"
    p1, p2 = gs.write_image(tmp_path, payload, ext), gs.write_image(tmp_path, payload, ext)
    assert p1 == p2 and p1.read_bytes() == payload and p1.parent.name == "_glued"
    with pytest.raises(gs.GlueError, match="not a figure"):
        gs.entry_image({"data": {"text/plain": "1"}}, "x")
    path = tmp_path / "c.glue.json"
    path.write_text(json.dumps({"k": entry}))
    assert gs.read_entry(path, "c", "k") == entry
    with pytest.raises(gs.GlueError, match="glued no 'q'"):
        gs.read_entry(path, "c", "q")


def _site(tmp_path: Path, summary: str) -> tuple[Path, subprocess.CompletedProcess]:
    """A tiny book: one notebook page whose glue file is written by hand, and a summary page; built
    with ``sphinx -W`` (no execution)."""
    src, build = tmp_path / "src", tmp_path / "_build"
    (src / "chapters").mkdir(parents=True)
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'chapters' / '_ext')!r})\n"
        "extensions = ['myst_nb', 'glued_summary']\nnb_execution_mode = 'off'\n"
        "myst_enable_extensions = ['dollarmath']\nnb_render_markdown_format = 'myst'\nexclude_patterns = ['_build']\n")
    (src / "index.md").write_text("# Home\n\n```{toctree}\nchapters/ch\nchapters/summary\n```\n")
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# A chapter"]}], "metadata": {},
          "nbformat": 4, "nbformat_minor": 5}
    (src / "chapters" / "ch.ipynb").write_text(json.dumps(nb))
    (src / "chapters" / "summary.md").write_text(summary)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1])
    bundle, meta = book.FigureImage(fig, "A rising line")._repr_mimebundle_()
    glue = {"t_key_figure": {"data": bundle, "metadata": meta},
            "t_table": {"data": {"text/markdown": book.comparison_table(rows(paper=True))}, "metadata": {}},
            "t_claim": {"data": {"text/plain": repr("A claim with $\\sqrt{n}$.")}, "metadata": {}},
            "t_scale": {"data": {"text/plain": repr("Two seeds.")}, "metadata": {}}}
    (build / "jupyter_execute" / "chapters").mkdir(parents=True)
    (build / "jupyter_execute" / "chapters" / "ch.glue.json").write_text(json.dumps(glue))
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(src), str(build / "html")],
                          capture_output=True, text=True, timeout=300)
    return build / "html", proc


def test_directives_paste_figure_table_and_claim_in_a_build(tmp_path):
    summary = ("# Summary\n\n```{chapter-summary} ch.ipynb\n:prefix: t\n```\n\n"
               "```{glued-figure} ch.ipynb::t_key_figure\n:alt: The hero\n:target: ch\n:caption: From {doc}`ch`.\n"
               ":width: 80%\n```\n")
    html, proc = _site(tmp_path, summary)
    assert proc.returncode == 0, proc.stderr
    page = (html / "chapters" / "summary.html").read_text()
    assert "<strong>Claim.</strong> A claim with" in page and "\\(\\sqrt{n}\\)" in page
    assert page.count("<table") == 1 and "<th class=\"head\"><p>Paper</p></th>" not in page
    assert "Reproduced?" in page and "0 of 90" in page and "<strong>Scale.</strong> Two seeds." in page
    assert 'alt="A rising line"' in page and 'alt="The hero"' in page and 'style="width: 80%;"' in page
    assert page.count('href="ch.html"') >= 3, "both figures and the claim link to the chapter"
    images = list((html / "_images").glob("*.png"))
    assert images and all(p.stat().st_size > 0 for p in images)


def test_a_missing_key_fails_the_build_under_W(tmp_path):
    _, proc = _site(tmp_path, "# Summary\n\n```{glued-figure} ch.ipynb::nope\n:alt: x y z\n```\n")
    assert proc.returncode != 0 and "glued no 'nope'" in proc.stderr
