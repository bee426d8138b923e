"""tools/myst_to_markdown.py: the student notebooks show plain Markdown, not MyST, in Jupyter and Colab.

The cases are taken from the chapters (an exercise of binary_cross_entropy, a footcite of
detection_head, the learning objectives of every chapter, ...). The last tests build every assignment
with tools/make_assignments.py and look for any MyST left: a role (``{name}`...` ``) or a directive
fence (```` ```{ ```` or ``:::{``); and, when the website is built, check that every link they make to
it leads to a page and an anchor that exist.
"""

import importlib.util
import re
import sys
from pathlib import Path
from urllib.parse import urldefrag

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


myst = load_tool("myst_to_markdown")
make_assignments = load_tool("make_assignments")

SITE_URL = "https://example.github.io/course/"
REFERENCES = {
    "redmon2016yolo": myst.Reference("Redmon et al.", "2016", "Joseph Redmon et al. (2016). *YOLO*."),
    "blanchard2021accurately": myst.Reference("Blanchard, Higham and Higham", "2021", "P. B. (2021). *LSE*."),
}
MYST_LEFT = re.compile(r"\{[\w:+-]+\}`|^\s*(`{3,}|:{3,}|~{3,})\{", re.M)


@pytest.fixture
def course():
    """A small course: two pages, one exercise, the two references above, one glossary term."""
    return myst.Course(
        site_url=SITE_URL,
        repository_url="https://github.com/example/course",
        branch="main",
        references=REFERENCES,
        titles={"book/softmax": "Softmax: from scores to probabilities", "book/binary_cross_entropy": "BCE"},
        targets={"binary_cross_entropy-oversampling": myst.Target(
            "book/binary_cross_entropy", "Exercise 9.3 (pos_weight, oversampling and weight)", "Exercise 9.3")},
        exercises={"binary_cross_entropy-oversampling": "Exercise 9.3 (pos_weight, oversampling and weight)"},
        terms={"logit": "term-Logit"},
    )


def test_an_exercise_becomes_a_heading_with_the_websites_number_and_title(course):
    text = ("## Exercises\n\n```{exercise} pos_weight, oversampling and weight\n"
            ":label: binary_cross_entropy-oversampling\n\nBuild a copy of the training set in which every positive"
            " appears $p_w = 19$ times.\n```")
    assert myst.convert(text, doc="book/binary_cross_entropy", course=course) == (
        "## Exercises\n\n### Exercise 9.3 (pos_weight, oversampling and weight)\n\n"
        "Build a copy of the training set in which every positive appears $p_w = 19$ times."
    )


def test_a_gated_solution_becomes_a_heading_and_its_end_disappears(course):
    text = ("```{solution-start} binary_cross_entropy-oversampling\n:class: dropdown\n```\n\n"
            "Each copy of a positive contributes once.\n\n```{solution-end}\n```")
    assert myst.convert(text, doc="book/binary_cross_entropy", course=course) == (
        "#### Solution to Exercise 9.3 (pos_weight, oversampling and weight)\n\n"
        "Each copy of a positive contributes once."
    )


def test_citations_become_author_year_text_and_the_footbibliography_lists_them(course):
    cited = []
    text = "YOLO predicts one confidence per box {footcite}`redmon2016yolo`; see {cite:t}`blanchard2021accurately`."
    assert myst.convert(text, doc="book/detection_head", course=course, cited=cited) == (
        "YOLO predicts one confidence per box (Redmon et al. 2016); see Blanchard, Higham and Higham (2021)."
    )
    assert cited == ["redmon2016yolo", "blanchard2021accurately"]
    assert myst.convert("{footcite}`redmon2016yolo,blanchard2021accurately`", doc="x", course=course) == (
        "(Redmon et al. 2016; Blanchard, Higham and Higham 2021)"
    )
    listed = myst.convert("## References\n\n```{footbibliography}\n```", doc="x", course=course, cited=cited)
    assert listed == ("## References\n\n- Joseph Redmon et al. (2016). *YOLO*.\n"
                      "- P. B. (2021). *LSE*.")


