"""Sphinx extension: fixes so that every page loads with no console error and nothing from a CDN.

Both were found by ``tests/test_browser.py`` (headless Chromium, requests outside the book blocked).

1. The static interactive figures (``Animation.to_jshtml``) start with a stylesheet link to Font
   Awesome 4 on a CDN (matplotlib's template). The page needs no network: the theme already serves
   Font Awesome, whose script draws the figure's ``fa fa-play``-style button icons. We drop that one
   link from the HTML outputs of the built pages; the notebooks themselves (Jupyter, Colab) keep it.
   The same figures' frame ``<img>`` has no alt text; we give it one.
2. On jupyter-book 1.0.4 / Sphinx 7.4, inline scripts registered after the builder starts
   (sphinx-thebe's ``const THEBE_JS_URL = ...`` at ``env-before-read-docs``, sphinx-togglebutton's
   selector at ``builder-inited``) are written twice in every page: ``Sphinx.add_js_file(None, body=...)``
   stores them in the builder with filename ``None`` and again, from the registry (``init_js_files``),
   with filename ``''``, which do not compare equal. The second ``const`` declaration is a
   ``SyntaxError`` in the console of every page. We drop exact duplicates per page.

(A third console error, from the theme's unset light/dark default, is fixed in ``_config.yml``:
``html_context.default_mode``.)

3. No e-notation in prose: a number pasted by a ``{glue:text}`` role with an ``e`` or ``g`` format that
   comes out in e-notation ("1.17e-03") is written as "1.17 × 10⁻³" in the page.

4. ``{reading-time}`chapters/04_gram_matrix``` (a path relative to the book's root, without suffix)
   writes "about 25 min": the chapter's Markdown words at 200 a minute plus a minute a figure, rounded
   to 5 minutes, counted from the notebook when the page is built, so the landing page cannot drift.
5. The substitution ``{{ install_command }}``: ``pip install "overparam @ git+<url>@<branch>"``, made from
   ``repository.url`` and ``repository.branch`` of ``_config.yml`` (the one place the URL is written).
6. The directive ``{paper-runs}``: a table of the stored ``paper``-preset runs
   (``chapters/paper_results/<chapter>.json``, written by ``python -m overparam.paper_runs CHAPTER``):
   per chapter whether one exists, on which device, when, how long it took, and whether the preset has
   changed since (then the chapters do not use it).
7. Author-year labels in the bibliography ("Arora et al. 2019", like the citations in the text, instead
   of pybtex's alpha labels "ADH+19"): the pybtex style ``authoryear`` (``bibtex_default_style`` in
   ``_config.yml``), sorted by author, year and title.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOGGER = logging.getLogger(__name__)

FA4_CDN = re.compile(
    r'<link rel="stylesheet"\s+href="https://maxcdn\.bootstrapcdn\.com/font-awesome/4\.4\.0/css/font-awesome\.min\.css">\s*'
)


ANIM_IMG = re.compile(r'<img id="(_anim_img\w+)">')
ANIM_ALT = "Frame of the interactive figure: the slider and buttons below it move through the frames"


def _drop_fa4_cdn(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Drop the Font Awesome 4 CDN link of jshtml figures, and give their frame image an alt text."""
    for node in list(doctree.findall(nodes.raw)):
        if "html" in node.get("format", "").split() and (FA4_CDN.search(node.astext()) or ANIM_IMG.search(node.astext())):
            text = ANIM_IMG.sub(rf'<img id="\1" alt="{ANIM_ALT}">', FA4_CDN.sub("", node.astext()))
            node.replace_self(nodes.raw(text, text, **{k: v for k, v in node.attributes.items() if k != "ids"}))


E_NOTATION = re.compile(r"^(?P<sign>[-+]?)(?P<mant>\d+(?:\.\d+)?)e(?P<exp>[-+]?\d+)$")
SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def scientific(text: str) -> str:
    """``"1.17e-03"`` -> ``"1.17 × 10⁻³"``, ``"1e+05"`` -> ``"10⁵"``; any other text unchanged."""
    m = E_NOTATION.match(text.strip())
    if not m:
        return text
    exp = str(int(m["exp"])).translate(SUPERSCRIPT)
    sign = "\u2212" if m["sign"] == "-" else ""
    if int(m["exp"]) == 0:
        return f"{sign}{m['mant']}"
    if float(m["mant"]) == 1.0:
        return f"{sign}10{exp}"
    return f"{sign}{m['mant']} \u00d7 10{exp}"


