"""Assignments: the stubbed notebook fails its checks, precisely; the chapter's solution passes them.

``tools/make_assignments.py`` turns each chapter into a student notebook. Here every chapter's
assignment is built; the ones with checks are executed, and every check cell must fail with an
:class:`~lossbook.exercises.ExerciseError` naming the exercise. The chapters themselves run the same
checks against their solutions (stored executed without errors: ``test_notebooks_stored.py``,
re-executed by nbval). No visible check hands out its answer: a literal expected value or an expected
``True`` sits in a hidden test (``# BEGIN HIDDEN TESTS``), which the student copy leaves out and the
nbgrader source keeps (``tests/test_nbgrader.py`` grades it for real); so does a ``check_expression``
reference that types out the answer's formula (a visible one compares with an independent oracle).

The execution test is marked ``slow``: ``make check`` leaves it out, ``make test`` runs it (on two
workers). It executes each stubbed notebook whole, because nothing cheaper shows the same thing
safely. A check needs the state the chapter builds before its exercises, and the exercises end
every chapter (no cell follows the last check), so stopping after the last check saves nothing.
A dependency analysis of the cells (names bound, used and modified) could leave out only about a
tenth of the cell time. The one large saving, the digits training in ``training_run`` (about 40 s of
about 140 s in all), passes arrays that the checks read (``X_train``, ``y_train``) to functions,
and only running it would show that it leaves them unchanged.
"""

import ast
import importlib.util
from pathlib import Path

import nbformat
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
    NotebookClient(notebook, kernel_name="python3", allow_errors=True, timeout=900).execute(cwd=str(chapter.parent))
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


def test_the_stub_lists_only_the_names_that_later_code_reads():
    # An intermediate step (`_`, `scratch`) is the student's business; `d` is read by the check, `e` by a
    # later cell, so both start as None. `scratch.d` is an attribute, not the name `d`.
    source = "# BEGIN SOLUTION\n_ = 1\nscratch = 2\nd = 3\ne = 4\n# END SOLUTION\ncheck_answer(d, 3)\n"
    stub, _ = make_assignments.split_solution_cell(source, "ex-4", later="print(e, scratch_2, obj.scratch)")
    assert stub == "# Exercise ex-4: your solution here.\nd = None\ne = None\n"
    source = make_assignments.nbgrader_solution_source(source, later="print(e)")
    assert source.startswith("d = None\ne = None\n### BEGIN SOLUTION\n")


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


def test_hidden_tests_leave_the_student_copy_and_keep_nbgrader_markers():
    check = ("check_number(x, low=0.0)\n# BEGIN HIDDEN TESTS\ncheck_answer(x, 0.25)\n# END HIDDEN TESTS\n"
             "for n in range(2):\n    # BEGIN HIDDEN TESTS\n    check_answer(n, n)\n    # END HIDDEN TESTS\n")
    assert make_assignments.visible_check(check) == "check_number(x, low=0.0)\nfor n in range(2):"
    marked = make_assignments.nbgrader_check(check)
    assert marked.count("### BEGIN HIDDEN TESTS") == 2 and "    ### END HIDDEN TESTS" in marked
    source = "# BEGIN SOLUTION\nx = 0.25\n# END SOLUTION\n" + check
    stub, visible = make_assignments.split_solution_cell(source, "ex-3")
    assert "0.25" not in stub + visible
    with pytest.raises(ValueError, match="without"):
        make_assignments.visible_check("# BEGIN HIDDEN TESTS\ncheck_answer(x, 1)\n")


def test_points_default_to_one_per_check_and_can_be_set():
    assert make_assignments.check_points("check_answer(x, y)") == make_assignments.POINTS_PER_CHECK == 1
    assert make_assignments.check_points("# points: 3\ncheck_answer(x, y)") == 3


def test_nbgrader_solution_cell_sets_top_level_names_to_none_first():
    source = "a = 1\n# BEGIN SOLUTION\nb, c = 2, 3\n# END SOLUTION\ncheck_answer(c, 3)\n"
    assert make_assignments.nbgrader_solution_source(source) == (
        "a = 1\nb = None\nc = None\n### BEGIN SOLUTION\nb, c = 2, 3\n### END SOLUTION\n"
    )
    inside = "def f(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION\ncheck(f)\n"
    assert make_assignments.nbgrader_solution_source(inside) == (
        "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
    )


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_nbgrader_source_is_valid_and_graded(chapter):
    from nbgrader.nbgraderformat import MetadataValidator

    notebook, total = make_assignments.make_nbgrader_source(chapter)
    MetadataValidator().validate_nb(notebook)  # nbgrader's own check: ids unique, points where graded
    meta = [cell.metadata["nbgrader"] for cell in notebook.cells]
    tests = [m for m in meta if m["grade"] and not m["solution"]]
    _, checked, _ = make_assignments.make_assignment(chapter)
    assert len(tests) == checked and total == sum(m["points"] for m in meta if m["grade"])
    for cell, m in zip(notebook.cells, meta, strict=True):
        if m["solution"] and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and not m["locked"]
        elif not m["solution"]:
            assert m["locked"] and "BEGIN SOLUTION" not in cell.source
        assert "{solution-start}" not in cell.source and "{solution-end}" not in cell.source


def visible_checks(chapter):
    """The visible part of each check of the chapter's exercises (what a student sees)."""
    notebook, _, _ = make_assignments.make_assignment(chapter)
    return [cell.source for cell in notebook.cells if "check" in cell.metadata.get("tags", [])]


