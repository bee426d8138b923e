"""Binder and Colab: the launch buttons' URLs, computed as the theme computes them, and Binder's Python.

No network: the URLs come from the theme's own functions (sphinx-book-theme) fed with the settings
Jupyter Book derives from _config.yml. They must name the repository and branch set there and the
path of a notebook that exists in the repository. If the website is built, its pages must carry them.
"""

import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
CHAPTERS = [name for name in re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text(encoding="utf-8"))
            if (ROOT / f"{name}.ipynb").is_file()]


class SphinxConfig(dict):
    """Sphinx's config answers both config["key"] and config.key."""

    __getattr__ = dict.__getitem__


def theme_urls(pagename):
    """{"Binder": url, "Colab": url} for one page, from the theme's own html-page-context handlers."""
    from jupyter_book.config import yaml_to_sphinx
    from sphinx_book_theme.header_buttons import update_context_with_repository_info
    from sphinx_book_theme.header_buttons.launch import add_launch_buttons

    settings, _, _ = yaml_to_sphinx(CONFIG)
    app = SimpleNamespace(
        builder=None,
        config=SphinxConfig(html_theme_options=settings["html_theme_options"], html_context={}),
        env=SimpleNamespace(doc2path=lambda name: str(ROOT / f"{name}.ipynb"),
                            metadata={pagename: {"kernelspec": {"name": "python3"}}}),
    )
    update_context_with_repository_info(app)
    context = {**app.config.html_context, "pagename": pagename, "header_buttons": [],
               "sourcename": f"{pagename}.ipynb"}
    add_launch_buttons(app, pagename, "page.html", context, None)
    (group,) = context["header_buttons"]
    return {button["text"]: button["url"] for button in group["buttons"]}


def test_the_repository_url_names_a_github_repository():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", CONFIG["repository"]["url"])
    assert CONFIG["repository"]["branch"]


@pytest.mark.parametrize("pagename", CHAPTERS)
def test_launch_urls_open_this_notebook_of_this_repository(pagename):
    org, repo = CONFIG["repository"]["url"].removeprefix("https://github.com/").split("/")
    branch = CONFIG["repository"]["branch"]
    path = f"{pagename}.ipynb"
    assert (ROOT / path).is_file()
    assert theme_urls(pagename) == {
        "Binder": f"https://mybinder.org/v2/gh/{org}/{repo}/{branch}?urlpath=lab/tree/{path}",
        "Colab": f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/{path}",
    }


def test_the_built_website_carries_the_same_urls():
    html = ROOT / "_build" / "html"
    index = html / "index.html"
    if not index.is_file() or index.stat().st_mtime < (ROOT / "_config.yml").stat().st_mtime:
        pytest.skip("no website built since _config.yml last changed (make book)")
    for pagename in CHAPTERS:
        page = (html / f"{pagename}.html").read_text(encoding="utf-8")
        for url in theme_urls(pagename).values():
            assert f'href="{url}"' in page, (pagename, url)


def test_binder_builds_with_the_python_the_pins_need():
    # repo2docker reads runtime.txt ("python-X.Y") and then installs requirements.txt.
    runtime = (ROOT / "runtime.txt").read_text(encoding="utf-8").strip()
    version = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert version, runtime
    minimum = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    assert tuple(map(int, version.groups())) >= tuple(map(int, minimum.removeprefix(">=").split(".")))
    assert (ROOT / "requirements.txt").is_file()
