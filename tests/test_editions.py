"""The two editions of the website (tools/student_build.py, .github/workflows/pages.yml).

``lossbook.edition`` in _config.yml chooses what the workflow publishes: ``open`` (the whole course,
the PDF, the student site at /student/) or ``class`` (the student site alone; launch buttons open the
student notebooks on the student branch). Checked here without a network or a build of our own:

* the theme options of each edition's student build, and the launch URLs the theme computes from
  them (as tests/test_launch_buttons.py does for the chapters);
* the site each edition assembles, from stand-in builds, and the refusal of a class site that holds
  sources, notebooks or a PDF;
* the student branch's files, from the real assignments: no solution line of any chapter;
* the built student website (``make book-student``), assembled as the class edition: no solution text
  anywhere (the solution lines of tests/test_site_in_browser.py), no ``_sources``, no notebook, no PDF,
  and the launch buttons of the edition it was built in: none in the open edition, in the class edition
  one Colab and one Binder link per chapter, to its student notebook on the student branch;
* the workflow: the PDF and the full site only in the open edition, the artifact is the assembled site.
"""

import importlib.util
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
STUDENT_SITE = Path(os.environ.get("LOSSBOOK_STUDENT_SITE", ROOT / "_build" / "student" / "_build" / "html"))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


student_build = load("student_build", ROOT / "tools" / "student_build.py")
site_checks = load("site_in_browser_checks", ROOT / "tests" / "test_site_in_browser.py")
make_assignments = load("make_assignments", ROOT / "tools" / "make_assignments.py")
CONFIG = student_build.read_config()


def with_edition(edition, **lossbook):
    return {**CONFIG, "lossbook": {**(CONFIG.get("lossbook") or {}), "edition": edition, **lossbook}}


class SphinxConfig(dict):
    __getattr__ = dict.__getitem__


def launch_urls(options, pagename="book/softmax"):
    """{"Binder": url, "Colab": url} that sphinx-book-theme computes for a page from theme `options`."""
    from sphinx_book_theme.header_buttons import update_context_with_repository_info
    from sphinx_book_theme.header_buttons.launch import add_launch_buttons

    app = SimpleNamespace(
        builder=None,
        config=SphinxConfig(html_theme_options=options, html_context={}),
        env=SimpleNamespace(doc2path=lambda name: str(ROOT / f"{name}.ipynb"),
                            metadata={pagename: {"kernelspec": {"name": "python3"}}}),
    )
    update_context_with_repository_info(app)
    context = {**app.config.html_context, "pagename": pagename, "header_buttons": [], "sourcename": "x.ipynb"}
    add_launch_buttons(app, pagename, "page.html", context, None)
    return {b["text"]: b["url"] for group in context["header_buttons"] for b in group["buttons"]}


@pytest.fixture(scope="module")
def theme_options():
    from jupyter_book.config import yaml_to_sphinx

    return yaml_to_sphinx(CONFIG)[0]["html_theme_options"]


def test_the_setting_is_read_and_checked(monkeypatch):
    monkeypatch.delenv("LOSSBOOK_EDITION", raising=False)
    assert student_build.edition(CONFIG) in student_build.EDITIONS
    assert student_build.edition({}) == "open"
    assert student_build.edition(with_edition("class")) == "class"
    with pytest.raises(ValueError, match="lossbook.edition"):
        student_build.edition(with_edition("secret"))
    with pytest.raises(ValueError, match="student_branch"):
        student_build.student_branch(with_edition("class", student_branch=CONFIG["repository"]["branch"]))
    monkeypatch.setenv("LOSSBOOK_EDITION", "class")
    assert student_build.edition(with_edition("open")) == "class"


def test_the_open_student_site_has_no_launch_or_download_button(theme_options, monkeypatch):
    monkeypatch.delenv("LOSSBOOK_EDITION", raising=False)
    options = student_build.student_theme_options(theme_options, with_edition("open"))
    assert options["use_download_button"] is False
    assert launch_urls(options) == {}


def test_the_class_site_launches_the_student_notebooks(theme_options, monkeypatch):
    monkeypatch.delenv("LOSSBOOK_EDITION", raising=False)
    options = student_build.student_theme_options(theme_options, with_edition("class", student_branch="spring"))
    assert options["use_download_button"] is False and options["use_repository_button"] is False
    org, repo = CONFIG["repository"]["url"].removeprefix("https://github.com/").split("/")
    assert launch_urls(options) == {
        "Binder": f"https://mybinder.org/v2/gh/{org}/{repo}/spring?urlpath=lab/tree/book/softmax.ipynb",
        "Colab": f"https://colab.research.google.com/github/{org}/{repo}/blob/spring/book/softmax.ipynb",
    }


