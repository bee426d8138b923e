"""The chapters are stored executed: every code cell ran, once, in order, without error.

nbval (``make test``) compares stored outputs with fresh ones, but a notebook saved without outputs
passes it while checking nothing. These tests close that gap: they read the stored files only (no
kernel), so they are fast. Regenerate the outputs with ``make execute``.
"""

from pathlib import Path

import nbformat
import pytest

BOOK_DIR = Path(__file__).resolve().parent.parent / "book"
NOTEBOOKS = sorted(BOOK_DIR.glob("*.ipynb"))


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]


@pytest.fixture(params=NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def notebook(request):
    return nbformat.read(request.param, as_version=4)


def test_kernelspec_is_python3(notebook):
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"


def test_every_code_cell_was_executed(notebook):
    unexecuted = [cell.source.splitlines()[0] for cell in code_cells(notebook) if cell.execution_count is None]
    assert not unexecuted, f"code cells without an execution count (run `make execute`): {unexecuted}"


def test_execution_counts_run_one_to_n_in_order(notebook):
    counts = [cell.execution_count for cell in code_cells(notebook)]
    assert counts == list(range(1, len(counts) + 1)), (
        "the notebook was not run once, top to bottom, in a fresh kernel (run `make execute`)"
    )


def test_no_error_outputs(notebook):
    errors = [
        f"{output.get('ename')}: {output.get('evalue')}"
        for cell in code_cells(notebook)
        if "raises-exception" not in cell.metadata.get("tags", [])
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert not errors, f"stored error outputs: {errors}"

