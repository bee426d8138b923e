"""What the prose quotes from the code is on the page.

A chapter shows the library's code (``show_source(...)``, formerly ``Code(inspect.getsource(...))``)
and its prose, next to it, quotes pieces of that code inline: `grad[np.arange(n), target] -= 1`. When
the library changes, a quote can outlive the line it quotes. This test reads the stored chapters
(JSON only, nothing is executed) and checks that every inline code quote in a Markdown cell within
two cells of a shown-source cell appears in the shown source (the cell's stored output) or in the
chapter's own code cells.

The rules, and why:

* A quote is a single-backticked span outside fenced blocks (``` and ::: fences) and outside
  ``$...$``/``$$...$$`` math, that contains ``(``, ``[``, ``=`` or ``.`` and is not a plain name
  (``softmax``, ``lossbook.softmax``, ``np.exp``): a plain name says what is discussed, not how
  the code reads.
* Three kinds of span have code's characters but quote no code, and are not checked: a MyST role's
  argument ({doc}`softmax`, {footcite}`lin2017`, {ref}`label`) is a reference; a number (`0.0`,
  `1e-7`) is a value the prose reports, usually an output; and `OMP_NUM_THREADS=1`, an environment
  variable set in the shell or the Makefile, is not Python.
* A library function named by its public, qualified name in a call or signature,
  `lossbook.nll_loss(log_probs, target, ...)`, quotes the page's `def nll_loss(log_probs, target, ...)`.
* Whitespace is ignored on both sides (prose puts ``x-m`` where the code has ``x - m``, and the code
  may break a line where the quote does not), and an ellipsis (``...`` or ``…``) in a quote stands
  for anything.
"""

import html
import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK_DIR = ROOT / "book"
# The fence rule (what closes a ``` or ::: block) is the student build's, in tools/myst_to_markdown.py.
spec = importlib.util.spec_from_file_location("myst_to_markdown", ROOT / "tools" / "myst_to_markdown.py")
myst = importlib.util.module_from_spec(spec)
sys.modules.setdefault("myst_to_markdown", myst)  # its dataclasses look their module up by name
spec.loader.exec_module(myst)
CHAPTERS = sorted(BOOK_DIR.glob("*.ipynb"))

# How far (in cells, either way) prose counts as talking about a shown-source cell.
NEIGHBOURHOOD = 2

