"""Every chapter in ``_toc.yml`` executes top to bottom with ``preset="smoke"`` (papermill).

The per-chapter claims on the glued numbers live in each chapter's own test file; here we check
the contract every chapter notebook keeps.
"""

from __future__ import annotations

import pytest

import notebooks

CHAPTERS = [p.stem for p in notebooks.toc_notebooks()]


def test_toc_lists_chapters():
    assert CHAPTERS, "no .ipynb chapter listed in _toc.yml exists"


@pytest.mark.notebook
@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapter_executes_with_smoke_preset(smoke_notebook, stem):
    ex = smoke_notebook(stem)
    assert ex.glue, f"{stem} glued no values"
    print(f"{stem}: smoke execution {ex.seconds:.1f} s, {len(ex.glue)} glued values")


@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapter_has_parameters_cell_and_no_outputs(stem):
    import json

    nb = json.loads((notebooks.ROOT / "chapters" / f"{stem}.ipynb").read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{stem}: expected one cell tagged 'parameters', found {len(tagged)}"
    src = "".join(tagged[0]["source"])
    for name in ("preset", "device", "seed"):
        assert f"{name} =" in src, f"{stem}: parameters cell does not set {name}"
    assert 'preset = "book"' in src, f"{stem}: the default preset must be 'book'"
    with_outputs = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and c.get("outputs")]
    assert not with_outputs, f"{stem}: committed outputs in cells {with_outputs}; strip them"


#: The one tag scheme: ``parameters`` (the papermill cell), ``remove-cell`` (plumbing: the Colab
#: install, the glue call), ``remove-output`` (the live panel: its widgets need a kernel). Every
#: other code cell is shown with its one call.
ALLOWED_TAGS = ({"parameters"}, {"remove-cell"}, {"remove-output"}, set())


