"""Make one student notebook per chapter: solutions replaced by stubs, each followed by its check.

Usage (from the repository root, through the Makefile: ``make assignments``)::

    .venv/bin/python tools/make_assignments.py            # every chapter in _toc.yml
    .venv/bin/python tools/make_assignments.py book/softmax.ipynb

Writes ``_build/assignments/<chapter>.ipynb``, outputs cleared. In a chapter, an exercise's worked
solution sits between the ``solution-start`` and ``solution-end`` markers (sphinx-exercise). In the
assignment:

* the solution's prose is replaced by a "Your answer" cell;
* in a solution code cell, the lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` become a
  stub (``raise NotImplementedError`` inside a function, ``name = None`` for each name the solution
  assigns at the top level), and whatever follows ``# END SOLUTION`` moves to a check cell of its
  own, which calls :mod:`lossbook.exercises` and says precisely what is wrong;
* a solution code cell without markers is replaced by an empty stub (and reported: it has no check).

The student notebook and the nbgrader source below come from one walk over the chapter
(:func:`make_notebooks`): they have the same cells with the same nbgrader metadata, so nbgrader
grades a solved student notebook exactly as it grades its own release.

A data file that a chapter's code reads from its own folder (``book/bench_results.json``) is copied
beside the assignment, so that the assignment runs from its folder as the chapter runs from book/.

A student runs the notebook top to bottom: the check cells fail until the stubs are filled in.

A check may end with tests that would give the answer away (an expected value): the chapter puts
them between ``# BEGIN HIDDEN TESTS`` and ``# END HIDDEN TESTS`` after its visible checks. The
student notebook leaves them out; the nbgrader source keeps them, and nbgrader strips them from the
release and puts them back to grade.

The same run writes an nbgrader course in ``_build/nbgrader`` (``--nbgrader``; by default ``nbgrader/``
beside the ``--output`` folder): ``nbgrader_config.py``
and ``source/<chapter>/<chapter>.ipynb`` per chapter, with nbgrader's cell metadata:

* a solution code cell is an nbgrader solution cell: the names it assigns at the top level are set to
  None first, and its region is marked ``### BEGIN SOLUTION`` / ``### END SOLUTION`` (nbgrader
  replaces it by ``raise NotImplementedError()``);
* each check is an autograded test cell worth ``POINTS_PER_CHECK`` point (a line ``# points: N`` in
  the check sets another number), its hidden tests marked ``### BEGIN HIDDEN TESTS``;
* a solution's prose is a manually graded answer cell worth ``POINTS_PER_PROSE_ANSWER`` points;
* every other cell is read-only (locked).

The instructor's workflow (release, collect, autograde, export) is in book/instructors.md.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/, also when this file is loaded by path
from myst_to_markdown import convert_notebook  # noqa: E402  (MyST roles and directives to plain Markdown)

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = REPO_ROOT / "_build" / "assignments"
START = re.compile(r"```\{solution-start\}\s*(\S+)[^\n]*\n(?:[ \t]*:[^\n]*\n)*```")
END = re.compile(r"```\{solution-end\}[^\n]*\n```")
BEGIN_MARK, END_MARK = "# BEGIN SOLUTION", "# END SOLUTION"
ASSIGNED = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*=(?!=)")
HIDDEN_BEGIN, HIDDEN_END = "# BEGIN HIDDEN TESTS", "# END HIDDEN TESTS"
POINTS_LINE = re.compile(r"^[ \t]*#[ \t]*points:[ \t]*(\d+)[ \t]*$", re.MULTILINE)
POINTS_PER_CHECK = 1  # an autograded check cell, unless its check says "# points: N"
POINTS_PER_PROSE_ANSWER = 2  # a solution's prose, graded by hand on the three levels 0, 1, 2 (book/instructors.md)
NBGRADER_CONFIG = '''"""nbgrader's configuration for the course (written by tools/make_assignments.py)."""

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = "loss-functions"
# A stubbed solution raises, so that a student sees at once what is left to do.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# The longest chapter (training_run) runs in about two minutes on one core.
c.Execute.timeout = 900
'''
DATA_FILE = re.compile(r"""["']([\w.-]+\.(?:json|csv|npz|npy|txt))["']""")


def chapters_in_toc() -> list[Path]:
    toc = (REPO_ROOT / "_toc.yml").read_text(encoding="utf-8")
    paths = [REPO_ROOT / f"{name}.ipynb" for name in re.findall(r"file:\s*(\S+)", toc)]
    return [path for path in paths if path.exists()]


def stub_for(region: list[str], label: str, used: str | None = None) -> list[str]:
    """The lines that replace a solution region, keeping its indentation.

    At the top level, each name the region assigns is set to None, so that a check can say "is None". Given
    `used` (the code that runs after the region: its check and the later cells), only the names that code
    reads are listed: an intermediate step is the student's own business, not an answer to fill in.
    """
    indent = min((len(line) - len(line.lstrip()) for line in region if line.strip()), default=0)
    pad = " " * indent
    if indent:  # inside a function body
        return [f'{pad}raise NotImplementedError("exercise {label}: write this function")']
    names = []
    for line in region:
        match = ASSIGNED.match(line)
        if match:
            names += [n.strip() for n in match.group(1).split(",") if n.strip() not in names]
    if used is not None:
        names = [name for name in names if re.search(rf"(?<![\w.]){re.escape(name)}\b", used)]
    return [f"# Exercise {label}: your solution here."] + [f"{name} = None" for name in names]


def solution_parts(source: str) -> tuple[list[str], list[str], str] | None:
    """(lines before the solution region, the region's lines, the check after it) or None without markers."""
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == BEGIN_MARK]
    ends = [i for i, line in enumerate(lines) if line.strip() == END_MARK]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        return None
    begin, end = starts[0], ends[0]
    return lines[:begin], lines[begin + 1 : end], "\n".join(lines[end + 1 :]).strip("\n")


def hidden_regions(check: str) -> list[tuple[int, int]]:
    """(first, last) line numbers of each hidden-tests region of `check`, markers included."""
    regions, first = [], None
    for number, line in enumerate(check.splitlines()):
        if line.strip() == HIDDEN_BEGIN:
            if first is not None:
                raise ValueError(f"nested {HIDDEN_BEGIN!r} in:\n{check}")
            first = number
        elif line.strip() == HIDDEN_END:
            if first is None:
                raise ValueError(f"{HIDDEN_END!r} without {HIDDEN_BEGIN!r} in:\n{check}")
            regions.append((first, number))
            first = None
    if first is not None:
        raise ValueError(f"{HIDDEN_BEGIN!r} without {HIDDEN_END!r} in:\n{check}")
    return regions


def visible_check(check: str) -> str:
    """The check as a student sees it: without its hidden tests."""
    hidden = {n for first, last in hidden_regions(check) for n in range(first, last + 1)}
    return "\n".join(line for n, line in enumerate(check.splitlines()) if n not in hidden).strip("\n")


def nbgrader_check(check: str) -> str:
    """The check with nbgrader's hidden-tests markers (``### BEGIN HIDDEN TESTS``), indentation kept."""
    hidden_regions(check)  # validates the markers
    lines = []
    for line in check.splitlines():
        if line.strip() in (HIDDEN_BEGIN, HIDDEN_END):
            line = line.replace("# ", "### ", 1)
        lines.append(line)
    return "\n".join(lines)


def check_points(check: str) -> int:
    """The points of a check cell: ``# points: N`` in the check, else ``POINTS_PER_CHECK``."""
    found = POINTS_LINE.findall(check)
    if len(found) > 1:
        raise ValueError(f"more than one '# points:' line in:\n{check}")
    return int(found[0]) if found else POINTS_PER_CHECK


def split_solution_cell(source: str, label: str, later: str | None = None) -> tuple[str, str | None]:
    """(stub source, check source or None) for one solution code cell; hidden tests left out. `later`: the
    code of the cells after this one, whose names the stub sets to None together with the check's."""
    parts = solution_parts(source)
    if parts is None:
        return f"# Exercise {label}: your solution here.\n", None
    before, region, check = parts
    stub = before + stub_for(region, label, None if later is None else check + "\n" + later)
    check = visible_check(check)
    return "\n".join(stub).rstrip() + "\n", (check or None)


def exercise_parts(notebook: nbformat.NotebookNode):
    """The chapter's pieces in order: ("cell", None, cell) outside solutions, ("text", None, markdown) for
    part of a markdown cell outside solutions, ("prose", label, markdown) inside a solution, ("code",
    label, cell) for a solution's code cell, ("end", label, None) where a solution ends."""
    label = None
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            yield ("cell", None, cell) if label is None else ("code", label, cell)
            continue
        text = cell.source
        if not START.search(text) and not END.search(text):
            yield ("cell", None, cell) if label is None else ("prose", label, text)
            continue
        while text.strip():
            if label is None:
                start = START.search(text)
                yield "text", None, text[: start.start()] if start else text
                if not start:
                    break
                label, text = start.group(1), text[start.end():]
            else:
                end = END.search(text)
                yield "prose", label, text[: end.start()] if end else text
                if not end:
                    break
                yield "end", label, None
                label, text = None, text[end.end():]


def _nbgrader_metadata(grade_id: str, *, solution=False, grade=False, locked=True, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if grade:
        meta["points"] = points
    return meta


def nbgrader_solution_source(source: str, later: str | None = None) -> str | None:
    """A solution code cell's part for nbgrader (None without markers): the names its region assigns at the
    top level set to None first (so that a check says "is None"), the region in nbgrader's markers. `later`
    as for :func:`split_solution_cell`."""
    parts = solution_parts(source)
    if parts is None:
        return None
    before, region, check = parts
    indent = min((len(line) - len(line.lstrip()) for line in region if line.strip()), default=0)
    pad = " " * indent
    used = None if later is None else check + "\n" + later
    stubs = [] if indent else [line for line in stub_for(region, "", used) if not line.startswith("#")]
    lines = before + stubs + [f"{pad}### BEGIN SOLUTION"] + region + [f"{pad}### END SOLUTION"]
    return "\n".join(lines).rstrip() + "\n"


def make_notebooks(path: Path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode, int, int, int]:
    """The nbgrader source and the student notebook of the chapter at `path`, from one walk over its cells.

    Returns ``(source, student, points, checked, unchecked)``. The two notebooks have the same cells in
    the same order, with the same nbgrader metadata (``grade_id``, points, solution and locked flags), so
    that nbgrader grades a student notebook as it grades its own release. They differ only inside the
    exercises: the source keeps the worked solution in nbgrader's markers, the prose of the solution in
    a manually graded answer cell, and the hidden tests; the student notebook has a stub that says what
    to write (``name = None`` lines, or ``raise NotImplementedError`` inside a function), an empty answer
    cell, and the visible part of each check, tagged ``check``. `checked` and `unchecked` count the
    solution code cells with and without a check; `points` is the source's total.
    """
    notebook = nbformat.read(path, as_version=4)
    source_cells, student_cells, answers, checks = [], [], {}, {}
    points = checked = unchecked = 0

    def add(source_cell, student_cell, grade_id=None, **meta):
        metadata = _nbgrader_metadata(grade_id or f"{path.stem}-{len(source_cells)}", **meta)
        source_cell.metadata["nbgrader"] = metadata
        student_cell.metadata["nbgrader"] = dict(metadata)
        source_cells.append(source_cell)
        student_cells.append(student_cell)
        return source_cell

    parts = list(exercise_parts(notebook))
    code = [item.source if kind == "code" or (kind == "cell" and item.cell_type == "code") else ""
            for kind, _, item in parts]
    for index, (kind, label, item) in enumerate(parts):
        if kind == "cell":
            if item.cell_type == "code":
                item.outputs, item.execution_count = [], None
                item.metadata.pop("execution", None)
            add(item, copy.deepcopy(item))
        elif kind == "text":
            if item.strip():
                add(nbformat.v4.new_markdown_cell(item.strip()), nbformat.v4.new_markdown_cell(item.strip()))
        elif kind == "prose":
            if item.strip():
                if label not in answers:  # a solution's prose becomes one answer cell, where it begins
                    answers[label] = add(nbformat.v4.new_markdown_cell(""),
                                         nbformat.v4.new_markdown_cell(f"**Your answer to exercise `{label}`.**"),
                                         grade_id=f"{label}-answer", solution=True, grade=True, locked=False,
                                         points=POINTS_PER_PROSE_ANSWER)
                    points += POINTS_PER_PROSE_ANSWER
                answers[label].source = (answers[label].source + "\n\n" + item.strip()).strip()
        elif kind == "code":
            later = "\n".join(code[index + 1:])  # the code that runs after this cell
            solution = nbgrader_solution_source(item.source, later)
            stub, visible = split_solution_cell(item.source, label, later)
            checks[label] = checks.get(label, 0) + 1
            add(nbformat.v4.new_code_cell(solution or item.source), nbformat.v4.new_code_cell(stub),
                grade_id=f"{label}-solution-{checks[label]}", solution=True, locked=False)
            check = solution_parts(item.source)[2] if solution else ""
            if not check:
                unchecked += 1
                continue
            checked += 1
            student_check = nbformat.v4.new_code_cell(
                f"# Check for exercise {label}: run it after your solution.\n{visible}" if visible else
                f"# Check for exercise {label}: hidden, run by the grader.\n"
            )
            student_check.metadata["tags"] = ["check"]
            add(nbformat.v4.new_code_cell(nbgrader_check(check)), student_check,
                grade_id=f"{label}-check-{checks[label]}", grade=True, points=check_points(check))
            points += check_points(check)
    notebook.cells, notebooks = [], []
    for cells in (source_cells, student_cells):
        for cell in cells:
            cell.pop("id", None)
        copied = copy.deepcopy(notebook)
        copied.cells = cells
        convert_notebook(copied, f"book/{path.stem}")  # Jupyter and Colab render no MyST
        for index, cell in enumerate(copied.cells):
            cell["id"] = f"cell-{index}"
        notebooks.append(copied)
    return notebooks[0], notebooks[1], points, checked, unchecked


def make_assignment(path: Path) -> tuple[nbformat.NotebookNode, int, int]:
    """The student notebook for the chapter at `path`, with counts of checked and unchecked solution cells."""
    _, student, _, checked, unchecked = make_notebooks(path)
    return student, checked, unchecked


def make_nbgrader_source(path: Path) -> tuple[nbformat.NotebookNode, int]:
    """The nbgrader source notebook for the chapter at `path` (solutions and hidden tests in nbgrader's
    markers, points on the check and answer cells), and its total number of points."""
    source, _, points, _, _ = make_notebooks(path)
    return source, points


def write_nbgrader_course(paths: list[Path], root: Path) -> None:
    """Write the nbgrader course at `root`: nbgrader_config.py (unless there is one) and the source notebooks.

    In the class edition (``lossbook.edition`` in _config.yml) the notebooks' install cell installs the
    library from the student branch, as the student notebooks do: the public repository of a course whose
    chapters live in a private one holds no other branch (book/instructors.md).
    """
    root.mkdir(parents=True, exist_ok=True)
    config = root / "nbgrader_config.py"
    if not config.exists():  # an instructor's own settings stay
        config.write_text(NBGRADER_CONFIG, encoding="utf-8")
    import student_build  # here, not at the top: it imports install_cell, which imports this module

    course_config = student_build.read_config()
    class_edition = student_build.edition(course_config) == "class"
    for path in paths:
        notebook, total = make_nbgrader_source(path)
        if class_edition:
            student_build.to_student_branch(notebook, course_config)
        folder = root / "source" / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / path.name)
        for data in data_files(path):
            shutil.copyfile(data, folder / data.name)
        print(f"{shown(folder / path.name)}: nbgrader source, {total} point(s)")


def data_files(path: Path) -> list[Path]:
    """The files beside the chapter at `path` that its code cells name (for example "bench_results.json")."""
    notebook = nbformat.read(path, as_version=4)
    names = {name for cell in notebook.cells if cell.cell_type == "code" for name in DATA_FILE.findall(cell.source)}
    return sorted(path.parent / name for name in names if (path.parent / name).is_file())


def shown(path: Path) -> str:
    """`path` as the user can type it: relative to the current folder when it lies inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="chapters (default: every chapter in _toc.yml)")
    parser.add_argument("--output", default=str(OUTPUT_DIR), help="folder for the student notebooks")
    parser.add_argument("--nbgrader", default=None,
                        help="folder for the nbgrader course (default: nbgrader/ beside --output, _build/nbgrader)")
    arguments = parser.parse_args(argv)
    output = Path(arguments.output)
    output.mkdir(parents=True, exist_ok=True)
    paths = [Path(p).resolve() for p in arguments.notebooks] or chapters_in_toc()
    for path in paths:
        notebook, checked, unchecked = make_assignment(path)
        nbformat.write(notebook, output / path.name)
        for data in data_files(path):
            shutil.copyfile(data, output / data.name)
        note = f", {unchecked} without a check yet" if unchecked else ""
        print(f"{shown(output / path.name)}: {checked} checked solution cell(s){note}")
    nbgrader_root = Path(arguments.nbgrader) if arguments.nbgrader else output.resolve().parent / "nbgrader"
    write_nbgrader_course(paths, nbgrader_root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