def fake_builds(build):
    (build / "html" / "_sources" / "book").mkdir(parents=True)
    (build / "html" / "index.html").write_text("full")
    (build / "html" / "_sources" / "book" / "softmax.ipynb").write_text("{}")
    (build / "student" / "_build" / "html" / "book").mkdir(parents=True)
    (build / "student" / "_build" / "html" / "index.html").write_text("student")
    (build / "latex").mkdir()
    (build / "latex" / student_build.PDF_NAME).write_bytes(b"%PDF")


def test_each_edition_assembles_its_own_site(tmp_path):
    fake_builds(tmp_path / "_build")
    student_build.assemble_site(tmp_path / "open", "open", tmp_path / "_build")
    assert (tmp_path / "open" / "index.html").read_text() == "full"
    assert (tmp_path / "open" / "student" / "index.html").read_text() == "student"
    assert (tmp_path / "open" / student_build.PDF_NAME).is_file()
    student_build.assemble_site(tmp_path / "class", "class", tmp_path / "_build")
    files = sorted(p.relative_to(tmp_path / "class").as_posix() for p in (tmp_path / "class").rglob("*"))
    assert files == ["book", "index.html"]


def test_a_class_site_with_sources_or_notebooks_is_refused(tmp_path):
    fake_builds(tmp_path / "_build")
    (tmp_path / "_build" / "student" / "_build" / "html" / "book" / "softmax.ipynb").write_text("{}")
    with pytest.raises(SystemExit, match="may carry solutions"):
        student_build.assemble_site(tmp_path / "class", "class", tmp_path / "_build")
    assert not (tmp_path / "class").exists()
    with pytest.raises(SystemExit, match="make book-student"):
        student_build.assemble_site(tmp_path / "none", "class", tmp_path / "nothing")


REGION = re.compile(r"^[ \t]*# BEGIN (SOLUTION|HIDDEN TESTS)[ \t]*$(.*?)^[ \t]*# END \1[ \t]*$", re.M | re.S)
SOLUTION_PROSE = re.compile(r"```\{solution-start\}.*?\n```(.*?)(?:```\{solution-end\}|\Z)", re.S)


def secret_lines(chapter):
    """The distinctive lines (30 characters or more) of a chapter's solutions that a student must not see:
    solution regions and hidden tests of the code, and the solutions' prose (the checks stay visible)."""
    notebook = nbformat.read(chapter, as_version=4)
    secret, inside = set(), False
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            text = cell.source
            if inside:
                text = "```{solution-start} x\n```" + text
            secret.update(line for match in SOLUTION_PROSE.finditer(text) for line in match.group(1).splitlines())
            start, end = cell.source.rfind("{solution-start}"), cell.source.rfind("{solution-end}")
            inside = start > end if max(start, end) >= 0 else inside
        else:
            secret.update(line for match in REGION.finditer(cell.source) for line in match.group(2).splitlines())
    visible = "\n".join(REGION.sub("", cell.source) for cell in notebook.cells if cell.cell_type == "code")
    return {line.strip() for line in secret if len(line.strip()) >= 30 and line.strip() not in visible}


def test_the_student_branch_holds_no_solution(tmp_path):
    chapters = make_assignments.chapters_in_toc()
    assert chapters
    (tmp_path / "assignments").mkdir()
    for chapter in chapters:  # what `make assignments` writes into _build/assignments
        nbformat.write(make_assignments.make_assignment(chapter)[0], tmp_path / "assignments" / chapter.name)
        for data in make_assignments.data_files(chapter):
            (tmp_path / "assignments" / data.name).write_bytes(data.read_bytes())
    written = student_build.write_student_tree(tmp_path / "tree", tmp_path / "assignments")
    for name in student_build.STUDENT_TREE_FILES + ("src/lossbook/__init__.py", "book/bench_results.json"):
        assert name in written
    texts = {}
    for chapter in chapters:
        notebook = nbformat.read(tmp_path / "tree" / "book" / chapter.name, as_version=4)
        texts[chapter.stem] = "\n".join(cell.source for cell in notebook.cells)
        install = [c for c in notebook.cells if "install-lossbook" in c.metadata.get("tags", [])]
        for cell in install:  # once tools/install_cell.py has run: the library of the student branch
            assert f"@{student_build.student_branch(CONFIG)}\"" in cell.source
            if "urlretrieve(" in cell.source:  # and the data files of the student branch
                assert f"/{student_build.student_branch(CONFIG)}/book/" in cell.source
                assert f"/{CONFIG['repository']['branch']}/book/" not in cell.source
    # Its README is the student's, with the website's address: the repository's own describes a Makefile
    # and `make test`, which the branch does not hold.
    readme = (tmp_path / "tree" / "README.md").read_text(encoding="utf-8")
    assert "student notebooks" in readme and "make " not in readme and "Makefile" not in tuple(written)
    assert student_build.site_url(CONFIG) in readme
    secrets = {chapter.stem: secret_lines(chapter) for chapter in chapters}
    assert all(secrets.values()), [name for name, lines in secrets.items() if not lines]
    leaks = {chapter: [line for line in lines if line in texts[chapter]] for chapter, lines in secrets.items()}
    assert not {chapter: found for chapter, found in leaks.items() if found}


