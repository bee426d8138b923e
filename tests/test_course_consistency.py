"""The course's pages agree with its chapters: times, glossary links, chapter order.

Three pages restate what the chapters and the table of contents already say, and drift when a
chapter changes. This test reads the stored files only (``_toc.yml``, the chapters' notebook JSON and
the Markdown pages); it executes nothing.

* **Times.** Every chapter states its time once, under its learning objectives
  ("**Time:** about 60 minutes"), and may split it into reading and exercises ("**Time:** about 150
  minutes: about 60 to read and run the cells, about 90 for the exercises"; the two parts must add up).
  The chapter is the one source: the "Time" column of the table in ``book/instructors.md`` must give
  the same number of minutes, and the same split when the chapter states one ("150 min (60 + 90)").
* **Glossary.** Every entry of ``book/glossary.md`` links, with ``{doc}`...```, to a page listed in
  ``_toc.yml``: the chapter that defines the term. (The strict build already fails on a link to a
  page that does not exist; a page left out of ``_toc.yml`` is not built, so a link to it fails too,
  but only this test says which entry has no link at all.)
* **Order.** The instructors' table lists every chapter of ``_toc.yml``, in the order of the table of
  contents, and the road map of ``book/intro.md`` numbers every chapter of the numbered parts as the
  website does (1, 2, ... running on across the parts). A chapter is a notebook
  (``book/<name>.ipynb``); the Markdown pages (the introduction, this notation, the glossary, ...)
  are not chapters.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"

# "**Time:** about 60 minutes", also without the bold or the "about", and "60 min".
STATED_TIME = re.compile(r"(?:\*\*)?Time:(?:\*\*)?\s*(?:about\s+)?(\d+)\s*(?:minutes|min)\b")
# "...minutes: about 60 to read and run the cells, about 90 for the exercises", right after the time.
STATED_SPLIT = re.compile(
    r"(?:\*\*)?Time:(?:\*\*)?\s*(?:about\s+)?\d+\s*(?:minutes|min):\s*about\s+(\d+)\s+to read[^,]*,"
    r"\s*about\s+(\d+)\s+for the exercises"
)
# {doc}`softmax`, {doc}`the chapter <softmax>`, {doc}`/book/softmax`.
DOC_ROLE = re.compile(r"\{doc\}`(?:[^`<]*<([^`>]+)>|([^`<>]+))`")
TABLE_HEADING = "## Which chapter needs which"


def toc_entries():
    """Every file of ``_toc.yml`` (root first, then the parts' chapters in order), as ``book/<name>``."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    entries = [toc["root"]]
    for part in toc.get("parts", []):
        entries.extend(chapter["file"] for chapter in part.get("chapters", []))
    return [entry.removesuffix(".md").removesuffix(".ipynb") for entry in entries]


def toc_chapters():
    """The chapters of ``_toc.yml`` in order: the entries that are notebooks, by name (``softmax``)."""
    return [Path(entry).name for entry in toc_entries() if (ROOT / f"{entry}.ipynb").exists()]


def numbered_chapters():
    """The chapters of the numbered parts of ``_toc.yml``, in order: the website numbers them 1, 2, ..."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [Path(chapter["file"]).name for part in toc.get("parts", []) if part.get("numbered")
            for chapter in part.get("chapters", [])]


# A road-map item of the introduction: "13. {doc}`detection_head`. ..." at the start of a line.
ROAD_MAP_ITEM = re.compile(r"^(\d+)\. \{doc\}`([^`]+)`", re.MULTILINE)


def markdown_of(notebook_path):
    """The Markdown cells of a stored notebook, joined."""
    notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "markdown"]
    sources = (cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"]) for cell in cells)
    return "\n\n".join(sources)


def stated_minutes(markdown):
    """The minutes a chapter states it takes. Raises ValueError unless it states exactly one time."""
    minutes = {int(match) for match in STATED_TIME.findall(markdown)}
    if len(minutes) != 1:
        raise ValueError(f"expected one stated time ('**Time:** about N minutes'), found {sorted(minutes) or 'none'}")
    return minutes.pop()


def stated_split(markdown):
    """(reading, exercises) minutes if the chapter splits its time, else None. Raises ValueError if the two
    parts do not add up to the stated time."""
    match = STATED_SPLIT.search(markdown)
    if match is None:
        return None
    reading, exercises = int(match.group(1)), int(match.group(2))
    total = stated_minutes(markdown)
    if reading + exercises != total:
        raise ValueError(f"the stated time is {total} minutes, but its parts add up to {reading} + {exercises}")
    return reading, exercises


def table_rows(markdown, heading=TABLE_HEADING):
    """The rows of the first table after `heading`, each a dict from the header's names to the cells."""
    lines = markdown.splitlines()
    start = lines.index(heading)
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif table:
            break
    header, _separator, *rows = table
    return [dict(zip(header, row, strict=True)) for row in rows]


def chapter_of(cell):
    """The page a table cell links to: ``{doc}`softmax` (appendix)`` -> ``softmax``."""
    match = DOC_ROLE.search(cell)
    if match is None:
        raise ValueError(f"no {{doc}} link in the table cell {cell!r}")
    return Path(match.group(1) or match.group(2)).name


def table_minutes(cell):
    """``45 min`` -> 45; ``150 min (60 + 90)`` -> 150."""
    return table_time(cell)[0]


def table_time(cell):
    """``45 min`` -> (45, None); ``150 min (60 + 90)`` -> (150, (60, 90)), reading and exercises."""
    match = re.fullmatch(r"(\d+)\s*min(?:utes)?(?:\s*\((\d+)\s*\+\s*(\d+)\))?", cell)
    if match is None:
        raise ValueError(f"a time cell should read 'N min' or 'N min (R + E)', not {cell!r}")
    split = None if match.group(2) is None else (int(match.group(2)), int(match.group(3)))
    return int(match.group(1)), split


def instructors_times():
    """{chapter name: minutes}, in the order of the instructors' table."""
    return {chapter: minutes for chapter, (minutes, _split) in instructors_time_cells().items()}


def instructors_time_cells():
    """{chapter name: (minutes, (reading, exercises) or None)}, in the order of the instructors' table."""
    rows = table_rows((BOOK / "instructors.md").read_text(encoding="utf-8"))
    return {chapter_of(row["Chapter"]): table_time(row["Time"]) for row in rows}


def glossary_entries(markdown):
    """[(terms, definition)] of the ``{glossary}`` block: one or more unindented term lines, then the
    indented definition."""
    block = re.search(r"^```\{glossary\}[^\n]*\n(.*?)^```\s*$", markdown, flags=re.MULTILINE | re.DOTALL)
    if block is None:
        raise ValueError("no ```{glossary} block")
    entries = []
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            if entries and not entries[-1][1]:
                entries[-1][0].append(line.strip())  # another term of the same entry
            else:
                entries.append(([line.strip()], []))
        elif entries:
            entries[-1][1].append(line.strip())
    return [(terms, " ".join(definition)) for terms, definition in entries]


def doc_targets(text, page_dir="book"):
    """The pages that the {doc} links of `text`, written in a page of `page_dir`, point to, as
    ``book/<name>``."""
    targets = []
    for match in DOC_ROLE.finditer(text):
        target = (match.group(1) or match.group(2)).strip()
        path = target.lstrip("/") if target.startswith("/") else f"{page_dir}/{target}"
        targets.append(str(Path(path).with_suffix("")) if Path(path).suffix in {".md", ".ipynb"} else path)
    return targets


# ------------------------------------------------------------------------------------------------
# The parsers, on small examples


def test_stated_minutes_reads_the_chapters_sentence():
    assert stated_minutes("**Prerequisites:** softmax. **Time:** about 45 minutes.") == 45
    assert stated_minutes("```{tip}\nTime: about 20 min\n```") == 20
    with pytest.raises(ValueError, match="none"):
        stated_minutes("No time here.")
    with pytest.raises(ValueError, match=r"\[45, 60\]"):
        stated_minutes("**Time:** about 45 minutes. Later: **Time:** about 60 minutes.")


def test_stated_split_reads_reading_and_exercise_time():
    split = "**Time:** about 150 minutes: about 60 to read and run the cells, about 90 for the exercises."
    assert stated_minutes(split) == 150
    assert stated_split(split) == (60, 90)
    assert stated_split("**Time:** about 45 minutes.") is None
    with pytest.raises(ValueError, match=r"60 \+ 80"):
        stated_split("**Time:** about 150 minutes: about 60 to read and run the cells, about 80 for the exercises.")


def test_table_rows_and_cells():
    page = "\n".join([
        "## Which chapter needs which",
        "",
        "| Chapter | Builds on | Time | Good for |",
        "| --- | --- | --- | --- |",
        "| {doc}`softmax` | calculus | 45 min | Jacobians |",
        "| {doc}`performance` (appendix) | softmax | 20 min | speed |",
        "",
        "Text after the table.",
    ])
    rows = table_rows(page)
    assert [chapter_of(row["Chapter"]) for row in rows] == ["softmax", "performance"]
    assert [table_minutes(row["Time"]) for row in rows] == [45, 20]
    assert chapter_of("{doc}`the first chapter <softmax>`") == "softmax"
    assert table_time("150 min (60 + 90)") == (150, (60, 90))
    assert table_time("45 min") == (45, None)
    with pytest.raises(ValueError, match="N min"):
        table_time("45 minutes or so")


def test_glossary_entries_and_links():
    page = "\n".join([
        "```{glossary}",
        "IoU",
        "Intersection over union",
        "  The overlap. See {doc}`iou_losses` and {doc}`the notation <notation>`.",
        "",
        "Logit",
        "  A raw score.",
        "```",
    ])
    entries = glossary_entries(page)
    assert [terms for terms, _ in entries] == [["IoU", "Intersection over union"], ["Logit"]]
    assert doc_targets(entries[0][1]) == ["book/iou_losses", "book/notation"]
    assert doc_targets(entries[1][1]) == []


# ------------------------------------------------------------------------------------------------
# The course


@pytest.mark.parametrize("chapter", toc_chapters())
def test_the_instructors_time_is_the_chapters_time(chapter):
    stated = stated_minutes(markdown_of(BOOK / f"{chapter}.ipynb"))
    times = instructors_times()
    assert chapter in times, f"{chapter} (about {stated} minutes) is missing from the table in book/instructors.md"
    assert times[chapter] == stated, (
        f"{chapter}: the chapter states about {stated} minutes, book/instructors.md says {times[chapter]} min"
    )


@pytest.mark.parametrize("chapter", toc_chapters())
def test_the_instructors_split_is_the_chapters_split(chapter):
    split = stated_split(markdown_of(BOOK / f"{chapter}.ipynb"))
    _minutes, table_split = instructors_time_cells().get(chapter, (None, None))
    assert table_split == split, (
        f"{chapter}: the chapter splits its time as {split} (reading, exercises), "
        f"book/instructors.md as {table_split}"
    )


def test_every_chapter_is_in_the_instructors_table_in_toc_order():
    assert list(instructors_times()) == toc_chapters()


def test_road_map_items_are_read_from_numbered_lines():
    text = "1. {doc}`softmax`. Why.\n   2. {doc}`x` indented is not an item\n14. {doc}`dense_detector`. The grid."
    assert ROAD_MAP_ITEM.findall(text) == [("1", "softmax"), ("14", "dense_detector")]


def test_the_road_map_numbers_every_chapter_as_the_website_does():
    road_map = [(int(number), name) for number, name in ROAD_MAP_ITEM.findall(
        (BOOK / "intro.md").read_text(encoding="utf-8"))]
    expected = list(enumerate(numbered_chapters(), start=1))
    assert len(expected) > 10, "_toc.yml lost its numbered parts"
    assert road_map == expected, f"book/intro.md's road map {road_map} is not the numbered chapters {expected}"


def test_every_glossary_entry_links_to_a_page_of_the_toc():
    entries = glossary_entries((BOOK / "glossary.md").read_text(encoding="utf-8"))
    assert len(entries) > 12, "the glossary lost its entries"
    listed = set(toc_entries())
    problems = []
    for terms, definition in entries:
        targets = doc_targets(definition)
        if not targets:
            problems.append(f"{terms[0]}: no {{doc}} link to the chapter that defines it")
        problems.extend(f"{terms[0]}: {{doc}} link to {target}, which _toc.yml does not list"
                        for target in targets if target not in listed)
    assert not problems, "\n".join(problems)


def test_every_glossary_term_is_unique():
    terms = [term.lower() for entry_terms, _ in glossary_entries((BOOK / "glossary.md").read_text(encoding="utf-8"))
             for term in entry_terms]
    assert len(terms) == len(set(terms)), sorted({term for term in terms if terms.count(term) > 1})


# ------------------------------------------------------------------------------------------------
# Vectors are bold
#
# notation.md writes a vector in bold (the logits z, the probabilities p, the one-hot target y, a
# target distribution q, the parameters w) and its entries in plain letters (z_c, p_y). A plain
# letter where a vector is meant makes y both the class index and the one-hot vector. These patterns
# cannot be scalars: a softmax, a gradient with respect to the logits or the parameters, and a
# cross-entropy or KL divergence between two distributions all take vectors. (H(y) with a plain y is
# the binary entropy of a yes/no label, a number: binary_cross_entropy writes it so.)

PLAIN_VECTOR = re.compile(
    r"\\(?:softmax|logsoftmax|logsumexp|diag|operatorname\{(?:softmax|log\\_softmax|logsumexp|diag)\})"
    r"\s*\(\s*[zpxqy](?![\w{])"  # \softmax(z), \operatorname{softmax}(z / T), \diag(p)
    r"|\\nabla_(?:\{\s*[zwpxq]\s*\}|[zwpxq](?![\w{]))"  # \nabla_z L, \nabla_{w} L
    r"|(?<![\w\\])(?:H|\\operatorname\{KL\}|\\mathrm\{KL\}|KL)\s*\(\s*[qp](?=\s*(?:,|\\,|\\Vert|\\\||\|\||\)))"
)


def plain_vectors(markdown):
    """Each plain-letter vector in ``markdown`` where notation.md writes a bold one, as the matched text."""
    return [match.group(0) for match in PLAIN_VECTOR.finditer(markdown)]


def test_plain_vectors_finds_plain_letters_only():
    assert plain_vectors(r"$\softmax(z)$, $\nabla_z L$, $\nabla_{w} L$, $H(q, p)$, "
                         r"$\operatorname{KL}(q \,\Vert\, p)$, $\softmax(z / T)$, $\operatorname{softmax}(z)$, "
                         r"$\diag(p)$") == [
        r"\softmax(z", r"\nabla_z", r"\nabla_{w}", "H(q", r"\operatorname{KL}(q", r"\softmax(z",
        r"\operatorname{softmax}(z", r"\diag(p"]
    assert plain_vectors(r"$\softmax(\mathbf{z})$, $\nabla_{\mathbf{z}} L$, $H(\mathbf{q}, \mathbf{p})$, "
                         r"$\logsumexp(z_0, z_1)$, $\sigma(z)$, $p_y$, $H(\mathbf{q})$, $H(y)$, $\nabla_{z_c}$") == []


def course_pages():
    """Every page of ``_toc.yml`` with its Markdown text: the chapters' Markdown cells, the .md pages."""
    for entry in toc_entries():
        notebook, page = ROOT / f"{entry}.ipynb", ROOT / f"{entry}.md"
        yield entry, markdown_of(notebook) if notebook.exists() else page.read_text(encoding="utf-8")


@pytest.mark.parametrize("entry, markdown", list(course_pages()), ids=lambda value: str(value)[:40])
def test_vectors_are_bold(entry, markdown):
    found = plain_vectors(markdown)
    assert not found, f"{entry}: plain letters where notation.md writes a bold vector: {found}"


# The TeX macros of the website (mathjax3_config in _config.yml; the PDF gets them through tools/pdf_build.py).
# Jupyter, JupyterLab and Colab do not know them: a chapter's Markdown that uses one shows a red error there,
# in the notebooks a student opens from a launch button or `make lab`. The .md pages are website-only.
WEBSITE_MACROS = sorted(
    yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["sphinx"]["config"]["mathjax3_config"]["tex"][
        "macros"])


def website_macros(markdown):
    """The website-only macros (``\\softmax``, ``\\R`` ...) used in `markdown`, in order."""
    return re.findall(r"\\(" + "|".join(map(re.escape, WEBSITE_MACROS)) + r")(?![A-Za-z])", markdown)


def test_website_macros_are_found_as_whole_names():
    assert len(WEBSITE_MACROS) > 3 and "softmax" in WEBSITE_MACROS
    text = r"$\softmax(\mathbf{z}) \in \R^C$, $\Rightarrow$, $\operatorname{softmax}$"
    assert website_macros(text) == ["softmax", "R"]


@pytest.mark.parametrize("chapter", toc_chapters())
def test_chapters_use_no_website_only_macro(chapter):
    found = website_macros(markdown_of(BOOK / f"{chapter}.ipynb"))
    assert not found, (f"{chapter}: Jupyter and Colab do not know {sorted(set(found))}; write the macro's body "
                       "(\\operatorname{softmax}, \\mathbb{R}, ...) in a notebook")
