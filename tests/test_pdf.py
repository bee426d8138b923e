"""The PDF (``make pdf``), checked after ``make test`` builds it.

LaTeX finishes and writes a PDF even when it drops a glyph it has no font for or leaves a
cross-reference as "??", so a PDF that exists proves little. These tests read what XeLaTeX itself
recorded in its last pass (the ``.log`` and ``.toc`` files next to the PDF): every chapter of the
table of contents is in the book, no character went missing, and every reference resolved.

The PDF needs Debian's TeX packages (``make pdf`` prints the command). Without them the tests
are skipped with that message; ``.ci/run`` installs them and sets ``LOSSBOOK_CI=1``, under which
a missing PDF fails instead.
"""

import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
LATEX = ROOT / "_build" / "latex"
NAME = "loss-functions-in-deep-learning"


@pytest.fixture(scope="module")
def latex_dir():
    if not (LATEX / f"{NAME}.pdf").exists():
        message = "the PDF is not built: `make pdf` (it prints the TeX packages it needs)"
        if os.environ.get("LOSSBOOK_CI") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return LATEX


def normalized(text):
    """Letters and digits only, lower case: titles compare across LaTeX escaping."""
    text = text.replace(r"\sphinxhyphen {}", "-")
    text = re.sub(r"\\[A-Za-z]+", "", text)
    return re.sub(r"[^0-9a-z]", "", text.lower())


def chapter_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [ROOT / chapter["file"] for part in toc["parts"] for chapter in part["chapters"]]


def title_of(path):
    if path.with_suffix(".ipynb").exists():
        notebook = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
        text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    else:
        text = path.with_suffix(".md").read_text()
    return re.search(r"^# (.+)$", text, flags=re.MULTILINE).group(1)


def test_title_of_reads_markdown_and_notebooks():
    assert title_of(ROOT / "book" / "glossary") == "Glossary"
    assert title_of(ROOT / "book" / "softmax").startswith("Softmax")


def test_normalized_sees_through_latex_escaping():
    assert normalized(r"Log\sphinxhyphen {}softmax: log\sphinxhyphen {}sum") == normalized("Log-softmax: log-sum")
    assert normalized("API reference: `lossbook`") == normalized(
        r"API reference: \sphinxstyleliteralintitle {\sphinxupquote {lossbook}}"
    )


def pdf_chapters(latex_dir):
    """(number or None, normalized title) of every chapter in the PDF's table of contents."""
    contents = (latex_dir / f"{NAME}.toc").read_text()
    entries = re.findall(
        r"\\contentsline \{chapter\}\{(?:\\numberline \{(\d+)\})?(.+)\}\{\d+\}\{(?:chapter|section)\*?\.\d+\}%",
        contents,
    )
    return [(int(number) if number else None, normalized(title)) for number, title in entries]


def test_every_chapter_is_a_chapter_of_the_pdf(latex_dir):
    chapters = pdf_chapters(latex_dir)
    expected = [normalized(title_of(path)) for path in chapter_files()]
    assert [title for _, title in chapters[: len(expected)]] == expected
    # After the book's own chapters LaTeX adds the collected references and the module index.
    assert [title for _, title in chapters[len(expected) :]] == ["bibliography", "pythonmoduleindex"]


def test_chapters_are_numbered_as_on_the_website(latex_dir):
    # The website numbers the chapters of the parts marked `numbered: true` in _toc.yml, 1, 2, ...
    # across those parts, and no other chapter; the exercise numbers (1.6.1, ...) follow them.
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    flags = [part.get("numbered", False) for part in toc["parts"] for _ in part["chapters"]]
    expected = []
    for flag in flags:
        expected.append(sum(1 for number in expected if number) + 1 if flag else None)
    assert [number for number, _ in pdf_chapters(latex_dir)[: len(flags)]] == expected
    # "Getting started" is unnumbered; the first chapter of the first numbered part is chapter 1.
    first = flags.index(True)
    assert expected[: first + 1] == [None] * first + [1]


def test_no_character_is_missing_from_the_fonts(latex_dir):
    log = (latex_dir / f"{NAME}.log").read_text(errors="replace")
    missing = sorted(set(re.findall(r"Missing character: There is no (.+?) in font", log)))
    assert not missing, f"glyphs XeLaTeX dropped: {missing}"


def test_every_reference_and_citation_resolved(latex_dir):
    log = (latex_dir / f"{NAME}.log").read_text(errors="replace")
    unresolved = re.findall(r"LaTeX Warning: (?:Reference|Citation|Hyper reference) .*? undefined", log)
    assert not unresolved, unresolved[:10]
    assert "There were undefined references" not in log


def test_the_pdf_holds_the_whole_book(latex_dir):
    log = (latex_dir / f"{NAME}.log").read_text(errors="replace")
    pages = int(re.search(r"Output written on .+? \((\d+) pages", log).group(1))
    # 14 chapters of 15-35 pages each, with their figures and exercises: far more than a stub.
    assert pages > 300, pages


def test_every_figure_of_the_chapters_is_in_the_pdf(latex_dir):
    stored = set()
    for path in chapter_files():
        if path.with_suffix(".ipynb").exists():
            notebook = nbformat.read(path.with_suffix(".ipynb"), as_version=4)
            for cell in notebook.cells:
                for output in cell.get("outputs", []):
                    if "image/png" in output.get("data", {}):
                        stored.add(output["data"]["image/png"].strip())
    # MyST-NB writes one file per distinct image, named by its hash.
    assert len(list(latex_dir.glob("*.png"))) == len(stored) > 40


def test_the_website_macros_are_defined_in_the_latex_preamble(latex_dir):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    macros = config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    tex = (latex_dir / f"{NAME}.tex").read_text()
    preamble = tex[: tex.index(r"\begin{document}")]
    for name, body in macros.items():
        assert f"\\renewcommand{{\\{name}}}{{{body}}}" in preamble, name