@pytest.mark.parametrize("stem", CHAPTERS)
def test_chapter_cells_keep_the_contract(stem):
    """Short cells, one tag scheme, numbers glued by one call, no thread settings (DESIGN.md)."""
    import json

    nb = json.loads((notebooks.ROOT / "chapters" / f"{stem}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    glue_calls = 0
    for i, cell in enumerate(code):
        src = "".join(cell["source"])
        tags = set(cell.get("metadata", {}).get("tags", []))
        assert tags in ALLOWED_TAGS, f"{stem} code cell {i}: tags {sorted(tags)} are not one of {ALLOWED_TAGS}"
        lines = [ln for ln in src.splitlines() if ln.strip()]
        if "parameters" not in tags:
            assert len(lines) <= 10, f"{stem} code cell {i} has {len(lines)} lines (max 10):\n{src}"
        assert "set_num_threads" not in src, f"{stem} code cell {i} sets torch's thread count"
        assert "book.glue(" not in src, f"{stem} code cell {i}: glue numbers with book.glue_numbers, not book.glue"
        glue_calls += src.count("book.glue_numbers(")
    assert glue_calls == 1, f"{stem}: expected one book.glue_numbers(...) call, found {glue_calls}"


# --------------------------------------------------------------------------------------------- the reader's book
# Source-level checks of the conventions every chapter keeps for its readers (numbering by roles, alt
# text, the "Try it live" and "At the paper's scale" sections, spelling, no e-notation). No execution.

import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

import yaml  # noqa: E402

sys.path.insert(0, str(notebooks.ROOT / "chapters" / "_ext"))
import clean_pages  # noqa: E402

#: Cross-references typed by hand: numbers change when a chapter changes; use {numref}, {eq}, {prf:ref}.
#: A paper's own theorem may be named with its number when the citation follows ("Theorem 4.1 of {cite:t}`...`")
#: or when "their"/"the paper's" says whose it is.
HAND_TYPED = re.compile(
    r"\b(?:(?:Exercise|Fig\.|Figure|Equation|Eq\.|Table)\s*\(?\d+"
    r"|(?<!their )(?<!paper's )Theorem\s+\d+(?:\.\d+)*(?![\d.])(?!\s+(?:of|in)\s+\{cite))",
    re.IGNORECASE,
)
#: British spellings seen in this book (American spelling throughout).
BRITISH = re.compile(
    r"\b(?:\w*colour\w*|analys(?:e|ed|es|ing)|centr(?:e|es|ed)|\w*neighbour\w*|"
    r"\w*behaviour\w*|normalis\w*|initialis\w*|optimis\w*|minimis\w*|maximis\w*|generalis\w*|"
    r"modelling|labelled|labelling|favour\w*|summaris\w*|visualis\w*|regularis\w*|parametris\w*)\b",
)
E_NOTATION = re.compile(r"(?<![\w.])\d+(?:\.\d+)?[eE][-+]?\d+\b")
#: What renders as code or math, where the rules above do not apply.
LITERAL = re.compile(r"```.*?```|`[^`\n]*`|\$\$.*?\$\$|\$[^$\n]*\$", re.S)


def _nb(stem: str) -> dict:
    return json.loads((notebooks.ROOT / "chapters" / f"{stem}.ipynb").read_text())


def _prose(stem: str) -> list[tuple[str, str]]:
    """(where, text) for every Markdown cell, figure caption and alt text, code and math removed."""
    out = []
    for i, c in enumerate(_nb(stem)["cells"]):
        if c["cell_type"] == "markdown":
            out.append((f"markdown cell {i}", LITERAL.sub(" ", "".join(c["source"]))))
        meta = c.get("metadata", {}).get("mystnb", {})
        for key, field in (("figure", "caption"), ("image", "alt")):
            if field in meta.get(key, {}):
                out.append((f"cell {i} {key}.{field}", LITERAL.sub(" ", meta[key][field])))
    return out


@pytest.mark.parametrize("stem", CHAPTERS)
def test_cross_references_are_roles(stem):
    found = [(w, m.group(0)) for w, text in _prose(stem) for m in HAND_TYPED.finditer(text)]
    assert not found, f"{stem}: hand-typed cross-references (use {{numref}}/{{eq}}/{{prf:ref}}): {found}"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_american_spelling_and_no_e_notation(stem):
    british = [(w, m.group(0)) for w, text in _prose(stem) for m in BRITISH.finditer(text)]
    assert not british, f"{stem}: British spellings: {british}"
    e_notation = [(w, m.group(0)) for w, text in _prose(stem) for m in E_NOTATION.finditer(text)]
    assert not e_notation, f"{stem}: e-notation in prose (write $1.2 \\times 10^{{-3}}$): {e_notation}"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_every_figure_has_alt_text(stem):
    for i, c in enumerate(_nb(stem)["cells"]):
        meta = c.get("metadata", {}).get("mystnb", {})
        if "figure" not in meta:
            continue
        alt = meta.get("image", {}).get("alt", "")
        assert len(alt.split()) >= 8, f"{stem} cell {i} ({meta['figure'].get('name')}): alt text too short: {alt!r}"
        assert not re.search(r"\.(png|svg|jpe?g)\b|/", alt.split(":")[0]), f"{stem} cell {i}: alt text is a path: {alt!r}"
    for i, c in enumerate(_nb(stem)["cells"]):
        if c["cell_type"] == "markdown":
            for alt, target in re.findall(r"!\[([^\]]*)\]\(([^)]+)\)", "".join(c["source"])):
                assert len(alt.split()) >= 3, f"{stem} cell {i}: image {target} without alt text"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_proof_titles_end_with_a_period(stem):
    text = "".join("".join(c["source"]) for c in _nb(stem)["cells"] if c["cell_type"] == "markdown")
    for title in re.findall(r"\{prf:proof\}[ \t]*(\S.*)", text):
        assert title.rstrip().endswith((".", ":")), f"{stem}: proof title {title!r} runs into its text (end it with '.')"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_key_figure_live_section_and_paper_scale(stem):
    cells = _nb(stem)["cells"]
    srcs = ["".join(c["source"]) for c in cells]
    prefix, module = re.search(r'book\.glue_numbers\("(\w+)", (\w+)\.numbers', "\n".join(srcs)).groups()
    pkg = {"rare_minima": "rare_minima"}.get(module, module)
    key = [i for i, s in enumerate(srcs) if f'book.show_key_figure("{prefix}", {module}, result, alt=' in s]
    assert len(key) == 1, f"{stem}: expected one book.show_key_figure(\"{prefix}\", {module}, result, alt=...) cell"
    assert cells[key[0]].get("metadata", {}).get("mystnb", {}).get("figure", {}).get("name"), (
        f"{stem}: the key figure cell keeps its numbered caption (mystnb.figure)")
    # Try it live: a Colab badge opening this notebook, a picture of the panel, then the panel.
    live = next(i for i, s in enumerate(srcs) if "book.live_panel(" in s)
    section = srcs[live - 1]
    assert section.startswith("## Try it live"), f"{stem}: the live panel is not in a 'Try it live' section"
    badge = re.search(r"\[!\[[^\]]+\]\(\.\./_static/colab-badge\.svg\)\]\((?P<url>[^)]+)\)", section)
    assert badge, f"{stem}: no Colab badge in 'Try it live'"
    cfg = yaml.safe_load((notebooks.ROOT / "_config.yml").read_text())
    github = cfg["repository"]["url"].rstrip("/").split("github.com/", 1)[1]
    expected = (f"{cfg['launch_buttons']['colab_url'].rstrip('/')}/github/{github}/blob/"
                f"{cfg['repository'].get('branch', 'main')}/chapters/{stem}.ipynb")
    assert badge["url"] == expected, f"{stem}: the Colab badge opens {badge['url']}, expected {expected}"
    picture = re.search(r"!\[(?P<alt>[^\]]+)\]\(\.\./_static/panels/(?P<file>[\w.]+\.png)\)", section)
    assert picture and picture["file"] == f"{pkg}.png", f"{stem}: no picture _static/panels/{pkg}.png of the panel"
    assert (notebooks.ROOT / "_static" / "panels" / picture["file"]).is_file(), (
        f"{stem}: _static/panels/{picture['file']} missing (python scripts/panel_pictures.py {pkg})")
    # At the paper's scale, then Paper vs ours with the new call.
    scale = [i for i, s in enumerate(srcs) if s.startswith("## At the paper's scale")]
    table = [i for i, s in enumerate(srcs) if s.startswith("## Paper vs ours")]
    assert scale and table and scale[0] < table[0], f"{stem}: 'At the paper's scale' must come before 'Paper vs ours'"
    assert f'book.show_paper_scale("{prefix}", {module})' in srcs[scale[0] + 1], f"{stem}: no show_paper_scale cell"
    assert any(f'book.show_paper_vs_ours("{prefix}", {module}, result)' in s for s in srcs), (
        f"{stem}: the closing table is book.show_paper_vs_ours(\"{prefix}\", {module}, result)")


def test_e_notation_is_rendered_as_powers_of_ten():
    assert clean_pages.scientific("1.17e-03") == "1.17 \u00d7 10\u207b\u00b3"
    assert clean_pages.scientific("-2.5e+10") == "\u22122.5 \u00d7 10\u00b9\u2070"
    assert clean_pages.scientific("1e-05") == "10\u207b\u2075"
    for plain in ("0.5", "12", "nan", "e-3", "1.2e"):
        assert clean_pages.scientific(plain) == plain


def test_reading_time_counts_words_and_figures(tmp_path):
    cell = {"cell_type": "markdown", "metadata": {}, "source": ["word " * 2000]}
    fig = {"cell_type": "code", "metadata": {"mystnb": {"figure": {"name": "f"}}}, "source": []}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [cell] + [fig] * 5}))
    assert clean_pages.reading_minutes(path) == 15  # 10 min of words + 5 figures
    path.write_text(json.dumps({"cells": [cell]}))
    assert clean_pages.reading_minutes(path) == 10
