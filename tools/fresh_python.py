"""Run chapters as a student on Colab does: in a new Python without lossbook, through the install cell.

Usage (from the repository root; ``make colab-check`` runs the first line)::

    .venv/bin/python tools/fresh_python.py                          # every chapter of _toc.yml
    .venv/bin/python tools/fresh_python.py book/performance.ipynb   # some chapters
    .venv/bin/python tools/fresh_python.py --keep /tmp/fresh book/softmax.ipynb   # keep the folder

A chapter opened on Colab runs in a Python where ``import lossbook`` fails, in a folder (``/content``)
that holds the notebook and nothing else. Its first code cell (tools/install_cell.py) then installs
lossbook from the repository and downloads the data files the chapter reads. This tool does the same
here, with no network but the package index:

1. it clones the repository's last commit into a temporary folder: what GitHub would serve (commit
   first; the working tree's changes are not in the clone);
2. it makes a new virtual environment with the Python that runs this script and installs only
   ``ipykernel`` (the version requirements.txt pins) into it, so that it can run a kernel: no NumPy, no
   lossbook, nothing else;
3. for each chapter, it copies the notebook alone into an empty folder, points its install cell at
   the clone instead of GitHub (``git+file://`` for the library, ``file://`` for the data files; the
   cell is otherwise the one a student runs), and executes it top to bottom in that Python's kernel.
   The first chapter's cell installs lossbook and its dependencies from the package index; the
   others find it installed, as on a Colab runtime that stays up;
4. it prints each chapter's time and, for a chapter that fails, its first failing cell; the exit
   status is 1 if any chapter failed.

What it cannot show: GitHub itself (no network here), Colab's Python version, and Colab's
preinstalled packages. Colab has NumPy, SciPy, SymPy and Matplotlib already; this Python has none of
them, so it is the stricter test of what the install cell brings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/, also when this file is loaded by path
from execute_notebooks import TIMEOUT_SECONDS  # noqa: E402
from install_cell import TAG, chapters_in_toc, git_url, raw_url, read_config  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
KERNEL_NAME = "lossbook-fresh-python"


def pinned(package: str, root: Path = REPO_ROOT) -> str:
    """The requirement line of `package` in requirements.txt (``ipykernel==7.4.0``)."""
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if re.match(rf"{re.escape(package)}==", line.strip(), re.I):
            return line.split("#")[0].strip()
    raise SystemExit(f"requirements.txt pins no {package}")


def clone(root: Path, into: Path) -> Path:
    """A clone of the last commit of the repository at `root`, in `into`/repository."""
    target = into / "repository"
    subprocess.run(["git", "clone", "--quiet", str(root), str(target)], check=True)
    return target


def fresh_environment(into: Path) -> Path:
    """A new virtual environment in `into`/python with ipykernel only, registered as a Jupyter kernel
    under `into`/jupyter (which JUPYTER_PATH must name). Returns its python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(into / "python")
    python = into / "python" / "bin" / "python"
    # Colab's pip is recent; the one venv bundles with Python 3.11 cannot read git+file:// requirements.
    # The Makefile does the same for the course's own environment (`make install`).
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "pip"],
                   check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    pinned("ipykernel")], check=True)
    # The course's kernel settings (no "Kernel is running over TCP without encryption" at each start).
    (into / "python" / "etc" / "ipython").mkdir(parents=True)
    shutil.copyfile(REPO_ROOT / "tools" / "ipython_kernel_config.py",
                    into / "python" / "etc" / "ipython" / "ipython_kernel_config.py")
    spec = into / "jupyter" / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "A new Python without lossbook", "language": "python",
    }), encoding="utf-8")
    return python


def as_on_colab(notebook: nbformat.NotebookNode, config: dict, repository: Path) -> nbformat.NotebookNode:
    """`notebook` with its install cell pointed at the clone `repository` instead of GitHub."""
    cells = [cell for cell in notebook.cells if TAG in cell.metadata.get("tags", [])]
    if len(cells) != 1:
        raise SystemExit(f"expected one install cell (tag {TAG!r}), found {len(cells)}: run tools/install_cell.py")
    source = cells[0].source
    if git_url(config) not in source:
        raise SystemExit(f"the install cell does not install from {git_url(config)}: run tools/install_cell.py")
    source = source.replace(git_url(config), f"git+{repository.as_uri()}")
    if "urlretrieve(" in source:
        source = source.replace(raw_url(config, ""), repository.as_uri() + "/")
    cells[0].source = source
    return notebook


def run_chapter(path: Path, folder: Path, config: dict, repository: Path) -> tuple[bool, float, str]:
    """Execute the clone's copy of the chapter `path` alone in the empty `folder` with the fresh
    kernel. Returns (passed, seconds, what failed)."""
    folder.mkdir(parents=True)
    notebook = as_on_colab(nbformat.read(path, as_version=4), config, repository)
    nbformat.write(notebook, folder / path.name)  # what the student has: the notebook, alone
    client = NotebookClient(notebook, kernel_name=KERNEL_NAME, timeout=TIMEOUT_SECONDS,
                            resources={"metadata": {"path": str(folder)}})
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        lines = [line for line in str(error).splitlines() if line.strip()]
        return False, time.perf_counter() - start, "\n".join(lines[-6:])
    return True, time.perf_counter() - start, ""


def kernel_environment(into: Path, python: Path) -> None:
    """Set this process's environment for the fresh kernel: found through JUPYTER_PATH, its python
    first on PATH (``%pip`` installs into it), no backend or thread setting inherited from make."""
    os.environ["JUPYTER_PATH"] = str(into / "jupyter")
    os.environ["PATH"] = str(python.parent) + os.pathsep + os.environ.get("PATH", "")
    for name in ("MPLBACKEND", "VIRTUAL_ENV", "PYTHONPATH"):
        os.environ.pop(name, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="chapters (default: every chapter in _toc.yml)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    arguments = parser.parse_args(argv)
    chapters = [Path(p).resolve() for p in arguments.notebooks] or chapters_in_toc()
    outside = [str(path) for path in chapters if not path.is_relative_to(REPO_ROOT)]
    if outside:
        parser.error(f"not chapters of this repository: {', '.join(outside)}")
    if arguments.keep:
        if arguments.keep.exists():
            shutil.rmtree(arguments.keep)
        arguments.keep.mkdir(parents=True)
    into = arguments.keep.resolve() if arguments.keep else Path(tempfile.mkdtemp(prefix="fresh-python-"))
    try:
        repository = clone(REPO_ROOT, into)
        config = read_config(repository)
        start = time.perf_counter()
        python = fresh_environment(into)
        print(f"a new Python ({sys.version.split()[0]}, ipykernel only) in {time.perf_counter() - start:.0f} s")
        kernel_environment(into, python)
        failed = []
        for path in chapters:
            relative = path.relative_to(REPO_ROOT)
            passed, seconds, what = run_chapter(repository / relative, into / "content" / path.stem, config,
                                                repository)
            print(f"{seconds:7.1f} s  {relative}  {'ok' if passed else 'FAILED'}", flush=True)
            if not passed:
                failed.append(str(relative))
                print("    " + what.replace("\n", "\n    "))
        print(f"{len(chapters) - len(failed)} of {len(chapters)} chapter(s) ran top to bottom in a new Python")
        return 1 if failed else 0
    finally:
        if not arguments.keep:
            shutil.rmtree(into, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