def test_cross_references_become_links_to_the_website(course):
    text = ("**Prerequisites:** {doc}`softmax` and {doc}`the BCE chapter <binary_cross_entropy>`; "
            "({ref}`binary_cross_entropy-oversampling` checks it, {numref}`binary_cross_entropy-oversampling`); "
            "a {term}`logit`.")
    assert myst.convert(text, doc="book/cross_entropy", course=course) == (
        f"**Prerequisites:** [Softmax: from scores to probabilities]({SITE_URL}book/softmax.html) and "
        f"[the BCE chapter]({SITE_URL}book/binary_cross_entropy.html); "
        f"([Exercise 9.3 (pos_weight, oversampling and weight)]({SITE_URL}book/binary_cross_entropy.html"
        "#binary_cross_entropy-oversampling) checks it, "
        f"[Exercise 9.3]({SITE_URL}book/binary_cross_entropy.html#binary_cross_entropy-oversampling)); "
        f"a [logit]({SITE_URL}book/glossary.html#term-Logit)."
    )


def test_a_file_role_links_to_the_repository(course):
    assert myst.convert("A test holds the two paths together: {file}`tests/test_fused.py`.", doc="x",
                        course=course) == ("A test holds the two paths together: "
                                           "[`tests/test_fused.py`](https://github.com/example/course/blob/main/"
                                           "tests/test_fused.py).")


def test_admonitions_become_blockquotes_with_a_bold_title(course):
    text = ("```{admonition} Learning objectives\n:class: tip\nAfter this chapter you can\n"
            "- derive the sigmoid's derivative $\\sigma(1 - \\sigma)$;\n  with SymPy.\n```")
    assert myst.convert(text, doc="x", course=course) == (
        "> **Learning objectives**\n>\n> After this chapter you can\n"
        "> - derive the sigmoid's derivative $\\sigma(1 - \\sigma)$;\n>   with SymPy."
    )
    assert myst.convert(":::{note}\nA {doc}`softmax` note.\n:::", doc="book/x", course=course) == (
        f"> **Note**\n>\n> A [Softmax: from scores to probabilities]({SITE_URL}book/softmax.html) note."
    )


def test_math_targets_comments_and_code(course):
    text = ("(my-label)=\n% a comment for the authors\n```{math}\n:label: eq-one\nL = -\\log p\n```\n"
            "$$x^2$$ (eq-two)\n{math}`a + b`\n```python\nprint('{doc}`softmax` stays in code')\n```")
    assert myst.convert(text, doc="x", course=course) == (
        "$$\nL = -\\log p\n$$\n$$x^2$$\n$a + b$\n```python\nprint('{doc}`softmax` stays in code')\n```"
    )
    assert myst.convert("Write `{footcite}` to cite.", doc="x", course=course) == "Write `{footcite}` to cite."


def test_markup_without_a_rule_is_refused_by_name(course):
    with pytest.raises(ValueError, match=r"role \{unknownrole\}"):
        myst.convert("{unknownrole}`x`", doc="x", course=course)
    with pytest.raises(ValueError, match=r"directive \{toctree\}"):
        myst.convert("```{toctree}\nintro\n```", doc="x", course=course)
    with pytest.raises(ValueError, match="names no label"):
        myst.convert("{ref}`no-such-label`", doc="x", course=course)
    with pytest.raises(ValueError, match="not in the bibliography"):
        myst.convert("{footcite}`nobody2099`", doc="x", course=course)


def test_the_website_address_comes_from_config():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    owner, repo = config["repository"]["url"].removeprefix("https://github.com/").split("/")
    expected = config.get("html", {}).get("baseurl") or f"https://{owner.lower()}.github.io/{repo}/"
    assert myst.site_url(config) == expected.rstrip("/") + "/"
    assert myst.site_url({"repository": {"url": "https://github.com/Org/org.github.io"}}) == "https://org.github.io/"
    with pytest.raises(ValueError, match="repository.url"):
        myst.site_url({"repository": {"url": "https://gitlab.com/a/b"}})


