"""Regenerate the stored outputs of the course's notebooks, deterministically.

Usage (from the repository root, through the Makefile: ``make execute``)::

    .venv/bin/python tools/execute_notebooks.py              # every book/*.ipynb
    .venv/bin/python tools/execute_notebooks.py book/softmax.ipynb

Each notebook runs top to bottom in a fresh ``python3`` kernel of the active environment, in its own
folder, with ``PYTHONHASHSEED=0`` (printed sets of strings then come out in the same order as under
nbval, see ``conftest.py``). Only outputs and execution counts are written back: sources, notebook
metadata and cell metadata stay as they are, and the volatile ``execution`` timestamps that nbclient
records are dropped, so running this twice gives byte-identical files (``jupyter execute --inplace``
does not: it rewrites timestamps in every cell on every run).

Matplotlib's inline PNGs carry no timestamp (only ``Software: Matplotlib version...``), so they are
byte-identical from run to run on the same pinned versions (run it twice: `git status` stays clean).

A cell that raises stops the run with a non-zero exit status, unless it is tagged
``raises-exception`` (the tag nbval and Jupyter Book honour too).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

REPO_ROOT = Path(__file__).resolve().parent.parent
BOOK_DIR = REPO_ROOT / "book"
KERNEL_NAME = "python3"
TIMEOUT_SECONDS = 900


def kernel_environment() -> dict[str, str]:
    """The environment the kernel inherits: this one, made reproducible."""
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    # One BLAS thread, as under nbval (see conftest.py): the same summation order, no oversubscription.
    env["OPENBLAS_NUM_THREADS"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    # A non-interactive backend (set by CI images or a parent `make`) would suppress the inline PNGs.
    env.pop("MPLBACKEND", None)
    # The kernel must be the active venv's python, whatever jupyter's kernelspec search finds first.
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    return env


def detect_indent(text: str) -> int:
    """The JSON indentation of a stored notebook (nbformat writes 1; JupyterLab writes 1)."""
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped:
            return len(line) - len(stripped)
    return 1


def execute(path: Path) -> None:
    """Execute the notebook at ``path`` and store its outputs in place."""
    original_text = path.read_text(encoding="utf-8")
    stored = nbformat.reads(original_text, as_version=nbformat.NO_CONVERT)
    if stored.metadata.get("kernelspec", {}).get("name") != KERNEL_NAME:
        raise SystemExit(f"{path}: kernelspec name must be {KERNEL_NAME!r}")

    # Run a copy, so that nothing nbclient adds (metadata, language_info) reaches the stored file.
    running = copy.deepcopy(stored)
    client = NotebookClient(
        running,
        kernel_name=KERNEL_NAME,
        timeout=TIMEOUT_SECONDS,
        allow_errors=False,  # cells tagged `raises-exception` are still allowed to raise
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(cwd=str(path.parent), env=kernel_environment())
    # A print may reach the notebook in one stream chunk or several, depending on when the kernel
    # flushes: merge consecutive chunks so that the stored file does not depend on timing.
    CoalesceStreamsPreprocessor().preprocess(running, {})

    for stored_cell, run_cell in zip(stored.cells, running.cells, strict=True):
        if stored_cell.cell_type != "code":
            continue
        stored_cell.outputs = run_cell.outputs
        stored_cell.execution_count = run_cell.execution_count
        stored_cell.metadata.pop("execution", None)

    text = nbformat.writes(stored, indent=detect_indent(original_text))
    if not text.endswith("\n"):
        text += "\n"
    if text != original_text:
        path.write_text(text, encoding="utf-8")


def shown(path: Path) -> str:
    """A path as printed: relative to the repository root when it is inside it."""
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def notebooks_from(arguments: list[str]) -> list[Path]:
    if arguments:
        return [Path(argument).resolve() for argument in arguments]
    return sorted(BOOK_DIR.glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to execute (default: book/*.ipynb)")
    arguments = parser.parse_args(argv)

    paths = notebooks_from(arguments.notebooks)
    if not paths:
        print("No notebooks found in book/.")
        return 0
    failed = []
    total_start = time.perf_counter()
    for path in paths:
        start = time.perf_counter()
        try:
            execute(path)
        except CellExecutionError as error:
            failed.append(path)
            print(f"FAILED {shown(path)}:\n{error}", file=sys.stderr)
            continue
        print(f"{time.perf_counter() - start:7.1f} s  {shown(path)}", flush=True)
    print(f"{time.perf_counter() - total_start:7.1f} s  total, {len(paths)} notebook(s)")
    if failed:
        print(f"{len(failed)} notebook(s) failed; their files were left unchanged.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
