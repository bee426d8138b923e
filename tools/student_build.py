"""Sphinx extension behind ``make book-student``: the same website with no solution anywhere.

Active only when the environment variable ``LOSSBOOK_STUDENT_BUILD`` is ``1``; the normal build
loads it and it does nothing. sphinx-exercise's own ``hide_solutions`` crashes on gated solutions
(``solution-start`` / ``solution-end``, sphinx-exercise issue 89), so this removes the merged
solution nodes itself, right after sphinx-exercise builds them and before anything reads the
doctree: the pages and the search index never see a solution. It also turns off everything else
that would hand the solutions out: the copied sources (``_sources/``), the notebook download
button, and the launch buttons of the open edition (they open the full notebook from the repository;
the class edition's open the student notebooks instead, see below).
Stored outputs are used as they are (the chapters are executed and checked by ``make test``).

Two editions, one setting: ``lossbook.edition`` in ``_config.yml`` says what the website workflow
(``.github/workflows/pages.yml``) publishes.

* ``open``: the whole course at the root (solutions in dropdowns, ``_sources``, the PDF), and this
  student build at ``/student/``, without launch buttons. For self-learners; nothing is hidden.
* ``class``: this student build alone, at the root. Nothing on the host holds a solution: no full site,
  no ``_sources``, no notebook, no PDF. The launch buttons (Binder, Colab) open the student notebooks
  (``make assignments``), which the workflow pushes to the branch ``lossbook.student_branch`` (a tree
  with ``book/<chapter>.ipynb`` stubbed, the library and the pins: see :func:`write_student_tree`). The
  repository button is dropped: it would lead to the chapters with their solutions.

Used as a script by the workflow (and by hand)::

    .venv/bin/python tools/student_build.py edition              # prints open or class
    .venv/bin/python tools/student_build.py student-tree DIR     # the student branch's files, from _build/assignments
    .venv/bin/python tools/student_build.py site DIR             # the Pages site of the edition, from _build
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

import nbformat
import yaml
from sphinx.transforms import SphinxTransform
from sphinx.util.nodes import NodeMatcher
from sphinx_exercise.nodes import solution_node
from sphinx_exercise.transforms import MergeGatedSolutions

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/, also when this file is loaded by path
from install_cell import git_url, raw_url  # noqa: E402  (where an install cell installs from and downloads)
from myst_to_markdown import site_url  # noqa: E402  (the website's address)

ENVIRONMENT_VARIABLE = "LOSSBOOK_STUDENT_BUILD"
REPO_ROOT = Path(__file__).resolve().parent.parent
EDITIONS = ("open", "class")
PDF_NAME = "loss-functions-in-deep-learning.pdf"
# What a student needs beside the notebooks: the library, its pins, Binder's Python.
STUDENT_TREE_FILES = ("README.md", "pyproject.toml", "requirements.txt", "runtime.txt")
# The student branch's README (the repository's own describes make targets and a Makefile the branch
# does not hold). {site}: the website's address; {branch}: the student branch.
STUDENT_README = """# Loss Functions in Deep Learning: the student notebooks

This branch holds one notebook per chapter of the course, in `book/`, each with its exercises to
solve: a solution cell to fill in (its names start as `None`), then a check cell that says what is
still wrong. The chapters themselves, with their explanations, are on the website: {site}

## Run the notebooks

- **Colab or Binder:** the launch buttons at the top of each chapter page of the website open the
  chapter's notebook from this branch. On Colab, the notebook's first code cell installs the
  course's library, `lossbook`, from this branch (about a minute) and fetches the data files it reads.
- **On your computer** (Python 3.11 or newer), from the root of this branch:

  ```bash
  python3 -m venv .venv
  .venv/bin/pip install -r requirements.txt   # the pinned packages and lossbook itself (src/)
  .venv/bin/jupyter lab book/
  ```

Run a notebook from top to bottom. The check cells fail until you fill in the solution cells above
them, and their messages say what to fix. Hand in the notebook as your instructor asks: it keeps the
cells that nbgrader grades.

