"""Sphinx extension: paste values and figures glued in *other* notebooks, at read time.

The summary page (``chapters/summary.md``) and the landing page (``intro.md``) show what the chapters
glued in the same build (myst-nb writes each executed notebook's glue data to
``<build>/jupyter_execute/<doc>.glue.json``: text as ``text/plain``, Markdown tables as
``text/markdown``, figures as base64 ``image/png`` with their display size in ``metadata``).

Why not myst-nb's own cross-document glue (``{glue:text}`path/to/nb.ipynb::key```)? In myst-nb 1.4 it
resolves in a post-transform that handles only text/plain, text/html and images: a glued
``IPython.display.Markdown`` table would render as ``<IPython.core.display.Markdown object>`` and
``{glue:md}`` has no cross-document form; a glued figure is pasted as a link to an image file that
exists only if the chapter itself displayed it. Here values are parsed as MyST (tables, maths, roles)
and figures are written into the build folder by this extension, so:

- documents using these directives are read *after* every other document of the build
  (``env-before-read-docs``), so that the chapters they quote have been executed first;
- they are re-read on every build (``env-get-outdated``), so an incremental build that re-executes a
  chapter cannot leave a stale page;
- a missing chapter or key is a warning (an error under ``-W``), never a silent gap.

Directives (notebook paths relative to the current page)::

    ```{glued-figure} 04_gram_matrix.ipynb::gram_key_figure
    :alt: what the figure shows, in words (default: the alt text glued with the figure)
    :target: 04_gram_matrix          (a document the figure links to; relative, or absolute with /)
    :caption: a caption, MyST inline markup allowed
    :width: 100%                     (default: the figure's display width)
    ```

    ```{chapter-summary} 01_xor_detection.ipynb
    :prefix: xor
    :alt: ...                        (default: the alt text glued with the key figure)
    ```

    ```{chapter-claims}
    01_xor_detection.ipynb::xor_claim
    ```

``chapter-summary`` pastes a chapter's claim (``<prefix>_claim``), its key figure
(``<prefix>_key_figure``, linked to the chapter), a compact closing table (the columns Quantity,
Reproduced?, Ours and `` `paper` preset`` of ``<prefix>_table``) and its scale, once
(``<prefix>_scale``, ``<prefix>_paper_scale``). ``chapter-claims`` makes a numbered list
"<chapter title>: <claim>".
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import posixpath
import re
from binascii import a2b_base64
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOGGER = logging.getLogger(__name__)
DIRECTIVES = ("chapter-claims", "chapter-summary", "glued-figure")
_USES = re.compile(r"[`:]{3,}\s*\{(" + "|".join(DIRECTIVES) + r")\}")
#: The columns of a chapter's closing table that the summary keeps, in this order (the last one only
#: when the chapter has a stored ``paper`` run).
SUMMARY_COLUMNS = ("Quantity", "Reproduced?", "Ours", "`paper` preset")
_IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpeg", "image/svg+xml": ".svg"}


class GlueError(Exception):
    pass


# ----------------------------------------------------------------------------- pure helpers (tested)


def split_ref(ref: str) -> tuple[str, str]:
    """``("path.ipynb", "key")`` from ``"path.ipynb::key"``."""
    if "::" not in ref:
        raise GlueError(f"expected 'path/to/notebook.ipynb::key', got {ref!r}")
    rel, key = (s.strip() for s in ref.split("::", 1))
    if not rel or not key:
        raise GlueError(f"expected 'path/to/notebook.ipynb::key', got {ref!r}")
    return rel, key


def glue_file(folder: str | Path, docname: str) -> Path:
    """Where myst-nb writes the glue data of ``docname``: ``<folder>/<docname>.glue.json``."""
    parts = docname.split("/")
    return Path(folder).joinpath(*parts[:-1], parts[-1] + ".glue.json")


def read_entry(path: Path, docname: str, key: str) -> dict[str, Any]:
    """The glue entry ``key`` (``{"data": {mime: ...}, "metadata": {...}}``) of ``path``."""
    if not path.exists():
        raise GlueError(f"{docname!r} glued nothing in this build (no {path})")
    data = json.loads(path.read_text(encoding="utf8"))
    if key not in data:
        raise GlueError(f"{docname!r} glued no {key!r} (it glued {sorted(data)})")
    return data[key]


def entry_text(entry: dict[str, Any], where: str) -> str:
    """A glued value as text: its ``text/markdown``, else its ``text/plain`` (a Python literal such
    as a quoted string is turned back into its value)."""
    bundle = entry.get("data", {})
    if "text/markdown" in bundle:
        return str(bundle["text/markdown"])
    if "text/plain" in bundle:
        text = bundle["text/plain"]
        try:
            return str(ast.literal_eval(text))
        except (ValueError, SyntaxError):
            return str(text)
    raise GlueError(f"{where} has neither text/markdown nor text/plain")


def entry_image(entry: dict[str, Any], where: str) -> tuple[bytes, str, int | None, str | None]:
    """``(bytes, extension, display width in px or None, glued alt text or None)`` of a glued figure
    (base64 ``image/png`` or ``image/jpeg``, or ``image/svg+xml`` text)."""
    bundle, meta = entry.get("data", {}), entry.get("metadata") or {}
    for mime, ext in _IMAGE_TYPES.items():
        if mime in bundle:
            raw = bundle[mime]
            payload = raw.encode("utf8") if mime == "image/svg+xml" else a2b_base64("".join(raw) if isinstance(raw, list) else raw)
            width = (meta.get(mime) or {}).get("width")
            alt = (meta.get("overparam") or {}).get("alt")
            return payload, ext, int(width) if isinstance(width, (int, float)) else None, alt
    raise GlueError(f"{where} is not a figure (its types: {sorted(bundle)})")


def write_image(folder: str | Path, payload: bytes, ext: str) -> Path:
    """Write ``payload`` to ``<folder>/_glued/<sha256><ext>`` (once) and return the path."""
    path = Path(folder) / "_glued" / f"{hashlib.sha256(payload).hexdigest()}{ext}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
    return path


def resolve_doc(here: str, target: str) -> str:
    """The docname ``target`` names, seen from document ``here``: absolute with a leading ``/``,
    else relative to ``here``'s folder; a ``.md``/``.ipynb`` suffix is dropped."""
    target = re.sub(r"\.(md|ipynb|rst)$", "", target.strip())
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(posixpath.dirname(here), target))