def test_the_real_course_numbers_exercises_as_the_toc_does():
    course = myst.load_course()
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    numbered = [c["file"] for part in toc["parts"] if part.get("numbered") for c in part["chapters"]]
    first = numbered.index("book/softmax") + 1
    softmax_exercises = [name for label, name in course.exercises.items()
                         if course.targets[label].doc == "book/softmax"]
    assert softmax_exercises and softmax_exercises[0].startswith(f"Exercise {first}.1 (")
    assert [int(name.split()[1].split(".")[1]) for name in softmax_exercises] == list(
        range(1, len(softmax_exercises) + 1))


ASSIGNMENTS = make_assignments.chapters_in_toc()


@pytest.fixture(scope="module")
def assignments():
    return {chapter.stem: make_assignments.make_assignment(chapter)[0] for chapter in ASSIGNMENTS}


def test_no_assignment_keeps_any_myst_markup(assignments):
    leftovers = {}
    for name, notebook in assignments.items():
        text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
        found = [match.group(0) for match in MYST_LEFT.finditer(text)]
        if found:
            leftovers[name] = found[:5]
    assert not leftovers, f"MyST left in the assignments: {leftovers}"
    exercises = sum(cell.source.count("### Exercise ") for nb in assignments.values() for cell in nb.cells)
    assert exercises >= len(assignments)


def test_the_nbgrader_sources_keep_no_myst_markup():
    if not hasattr(make_assignments, "make_nbgrader_source"):
        pytest.skip("tools/make_assignments.py writes no nbgrader course")
    for chapter in ASSIGNMENTS[:3]:
        notebook, _ = make_assignments.make_nbgrader_source(chapter)
        text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
        assert not MYST_LEFT.search(text), chapter.stem


LINK = re.compile(r"\]\((https?://[^)\s]+)\)")


def test_links_to_the_website_lead_to_pages_and_anchors_that_exist(assignments):
    if not (SITE / "index.html").is_file():
        pytest.skip("the website is not built: run `make book` first")
    base = myst.load_course().site_url
    broken = set()
    for notebook in assignments.values():
        for cell in notebook.cells:
            for url in LINK.findall(cell.source) if cell.cell_type == "markdown" else []:
                if not url.startswith(base):
                    continue
                page, anchor = urldefrag(url.removeprefix(base))
                target = SITE / page
                if not target.is_file() or (anchor and f'id="{anchor}"' not in target.read_text(encoding="utf-8")):
                    broken.add(url)
    assert not broken, f"links to the website that lead nowhere: {sorted(broken)[:10]}"


def test_the_docstring_examples_run():
    import doctest

    assert doctest.testmod(myst).failed == 0


def test_the_rarer_markup_has_a_plain_form(course):
    course.targets["eq-softmax"] = myst.Target("book/softmax", "(eq-softmax)", "(eq-softmax)")
    text = ("See {eq}`eq-softmax`, the value {glue:text}`best_lr` and {kbd}`Shift+Enter`.\n"
            "```{code-block} python\nx = 1  # {doc}`not a role in code`\n```\n"
            "```{figure} images/logo.svg\n:alt: The course logo\nThe logo.\n```\n"
            "```{dropdown} Hint\nUse the chain rule.\n```")
    assert myst.convert(text, doc="book/softmax", course=course) == (
        f"See [(eq-softmax)]({SITE_URL}book/softmax.html#equation-eq-softmax), the value `best_lr` and "
        "<kbd>Shift+Enter</kbd>.\n```python\nx = 1  # {doc}`not a role in code`\n```\n"
        "![The course logo](https://raw.githubusercontent.com/example/course/main/book/images/logo.svg)\n\n"
        "*The logo.*\n> **Hint**\n>\n> Use the chain rule."
    )