SHOWN_SOURCE_CALLS = ("show_source(", "inspect.getsource(")
PLAIN_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
CODE_CHARACTERS = set("([=.")
ELLIPSIS = re.compile(r"\.\.\.|…")
FENCE = re.compile(r"^\s*(`{3,}|:{3,})")
# A MyST role just before a backtick: {doc}`...`, {footcite}`...`.
ROLE_BEFORE = re.compile(r"\{[\w:+-]+\}$")
# A number on its own, as the prose reports a value: 0.0, -100, 1e-7, 0.7054.
NUMBER = re.compile(r"[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?")
# NAME=value with no spaces: an environment variable as a shell or a Makefile sets it. Python's style
# puts spaces around an assignment's `=`, and keyword arguments are lower case.
ENVIRONMENT_SETTING = re.compile(r"[A-Z][A-Z0-9_]+=\S+")
# lossbook.nll_loss( or lossbook.stable.softmax(: the qualifier the page's `def nll_loss(` does not have.
LIBRARY_QUALIFIER = re.compile(r"lossbook\.(\w+\.)*(?=\w+\()")
# An object repr such as <IPython.core.display.Code object at 0x7f...>: not the code itself.
OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def outside_fences(markdown):
    """The lines of `markdown` that are not inside a ``` or ::: fenced block (fences dropped too)."""
    lines, kept, index = markdown.splitlines(), [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening:  # skip to the closing fence: the same character, at least as many, nothing else on the line
            index = myst.closing_line(lines, index, opening.group(1)) + 1
        else:
            kept.append(lines[index])
            index += 1
    return "\n".join(kept)


def inline_code_spans(markdown):
    """The single-backticked spans of `markdown`, outside fences, math and role arguments."""
    text = outside_fences(markdown)
    spans, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\":  # an escaped character opens nothing
            i += 2
        elif char == "`":
            run = re.match(r"`+", text[i:]).group()
            # The span closes at the next run of exactly as many backticks (CommonMark).
            closing = re.compile(rf"(?<!`){run}(?!`)").search(text, i + len(run))
            if closing is None:
                i += len(run)
                continue
            content = text[i + len(run) : closing.start()]
            if len(run) == 1 and not ROLE_BEFORE.search(text[:i]):
                spans.append(content.strip())
            i = closing.end()
        elif char == "$":
            delimiter = "$$" if text.startswith("$$", i) else "$"
            closing = re.compile(r"(?<!\\)" + re.escape(delimiter)).search(text, i + len(delimiter))
            i = closing.end() if closing else i + len(delimiter)
        else:
            i += 1
    return spans


def is_code_quote(span):
    """Whether `span` quotes code: it has a call, an index, an assignment or a dot, and is not a name."""
    if not CODE_CHARACTERS & set(span):
        return False
    return not any(pattern.fullmatch(span) for pattern in (PLAIN_NAME, NUMBER, ENVIRONMENT_SETTING))


def without_whitespace(text):
    return re.sub(r"\s+", "", text)


def quote_found(quote, text):
    """Whether `quote` occurs in `text`, whitespace ignored, an ellipsis standing for anything.

    A leading ``lossbook.`` qualifier of a call may be left out of `text`.
    """
    text = without_whitespace(text)
    for variant in {quote, LIBRARY_QUALIFIER.sub("", quote, count=1)}:
        pieces = [re.escape(piece) for piece in ELLIPSIS.split(without_whitespace(variant))]
        if re.search(".*?".join(pieces), text, flags=re.DOTALL):
            return True
    return False


def html_text(markup):
    """The text of highlighted HTML: styles and tags dropped, entities unescaped."""
    markup = re.sub(r"<style.*?</style>", "", markup, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def is_shown_source_cell(cell):
    return cell.cell_type == "code" and any(call in cell.source for call in SHOWN_SOURCE_CALLS)


def shown_source(cell):
    """The code a shown-source cell displays, read from its stored outputs.

    ``IPython.display.Code`` stores the code itself as text/plain (exactly, less the final newline);
    its text/html is the same code highlighted by Pygments, used only where text/plain is missing or
    is an object's repr. Printed source (a stream output) counts as shown too.
    """
    texts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            texts.append(output.text)
            continue
        data = output.get("data", {})
        plain = data.get("text/plain", "")
        if plain and not OBJECT_REPR.fullmatch(plain.strip()):
            texts.append(plain)
        elif "text/html" in data:
            texts.append(html_text(data["text/html"]))
    return "\n".join(texts)


def unquoted_code(notebook):
    """(cell number, quote) for every code quote near a shown-source cell that nothing on the page has."""
    cells = notebook.cells
    own_code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
    missing = []
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        nearby = cells[max(0, index - NEIGHBOURHOOD) : index + NEIGHBOURHOOD + 1]
        shown = [shown_source(other) for other in nearby if is_shown_source_cell(other)]
        if not shown:
            continue
        for quote in filter(is_code_quote, inline_code_spans(cell.source)):
            if not any(quote_found(quote, text) for text in [*shown, own_code]):
                missing.append((index, quote))
    return missing


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[path.name for path in CHAPTERS])
def test_prose_quotes_only_code_that_is_on_the_page(chapter):
    missing = unquoted_code(nbformat.read(chapter, as_version=4))
    listing = "\n".join(f"  cell {index} (counting from 0): `{quote}`" for index, quote in missing)
    assert not missing, f"{chapter.name}: prose next to shown source quotes code that is not on the page:\n{listing}"


# The rules themselves, on small notebooks built here.


def write_and_read(tmp_path, cells):
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return nbformat.read(path, as_version=4)


def shown_code_cell(code, call="show_source(f)"):
    """A shown-source cell whose stored output is `code`, as IPython.display.Code stores it."""
    output = nbformat.v4.new_output(
        "execute_result",
        data={"text/plain": code.rstrip("\n"), "text/html": "<pre>highlighted</pre>"},
        execution_count=1,
    )
    return nbformat.v4.new_code_cell(call, outputs=[output], execution_count=1)


SHOWN = '''def f(x, targets):
    """Summary."""
    grad = softmax(x)
    grad[np.arange(len(x)), targets.labels] -= 1.0  # the one-hot part
    return grad / len(x)
'''


def test_spans_skip_fences_math_roles_and_double_backticks():
    markdown = (
        "Quote `a(b)` and `c[d]`, not ``e(f)``.\n"
        "Math $`g(h)`$ and $$\n`i(j)`\n$$ are skipped, a price \\$ is not math: `k = 1`.\n"
        "```python\nx = `l(m)`\n```\n"
        "::::{dropdown} Solution\n:::{note}\n`n(o)`\n:::\n`p(q)`\n::::\n"
        "See {doc}`the chapter <softmax.ipynb>` and {footcite}`lin2017`; `after.fence()`"
    )
    assert inline_code_spans(markdown) == ["a(b)", "c[d]", "k = 1", "after.fence()"]


def test_a_fence_closes_only_on_as_many_of_its_own_characters():
    markdown = "````markdown\n```\n`inside(1)`\n```\n````\n`outside(2)`"
    assert inline_code_spans(markdown) == ["outside(2)"]


@pytest.mark.parametrize("span", ["softmax", "lossbook.softmax", "np.exp", "x_i", "nan", "-inf", "ij->i"])
def test_plain_names_and_spans_without_code_characters_are_not_code_quotes(span):
    assert not is_code_quote(span)


@pytest.mark.parametrize("span", ["0.0", "0.7054", "-0.349", "1e-7", "2.5e+3", "OMP_NUM_THREADS=1", "MPLBACKEND=agg"])
def test_numbers_and_environment_settings_are_not_code_quotes(span):
    assert not is_code_quote(span)


@pytest.mark.parametrize(
    "span",
    ["softmax(x)", "grad[i]", "lam = 0.5", "p=2", "N = 100", "x.max(axis=1)", "a...", "0.5 * x", "eps=1e-7", "x[0]"],
)
def test_calls_indices_assignments_and_dots_are_code_quotes(span):
    assert is_code_quote(span)


def test_matching_ignores_whitespace_and_lets_an_ellipsis_stand_for_anything():
    assert quote_found("grad[np.arange(...), targets.labels] -= ...", SHOWN)
    assert quote_found("grad[np.arange(…),targets.labels]", SHOWN)
    assert quote_found("grad / len( x )", SHOWN)
    assert quote_found("targets.labels]\n-=1.0", SHOWN)
    assert not quote_found("grad[np.arange(...), targets] -= ...", SHOWN)
    assert not quote_found("len(x) ... grad = softmax", SHOWN)  # the pieces must come in order


def test_a_library_function_may_be_quoted_by_its_qualified_name():
    assert quote_found("lossbook.f(x, targets)", SHOWN)
    assert quote_found("lossbook.classification.f(x, ...)", SHOWN)
    assert not quote_found("lossbook.f(x, labels)", SHOWN)
    assert not quote_found("np.f(x, targets)", SHOWN)  # only the library's own qualifier


def test_html_is_read_only_when_plain_text_is_not_the_code():
    output = nbformat.v4.new_output(
        "display_data",
        data={
            "text/plain": "<IPython.core.display.Code object at 0x7f00deadbeef>",
            "text/html": '<style>.x { color: red }</style><pre><span class="n">a</span> &lt;= <span>b</span>\n</pre>',
        },
    )
    cell = nbformat.v4.new_code_cell("display(show_source(f))", outputs=[output])
    assert shown_source(cell).strip() == "a <= b"


def test_a_chapter_quoting_what_it_shows_passes(tmp_path):
    notebook = write_and_read(
        tmp_path,
        [
            nbformat.v4.new_markdown_cell("The gradient is `softmax(x)` minus the one-hot targets:"),
            shown_code_cell(SHOWN),
            nbformat.v4.new_markdown_cell(
                "The line `grad[np.arange(...), targets.labels] -= 1.0` subtracts them; `np.exp` and "
                "`f` are names, and `y = f(x, t)` is in a code cell of the chapter."
            ),
            nbformat.v4.new_code_cell("y = f(x, t)"),
        ],
    )
    assert unquoted_code(notebook) == []


def test_a_stale_quote_is_reported_with_its_cell(tmp_path):
    notebook = write_and_read(
        tmp_path,
        [
            nbformat.v4.new_markdown_cell("Three cells away, not checked: `far(away)`."),
            nbformat.v4.new_markdown_cell("Two cells away: `dhidden[hidden <= 0] = 0`."),
            nbformat.v4.new_markdown_cell("Filler."),
            shown_code_cell(SHOWN, call="Code(inspect.getsource(f), language='python')"),
            nbformat.v4.new_markdown_cell("After: `grad[range(n), y] -= 1` and `x.max(axis=1)`."),
        ],
    )
    assert unquoted_code(notebook) == [
        (1, "dhidden[hidden <= 0] = 0"),
        (4, "grad[range(n), y] -= 1"),
        (4, "x.max(axis=1)"),
    ]


def test_prose_far_from_any_shown_source_is_not_checked(tmp_path):
    notebook = write_and_read(
        tmp_path,
        [nbformat.v4.new_markdown_cell("`nowhere(1)`"), nbformat.v4.new_code_cell("print(1)")],
    )
    assert unquoted_code(notebook) == []