def check_calls(check, function_name):
    """The calls ``function_name(got, expected, ...)`` (two positional arguments or more) in a check's source."""
    return [node for node in ast.walk(ast.parse(check)) if isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == function_name and len(node.args) > 1]


def offending_checks(detector):
    """``{chapter: what detector(check) finds}`` over the visible checks of every chapter where it finds something."""
    return {chapter.stem: found for chapter in CHAPTERS
            if (found := [f for check in visible_checks(chapter) for f in detector(check)])}


def giveaways(check):
    """The calls check_answer(got, expected) of `check` whose expected value is a literal (True, 1 / 3, ...)."""
    return [ast.unparse(node)[:100] for node in check_calls(check, "check_answer")
            if not any(isinstance(sub, (ast.Name, ast.Attribute, ast.Call)) for sub in ast.walk(node.args[1]))]


def test_no_visible_check_gives_its_answer_away():
    # A literal expected value in a visible check (check_answer(limit, 1 / 3)) hands the student the answer; a
    # literal True (check_answer(flag, True)) is passed by assigning True. Such values belong in hidden tests, and
    # claims are checked through the quantities they are about (check_property, check_number).
    offenders = offending_checks(giveaways)
    assert not offenders, f"visible checks that give the answer away (use a hidden test or a property): {offenders}"


def test_the_chapters_hide_some_expected_values_in_hidden_tests():
    hidden = [chapter.stem for chapter in CHAPTERS if any(
        make_assignments.HIDDEN_BEGIN in cell.source for cell in nbformat.read(chapter, as_version=4).cells)]
    assert len(hidden) >= 5, hidden


def test_the_giveaway_detector_finds_literals_and_leaves_computed_references():
    assert giveaways("check_answer(flag, True, name='x')") == ["check_answer(flag, True, name='x')"]
    assert giveaways("check_answer(limit_hot, 1 / 3)") == ["check_answer(limit_hot, 1 / 3)"]
    assert giveaways("check_answer(x, reference(3))\ncheck_answer(y, np.zeros(2))\ncheck_number(z, low=0.0)") == []


ELEMENTARY = {"abs", "erf", "erfc", "exp", "expm1", "float", "log", "log1p", "max", "maximum", "min", "minimum",
              "range", "sqrt", "sum", "tanh"}


def formula_references(check):
    """The calls check_expression(expression, reference, ...) of `check` whose reference is the answer's formula
    typed out: NumPy's or math's elementary function itself (np.tanh), or a lambda of arithmetic and elementary
    functions of its own arguments only, with no call to the library, SciPy or a numerical oracle."""
    found = []
    for node in check_calls(check, "check_expression"):
        reference = node.args[1]
        if isinstance(reference, ast.Attribute):  # np.tanh
            pure = reference.attr in ELEMENTARY and getattr(reference.value, "id", None) in ("np", "math")
        elif isinstance(reference, ast.Lambda):
            arguments = reference.args
            own = {a.arg for a in [*arguments.args, *arguments.kwonlyargs, arguments.vararg] if a is not None}
            pure = True
            for sub in ast.walk(reference.body):
                if isinstance(sub, ast.Call):
                    function = sub.func
                    name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
                    module = getattr(function.value, "id", None) if isinstance(function, ast.Attribute) else None
                    pure = pure and name in ELEMENTARY and module in (None, "np", "math")
                elif isinstance(sub, ast.Name):
                    pure = pure and (sub.id in own or sub.id in ELEMENTARY or sub.id in ("np", "math"))
        else:
            pure = False
        if pure:
            found.append(ast.unparse(node)[:100])
    return found


def test_no_visible_check_expression_compares_with_the_answer_formula():
    # check_expression(slope, lambda p, n, N: n / p - (N - n) / (1 - p), ...) shows the student the derivative it
    # asks for. A visible check compares with an independent oracle instead (the library, SciPy, finite
    # differences of the student's own expression, a property); the formula belongs in a hidden test.
    offenders = offending_checks(formula_references)
    assert not offenders, f"visible checks against the answer's formula (use an oracle, or a hidden test): {offenders}"


def test_the_formula_detector_finds_typed_formulas_and_leaves_oracles():
    assert formula_references("check_expression(slope, lambda p, n: n / p - (1 - n) / (1 - p), [p, n])") != []
    assert formula_references("check_expression(d, np.tanh, [e])\ncheck_expression(h, lambda *u: -sum(u), u)") != []
    assert formula_references("check_expression(s, lambda a, b: max(0.0, a - b) / 2, [a, b])") != []
    assert formula_references(
        "check_expression(e, lambda a: lossbook.logsumexp([a, a]) - a, [a])\n"
        "check_expression(f, lambda *uv: special.entr(np.exp(uv)).sum(), uv)\n"
        "check_expression(g, lambda v: your_function(v + 1e-6), [v])\ncheck_expression(h, reference, [v])") == []


def test_main_writes_the_nbgrader_course_beside_the_assignments(tmp_path, capsys):
    chapter = ROOT / "book" / "performance.ipynb"
    make_assignments.main([str(chapter), "--output", str(tmp_path / "assignments")])
    course = tmp_path / "nbgrader"
    source = course / "source" / "performance"
    assert (source / "performance.ipynb").is_file() and (source / "bench_results.json").is_file()
    assert "nbgrader source" in capsys.readouterr().out
    config = course / "nbgrader_config.py"
    config.write_text(config.read_text() + "c.CourseDirectory.course_id = 'my-class'\n")
    make_assignments.main([str(chapter), "--output", str(tmp_path / "assignments")])
    assert "my-class" in config.read_text(), "make assignments overwrote the instructor's nbgrader_config.py"
