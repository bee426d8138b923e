"""Give every chapter a first code cell that installs lossbook where it is missing (Colab), from _config.yml.

Usage (from the repository root)::

    .venv/bin/python tools/install_cell.py            # every chapter in _toc.yml
    .venv/bin/python tools/install_cell.py book/softmax.ipynb
    .venv/bin/python tools/install_cell.py --check    # exit status 1 if a chapter lacks the current cell

A chapter opened on Colab (its launch button, or a student notebook) runs in a Python without the
course's library, and its imports fail. The cell this tool writes installs it, with the extras the
chapters import (matplotlib, scikit-learn, IPython), straight from the repository::

    %pip install --quiet "lossbook[plot,digits,notebook,half] @ git+<repository.url>@<repository.branch>"

The address and branch are read from ``_config.yml`` (``repository.url`` and ``repository.branch``,
the lines a fork changes; run this tool again after changing them). A chapter that reads a data
file from its own folder (``performance`` reads ``bench_results.json``, ``calibration`` and
``detector_losses`` read ``detector_experiments.json``: the names tools/make_assignments.py finds in
its code) has no such
folder on Colab, so its cell also downloads each such file that is not beside the notebook, from
the same branch of the repository (the raw-file address of GitHub,
``https://raw.githubusercontent.com/OWNER/REPO/BRANCH/book/NAME``).
Where lossbook imports (``make lab``, nbval, Binder, which installs requirements.txt) the cell does
nothing and prints nothing, so the stored outputs and nbval are unaffected. The cell carries the
tag ``remove-cell``: the websites and the PDF leave it out. It is the chapter's first code cell,
placed right after the title cell, and is recognised by its tag ``install-lossbook``: running the
tool again replaces it in place (idempotent: an up-to-date chapter is not rewritten).

``tools/fresh_python.py`` runs chapters as Colab would: in a new Python where lossbook is missing,
through this cell, installing from a clone of the repository (see its docstring).

After adding the cell, re-execute the chapter (``tools/execute_notebooks.py``): execution counts
shift by one.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/, also when this file is loaded by path
from execute_notebooks import detect_indent  # noqa: E402
from make_assignments import data_files  # noqa: E402  (the files beside a chapter that its code reads)

REPO_ROOT = Path(__file__).resolve().parent.parent
TAG = "install-lossbook"
TAGS = ["remove-cell", TAG]
EXTRAS = "plot,digits,notebook,half"
CELL_ID = "install-lossbook"


def git_url(config: dict, branch: str | None = None) -> str:
    """pip's address of `branch` (default: the configured branch) of the repository of `config` (_config.yml)."""
    repository = config["repository"]
    url = repository["url"].rstrip("/")
    if not re.fullmatch(r"https://[\w.-]+/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"_config.yml: repository.url must be a repository's https address, got {url!r}")
    return f"git+{url}@{branch or repository.get('branch') or 'main'}"


def requirement(config: dict) -> str:
    """The pip requirement that installs lossbook from the repository and branch of `config` (_config.yml)."""
    return f"lossbook[{EXTRAS}] @ {git_url(config)}"


def raw_url(config: dict, path: str, branch: str | None = None) -> str:
    """The address of the file `path` (relative to the repository root) on `branch` (default: the
    configured branch) of the repository of `config`, as GitHub serves raw files."""
    repository = config["repository"]
    url = repository["url"].rstrip("/")
    match = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+)", url)
    if not match:
        raise ValueError(f"_config.yml: a chapter reads a data file, which the install cell downloads from "
                         f"GitHub; repository.url must be a https://github.com/OWNER/REPO address, got {url!r}")
    return f"https://raw.githubusercontent.com/{match.group(1)}/{branch or repository.get('branch') or 'main'}/{path}"


def install_source(config: dict, data: list[str] | tuple[str, ...] = ()) -> str:
    """The install cell's source for `config` (_config.yml read as a dict), for a chapter that reads the
    files named `data` from its own folder (book/)."""
    source = (
        "# On Colab, or wherever the course's library is missing, this installs lossbook from the course's\n"
        "# repository (about a minute). Where lossbook is installed (make lab, Binder) it does nothing.\n"
        "try:\n"
        "    import lossbook\n"
        "except ModuleNotFoundError:\n"
        f'    %pip install --quiet "{requirement(config)}"\n'
        "    import lossbook  # %pip reports a failed install without stopping: stop here, below its message"
    )
    if data:
        names = ", ".join(f'"{name}"' for name in data)
        source += (
            "\n# This chapter reads data from the repository's book/ folder. Where a file is not beside the\n"
            "# notebook (Colab), fetch it from the repository.\n"
            "import pathlib, urllib.request\n"
            f"for name in [{names}]:\n"
            "    if not pathlib.Path(name).is_file():\n"
            f'        urllib.request.urlretrieve("{raw_url(config, "book/")}" + name, name)'
        )
    return source


def chapter_source(path: Path, config: dict) -> str:
    """The install cell's source for the chapter at `path`: with the downloads of its data files, if any."""
    return install_source(config, [data.name for data in data_files(path)])


def read_config(root: Path = REPO_ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def chapters_in_toc(root: Path = REPO_ROOT) -> list[Path]:
    toc = (root / "_toc.yml").read_text(encoding="utf-8")
    paths = [root / f"{name}.ipynb" for name in re.findall(r"file:\s*(\S+)", toc)]
    return [path for path in paths if path.exists()]


def is_install_cell(cell) -> bool:
    return cell.cell_type == "code" and TAG in cell.metadata.get("tags", [])


def with_install_cell(notebook: nbformat.NotebookNode, source: str) -> bool:
    """Make the install cell with `source` the first code cell of `notebook`; True if anything changed."""
    code = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    if code and is_install_cell(notebook.cells[code[0]]):
        cell = notebook.cells[code[0]]
        if cell.source == source and cell.metadata.get("tags") == TAGS and cell.outputs == []:
            if not any(is_install_cell(other) for other in notebook.cells[code[0] + 1:]):
                return False
    notebook.cells = [cell for cell in notebook.cells if not is_install_cell(cell)]
    first_code = next((i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"), len(notebook.cells))
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS)})
    cell["id"] = CELL_ID
    notebook.cells.insert(first_code, cell)
    return True


def apply(path: Path, config: dict) -> bool:
    """Add or update the install cell of the notebook at `path`; True if the file changed."""
    original = path.read_text(encoding="utf-8")
    notebook = nbformat.reads(original, as_version=nbformat.NO_CONVERT)
    if not with_install_cell(notebook, chapter_source(path, config)):
        return False
    text = nbformat.writes(notebook, indent=detect_indent(original))
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="chapters (default: every chapter in _toc.yml)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a chapter is not up to date")
    arguments = parser.parse_args(argv)
    config = read_config()
    paths = [Path(p).resolve() for p in arguments.notebooks] or chapters_in_toc()
    stale = []
    for path in paths:
        if arguments.check:
            notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
            changed = with_install_cell(notebook, chapter_source(path, config))
        else:
            changed = apply(path, config)
        if changed:
            stale.append(path)
            print(f"{path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}: "
                  + ("install cell missing or out of date" if arguments.check else "install cell written"))
    if arguments.check and stale:
        print("Run: .venv/bin/python tools/install_cell.py, then tools/execute_notebooks.py on those chapters.")
        return 1
    if not arguments.check:
        print(f"{len(stale)} of {len(paths)} chapter(s) changed"
              + ("; re-execute them with tools/execute_notebooks.py" if stale else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
