"""Assignments: the stubbed notebook fails its checks, precisely; the chapter's solution passes them.

``tools/make_assignments.py`` turns each chapter into a student notebook. Here every chapter's
assignment is built; the ones with checks are executed, and every check cell must fail with an
:class:`~lossbook.exercises.ExerciseError` naming the exercise. The chapters themselves run the same
checks against their solutions (stored executed without errors: ``test_notebooks_stored.py``,
re-executed by nbval).

The execution test is marked ``slow``: ``make check`` leaves it out, ``make test`` runs it (on two
workers). It executes each stubbed notebook whole, because nothing cheaper shows the same thing
safely. A check needs the state the chapter builds before its exercises, and the exercises end
every chapter (no cell follows the last check), so stopping after the last check saves nothing.
A dependency analysis of the cells (names bound, used and modified) could leave out only about a
tenth of the cell time. The one large saving, the digits training in ``training_run`` (about 40 s of
about 140 s in all), passes arrays that the checks read (``X_train``, ``y_train``) to functions,
and only running it would show that it leaves them unchanged.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from nbclient import NotebookClient

from lossbook.exercises import ExerciseError, check_answer, check_function, compare

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_assignments", ROOT / "tools" / "make_assignments.py")
make_assignments = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_assignments)

CHAPTERS = make_assignments.chapters_in_toc()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_assignment_has_no_solution_left(chapter):
    notebook, checked, unchecked = make_assignments.make_assignment(chapter)
    text = "\n".join(cell.source for cell in notebook.cells)
    assert "{solution-start}" not in text and "{solution-end}" not in text
    assert "BEGIN SOLUTION" not in text
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    assert checked > 0, "a chapter without checked exercises"
    assert unchecked == 0, f"{unchecked} solution code cell(s) without # BEGIN/END SOLUTION and a check"


CHECKED = [c for c in CHAPTERS if make_assignments.make_assignment(c)[1] > 0]


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHECKED, ids=[c.stem for c in CHECKED])
def test_stubbed_notebook_fails_every_check(chapter, tmp_path):
    notebook, checked, _ = make_assignments.make_assignment(chapter)
    NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=300).execute(cwd=str(chapter.parent))
    checks = [cell for cell in notebook.cells if "check" in cell.metadata.get("tags", [])]
    assert len(checks) == checked
    for cell in checks:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert errors and errors[0].ename == "ExerciseError", cell.source
    non_check_errors = [
        o.ename for cell in notebook.cells if "check" not in cell.metadata.get("tags", [])
        for o in cell.get("outputs", []) if o.output_type == "error"
    ]
    assert not non_check_errors, f"cells other than checks failed: {non_check_errors}"


def test_split_solution_cell_inside_a_function():
    source = "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\n\n\ncheck(f)\n"
    stub, check = make_assignments.split_solution_cell(source, "ex-1")
    assert stub == 'def f(x):\n    raise NotImplementedError("exercise ex-1: write this function")\n'
    assert check == "check(f)"


def test_split_solution_cell_at_top_level():
    source = "a = 1\n# BEGIN SOLUTION\nb, c = 2, 3\nd = b + c\nd += 1\n# END SOLUTION\ncheck_answer(d, 6)\n"
    stub, check = make_assignments.split_solution_cell(source, "ex-2")
    assert stub == "a = 1\n# Exercise ex-2: your solution here.\nb = None\nc = None\nd = None\n"
    assert check == "check_answer(d, 6)"


def test_messages_say_what_is_wrong():
    with pytest.raises(ExerciseError, match=r"shape \(3, 1\); expected shape \(3,\)"):
        compare(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ExerciseError, match="dtype float64; expected float32"):
        compare(np.zeros(2), np.zeros(2, dtype=np.float32))
    with pytest.raises(ExerciseError, match=r"differs at index \(1,\): expected 2.0, got 5.0"):
        compare(np.array([1.0, 5.0]), np.array([1.0, 2.0]))
    with pytest.raises(ExerciseError, match="is None"):
        compare(None, 1.0)
    with pytest.raises(ExerciseError, match="raised ZeroDivisionError: division by zero\n  on one case"):
        check_function(lambda x: 1 / 0, lambda x: x, [("one case", (np.ones(2),))])


def test_a_correct_answer_passes(capsys):
    check_function(np.exp, np.exp, [("three numbers", (np.array([0.0, 1.0, 2.0]),))], name="exp")
    check_answer(0.5, 0.5, name="a half")
    assert capsys.readouterr().out == (
        "exp: 1 case agrees with the reference (relative tolerance 1e-07).\na half: correct.\n"
    )