The branch is written anew from the course at every change (`{branch}`, one commit); do not commit
your work to it.
"""


def read_config(root: Path = REPO_ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def edition(config: dict) -> str:
    """The edition `config` (_config.yml) asks for: "open" (the default) or "class".

    The environment variable ``LOSSBOOK_EDITION`` overrides it for one build, to preview the other
    edition locally: ``LOSSBOOK_EDITION=class make book-student``.
    """
    chosen = os.environ.get("LOSSBOOK_EDITION") or (config.get("lossbook") or {}).get("edition", "open")
    if chosen not in EDITIONS:
        raise ValueError(f"_config.yml: lossbook.edition must be one of {EDITIONS}, got {chosen!r}")
    return chosen


def student_branch(config: dict) -> str:
    """The branch that holds the student notebooks in the class edition (lossbook.student_branch)."""
    branch = (config.get("lossbook") or {}).get("student_branch", "student")
    if branch == (config.get("repository") or {}).get("branch", "main"):
        raise ValueError("_config.yml: lossbook.student_branch must differ from repository.branch (the chapters)")
    return branch


def student_build():
    return os.environ.get(ENVIRONMENT_VARIABLE) == "1"


class DropSolutions(SphinxTransform):
    """Remove every solution (gated or not) from the document."""

    # Right after sphinx-exercise merges gated solutions into one node each.
    default_priority = MergeGatedSolutions.default_priority + 1

    def apply(self):
        if not student_build():
            return
        for node in list(self.document.findall(NodeMatcher(solution_node))):
            node.parent.remove(node)


def student_theme_options(options: dict, course_config: dict) -> dict:
    """The theme options of the student build: no download button; launch buttons only in the class
    edition, opening the student branch (whose book/<chapter>.ipynb are the student notebooks)."""
    options = dict(options or {})
    options["use_download_button"] = False
    if edition(course_config) == "class":
        options["repository_branch"] = student_branch(course_config)
        options["use_repository_button"] = False
    else:
        options["launch_buttons"] = {}
    return options


def configure(app, config):
    if not student_build():
        return
    config.html_copy_source = False
    config.html_show_sourcelink = False
    config.nb_execution_mode = "off"
    config.html_theme_options = student_theme_options(config.html_theme_options, read_config())


def setup(app):
    app.connect("config-inited", configure)
    app.add_transform(DropSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def to_student_branch(notebook: nbformat.NotebookNode, config: dict) -> nbformat.NotebookNode:
    """`notebook` with its install cell (tools/install_cell.py) pointed at the student branch: the library
    and the data files come from there, not from the chapters' branch. Returns `notebook`, changed in place."""
    chapters_at, student_at = f'{git_url(config)}"', f'{git_url(config, student_branch(config))}"'
    for cell in notebook.cells:
        if "install-lossbook" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace(chapters_at, student_at)
            if "urlretrieve(" in cell.source:
                cell.source = cell.source.replace(
                    raw_url(config, "book/"), raw_url(config, "book/", branch=student_branch(config)))
    return notebook


def write_student_tree(output: Path, assignments: Path, root: Path = REPO_ROOT) -> list[str]:
    """Write the student branch's files into `output`: the student notebooks (and their data files) as
    book/<chapter>.ipynb, the library (src/) and the files that install it. Returns the paths written."""
    notebooks = sorted(assignments.glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(f"no student notebooks in {assignments}: run `make assignments` first")
    if output.exists():
        shutil.rmtree(output)
    (output / "book").mkdir(parents=True)
    config = read_config(root)
    # The install cell (tools/install_cell.py) installs lossbook from the chapters' branch; a student
    # notebook installs it from the student branch, which holds the library it was built with (and is
    # the only branch a public repository holds when the chapters live in a private one).
    # Its data files (the raw-file addresses of the same cell) come from the student branch too.
    for path in assignments.iterdir():
        if path.suffix == ".ipynb":
            notebook = nbformat.read(path, as_version=4)
            nbformat.write(to_student_branch(notebook, config), output / "book" / path.name)
        elif path.is_file():
            shutil.copyfile(path, output / "book" / path.name)
    for name in STUDENT_TREE_FILES:
        if name == "README.md":
            (output / name).write_text(STUDENT_README.format(site=site_url(config), branch=student_branch(config)),
                                       encoding="utf-8")
        else:
            shutil.copyfile(root / name, output / name)
    shutil.copytree(root / "src", output / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file())


def assemble_site(output: Path, chosen: str, build: Path = REPO_ROOT / "_build") -> None:
    """Put the Pages site of edition `chosen` into `output`, from the builds in `build`."""
    full, student = build / "html", build / "student" / "_build" / "html"
    pdf = build / "latex" / PDF_NAME
    if output.exists():
        shutil.rmtree(output)
    if chosen == "open":
        for needed, command in ((full, "make book"), (student, "make book-student"), (pdf, "make pdf")):
            if not needed.exists():
                raise SystemExit(f"the open edition needs {needed}: run `{command}` first")
        shutil.copytree(full, output)
        shutil.copytree(student, output / "student")
        shutil.copyfile(pdf, output / PDF_NAME)
        return
    if not (student / "index.html").is_file():
        raise SystemExit(f"the class edition needs {student}: run `make book-student` first")
    shutil.copytree(student, output)
    leaks = [p.relative_to(output).as_posix() for p in output.rglob("*")
             if p.name == "_sources" or p.suffix in {".ipynb", ".pdf", ".tex"}]
    if leaks:
        shutil.rmtree(output)
        raise SystemExit(f"the student build holds files that may carry solutions: {leaks[:5]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The two editions of the course website (see the module's doc).")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("edition", help="print the edition _config.yml asks for: open or class")
    commands.add_parser("student-branch", help="print the branch of the student notebooks")
    tree = commands.add_parser("student-tree", help="write the student branch's files into DIR")
    tree.add_argument("output", type=Path)
    tree.add_argument("--assignments", type=Path, default=REPO_ROOT / "_build" / "assignments")
    site = commands.add_parser("site", help="assemble the Pages site of the edition into DIR")
    site.add_argument("output", type=Path)
    site.add_argument("--edition", choices=EDITIONS, help="default: lossbook.edition in _config.yml")
    arguments = parser.parse_args(argv)
    config = read_config()
    if arguments.command == "edition":
        print(edition(config))
    elif arguments.command == "student-branch":
        print(student_branch(config))
    elif arguments.command == "student-tree":
        written = write_student_tree(arguments.output, arguments.assignments)
        print(f"{arguments.output}: {len(written)} files for the branch {student_branch(config)}")
    else:
        chosen = arguments.edition or edition(config)
        assemble_site(arguments.output, chosen)
        print(f"{arguments.output}: the {chosen} edition's website")
    return 0


if __name__ == "__main__":
    sys.exit(main())
