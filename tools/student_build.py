"""Sphinx extension behind ``make book-student``: the same website with no solution anywhere.

Active only when the environment variable ``LOSSBOOK_STUDENT_BUILD`` is ``1``; the normal build
loads it and it does nothing. sphinx-exercise's own ``hide_solutions`` crashes on gated solutions
(``solution-start`` / ``solution-end``, sphinx-exercise issue 89), so this removes the merged
solution nodes itself, right after sphinx-exercise builds them and before anything reads the
doctree: the pages and the search index never see a solution. It also turns off everything else
that would hand the solutions out: the copied sources (``_sources/``), the notebook download
button, and the launch buttons (they open the full notebook from the repository).
Stored outputs are used as they are (the chapters are executed and checked by ``make test``).
"""

import os

from sphinx.transforms import SphinxTransform
from sphinx.util.nodes import NodeMatcher
from sphinx_exercise.nodes import solution_node
from sphinx_exercise.transforms import MergeGatedSolutions

ENVIRONMENT_VARIABLE = "LOSSBOOK_STUDENT_BUILD"


def student_build():
    return os.environ.get(ENVIRONMENT_VARIABLE) == "1"


class DropSolutions(SphinxTransform):
    """Remove every solution (gated or not) from the document."""

    # Right after sphinx-exercise merges gated solutions into one node each.
    default_priority = MergeGatedSolutions.default_priority + 1

    def apply(self):
        if not student_build():
            return
        for node in list(self.document.findall(NodeMatcher(solution_node))):
            node.parent.remove(node)


def configure(app, config):
    if not student_build():
        return
    config.html_copy_source = False
    config.html_show_sourcelink = False
    config.nb_execution_mode = "off"
    options = dict(config.html_theme_options or {})
    options["use_download_button"] = False
    options["launch_buttons"] = {}
    config.html_theme_options = options


def setup(app):
    app.connect("config-inited", configure)
    app.add_transform(DropSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
