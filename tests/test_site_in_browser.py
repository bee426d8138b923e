"""The built website, checked the way a reader meets it: in Chromium, offline.

Run by ``make test`` after the website (``_build/html``) and the student website
(``_build/student/_build/html``) are built. Every page must load with no console error and no
request leaving the machine, show no raw TeX once MathJax is done, load every image, and link only
to pages and anchors that exist. The student website must hold no solution text at all.

Every page of both websites is also checked with axe-core (the copy bundled by
axe-playwright-python, so no network): no violation of impact moderate, serious or critical, the
"minor" best-practice hints aside. Every image has a non-empty alt text that is not its file name
(Sphinx writes the file name when a figure has none); the chapters' figures get theirs from their
cells' ``mystnb.image.alt`` metadata (tools/alt_text.py), which test_every_figure_has_alt_text
checks in the notebooks without a browser. The theme's colour and landmark fixes live in
book/_static/lossbook.css and lossbook.js.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it). Playwright
drives it through ``executable_path``: its own browser download is not needed. Without Chromium
the browser tests are skipped with a message saying how to install it (under ``LOSSBOOK_CI=1``,
which ``.ci/run`` sets, they fail instead).
"""

import functools
import html
import http.server
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import nbformat
import numpy as np
import pytest

from lossbook.plotting import OKABE_ITO

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
STUDENT_SITE = ROOT / "_build" / "student" / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

needs_site = pytest.mark.skipif(
    not (SITE / "index.html").exists(), reason="the website is not built: run `make book` first"
)
spec = importlib.util.spec_from_file_location("alt_text", ROOT / "tools" / "alt_text.py")
alt_text = importlib.util.module_from_spec(spec)
spec.loader.exec_module(alt_text)


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
def servers():
    running = {name: serve(site) for name, site in SITES.items() if (site / "index.html").exists()}
    yield {name: f"http://127.0.0.1:{server.server_address[1]}" for name, server in running.items()}
    for server in running.values():
        server.shutdown()
        server.server_close()


SITES = {"full": SITE, "student": STUDENT_SITE}
PAGES = [p.relative_to(SITE).as_posix() for p in site_pages(SITE)] if SITE.exists() else []
BROWSED = [
    pytest.param(name, p.relative_to(site).as_posix(), id=f"{name}:{p.relative_to(site).as_posix()}")
    for name, site in SITES.items()
    if (site / "index.html").exists()
    for p in site_pages(site)
]
# axe-core's impacts, least to most severe. "minor" marks best-practice hints (a deprecated ARIA role
# that docutils writes, say); every level from "moderate" up fails the test.
FAILING_IMPACTS = {"moderate", "serious", "critical"}


def axe_violations(page):
    """axe-core's violations on `page` that fail the test, one line each: rule, impact, help, nodes."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"resultTypes": ["violations"]}).response
    return [
        f"{violation['id']} ({violation['impact']}: {violation['help']}) at "
        + "; ".join(f"{' '.join(node['target'])} {node['html'][:160]}" for node in violation["nodes"][:5])
        + (f"; and {len(violation['nodes']) - 5} more" if len(violation["nodes"]) > 5 else "")
        for violation in results["violations"]
        if violation["impact"] in FAILING_IMPACTS
    ]


@needs_site
@pytest.mark.parametrize(("site_name", "page_path"), BROWSED)
def test_page_in_chromium(browser, servers, site_name, page_path):
    site, server = SITES[site_name], servers[site_name]
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
    page_html = (site / page_path).read_text(encoding="utf-8")
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
    # An alt text that is empty, or is the file name (`alt="../_images/<sha256>.png"`), says nothing.
    images_without_alt = page.evaluate(
        "() => [...document.images].filter(i => { const alt = (i.getAttribute('alt') || '').trim();"
        " return !alt || /[.](png|svg|jpe?g|gif|webp)$/i.test(alt); }).map(i => i.getAttribute('src'))"
    )
    # Errors from here on are axe-core's: its CSS preload fetches theme.css's `@import "../basic.css"`
    # again, resolved against the page's address instead of the stylesheet's, and gets a 404.
    page_errors = list(errors)
    violations = axe_violations(page)
    page.close()
    assert not page_errors, f"console errors on {site_name}:{page_path}: {page_errors}"
    assert not outside, f"{page_path} requested addresses outside the site: {outside}"
    assert not raw_tex, f"raw TeX left on {page_path} after MathJax: {raw_tex}"
    assert not broken_images, f"images that did not load on {page_path}: {broken_images}"
    assert not images_without_alt, f"images without an alt text on {site_name}:{page_path}: {images_without_alt}"
    assert not violations, f"axe-core on {site_name}:{page_path}:\n" + "\n".join(violations)


def test_every_figure_has_alt_text():
    # The chapters' figures are matplotlib outputs; MyST-NB takes their alt text from the cell's
    # metadata (mystnb.image.alt). `python tools/alt_text.py list --missing` shows the gaps.
    missing = alt_text.list_alt_texts(chapters_in_toc(), missing_only=True)
    assert not missing, f"figures without alt text (cell ids per chapter): {missing}"
    figures = alt_text.list_alt_texts(chapters_in_toc())
    assert figures, "no chapter has a figure: is the book there?"
    too_short = {name: [c for c, alt in cells.items() if len(alt.split()) < 8] for name, cells in figures.items()}
    too_short = {name: cells for name, cells in too_short.items() if cells}
    assert not too_short, f"alt texts under 8 words cannot say what a figure shows: {too_short}"


def test_chapters_plot_with_the_course_palette():
    # A chapter's kernel runs in book/, where Matplotlib reads book/matplotlibrc before any other.
    script = (
        "import matplotlib as m; print(m.matplotlib_fname()); print(*m.rcParams['axes.prop_cycle'].by_key()['color'])"
    )
    env = {key: value for key, value in os.environ.items() if key not in {"MATPLOTLIBRC", "MPLBACKEND"}}
    shown = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT / "book", env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert (ROOT / "book" / shown[0]).resolve() == ROOT / "book" / "matplotlibrc"
    assert [colour.upper() for colour in shown[1].split()] == [colour.upper() for colour in OKABE_ITO]


# Dichromat vision simulated as in Machado, Oliveira and Fernandes (2009), severity 1, on linear RGB.
DICHROMACY = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def lab(linear_rgb):
    """CIE L*a*b* (D65 white) of a linear sRGB colour."""
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ np.clip(
        linear_rgb, 0, 1
    )
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def closest_pair(colours):
    """The smallest colour difference (CIE76 delta E) between two of `colours`, for normal and dichromat vision."""
    channels = np.array([[int(c.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)] for c in colours])
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    smallest = {}
    for vision, matrix in {"normal": np.eye(3), **DICHROMACY}.items():
        labs = [lab(np.array(matrix) @ colour) for colour in linear]
        smallest[vision] = min(
            np.linalg.norm(labs[i] - labs[j]) for i in range(len(labs)) for j in range(i + 1, len(labs))
        )
    return smallest


def test_palette_is_told_apart_by_colour_blind_readers():
    # A delta E of 15 is a clearly visible difference; Matplotlib's default tab10 fails already among
    # its first four colours (orange and green for protanopes, green and red for deuteranopes).
    assert min(closest_pair(OKABE_ITO).values()) > 15
    assert closest_pair(["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"])["protanopia"] < 15


HREF = re.compile(r'href="([^"#][^"]*|#[^"]+)"')


@needs_site
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


@needs_site
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
