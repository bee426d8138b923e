"""Make one student notebook per chapter: solutions replaced by stubs, each followed by its check.

Usage (from the repository root, through the Makefile: ``make assignments``)::

    .venv/bin/python tools/make_assignments.py            # every chapter in _toc.yml
    .venv/bin/python tools/make_assignments.py book/softmax.ipynb

Writes ``_build/assignments/<chapter>.ipynb``, outputs cleared. In a chapter, an exercise's worked
solution sits between the ``solution-start`` and ``solution-end`` markers (sphinx-exercise). In the
assignment:

* the solution's prose is replaced by an "Your answer" cell;
* in a solution code cell, the lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` become a
  stub (``raise NotImplementedError`` inside a function, ``name = None`` for each name the solution
  assigns at the top level), and whatever follows ``# END SOLUTION`` moves to a check cell of its
  own, which calls :mod:`lossbook.exercises` and says precisely what is wrong;
* a solution code cell without markers is replaced by an empty stub (and reported: it has no check).

A student runs the notebook top to bottom: the check cells fail until the stubs are filled in. An
instructor grades by running it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = REPO_ROOT / "_build" / "assignments"
START = re.compile(r"```\{solution-start\}\s*(\S+)[^\n]*\n(?:[ \t]*:[^\n]*\n)*```")
END = re.compile(r"```\{solution-end\}[^\n]*\n```")
BEGIN_MARK, END_MARK = "# BEGIN SOLUTION", "# END SOLUTION"
ASSIGNED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*=(?!=)")


def chapters_in_toc() -> list[Path]:
    toc = (REPO_ROOT / "_toc.yml").read_text(encoding="utf-8")
    paths = [REPO_ROOT / f"{name}.ipynb" for name in re.findall(r"file:\s*(\S+)", toc)]
    return [path for path in paths if path.exists()]


def stub_for(region: list[str], label: str) -> list[str]:
    """The lines that replace a solution region, keeping its indentation."""
    indent = min((len(line) - len(line.lstrip()) for line in region if line.strip()), default=0)
    pad = " " * indent
    if indent:  # inside a function body
        return [f'{pad}raise NotImplementedError("exercise {label}: write this function")']
    names = []
    for line in region:
        match = ASSIGNED.match(line)
        if match:
            names += [n.strip() for n in match.group(1).split(",") if n.strip() not in names]
    return [f"# Exercise {label}: your solution here."] + [f"{name} = None" for name in names]


def split_solution_cell(source: str, label: str) -> tuple[str, str | None]:
    """(stub source, check source or None) for one solution code cell."""
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN_MARK]
    ends = [i for i, line in enumerate(lines) if line.strip() == END_MARK]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        return f"# Exercise {label}: your solution here.\n", None
    begin, end = starts[0], ends[0]
    stub = lines[:begin] + stub_for(lines[begin + 1 : end], label)
    check = "\n".join(lines[end + 1 :]).strip("\n")
    return "\n".join(stub).rstrip() + "\n", (check or None)


def make_assignment(path: Path) -> tuple[nbformat.NotebookNode, int, int]:
    """The student notebook for the chapter at `path`, with counts of checked and unchecked solution cells."""
    notebook = nbformat.read(path, as_version=4)
    cells, label, checked, unchecked = [], None, 0, 0
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
        if cell.cell_type == "markdown":
            text = cell.source
            start, end = START.search(text), END.search(text)
            if label is not None and end:  # the end of the current solution: keep what follows it
                text = text[end.end():]
                label = None
                start = START.search(text)
            if label is None and start:  # a new solution: keep what precedes it, then an answer cell
                before = text[: start.start()].strip()
                label = start.group(1)
                if before:
                    cells.append(nbformat.v4.new_markdown_cell(before))
                cells.append(nbformat.v4.new_markdown_cell(f"**Your answer to exercise `{label}`.**"))
                rest = text[start.end():]
                if END.search(rest):  # a solution of prose only, closed in the same cell
                    label = None
                    after = rest[END.search(rest).end():].strip()
                    if after:
                        cells.append(nbformat.v4.new_markdown_cell(after))
                continue
            if label is None and text.strip():
                cell.source = text.strip()
                cells.append(cell)
            continue
        if label is None:
            cells.append(cell)
            continue
        stub, check = split_solution_cell(cell.source, label)
        cells.append(nbformat.v4.new_code_cell(stub))
        if check:
            checked += 1
            check_cell = nbformat.v4.new_code_cell(
                f"# Check for exercise {label}: run it after your solution.\n{check}"
            )
            check_cell.metadata["tags"] = ["check"]
            cells.append(check_cell)
        else:
            unchecked += 1
    notebook.cells = cells
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"
    return notebook, checked, unchecked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="chapters (default: every chapter in _toc.yml)")
    parser.add_argument("--output", default=str(OUTPUT_DIR), help="folder for the student notebooks")
    arguments = parser.parse_args(argv)
    output = Path(arguments.output)
    output.mkdir(parents=True, exist_ok=True)
    paths = [Path(p).resolve() for p in arguments.notebooks] or chapters_in_toc()
    for path in paths:
        notebook, checked, unchecked = make_assignment(path)
        nbformat.write(notebook, output / path.name)
        note = f", {unchecked} without a check yet" if unchecked else ""
        print(f"{output.name}/{path.name}: {checked} checked solution cell(s){note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
