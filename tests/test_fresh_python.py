"""A chapter runs as on Colab: alone in a folder, in a new Python without lossbook (tools/fresh_python.py).

The chapter is the calibration chapter: it reads two data files of book/ (the detector experiments and
torchmetrics' golden values), so its install cell must install the library and fetch both. The tool
clones the repository's last commit, as GitHub would serve it: run this after committing (CI runs it
on a clean clone, where the two are the same).
"""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("fresh_python", ROOT / "tools" / "fresh_python.py")
fresh_python = importlib.util.module_from_spec(spec)
sys.modules.setdefault("fresh_python", fresh_python)
spec.loader.exec_module(fresh_python)


def test_the_install_cell_is_pointed_at_the_clone_and_nothing_else_changes(tmp_path):
    import nbformat

    config = fresh_python.read_config()
    chapter = nbformat.read(ROOT / "book" / "calibration.ipynb", as_version=4)
    original = [cell.source for cell in chapter.cells]
    moved = fresh_python.as_on_colab(chapter, config, tmp_path)
    changed = [(before, cell.source) for before, cell in zip(original, moved.cells, strict=True)
               if before != cell.source]
    assert len(changed) == 1
    before, after = changed[0]
    assert config["repository"]["url"] in before and "raw.githubusercontent.com" in before
    assert "github" not in after and f"git+{tmp_path.as_uri()}" in after and f'"{tmp_path.as_uri()}/book/"' in after


@pytest.mark.slow
def test_the_calibration_chapter_runs_top_to_bottom_in_a_new_python(capsys):
    status = fresh_python.main([str(ROOT / "book" / "calibration.ipynb")])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "1 of 1 chapter(s) ran top to bottom in a new Python" in printed