def split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())
    return [c.strip() for c in cells[1:-1]]


def parse_table(md: str) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)`` of a Markdown table (escaped pipes ``\\|`` stay escaped in the cells)."""
    lines = [ln for ln in md.strip().splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2 or not re.fullmatch(r"[|\s:-]+", lines[1]):
        raise GlueError("the glued value is not a Markdown table")
    header = split_row(lines[0])
    rows = [split_row(ln) for ln in lines[2:]]
    bad = [r for r in rows if len(r) != len(header)]
    if bad:
        raise GlueError(f"table rows with {len(bad[0])} cells under a {len(header)}-column header")
    return header, rows


def compact_table(md: str, columns: tuple[str, ...] = SUMMARY_COLUMNS) -> str:
    """The Markdown table ``md`` cut to ``columns`` (in that order; the last ones may be absent, but
    the first three must be there)."""
    header, rows = parse_table(md)
    missing = [c for c in columns[:3] if c not in header]
    if missing:
        raise GlueError(f"the chapter's table has no column {missing} (columns: {header}); "
                        "is it overparam.book.comparison_table's current format?")
    keep = [header.index(c) for c in columns if c in header]
    lines = ["| " + " | ".join(header[i] for i in keep) + " |", "|" + "---|" * len(keep)]
    lines += ["| " + " | ".join(r[i] for i in keep) + " |" for r in rows]
    return "\n".join(lines)


def summary_markdown(claim: str, table_md: str, scale: str, paper_scale: str) -> tuple[str, str]:
    """``(before the figure, after it)``: the claim; the compact table and the scale line."""
    after = compact_table(table_md) + f"\n\n**Scale.** {' '.join(scale.split())}"
    if paper_scale.strip():
        after += " " + " ".join(paper_scale.split())
    return " ".join(claim.split()), after


# ----------------------------------------------------------------------------- directives


class _GlueDirective(SphinxDirective):
    has_content = True

    def refs(self) -> list[str]:
        return [ln.strip() for ln in self.content if ln.strip()]

    def docname_of(self, rel: str) -> str:
        _, filepath = self.env.relfn2path(rel, self.env.docname)
        docname = self.env.path2doc(filepath)
        if docname is None:
            raise GlueError(f"{rel!r} is not a document of this book (is it in _toc.yml?)")
        return docname

    def entry(self, rel: str, key: str) -> tuple[str, dict[str, Any]]:
        docname = self.docname_of(rel)
        return docname, read_entry(glue_file(self.env.mystnb_config.output_folder, docname), docname, key)

    def text(self, rel: str, key: str, optional: bool = False) -> str:
        try:
            docname, entry = self.entry(rel, key)
        except GlueError:
            if optional:
                return ""
            raise
        return entry_text(entry, f"{docname}::{key}")

    def parse(self, markdown: str) -> list[nodes.Node]:
        container = nodes.container(classes=["glued-summary"])
        self.state.nested_parse(StringList(markdown.splitlines(), source=self.env.docname), self.content_offset, container)
        return [container]

    def warn(self, exc: Exception) -> list[nodes.Node]:
        LOGGER.warning(f"{self.name}: {exc}", location=(self.env.docname, self.lineno), type="overparam", subtype="glue")
        return []

    def doc_link(self, docname: str, text: str | None = None) -> str:
        target = "/" + docname
        return f"{{doc}}`{text} <{target}>`" if text else f"{{doc}}`{target}`"

    def figure(self, rel: str, key: str, *, alt: str | None, target: str | None, caption: str | None,
               width: str | None) -> list[nodes.Node]:
        """A figure node of the image glued as ``rel::key``, written into the build's output folder."""
        docname, entry = self.entry(rel, key)
        payload, ext, px, glued_alt = entry_image(entry, f"{docname}::{key}")
        alt = alt or glued_alt
        if not alt:
            raise GlueError(f"{docname}::{key} has no alt text: give :alt:")
        path = write_image(self.env.mystnb_config.output_folder, payload, ext)
        image = nodes.image(uri="/" + os.path.relpath(path.resolve(), Path(self.env.srcdir).resolve()), alt=alt,
                            classes=["glued-figure"])
        if width or px:
            image["width"] = width or f"{px}px"
        inner: nodes.Element = image
        if target:
            doc = resolve_doc(self.env.docname, target)
            if doc not in self.env.found_docs:
                raise GlueError(f":target: {target!r} is not a document of this book")
            inner = nodes.reference("", "", image, internal=True, refuri="#", glued_target=doc)
        figure = nodes.figure("", inner, classes=["glued-figure"])
        if caption:
            text_nodes, messages = self.state.inline_text(caption, self.lineno)
            figure += nodes.caption(caption, "", *text_nodes)
            figure += messages
        self.set_source_info(figure)
        return [figure]


