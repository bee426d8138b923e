"""The built website, checked the way a reader meets it: in Chromium, offline.

Run by ``make test`` after the website (``_build/html``) and the student website
(``_build/student/_build/html``) are built. Every page must load with no console error and no
request leaving the machine, show no raw TeX once MathJax is done, load every image, and link only
to pages and anchors that exist. The student website must hold no solution text at all.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it). Playwright
drives it through ``executable_path``: its own browser download is not needed. Without Chromium
the browser tests are skipped with a message saying how to install it (under ``LOSSBOOK_CI=1``,
which ``.ci/run`` sets, they fail instead).
"""

import functools
import html
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
STUDENT_SITE = ROOT / "_build" / "student" / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    not (SITE / "index.html").exists(), reason="the website is not built: run `make book` first"
)


def site_pages(site):
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)


def serve(directory):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        message = "Chromium is not installed: `apt-get install chromium` (Debian), then rerun"
        if os.environ.get("LOSSBOOK_CI") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server():
    server = serve(SITE)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


PAGES = [p.relative_to(SITE).as_posix() for p in site_pages(SITE)] if SITE.exists() else []


@pytest.mark.parametrize("page_path", PAGES)
def test_page_in_chromium(browser, server, page_path):
    page = browser.new_page()
    errors, outside = [], []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))

    def offline(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page_html = (SITE / page_path).read_text(encoding="utf-8")
    redirect = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', page_html)
    if redirect:  # index.html only forwards to the first chapter
        page_path = (Path(page_path).parent / redirect.group(1)).as_posix()
    page.goto(f"{server}/{page_path}", wait_until="load")
    if page.query_selector('script[src*="mathjax"]'):  # pages without math do not load MathJax
        page.wait_for_function("() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise")
        page.evaluate("() => window.MathJax.startup.promise.then(() => true)")
    raw_tex = page.evaluate(
        "() => [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container'))"
        ".map(e => e.textContent.slice(0, 60))"
    )
    broken_images = page.evaluate(
        "() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    page.close()
    assert not errors, f"console errors on {page_path}: {errors}"
    assert not outside, f"{page_path} requested addresses outside the site: {outside}"
    assert not raw_tex, f"raw TeX left on {page_path} after MathJax: {raw_tex}"
    assert not broken_images, f"images that did not load on {page_path}: {broken_images}"


HREF = re.compile(r'href="([^"#][^"]*|#[^"]+)"')


@pytest.mark.parametrize("page_path", PAGES)
def test_internal_links_resolve(page_path):
    page = SITE / page_path
    broken = []
    for href in HREF.findall(page.read_text(encoding="utf-8")):
        if urlparse(href).scheme or href.startswith(("mailto:", "//")):
            continue
        target, fragment = urldefrag(unquote(href))
        target = urlparse(target).path  # drop cache-busting queries such as ?digest=...
        target_file = (page.parent / target).resolve() if target else page
        if target_file.is_dir():
            target_file = target_file / "index.html"
        if not target_file.exists():
            broken.append(href)
        elif fragment and target_file.suffix == ".html":
            if f'id="{fragment}"' not in target_file.read_text(encoding="utf-8"):
                broken.append(href)
    assert not broken, f"links on {page_path} that lead nowhere: {broken}"


def chapters_in_toc():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    return [ROOT / f"{name}.ipynb" for name in re.findall(r"file:\s*(\S+)", toc) if (ROOT / f"{name}.ipynb").exists()]


def solution_lines():
    """For each chapter, the distinctive lines only its solutions hold (code between solution-start and -end)."""
    chapters = {}
    for notebook_path in chapters_in_toc():
        in_solutions, elsewhere = set(), []
        inside = False
        for cell in nbformat.read(notebook_path, as_version=4).cells:
            if cell.cell_type == "markdown":
                # The last marker in the cell decides (one cell may end a solution and start the next).
                start, end = cell.source.rfind("{solution-start}"), cell.source.rfind("{solution-end}")
                inside = start > end if max(start, end) >= 0 else inside
                continue
            if inside:
                in_solutions.update(line.strip() for line in cell.source.splitlines() if len(line.strip()) >= 30)
            else:
                elsewhere.append(cell.source)
        visible = "\n".join(elsewhere)
        chapters[notebook_path.stem] = {line for line in in_solutions if line not in visible}
    return chapters


TAG = re.compile(r"<[^>]+>")


def site_text(site):
    """Every text file of a built site; HTML reduced to its text (highlighting splits code into spans)."""
    texts = {}
    for path in site.rglob("*"):
        if not path.is_file() or path.suffix not in {".html", ".js", ".txt", ".ipynb", ".md", ".json"}:
            continue
        if path.relative_to(site).parts[0] == "_static":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        texts[path] = html.unescape(TAG.sub("", text)) if path.suffix == ".html" else text
    return texts


def test_full_site_shows_the_solutions():
    # The student test below can only fail if solutions are visible somewhere: check that they are here.
    for chapter, lines in solution_lines().items():
        page = html.unescape(TAG.sub("", (SITE / "book" / f"{chapter}.html").read_text(encoding="utf-8")))
        missing = [line for line in lines if line not in page]
        assert lines and not missing, f"{chapter}: solution lines missing from the full site: {missing[:3]}"


@pytest.mark.skipif(not (STUDENT_SITE / "index.html").exists(), reason="run `make book-student` first")
def test_student_site_has_no_solution_anywhere():
    # Each chapter's solution lines are looked for in its own page (other chapters may share a line
    # in their visible code); the search index and the other files hold no copies of pages at all.
    texts = site_text(STUDENT_SITE)
    everything = "\n".join(texts.values())
    leaks = {
        chapter: [line for line in lines if line in texts[STUDENT_SITE / "book" / f"{chapter}.html"]]
        for chapter, lines in solution_lines().items()
    }
    leaks = {chapter: found for chapter, found in leaks.items() if found}
    assert not leaks, f"solution text in the student build: {leaks}"
    assert not (STUDENT_SITE / "_sources").exists(), "the student build copies the sources"
    assert not list(STUDENT_SITE.rglob("*.ipynb")), "the student build ships notebooks"
    assert "Solution to Exercise" not in everything
