r"""Every docstring in src/lossbook that holds a backslash is a raw string, with the ``r`` prefix.

Docstrings carry LaTeX for the API page and the PDF: ``:math:`\frac{a}{b}```, ``\alpha``, ``\log``.
In a plain string Python reads ``\f`` as a form feed, ``\a`` as a bell and ``\b`` as a backspace,
so ``\frac`` reaches Sphinx as a form feed followed by "rac"; that broke the PDF and MathJax once.
Python warns only about unknown escapes (``\l``), never about these. The test reads the source
with :mod:`ast` and :mod:`tokenize`, so it sees each docstring as written, not its value: a string
token with a backslash and no ``r`` prefix fails, named by file, line and function.
"""

import ast
import io
import tokenize
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "lossbook"
MODULES = sorted(SRC.rglob("*.py"))


DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def docstring_constant(node):
    """The string constant that is `node`'s docstring (a module, class or function), or None."""
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return first.value
    return None


def docstring_nodes(tree):
    """(qualified name, docstring constant) for the module and every class and function in `tree`."""
    found = [("<module>", docstring_constant(tree))]

    def visit(node, scope):
        for child in ast.iter_child_nodes(node):  # every child: definitions also sit under if, try, with
            if isinstance(child, DEFINITIONS):
                name = f"{scope}.{child.name}" if scope else child.name
                found.append((name, docstring_constant(child)))
                visit(child, name)
            else:
                visit(child, scope)

    visit(tree, "")
    return [(name, constant) for name, constant in found if constant is not None]


def is_raw(token):
    """Whether the string literal `token` (its source text) has the r prefix: r"..", R"..", rb"..", Rb"..."""
    prefix = token[: len(token) - len(token.lstrip("rRbBuUfF"))]
    return "r" in prefix.lower()


def non_raw_docstrings(source, filename):
    """``file:line name`` of every docstring in `source` with a backslash in a string token lacking r."""
    problems = []
    for name, node in docstring_nodes(ast.parse(source, filename)):
        # The parentheses let a docstring of several adjacent literals on several lines tokenize alone.
        text = "(" + ast.get_source_segment(source, node) + ")"
        tokens = tokenize.generate_tokens(io.StringIO(text).readline)
        if any(t.type == tokenize.STRING and "\\" in t.string and not is_raw(t.string) for t in tokens):
            problems.append(f"{filename}:{node.lineno} {name}")
    return problems


@pytest.mark.parametrize("path", MODULES, ids=[p.relative_to(SRC).as_posix() for p in MODULES])
def test_docstrings_with_a_backslash_are_raw(path):
    problems = non_raw_docstrings(path.read_text(encoding="utf-8"), path.relative_to(SRC.parent).as_posix())
    assert not problems, "docstrings with a backslash need the r prefix (r\"\"\"...\"\"\"):\n" + "\n".join(problems)


def test_the_check_finds_a_form_feed_and_passes_raw_strings():
    source = '''"""A module with \\\\alpha, escaped."""


def plain():
    """Fine: no backslash."""


class Loss:
    def value(self):
        """The :math:`\\frac{a}{b}`, a form feed in disguise."""

    def grad(self):
        r"""The :math:`\\frac{a}{b}`, raw."""


if True:
    def guarded():
        """Adjacent """ "literals \\n"
'''
    assert non_raw_docstrings(source, "example.py") == [
        "example.py:1 <module>",
        "example.py:10 Loss.value",
        "example.py:18 guarded",
    ]
    assert is_raw('r"""x"""') and is_raw('Rb"x"') and not is_raw('"""x"""') and not is_raw('b"x"')
