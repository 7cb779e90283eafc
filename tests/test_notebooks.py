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
