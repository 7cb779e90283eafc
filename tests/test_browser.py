"""The built book in a real browser: headless Chromium (playwright) over the HTML of ``jupyter-book build``.

Every page of ``_toc.yml`` is served from a local HTTP server and opened in Chromium with networking to
anything else blocked. We check what a reader sees: no console errors and no failed requests; every
chapter shows its numbered figures, its math rendered by MathJax, its citations linking into the
bibliography page, a theorem, exercises with hidden solutions, a download button and a Colab button;
every static interactive figure (``Animation.to_jshtml``) changes frame when its slider moves; the summary
quotes every chapter. For the reader's book (issue 20): no display equation wider than its column at
1280 px, and at 390 px equations scroll in their box with their number beside nothing; figures, theorems,
exercises and equations numbered per chapter ("Fig. 4.2") and referenced by links, never by typed
numbers; every internal link resolves; every image has an alt text that says something; the landing page
has its hero figure and a figure per chapter; every "Try it live" has a Colab badge and a picture of the
panel; search results show no TeX delimiters. Full-page screenshots of each page at 1280 px
(``<page>.png``) and 390 px (``<page>__390.png``) go to ``test-artifacts/screenshots/``.

The HTML folder is ``$OVERPARAM_HTML`` (default ``_build/html``); build the book first
(``bash scripts/book.sh``; ``scripts/test.sh`` does). Chromium is ``$OVERPARAM_CHROMIUM`` (default
``/usr/bin/chromium``, Debian's package).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

import notebooks

pytestmark = pytest.mark.browser

ROOT = notebooks.ROOT
HTML = Path(os.environ.get("OVERPARAM_HTML", ROOT / "_build" / "html")).resolve()
CHROMIUM = os.environ.get("OVERPARAM_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "test-artifacts" / "screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PAGES = notebooks.toc_files()  # every page of the book, e.g. "chapters/01_xor_detection"
# The chapters are the notebooks of _toc.yml (listed whether or not the source exists yet: a missing
# chapter fails here, as it fails the build).
CHAPTERS = [f for f in PAGES if f.startswith("chapters/") and not (ROOT / f"{f}.md").exists()]


def _config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.fail(
            f"no built book in {HTML} (index.html missing): build it first with `bash scripts/book.sh` "
            "or point OVERPARAM_HTML at a built html folder"
        )
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("the browser tests need the playwright package (requirements.txt)")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set OVERPARAM_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


class Visit:
    """One page opened in a fresh browser context, with everything that went wrong recorded."""

    def __init__(self, browser, server: str, page_path: str):
        self.url = f"{server}/{page_path}.html"
        self.problems: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        origin = urlparse(server).netloc

        def route(r):
            u = urlparse(r.request.url)
            if u.scheme in ("data", "blob") or u.netloc == origin:
                r.continue_()
            else:
                self.problems.append(f"request outside the book: {r.request.url}")
                r.abort()

        self.page.route("**/*", route)
        self.page.on(
            "console",
            lambda m: m.type == "error" and self.problems.append(f"console error: {m.text} ({m.location})"),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on(
            "requestfailed", lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})")
        )
        self.page.on(
            "response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}")
        )
        self.page.goto(self.url, wait_until="networkidle")
        self.wait_for_math()
        # Let fonts and the theme's layout settle (screenshots taken earlier catch a half-laid-out page).
        self.page.evaluate("async () => { await document.fonts.ready; }")
        self.page.wait_for_timeout(300)

    def wait_for_math(self):
        """Wait until MathJax (if the page loads it) has typeset everything."""
        self.page.wait_for_function(
            "() => !document.querySelector('script[src*=\"mathjax\"]') || "
            "(window.MathJax && MathJax.startup && MathJax.startup.promise)",
            timeout=20_000,
        )
        self.page.evaluate(
            "async () => { if (window.MathJax && MathJax.startup && MathJax.startup.promise)"
            " { await MathJax.startup.promise; } }"
        )

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def visit(browser, server):
    opened: dict[str, Visit] = {}

    def get(page_path: str) -> Visit:
        if page_path not in opened:
            v = Visit(browser, server, page_path)
            SHOTS.mkdir(parents=True, exist_ok=True)
            name = page_path.replace("/", "__")
            v.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
            opened[page_path] = v
        return opened[page_path]

    yield get
    for v in opened.values():
        v.close()


# --------------------------------------------------------------------------------------------- all pages


def test_toc_pages_were_built():
    missing = [p for p in PAGES if not (HTML / f"{p}.html").exists()]
    assert not missing, f"pages of _toc.yml missing from {HTML}: {missing}"


@pytest.mark.parametrize("page_path", PAGES)
def test_page_loads_cleanly(visit, page_path):
    v = visit(page_path)
    assert not v.problems, f"{v.url}:\n" + "\n".join(v.problems)
    title = v.page.locator("main h1").first.inner_text()
    assert title.strip(), f"{v.url} has no title"
    # Every image on the page decoded (figures, the Colab/launch icons, ...).
    broken = v.page.evaluate(
        "() => [...document.images].filter(i => i.complete && i.naturalWidth === 0).map(i => i.src.slice(0, 80))"
    )
    assert not broken, f"{v.url}: images that did not load: {broken}"
    # No math left untypeset.
    raw = v.page.evaluate(
        "() => [...document.querySelectorAll('span.math, div.math')]"
        ".filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60))"
    )
    assert not raw, f"{v.url}: math not rendered by MathJax: {raw}"
    errors = v.page.locator("mjx-merror").count()
    assert errors == 0, f"{v.url}: {errors} MathJax errors"


# --------------------------------------------------------------------------------------------- chapters


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_chapter_figures_are_numbered_and_shown(visit, page_path):
    v = visit(page_path)
    figures = v.page.locator("figure[id^='fig-']")
    assert figures.count() >= 1, f"{v.url}: no numbered figure (cell metadata mystnb.figure.name)"
    for i in range(figures.count()):
        fig = figures.nth(i)
        fid = fig.get_attribute("id")
        sizes = fig.locator("img").evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
        assert sizes and all(w > 0 and h > 0 for w, h in sizes), f"{v.url}#{fid}: no image shown ({sizes})"
        number = fig.locator(".caption-number").first.inner_text()
        assert number.startswith("Fig."), f"{v.url}#{fid}: caption is not numbered ({number!r})"


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_chapter_paper_vs_ours_table_renders(visit, page_path):
    """The closing table (a glued ``IPython.display.Markdown``) renders as a table, not as raw pipes."""
    v = visit(page_path)
    headers = v.page.locator("main table th").all_inner_texts()
    assert {"Quantity", "Paper", "Ours"} <= {h.strip() for h in headers}, f"{v.url}: no paper-vs-ours table"
    assert "|---|" not in v.page.locator("main").inner_text(), f"{v.url}: a Markdown table left unrendered"


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_chapter_math_renders(visit, page_path):
    v = visit(page_path)
    assert v.page.locator("mjx-container").count() >= 1, f"{v.url}: no math rendered (mjx-container)"


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_chapter_citations_resolve_to_the_bibliography(visit, page_path):
    v = visit(page_path)
    hrefs = v.page.eval_on_selector_all(
        "main a[href*='bibliography.html#']", "links => links.map(a => a.getAttribute('href'))"
    )
    assert hrefs, f"{v.url}: no citation links to the bibliography page"
    bib = visit("chapters/bibliography")
    anchors = set(bib.page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
    dangling = sorted({h for h in hrefs if h.split("#", 1)[1] not in anchors})
    assert not dangling, f"{v.url}: citations pointing to no entry of the bibliography: {dangling}"


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_chapter_sliders_change_the_frame(visit, page_path):
    """Each static interactive figure (matplotlib jshtml) shows another frame when its slider moves."""
    v = visit(page_path)
    sliders = v.page.locator("input.anim-slider")
    assert sliders.count() >= 1, f"{v.url}: no static interactive figure (slider)"
    for i in range(sliders.count()):
        slider = sliders.nth(i)
        sid = slider.get_attribute("id")
        img = v.page.locator("#" + sid.replace("_anim_slider", "_anim_img"))
        v.page.wait_for_function(f"() => document.getElementById('{sid}').max > 0", timeout=10_000)
        top = int(slider.get_attribute("max") or slider.evaluate("s => s.max"))
        before = img.get_attribute("src")
        slider.scroll_into_view_if_needed()
        slider.evaluate(
            "(s, v) => { s.value = v; s.dispatchEvent(new Event('input', {bubbles: true}));"
            " s.dispatchEvent(new Event('change', {bubbles: true})); }",
            top,
        )
        after = img.get_attribute("src")
        assert after != before, f"{v.url}: slider {sid} moved to {top} but the frame did not change"
        v.page.wait_for_function(
            "id => { const i = document.getElementById(id); return i.complete && i.naturalWidth > 0; }",
            arg=img.get_attribute("id"),
            timeout=10_000,
        )
        name = page_path.replace("/", "__")
        widget = img.locator("xpath=ancestor::div[contains(@class, 'animation')][1]")
        (widget if widget.count() else img).screenshot(path=str(SHOTS / f"{name}__slider{i}_last_frame.png"))
    assert not v.problems, "\n".join(v.problems)


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_chapter_has_theorem_and_exercises_with_hidden_solutions(visit, page_path):
    v = visit(page_path)
    assert v.page.locator("div.proof.theorem").count() >= 1, f"{v.url}: no theorem block (sphinx-proof)"
    exercises = v.page.locator("div.exercise").count()
    assert exercises >= 2, f"{v.url}: {exercises} exercises (sphinx-exercise), expected 2-4"
    solutions = v.page.locator("div.solution")
    assert solutions.count() >= 1, f"{v.url}: no solutions"
    for i in range(solutions.count()):
        solution = solutions.nth(i)
        body = solution.locator("section").first
        assert body.count() == 1, f"{v.url}: solution {i} has no content"
        assert "dropdown" in (solution.get_attribute("class") or ""), f"{v.url}: solution {i} not a dropdown"
        assert not body.is_visible(), f"{v.url}: solution {i} is shown before the reader opens it"
        solution.locator(".admonition-title").first.click()
        body.wait_for(state="visible", timeout=5_000)  # and it opens when clicked


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_chapter_download_and_colab_buttons(visit, page_path):
    v = visit(page_path)
    stem = page_path.split("/")[-1]
    # Download button: the notebook itself (html.use_download_button).
    link = v.page.locator(".dropdown-download-buttons a[href$='.ipynb']")
    assert link.count() == 1, f"{v.url}: no download button for the .ipynb"
    href = link.get_attribute("href")
    resp = v.page.request.get(v.page.url.rsplit("/", 1)[0] + "/" + href)
    assert resp.ok, f"{v.url}: download link {href} answers {resp.status}"
    nb = json.loads(resp.text())
    assert nb["cells"], f"{href} is not a notebook"
    # Colab button: opens this chapter's .ipynb from the book's repository and branch.
    repo = _config()["repository"]
    colab_url = _config()["launch_buttons"]["colab_url"].rstrip("/")
    colab = v.page.locator(f"a[href^='{colab_url}']")
    assert colab.count() >= 1, f"{v.url}: no Colab launch button"
    url = colab.first.evaluate("a => a.href")  # as the browser resolves it (e.g. "/./" segments dropped)
    github = urlparse(repo["url"]).path.strip("/")
    expected = f"{colab_url}/github/{github}/blob/{repo['branch']}/chapters/{stem}.ipynb"
    assert url == expected, f"{v.url}: the Colab button opens {url}, expected {expected}"


# --------------------------------------------------------------------------------------------- about pages


def test_summary_quotes_every_chapter(visit):
    """Per chapter: a link to it, its key figure (an image that loaded, with alt text) and a compact table
    with a "Reproduced?" column whose cells are yes / partly / no."""
    v = visit("chapters/summary")
    main = v.page.locator("main")
    linked = set(
        main.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    )
    for page_path in CHAPTERS:
        target = page_path.split("/")[-1] + ".html"
        assert any(h and h.split("#")[0].endswith(target) for h in linked), f"summary does not quote {page_path}"
    tables = main.locator("table")
    assert tables.count() == len(CHAPTERS), f"summary: expected one table per chapter, found {tables.count()}"
    for i in range(tables.count()):
        table = tables.nth(i)
        headers = [h.strip() for h in table.locator("th").all_inner_texts()]
        assert any(h.startswith("Reproduced") for h in headers), f"summary table {i + 1}: no 'Reproduced?' column ({headers})"
        col = next(j for j, h in enumerate(headers) if h.startswith("Reproduced"))
        verdicts = {t.strip().split()[0].lower().strip("*:,") for t in
                    table.locator(f"tbody tr td:nth-child({col + 1})").all_inner_texts() if t.strip()}
        assert verdicts and verdicts <= {"yes", "partly", "no"}, f"summary table {i + 1}: verdicts {verdicts}"
    figures = main.locator("figure img").evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.alt])")
    assert len(figures) == len(CHAPTERS) and all(w > 0 and alt for w, alt in figures), f"summary figures: {figures}"


def test_how_this_book_runs_lists_execution_times(visit):
    v = visit("chapters/how_this_book_runs")
    table_text = v.page.locator("main table").first.inner_text()
    for page_path in CHAPTERS:
        assert page_path in table_text or page_path.split("/")[-1] in table_text, (
            f"execution table has no row for {page_path}"
        )


# --------------------------------------------------------------------------------------------- reader's book
# Regressions of issue 20: equations that overflow, numbers typed by hand, broken links, figures without
# alt text, and what a phone shows (screenshots at 390 px next to the 1280 px ones).

PHONE = {"width": 390, "height": 844}
CHAPTER_NUMBER = {p: i + 1 for i, p in enumerate(CHAPTERS)}

#: For each display equation: its id, the width of its formula and of the box it scrolls in, and the
#: rectangles of the formula's box and of its number.
EQUATIONS_JS = """() => [...document.querySelectorAll('main div.math')].map(d => {
  const m = d.querySelector('mjx-container'), e = d.querySelector('span.eqno');
  const r = x => { const b = x.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  return {id: d.id, content: m ? m.scrollWidth : 0, box: m ? m.clientWidth : 0,
          formula: m ? r(m) : null, number: e ? r(e) : null};
})"""


def _overlap(a, b) -> bool:
    return a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1


@pytest.mark.parametrize("page_path", PAGES)
def test_no_display_equation_wider_than_its_column(visit, page_path):
    v = visit(page_path)
    wide = [(e["id"], e["content"], e["box"]) for e in v.page.evaluate(EQUATIONS_JS) if e["content"] > e["box"] + 1]
    assert not wide, (f"{v.url}: display equations wider than their column at 1280 px (id, formula px, box px): "
                      f"{wide}; split them with aligned/split")


@pytest.fixture(scope="module")
def phone(browser, server):
    """Each page opened at 390 px (a phone), with a full-page screenshot ``<page>__390.png``."""
    opened: dict[str, Visit] = {}

    def get(page_path: str) -> Visit:
        if page_path not in opened:
            v = Visit(browser, server, page_path)
            v.page.set_viewport_size(PHONE)
            v.page.wait_for_timeout(300)
            SHOTS.mkdir(parents=True, exist_ok=True)
            v.page.screenshot(path=str(SHOTS / f"{page_path.replace('/', '__')}__390.png"), full_page=True)
            opened[page_path] = v
        return opened[page_path]

    yield get
    for v in opened.values():
        v.close()


@pytest.mark.parametrize("page_path", PAGES)
def test_phone_equations_scroll_in_their_box_and_numbers_cover_nothing(phone, page_path):
    v = phone(page_path)
    assert not v.problems, f"{v.url} at 390 px:\n" + "\n".join(v.problems)
    eqs = v.page.evaluate(EQUATIONS_JS)
    covered = [e["id"] for e in eqs if e["formula"] and e["number"] and _overlap(e["formula"], e["number"])]
    assert not covered, f"{v.url} at 390 px: equation numbers over their formula: {covered}"
    # Nothing but scrolling boxes is wider than the screen: the page itself does not scroll sideways.
    page_width = v.page.evaluate("() => document.documentElement.scrollWidth")
    assert page_width <= PHONE["width"] + 1, f"{v.url} at 390 px: the page is {page_width} px wide"


#: Text outside links, captions' own numbers and exercise titles that looks like a typed cross-reference.
TYPED_REFS_JS = r"""() => {
  const skip = 'a, .caption-number, .admonition-title, p.admonition-title, code, pre, mjx-container, .math, table';
  const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
  const found = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest(skip)) continue;
    const m = n.textContent.match(/\b(Exercise|Fig\.|Figure|Equation)\s+\(?\d+(\.\d+)?\)?/g);
    if (m) found.push(...m);
  }
  return found;
}"""


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_numbers_are_chapter_prefixed_and_references_are_links(visit, page_path):
    v = visit(page_path)
    ch = CHAPTER_NUMBER[page_path]
    numbers = v.page.locator("main figure .caption-number").all_inner_texts()
    numbers += v.page.locator("main div.exercise .admonition-title, main div.proof.theorem .admonition-title").all_inner_texts()
    numbers += v.page.locator("main div.math span.eqno").all_inner_texts()
    wrong = [n for n in numbers if re.search(r"\d", n) and not re.search(rf"(?<![\d.]){ch}\.\d+", n)]
    assert numbers and not wrong, f"{v.url}: numbers not prefixed with chapter {ch}: {wrong}"
    typed = v.page.evaluate(TYPED_REFS_JS)
    assert not typed, f"{v.url}: cross-references typed by hand (not links): {typed}"


@pytest.mark.parametrize("page_path", PAGES)
def test_internal_links_resolve(visit, page_path):
    """Every link to a page of the book leads to a built file, and its #anchor exists in that file."""
    v = visit(page_path)
    hrefs = v.page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    origin = urlparse(v.url).netloc
    broken = []
    for href in sorted(set(hrefs)):
        u = urlparse(href)
        if u.netloc != origin or u.scheme not in ("http", "https"):
            continue
        path = HTML / unquote(u.path).lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            broken.append(f"{href} (no file)")
        elif u.fragment and path.suffix == ".html":
            text = _html_text(path)
            if f'id="{unquote(u.fragment)}"' not in text:
                broken.append(f"{href} (no anchor)")
    assert not broken, f"{v.url}: links that do not resolve: {broken}"


