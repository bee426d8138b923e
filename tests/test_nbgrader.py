"""nbgrader, for real: the course that ``make assignments`` writes is released and graded by nbgrader.

For each of three chapters, in a temporary course directory of its own (its gradebook database
inside), ``tools/make_assignments.py`` writes the nbgrader source, then ``nbgrader
generate_assignment`` makes the release. Three students submit: ``solved`` fills every solution cell
and answer cell of the release with the instructor's solution (as a student who solved everything
would); ``practice`` does the same in the student notebook of ``_build/assignments`` (the copy that
``make lab``, the student branch and Colab open); ``stubbed`` submits the release untouched.
``nbgrader autograde`` grades all three. From the gradebook: ``solved`` and ``practice`` have every
autograded point, ``stubbed`` none; nbgrader itself reports no error, and each check of the stubbed
copy failed with an ExerciseError that says what is missing. The answers in prose are graded by hand
(formgrader), so they count in none of them.

Marked slow (``make check`` leaves it out): ``nbgrader autograde`` executes each submission whole.
Measured on the shared 2-core machine with two pytest workers: 64 s for the three chapters, 115 s
while other jobs ran (then softmax 77 s, log_softmax 65 s, performance 34 s: one generate and two
autogrades each).
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("make_assignments", ROOT / "tools" / "make_assignments.py")
make_assignments = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_assignments)

# Two chapters with hidden tests, and one that reads a data file beside it (bench_results.json).
CHAPTERS = [ROOT / "book" / name for name in ("softmax.ipynb", "log_softmax.ipynb", "performance.ipynb")]
WITH_HIDDEN_TESTS = {"softmax", "log_softmax"}
SOLUTION_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.MULTILINE)


def nbgrader(course, *arguments):
    """Run nbgrader in the course folder; its migrations call `alembic`, which sits beside the interpreter."""
    environment = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    run = subprocess.run([sys.executable, "-m", "nbgrader", *arguments], cwd=course, env=environment,
                         capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, f"nbgrader {' '.join(arguments)} failed:\n{run.stdout}\n{run.stderr}"
    assert "[ERROR]" not in run.stderr and "| ERROR]" not in run.stderr, run.stderr
    return run


def solved_copy(release, source):
    """The release with each solution cell (code or prose) as the instructor's source has it, markers removed."""
    solutions = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in source.cells
                 if cell.metadata.get("nbgrader", {}).get("solution")}
    filled = 0
    for cell in release.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = SOLUTION_MARKER.sub("", solutions[grade_id])
            filled += 1
    assert filled == len(solutions)
    return release


def grade(course, chapter):
    """Write the chapter's nbgrader source into `course`, release it, submit it twice, autograde both."""
    make_assignments.write_nbgrader_course([chapter], course)
    name = chapter.stem
    nbgrader(course, "generate_assignment", name)
    release = nbformat.read(course / "release" / name / chapter.name, as_version=4)
    source = nbformat.read(course / "source" / name / chapter.name, as_version=4)
    # A third student works in the practice copy (make assignments' _build/assignments, the student branch,
    # Colab): solved there, it must earn the same points, since both copies carry the same nbgrader cells.
    practice = make_assignments.make_assignment(chapter)[0]
    submissions = [("stubbed", release), ("solved", solved_copy(nbformat.from_dict(release), source)),
                   ("practice", solved_copy(practice, source))]
    for student, notebook in submissions:
        folder = course / "submitted" / student / name
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / chapter.name)
    nbgrader(course, "autograde", name)
    return source, release


def autograded_scores(course, chapter, student):
    """{grade_id: (score, max_score)} of the autograded test cells of a submission, from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission_notebook(chapter.stem, chapter.stem, student)
        return {grade.name: (grade.score, grade.max_score) for grade in submission.grades
                if grade.cell.cell_type == "code"}


# One test per chapter (each in a course of its own), so that pytest-xdist can grade two chapters at once.
@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_nbgrader_releases_and_grades_the_chapter(chapter, tmp_path):
    source, release = grade(tmp_path, chapter)

    # The release: no solution, no hidden test; nbgrader's four kinds of cells only.
    text = "\n".join(cell.source for cell in release.cells)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    hidden = any("### BEGIN HIDDEN TESTS" in cell.source for cell in source.cells)
    assert hidden == (chapter.stem in WITH_HIDDEN_TESTS)
    solutions = [c for c in source.cells if c.metadata["nbgrader"]["solution"] and c.cell_type == "code"]
    assert solutions and all("### BEGIN SOLUTION" in c.source for c in solutions)
    kinds = {(c.metadata["nbgrader"]["solution"], c.metadata["nbgrader"]["grade"], c.metadata["nbgrader"]["locked"])
             for c in release.cells}
    assert kinds <= {(True, False, False), (False, True, True), (True, True, False), (False, False, True)}

    # Full marks for the solutions, from the gradebook.
    solved = autograded_scores(tmp_path, chapter, "solved")
    assert solved and all(maximum > 0 for _, maximum in solved.values())
    lost = {name: score for name, (score, maximum) in solved.items() if score != maximum}
    assert not lost, f"checks that failed on the solutions: {lost}"

    # The practice copy, solved, earns the same full marks: nbgrader grades it as its own release.
    assert autograded_scores(tmp_path, chapter, "practice") == solved

    # No point for the stubs, and each failed check says why (nbgrader keeps the executed submission).
    stubbed = autograded_scores(tmp_path, chapter, "stubbed")
    assert stubbed.keys() == solved.keys()
    earned = {name: score for name, (score, _) in stubbed.items() if score != 0}
    assert not earned, f"checks that passed on the stubs: {earned}"
    graded = nbformat.read(tmp_path / "autograded" / "stubbed" / chapter.stem / chapter.name, as_version=4)
    for cell in graded.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            errors = [output for output in cell.outputs if output.output_type == "error"]
            assert errors and errors[0].ename == "ExerciseError", cell.source