class GluedFigure(_GlueDirective):
    has_content = False
    required_arguments = 1
    option_spec = {"alt": directives.unchanged, "target": directives.unchanged, "caption": directives.unchanged,
                   "width": directives.length_or_percentage_or_unitless}

    def run(self) -> list[nodes.Node]:
        try:
            rel, key = split_ref(self.arguments[0])
            return self.figure(rel, key, alt=self.options.get("alt"), target=self.options.get("target"),
                               caption=self.options.get("caption"), width=self.options.get("width"))
        except GlueError as exc:
            return self.warn(exc)


class ChapterSummary(_GlueDirective):
    has_content = False
    required_arguments = 1
    option_spec = {"prefix": directives.unchanged_required, "alt": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        rel, prefix = self.arguments[0].strip(), self.options.get("prefix", "").strip()
        try:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", prefix):
                raise GlueError(f":prefix: must be the chapter's glue prefix (e.g. xor); got {prefix!r}")
            before, after = summary_markdown(self.text(rel, f"{prefix}_claim"), self.text(rel, f"{prefix}_table"),
                                             self.text(rel, f"{prefix}_scale"),
                                             self.text(rel, f"{prefix}_paper_scale", optional=True))
            docname = self.docname_of(rel)
            before = f"**Claim.** {before} ({self.doc_link(docname, 'the chapter')})"
            fig = self.figure(rel, f"{prefix}_key_figure", alt=self.options.get("alt"), target="/" + docname,
                              caption=None, width=None)
        except GlueError as exc:
            return self.warn(exc)
        return self.parse(before) + fig + self.parse(after)


class ChapterClaims(_GlueDirective):
    def run(self) -> list[nodes.Node]:
        items = []
        for ref in self.refs():
            try:
                rel, key = split_ref(ref)
                claim = self.text(rel, key)
                docname = self.docname_of(rel)
            except GlueError as exc:
                return self.warn(exc)
            items.append(f"1. **{self.doc_link(docname)}.** {' '.join(claim.split())}")
        return self.parse("\n".join(items))


# ----------------------------------------------------------------------------- build events


def link_figures(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Point each linked glued figure at its target document, as the current builder names it."""
    for ref in doctree.findall(nodes.reference):
        target = ref.get("glued_target")
        if target:
            ref["refuri"] = app.builder.get_relative_uri(docname, target)


def _uses_directives(env, docname: str) -> bool:
    try:
        return bool(_USES.search(Path(env.doc2path(docname)).read_text(encoding="utf8")))
    except (OSError, UnicodeDecodeError):
        return False


def read_last(app: Sphinx, env, docnames: list[str]) -> None:
    """Read the pages that quote other pages after all the others (in place, as Sphinx asks)."""
    last = [d for d in docnames if _uses_directives(env, d)]
    docnames[:] = [d for d in docnames if d not in last] + last


def always_reread(app: Sphinx, env, added, changed, removed) -> list[str]:
    """Re-read the quoting pages on every build, so they never show a previous build's numbers."""
    return [d for d in env.found_docs if d not in added and d not in changed and _uses_directives(env, d)]


def setup(app: Sphinx) -> dict:
    app.add_directive("chapter-claims", ChapterClaims)
    app.add_directive("chapter-summary", ChapterSummary)
    app.add_directive("glued-figure", GluedFigure)
    app.connect("env-before-read-docs", read_last)
    app.connect("env-get-outdated", always_reread)
    app.connect("doctree-resolved", link_figures)
    # Serial reading: the order set in env-before-read-docs must hold.
    return {"version": "0.2", "parallel_read_safe": False, "parallel_write_safe": True}