def _no_e_notation(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for node in list(doctree.findall(nodes.inline)):
        if "pasted-text" in node.get("classes", ()) and len(node.children) == 1:
            text = node.astext()
            new = scientific(text)
            if new != text:
                node.replace(node.children[0], nodes.Text(new))


WORDS_PER_MINUTE = 200
_GLUE_OR_MATH = re.compile(r"\{glue:\w+\}`[^`]*`|\$\$.*?\$\$", re.S)


def reading_minutes(path) -> int:
    """Minutes to read the notebook at ``path``: Markdown words / 200 + one per figure, rounded to 5."""
    import json

    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    words = sum(len(_GLUE_OR_MATH.sub(" N ", "".join(c["source"])).split())
                for c in nb["cells"] if c["cell_type"] == "markdown")
    figures = sum(1 for c in nb["cells"] if c.get("metadata", {}).get("mystnb", {}).get("figure"))
    return max(5, 5 * round((words / WORDS_PER_MINUTE + figures) / 5))


def reading_time_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{reading-time}`chapters/01_xor_detection``` -> "about 25 min"."""
    env = inliner.document.settings.env
    path = Path(env.srcdir) / f"{text.strip()}.ipynb"
    if not path.exists():
        msg = inliner.reporter.warning(f"reading-time: no notebook {path}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    env.note_dependency(str(path))
    return [nodes.inline(rawtext, f"about {reading_minutes(path)} min", classes=["reading-time"])], []


def _install_command(app: Sphinx, config) -> None:
    """``{{ install_command }}`` from the repository URL and branch jupyter-book passes to the theme."""
    theme = config.html_theme_options or {}
    url, branch = theme.get("repository_url"), theme.get("repository_branch") or "main"
    if not url:
        LOGGER.warning("clean_pages: no repository.url in _config.yml; {{ install_command }} is undefined")
        return
    subs = dict(getattr(config, "myst_substitutions", {}) or {})
    subs.setdefault("install_command", f'`pip install "overparam @ git+{url.rstrip("/")}@{branch}"`')
    config.myst_substitutions = subs


PAPER_RESULTS = "chapters/paper_results"


def _hms(seconds) -> str:
    try:
        s = int(round(float(seconds)))
    except (TypeError, ValueError):
        return "unknown"
    return f"{s // 3600} h {s % 3600 // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"


class PaperRuns(SphinxDirective):
    """A table of the stored ``paper``-preset runs, one row per chapter (see the module docstring)."""

    def run(self) -> list[nodes.Node]:
        try:
            from overparam import paper_runs
        except ImportError as exc:
            LOGGER.warning(f"paper-runs: cannot import overparam.paper_runs ({exc})", location=self.get_location())
            return []
        folder = Path(self.env.srcdir) / PAPER_RESULTS
        rows = ["| Chapter | `paper` preset run | Device | Wall time | Date (UTC) |", "|---|---|---|---|---|"]
        for chapter in paper_runs.CHAPTERS:
            path = folder / f"{chapter}.json"
            self.env.note_dependency(str(path))
            rec = paper_runs.load(chapter, folder=folder)
            if rec is None:
                rows.append(f"| `{chapter}` | not run yet | | | |")
                continue
            prov = rec.get("provenance", {})
            state = "yes, stale (the preset changed since)" if rec.get("stale") else "yes"
            device = prov.get("device_name") or prov.get("device") or "unknown"
            rows.append(f"| `{chapter}` | {state} | {device} | {_hms(prov.get('wall_seconds'))} | "
                        f"{str(prov.get('date', ''))[:16].replace('T', ' ')} |")
        return self.parse_text_to_nodes("\n".join(rows))


def _author_year_style():
    """Register the pybtex formatting style ``authoryear``: unsrt's entries, author-year labels."""
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            seen: dict[str, int] = {}
            labels = []
            for entry in sorted_entries:
                people = entry.persons.get("author") or entry.persons.get("editor") or []
                names = [" ".join(p.last_names) or str(p) for p in people]
                who = (names[0] if len(names) == 1 else " & ".join(names) if len(names) == 2
                       else f"{names[0]} et al." if names else entry.key)
                labels.append(f"{who} {entry.fields.get('year', 'n.d.')}")
                seen[labels[-1]] = seen.get(labels[-1], 0) + 1
            count: dict[str, int] = {}
            for label in labels:  # "Arora et al. 2019a", "... 2019b" when two entries share a label
                if seen[label] > 1:
                    count[label] = count.get(label, 0) + 1
                    yield f"{label}{'abcdefghijklmnopqrstuvwxyz'[count[label] - 1]}"
                else:
                    yield label

    class AuthorYearStyle(UnsrtStyle):
        default_label_style = AuthorYearLabels
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle, force=True)


_author_year_style()


def _dedupe_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        filename = getattr(js, "filename", js) or ""
        key = (filename, getattr(js, "priority", None), tuple(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept  # in place: the builder reverts its list after each page


def setup(app: Sphinx) -> dict:
    app.add_role("reading-time", reading_time_role)
    app.add_directive("paper-runs", PaperRuns)
    app.connect("config-inited", _install_command)
    app.connect("doctree-resolved", _drop_fa4_cdn)
    app.connect("doctree-resolved", _no_e_notation)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
