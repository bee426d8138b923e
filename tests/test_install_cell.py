"""The install cell (tools/install_cell.py): first code cell of every chapter, built from _config.yml.

On Colab it installs lossbook from the repository and branch that _config.yml names; where lossbook
imports it does nothing and prints nothing (nbval runs it); the websites and the PDF leave it out
(tag ``remove-cell``). The cell is run here with IPython's own input transformation (the ``%pip``
line) and a stand-in for the shell, once with lossbook importable and once without.
"""

import importlib.util
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("install_cell", ROOT / "tools" / "install_cell.py")
install_cell = importlib.util.module_from_spec(spec)
spec.loader.exec_module(install_cell)

CONFIG = install_cell.read_config()
CHAPTERS = install_cell.chapters_in_toc()


class Shell:
    """Stands in for get_ipython(): records the magics the cell runs."""

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line):
        self.magics.append((name, line))


def run_cell(source, shell=None):
    shell = shell or Shell()
    exec(TransformerManager().transform_cell(source), {"get_ipython": lambda: shell})
    return shell.magics


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_every_chapters_first_code_cell_is_the_install_cell_of_config(chapter):
    notebook = nbformat.read(chapter, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code[0].source == install_cell.chapter_source(chapter, CONFIG), (
        f"{chapter.name}: run .venv/bin/python tools/install_cell.py, then tools/execute_notebooks.py"
    )
    assert code[0].metadata["tags"] == ["remove-cell", "install-lossbook"]
    assert code[0].outputs == []
    assert sum(install_cell.is_install_cell(cell) for cell in notebook.cells) == 1
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")


def test_the_requirement_names_the_repository_branch_and_existing_extras():
    requirement = Requirement(install_cell.requirement(CONFIG))
    assert requirement.name == "lossbook"
    assert requirement.url == f"git+{CONFIG['repository']['url']}@{CONFIG['repository']['branch']}"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert requirement.extras and requirement.extras <= set(extras)


def test_the_cell_does_nothing_where_lossbook_imports():
    assert run_cell(install_cell.install_source(CONFIG)) == []


def test_the_cell_installs_lossbook_where_it_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "lossbook", None)  # `import lossbook` now raises ModuleNotFoundError
    shell = Shell()
    with pytest.raises(ImportError):  # the stand-in installs nothing, so the cell stops at its second import
        run_cell(install_cell.install_source(CONFIG), shell)
    assert shell.magics == [("pip", f'install --quiet "{install_cell.requirement(CONFIG)}"')]


def test_a_chapter_that_reads_a_data_file_downloads_it_where_it_is_missing(monkeypatch, tmp_path):
    # On Colab the notebook sits alone in /content: the results file it reads must come from the repository.
    chapter = ROOT / "book" / "performance.ipynb"
    source = install_cell.chapter_source(chapter, CONFIG)
    fetched = []
    monkeypatch.setattr("urllib.request.urlretrieve", lambda url, name: fetched.append((url, name)))
    monkeypatch.chdir(ROOT / "book")  # beside the chapter (make lab, nbval, Binder): nothing to do
    assert run_cell(source) == [] and fetched == []
    monkeypatch.chdir(tmp_path)  # alone (Colab): install the library, fetch the file
    monkeypatch.setitem(sys.modules, "lossbook", None)
    shell = Shell()
    with pytest.raises(ImportError):  # the stand-in installs nothing: the cell stops at its second import
        run_cell(source, shell)
    assert shell.magics == [("pip", f'install --quiet "{install_cell.requirement(CONFIG)}"')] and fetched == []
    monkeypatch.delitem(sys.modules, "lossbook")
    assert run_cell(source) == []  # lossbook installed now, the file still missing
    owner_repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    assert fetched == [(f"https://raw.githubusercontent.com/{owner_repo}/{CONFIG['repository']['branch']}"
                        "/book/bench_results.json", "bench_results.json")]


def test_only_the_chapters_that_read_data_files_download_them():
    downloading = {chapter.stem for chapter in CHAPTERS
                   if "urlretrieve" in install_cell.chapter_source(chapter, CONFIG)}
    assert downloading == {"performance", "calibration", "detector_losses"}


def test_raw_urls_follow_the_repository_and_branch_and_refuse_other_hosts():
    config = {"repository": {"url": "https://github.com/someone/fork/", "branch": "spring"}}
    assert install_cell.raw_url(config, "book/x.json") == "https://raw.githubusercontent.com/someone/fork/spring/book/x.json"
    assert install_cell.raw_url(config, "book/x.json", branch="student").endswith("/fork/student/book/x.json")
    with pytest.raises(ValueError, match="repository.url"):
        install_cell.raw_url({"repository": {"url": "https://gitlab.com/someone/fork"}}, "book/x.json")


def test_the_tool_is_idempotent_and_follows_config(tmp_path):
    chapter = tmp_path / "chapter.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A chapter"),
        nbformat.v4.new_code_cell("import numpy as np"),
        nbformat.v4.new_code_cell("np.ones(2)"),
    ])
    nbformat.write(notebook, chapter)
    assert install_cell.apply(chapter, CONFIG)
    written = chapter.read_text(encoding="utf-8")
    assert not install_cell.apply(chapter, CONFIG)
    assert chapter.read_text(encoding="utf-8") == written
    fork = {"repository": {"url": "https://github.com/someone/fork", "branch": "spring"}}
    assert install_cell.apply(chapter, fork)
    cells = nbformat.read(chapter, as_version=4).cells
    assert [cell.source for cell in cells[1:]] == [install_cell.install_source(fork), "import numpy as np",
                                                   "np.ones(2)"]
    assert "git+https://github.com/someone/fork@spring" in cells[1].source


def test_a_bad_repository_url_is_refused():
    with pytest.raises(ValueError, match="repository.url"):
        install_cell.requirement({"repository": {"url": "lossbook", "branch": "main"}})
