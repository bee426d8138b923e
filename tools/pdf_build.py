"""Sphinx extension behind ``make pdf``: the LaTeX build of the same book.

* It typesets the stored outputs. ``make test`` checks that every stored output is exactly what a
  fresh execution prints (nbval, strict), so no build executes the chapters again: ``_config.yml``
  switches execution off for every build, and for LaTeX builders this switches it off once more
  before MyST-NB reads its configuration, so the PDF keeps to the stored outputs even if the
  website's build executes again one day.
* Source code shown with ``IPython.display.Code`` carries a ``text/latex`` form (Pygments'
  ``Verbatim``) that MyST-NB would typeset as display math, which LaTeX rejects. For LaTeX builders
  such an output becomes an ordinary highlighted Python block made from its ``text/plain`` form (the
  same source). SymPy's ``text/latex`` outputs are untouched and typeset as math.
* The TeX macros the chapters use are defined once, in ``mathjax3_config`` (``_config.yml``), for
  the website; this defines each in the LaTeX preamble too, so the two cannot drift apart. A name
  the LaTeX class already defines (``\\argmax`` in sphinx-jupyterbook-latex's) is redefined, so
  the PDF shows what the website shows.
* Chapter numbers follow the table of contents, as on the website: the chapters of a part that
  ``_toc.yml`` does not number ("Getting started", the appendix, the reference) are unnumbered
  in the PDF too, so the numbered chapters run 1, 2, ... like the website's and agree with the
  exercise numbers. LaTeX numbers a chapter only while ``secnumdepth`` is at least 0; a hook
  before each ``\\part`` sets it for that part.

The HTML builds are untouched.
"""

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform


def latex_preamble(macros):
    """LaTeX definitions for MathJax macros given as ``{name: body}`` (bodies without arguments).

    >>> print(latex_preamble({"CE": "\\\\operatorname{CE}"}))
    \\providecommand{\\CE}{}\\renewcommand{\\CE}{\\operatorname{CE}}
    """
    return "\n".join(
        f"\\providecommand{{\\{name}}}{{}}\\renewcommand{{\\{name}}}{{{body}}}"
        for name, body in macros.items()
    )


def add_macros(app, config):
    macros = (config.mathjax3_config or {}).get("tex", {}).get("macros", {})
    elements = dict(config.latex_elements or {})
    elements["preamble"] = elements.get("preamble", "") + "\n" + latex_preamble(macros) + "\n"
    config.latex_elements = elements


def part_numbering(numbered):
    r"""LaTeX that numbers the chapters of part k only when ``numbered[k - 1]`` is true.

    >>> print(part_numbering([False, True]))
    \makeatletter
    \AtBeginDocument{\edef\lossbook@secnumdepth{\the\c@secnumdepth}}
    \newcommand{\lossbook@partnumbering}{\ifcase\value{part}\setcounter{secnumdepth}{-1}\or\setcounter{secnumdepth}{\lossbook@secnumdepth}\fi}
    \AddToHook{cmd/part/before}{\lossbook@partnumbering}
    \makeatother
    """
    # Before the k-th \part the part counter holds k - 1: \ifcase picks the k-th entry.
    cases = r"\or".join(
        r"\setcounter{secnumdepth}{\lossbook@secnumdepth}" if flag else r"\setcounter{secnumdepth}{-1}"
        for flag in numbered
    )
    return "\n".join([
        r"\makeatletter",
        r"\AtBeginDocument{\edef\lossbook@secnumdepth{\the\c@secnumdepth}}",
        r"\newcommand{\lossbook@partnumbering}{\ifcase\value{part}" + cases + r"\fi}",
        r"\AddToHook{cmd/part/before}{\lossbook@partnumbering}",
        r"\makeatother",
    ])


def use_stored_outputs(app):
    if app.builder.format == "latex":
        app.config.nb_execution_mode = "off"


def number_chapters_as_the_website(app):
    site_map = getattr(app.config, "external_site_map", None)
    if app.builder.format != "latex" or site_map is None or len(site_map.root.subtrees) < 2:
        return
    numbered = [bool(part.numbered) for part in site_map.root.subtrees]
    app.builder.context["preamble"] += "\n" + part_numbering(numbered) + "\n"


def _mime_parts(bundle):
    return {child.get("mime_type"): child for child in bundle.children}


class CodeOutputsAsLiteralBlocks(SphinxPostTransform):
    """Replace ``IPython.display.Code`` outputs by Python literal blocks in LaTeX builds."""

    builders = ("latex",)
    # Before MyST-NB's SelectMimeType (priority 4) picks text/latex out of the bundle.
    default_priority = 3

    def run(self, **kwargs):
        def is_bundle(node):
            return isinstance(node, nodes.container) and node.get("nb_element") == "mime_bundle"

        for bundle in list(self.document.findall(is_bundle)):
            parts = _mime_parts(bundle)
            latex, plain = parts.get("text/latex"), parts.get("text/plain")
            if latex is None or plain is None or "\\begin{Verbatim}" not in latex.astext():
                continue
            source = plain.astext()
            bundle.replace_self(nodes.literal_block(source, source, language="python"))


def setup(app):
    app.add_post_transform(CodeOutputsAsLiteralBlocks)
    app.connect("config-inited", add_macros)
    # MyST-NB freezes its configuration on builder-inited (priority 500): run before it.
    app.connect("builder-inited", use_stored_outputs, priority=100)
    # The LaTeX builder has copied latex_elements into its context by now.
    app.connect("builder-inited", number_chapters_as_the_website)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