@functools.lru_cache(maxsize=None)
def _html_text(path: Path) -> str:
    return path.read_text(errors="ignore")


@pytest.mark.parametrize("page_path", PAGES)
def test_every_image_has_alt_text(visit, page_path):
    v = visit(page_path)
    images = v.page.eval_on_selector_all(
        "main img", "imgs => imgs.map(i => [i.getAttribute('alt') || '', (i.getAttribute('src') || '').slice(0, 60)])")
    bad = [(src, alt) for alt, src in images
           if len(alt.split()) < 2 or re.search(r"\.(png|svg|jpe?g|gif)\b|^[\w./-]+$|_images/|data:", alt)]
    assert not bad, f"{v.url}: images without a meaningful alt text (src, alt): {bad}"


def test_landing_page_has_hero_and_a_figure_per_chapter(visit):
    v = visit(PAGES[0])
    main = v.page.locator("main")
    hero = main.locator("figure img").first
    assert hero.count() == 1 and hero.evaluate("i => i.naturalWidth > 0"), "landing page: no hero figure"
    cards = main.locator(".sd-card")
    linked = set(cards.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))"))
    for page_path in CHAPTERS:
        target = page_path + ".html"
        assert any(h and h.split("#")[0].endswith(target) for h in linked), f"landing page: no card links {target}"
    card_images = cards.locator("img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert len(card_images) == len(CHAPTERS) and all(card_images), f"landing page: card figures {card_images}"
    text = main.inner_text()
    for phrase in ("any order", "Prerequisites", "min"):
        assert phrase in text, f"landing page does not say {phrase!r}"


@pytest.mark.parametrize("page_path", CHAPTERS)
def test_try_it_live_has_a_colab_badge_and_a_panel_picture(visit, page_path):
    v = visit(page_path)
    section = v.page.locator("main section#try-it-live")
    assert section.count() == 1, f"{v.url}: no 'Try it live' section"
    badge = section.locator("a[href^='https://colab.research.google.com/'] img")
    assert badge.count() == 1 and badge.evaluate("i => i.naturalWidth > 0"), f"{v.url}: no Colab badge"
    picture = section.locator("img[src*='_images/']")
    sizes = picture.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert sizes and all(sizes), f"{v.url}: no picture of the live panel ({sizes})"


def test_search_results_show_no_tex_delimiters(browser, server):
    v = Visit(browser, server, "search")
    try:
        v.page.goto(f"{server}/search.html?q=Gram+matrix", wait_until="networkidle")
        v.page.wait_for_function("() => document.querySelectorAll('#search-results ul.search li').length > 0",
                                 timeout=20_000)
        v.page.wait_for_function(
            "() => [...document.querySelectorAll('#search-results ul.search li')].some(li => li.querySelector('.context'))",
            timeout=20_000)
        v.page.wait_for_timeout(1000)
        text = v.page.locator("#search-results").inner_text()
        assert "\\(" not in text and "\\)" not in text, f"search results show TeX delimiters: {text[:400]}"
        assert not v.problems, "\n".join(v.problems)
    finally:
        v.close()