@pytest.mark.skipif(not (STUDENT_SITE / "index.html").is_file(), reason="run `make book-student` first")
def test_the_class_edition_site_holds_no_solution(tmp_path):
    build = tmp_path / "_build"
    (build / "student" / "_build").mkdir(parents=True)
    os.symlink(STUDENT_SITE, build / "student" / "_build" / "html")
    student_build.assemble_site(tmp_path / "site", "class", build)
    site = tmp_path / "site"
    texts = site_checks.site_text(site)
    leaks = {chapter: [line for line in lines if line in texts.get(site / "book" / f"{chapter}.html", "")]
             for chapter, lines in site_checks.solution_lines().items()}
    assert not {chapter: found for chapter, found in leaks.items() if found}
    everything = "\n".join(texts.values())
    assert "Solution to Exercise" not in everything
    assert not list(site.rglob("_sources")) and not list(site.rglob("*.ipynb")) and not list(site.rglob("*.pdf"))
    # Links are read from the HTML itself: site_text strips the tags, and their href with them.
    pages = {path.relative_to(site).as_posix(): path.read_text(encoding="utf-8") for path in site.rglob("*.html")}
    assert "book/softmax.html" in pages
    # Download buttons would offer the page's source (.ipynb with solutions): none on any page.
    assert not [page for page, text in pages.items() if re.search(r'href="[^"]*_sources/', text)]
    launches = {page: set(re.findall(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)/[^"]+)"', text))
                for page, text in pages.items()}
    # The edition the site was built in: `make book-student` reads it as student_build.edition does here,
    # from _config.yml or LOSSBOOK_EDITION (make test builds and tests in the same environment).
    built = student_build.edition(CONFIG)
    if built == "open":  # no launch button at all: Colab and Binder would open the notebooks with solutions
        assert not {page: urls for page, urls in launches.items() if urls}, (
            "the open edition's student site has launch buttons: was it built with LOSSBOOK_EDITION=class?")
    else:  # every chapter opens its own student notebook on the student branch, and no page anything else
        branch = student_build.student_branch(CONFIG)
        org, repo = CONFIG["repository"]["url"].removeprefix("https://github.com/").split("/")
        expected = {f"book/{chapter.stem}.html": {
            f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/book/{chapter.name}",
            f"https://mybinder.org/v2/gh/{org}/{repo}/{branch}?urlpath=lab/tree/book/{chapter.name}",
        } for chapter in make_assignments.chapters_in_toc()}
        assert expected
        assert {page: urls for page, urls in launches.items() if urls} == expected


def test_the_workflow_publishes_what_the_edition_says():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text(encoding="utf-8"))
    steps = workflow["jobs"]["build"]["steps"]
    runs = {step.get("name", step.get("uses")): (step.get("if", ""), step.get("run", "")) for step in steps}
    open_only = [name for name, (condition, run) in runs.items() if "make pdf" in run or "make book\n" in run + "\n"]
    assert open_only and all("== 'open'" in runs[name][0] for name in open_only)
    assert any("student_build.py edition" in run for _, run in runs.values())
    assert any("student_build.py site _site" in run for _, run in runs.values())
    class_steps = [run for condition, run in runs.values() if "== 'class'" in condition]
    assert any("make assignments" in run and "student-tree" in run for run in class_steps)
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_site"
    assert not any("cp -r _build/html" in run for _, run in runs.values())


@pytest.mark.parametrize("chosen", student_build.EDITIONS)
def test_the_nbgrader_course_installs_from_the_branch_students_can_reach(chosen, tmp_path, monkeypatch):
    # In the class edition the public repository may hold only the student branch (the chapters live in a
    # private one): the release an instructor hands out must install the library from there.
    monkeypatch.setenv("LOSSBOOK_EDITION", chosen)
    chapter = next(c for c in make_assignments.chapters_in_toc() if c.stem == "softmax")
    make_assignments.write_nbgrader_course([chapter], tmp_path)
    notebook = nbformat.read(tmp_path / "source" / "softmax" / "softmax.ipynb", as_version=4)
    install = [c.source for c in notebook.cells if "install-lossbook" in c.metadata.get("tags", [])]
    assert len(install) == 1
    branch = student_build.student_branch(CONFIG) if chosen == "class" else CONFIG["repository"]["branch"]
    assert f'@{branch}"' in install[0]
