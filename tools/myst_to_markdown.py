"""Turn the MyST of the chapters into plain Markdown, for notebooks opened in Jupyter or Colab.

The website renders MyST: directives (```` ```{exercise} ````, ```` ```{admonition} ````), roles
(``{doc}`softmax` ``, ``{footcite}`lin2017focal` ``) and targets. Plain Jupyter and Colab show them
raw. :func:`convert_notebook` rewrites every Markdown cell of a notebook (``tools/make_assignments.py``
calls it on every student notebook) and :func:`convert` one Markdown text:

* ``{exercise}`` becomes a heading with the number and title the website shows ("Exercise 9.3 (pos_weight
  ...)"); ``{solution-start}`` (or ``{solution}``) the heading "Solution to Exercise 9.3 (...)", and
  ``{solution-end}`` disappears;
* ``{footcite}`` and ``{cite}`` become author-year text from ``book/references.bib`` ("(Lin et al.
  2017)"; the ``:t`` forms "Lin et al. (2017)"), and ``{footbibliography}`` the list of the works the
  notebook cites (under the chapter's own "References" heading);
* ``{doc}``, ``{ref}``, ``{numref}``, ``{term}`` and ``{eq}`` become Markdown links to the page on the
  course website, with the text the website shows (the page's title, "Exercise 9.3 (...)");
  ``{file}`` and ``{download}`` links to the file in the repository;
* admonitions and dropdowns (``{admonition}``, ``{note}``, ``{tip}``, ``{dropdown}``, ...) become
  blockquotes with a bold title; ``{math}`` becomes ``$$ ... $$`` (``$`` inline); ``{code-block}`` a
  plain fenced block; ``{figure}`` and ``{image}`` Markdown images served from the repository;
* targets (``(label)=``), comments (``% ...``), block breaks (``+++``) and equation labels after ``$$``
  disappear; ``{glue}`` (unused today) becomes the glued name in code font, since the value lives only
  in the executed notebook's outputs.

A role or directive without a rule raises :class:`ValueError` naming it: the student notebooks never
show raw markup (``tests/test_myst_to_markdown.py`` checks every assignment).

The website's address: ``html.baseurl`` in ``_config.yml`` when it is set (a custom domain), otherwise
the GitHub Pages address of ``repository.url`` (``https://github.com/OWNER/REPO`` is published at
``https://OWNER.github.io/REPO/``, see ``.github/workflows/pages.yml``). A fork that changes
``repository.url`` therefore links to its own site with no other edit. Both editions (open and class)
publish the pages at the same paths, so the links fit either; in the class edition a link to an
exercise leads to the exercise without its solution.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import latexcodec  # noqa: F401  (registers the "ulatex" codec: M{\"u}ller -> Müller)
import nbformat
import yaml
from pybtex.database import parse_file

REPO_ROOT = Path(__file__).resolve().parent.parent

# {name}`content`, not inside a code span (`{doc}` quoted as code is left alone).
ROLE = re.compile(r"(?<!`)\{([a-z][\w:+-]*)\}`([^`]*)`")
FENCE_OPEN = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<argument>.*?)\s*$"
)
CODE_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*)$")
TARGET = re.compile(r"^\s*\(([^()\s]+)\)=\s*$")
COMMENT = re.compile(r"^\s*%")
BLOCK_BREAK = re.compile(r"^\+\+\+")
EQUATION_LABEL = re.compile(r"^(\s*.*\$\$)\s*\(([^()\s]+)\)\s*$")
EXERCISE = re.compile(r"^[ \t]*(?:`{3,}|:{3,})\{exercise\}[ \t]*(.*?)\s*\n((?:[ \t]*:[\w-]+:.*\n)*)", re.M)
EXPLICIT = re.compile(r"^(.*?)\s*<([^<>]+)>$", re.S)

ADMONITIONS = {"note", "tip", "hint", "important", "warning", "caution", "attention", "danger", "error", "seealso"}
BLOCKQUOTED = {"admonition", "dropdown", "topic", "sidebar", "margin", "epigraph", "card"} | ADMONITIONS
CODE_BLOCKS = {"code", "code-block", "sourcecode", "code-cell"}


@dataclass(frozen=True)
class Reference:
    """One bibliography entry: how it is cited in the text and how it is listed."""

    authors: str  # "Lin et al.", "Blanchard, Higham and Higham"
    year: str
    entry: str  # the full Markdown line of the reference list


@dataclass(frozen=True)
class Target:
    """Where a label points on the website, and the texts {ref} and {numref} show for it."""

    doc: str  # "book/binary_cross_entropy"
    ref_text: str
    numref_text: str


@dataclass
class Course:
    """What the conversion needs to know about the whole course (read once by :func:`load_course`)."""

    site_url: str
    repository_url: str
    branch: str
    references: dict[str, Reference]
    titles: dict[str, str] = field(default_factory=dict)  # "book/softmax" -> "Softmax ..."
    targets: dict[str, Target] = field(default_factory=dict)
    exercises: dict[str, str] = field(default_factory=dict)  # exercise label -> "Exercise 9.3 (title)"
    terms: dict[str, str] = field(default_factory=dict)  # glossary term, lower case -> its anchor


def site_url(config: dict) -> str:
    """The course website's address, ending in "/": ``html.baseurl``, else the repository's Pages address.

    >>> site_url({"repository": {"url": "https://github.com/Someone/course"}})
    'https://someone.github.io/course/'
    >>> site_url({"html": {"baseurl": "https://losses.example.org"}, "repository": {"url": "x"}})
    'https://losses.example.org/'
    """
    baseurl = (config.get("html") or {}).get("baseurl")
    if baseurl:
        return baseurl.rstrip("/") + "/"
    url = config["repository"]["url"].rstrip("/")
    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", url)
    if not match:
        raise ValueError(f"_config.yml: repository.url must be https://github.com/OWNER/REPO, got {url!r}")
    owner, repo = match.group(1).lower(), match.group(2)
    if repo.lower() == f"{owner}.github.io":  # a user or organisation site is served at the root
        return f"https://{owner}.github.io/"
    return f"https://{owner}.github.io/{repo}/"


def plain_latex(text: str) -> str:
    """BibTeX's LaTeX as Unicode text: accents decoded, protecting braces dropped."""
    return codecs.decode(text, "ulatex").replace("{", "").replace("}", "").replace("--", "–")


def read_references(path: Path) -> dict[str, Reference]:
    references = {}
    for key, entry in parse_file(str(path), bib_format="bibtex").entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        last = [plain_latex(" ".join(person.prelast_names + person.last_names)) for person in people]
        full = [plain_latex(" ".join(person.first_names + person.middle_names + person.prelast_names
                                     + person.last_names)) for person in people]
        if len(last) > 3:
            authors = f"{last[0]} et al."
        else:
            authors = " and ".join([", ".join(last[:-1]), last[-1]] if len(last) > 1 else last)
        if len(full) > 6:  # a long author list, shortened as the reference lists of journals do
            listed = ", ".join(full[:3]) + " et al."
        else:
            listed = ", ".join(full[:-1]) + (" and " if len(full) > 1 else "") + full[-1] if full else ""
        fields = {name.lower(): plain_latex(value) for name, value in entry.fields.items()}
        year = fields.get("year", "n.d.")
        venue = next((fields[k] for k in ("journal", "booktitle", "publisher", "howpublished") if fields.get(k)), None)
        parts = [f"{listed} ({year}). *{fields.get('title', key)}*."]
        if venue:
            parts.append(f"{venue}.")
        if fields.get("doi"):
            parts.append(f"<https://doi.org/{fields['doi']}>")
        elif fields.get("url"):
            parts.append(f"<{fields['url']}>")
        references[key] = Reference(authors, year, " ".join(parts))
    return references


def first_heading(path: Path) -> str | None:
    if path.suffix == ".ipynb":
        sources = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
    else:
        sources = [path.read_text(encoding="utf-8")]
    for source in sources:
        match = re.search(r"^#\s+(.+?)\s*$", source, re.M)
        if match:
            return match.group(1)
    return None


def chapter_numbers(toc: dict) -> dict[str, int]:
    """The chapter number of each file in a numbered part of _toc.yml (numbers run on across parts)."""
    numbers, count = {}, 0
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            if part.get("numbered"):
                count += 1
                numbers[chapter["file"]] = count
    return numbers


def markdown_sources(path: Path) -> list[str]:
    if path.suffix == ".ipynb":
        return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
    return [path.read_text(encoding="utf-8")]


@functools.cache
def load_course(root: Path = REPO_ROOT) -> Course:
    """Read _config.yml, _toc.yml, the bibliography, the glossary and every page's titles and labels."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    repository = config["repository"]
    course = Course(
        site_url=site_url(config),
        repository_url=repository["url"].rstrip("/"),
        branch=repository.get("branch", "main"),
        references={key: ref for bib in config.get("bibtex_bibfiles", []) for key, ref in
                    read_references(root / bib).items()},
    )
    numbers = chapter_numbers(toc)
    docs = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    for doc in docs:
        path = next((root / f"{doc}{suffix}" for suffix in (".ipynb", ".md") if (root / f"{doc}{suffix}").is_file()),
                    None)
        if path is None:
            continue
        course.titles[doc] = first_heading(path) or PurePosixPath(doc).name
        position = 0
        for source in markdown_sources(path):
            for match in EXERCISE.finditer(source):
                position += 1
                number = f"{numbers[doc]}.{position}" if doc in numbers else f"{position}"
                title, options = match.group(1), match.group(2)
                name = f"Exercise {number}" + (f" ({title})" if title else "")
                label = re.search(r":label:\s*(\S+)", options)
                if label:
                    course.exercises[label.group(1)] = name
                    course.targets[label.group(1)] = Target(doc, name, f"Exercise {number}")
            for match in re.finditer(r"^\s*\(([^()\s]+)\)=\s*\n+#+\s+(.+)$", source, re.M):
                course.targets[match.group(1)] = Target(doc, match.group(2).strip(), match.group(2).strip())
            for match in re.finditer(r":label:\s*(\S+)|\$\$\s*\(([^()\s]+)\)\s*$", source, re.M):
                label = match.group(1) or match.group(2)
                course.targets.setdefault(label, Target(doc, f"({label})", f"({label})"))
    glossary = root / "book" / "glossary.md"
    if glossary.is_file():
        text = glossary.read_text(encoding="utf-8")
        block = re.search(r"```\{glossary\}\n(.*?)\n```", text, re.S)
        for term in re.findall(r"^(\S.*?)\s*$", block.group(1) if block else "", re.M):
            course.terms[term.lower()] = "term-" + re.sub(r"[^A-Za-z0-9_]+", "-", term).strip("-")
    return course


@dataclass
class Document:
    """The page being converted: its name ("book/softmax") and the keys it cites, in order."""

    name: str
    course: Course
    cited: list[str] = field(default_factory=list)

    def url(self, doc: str, anchor: str = "") -> str:
        return f"{self.course.site_url}{doc}.html" + (f"#{anchor}" if anchor else "")

    def resolve_doc(self, target: str) -> str:
        target = re.sub(r"\.(md|ipynb)$", "", target)
        if target.startswith("/"):
            return target.lstrip("/")
        parts = []
        for part in (PurePosixPath(self.name).parent / target).parts:
            if part == "..":
                parts.pop()
            elif part != ".":
                parts.append(part)
        return "/".join(parts)

    def repository_file(self, path: str) -> str:
        return f"{self.course.repository_url}/blob/{self.course.branch}/{path}"

    def raw_file(self, path: str) -> str:
        owner_repo = self.course.repository_url.removeprefix("https://github.com/")
        resolved = self.resolve_doc(path) if not path.startswith("http") else path
        return f"https://raw.githubusercontent.com/{owner_repo}/{self.course.branch}/{resolved}"


def citation(document: Document, keys: str, form: str) -> str:
    works = []
    for key in (k.strip() for k in keys.split(",") if k.strip()):
        if key not in document.course.references:
            raise ValueError(f"{document.name}: citation key {key!r} is not in the bibliography")
        if key not in document.cited:
            document.cited.append(key)
        works.append(document.course.references[key])
    if form == "t":
        return "; ".join(f"{w.authors} ({w.year})" for w in works)
    if form == "author":
        return "; ".join(w.authors for w in works)
    if form == "year":
        return "; ".join(w.year for w in works)
    return "(" + "; ".join(f"{w.authors} {w.year}" for w in works) + ")"


def explicit(content: str) -> tuple[str | None, str]:
    """("text", "target") for "text <target>"; (None, "target") for a bare target."""
    match = EXPLICIT.match(content)
    return (match.group(1).strip(), match.group(2).strip()) if match else (None, content.strip())


def role(document: Document, name: str, content: str) -> str:
    course = document.course
    base, _, form = name.partition(":")
    if base in {"footcite", "cite"}:
        return citation(document, content, {"t": "t", "ts": "t", "author": "author", "year": "year"}.get(form, "p"))
    if name == "doc":
        text, target = explicit(content)
        doc = document.resolve_doc(target)
        return f"[{text or course.titles.get(doc, PurePosixPath(doc).name)}]({document.url(doc)})"
    if name in {"ref", "numref", "eq"}:
        text, label = explicit(content)
        if label not in course.targets:
            raise ValueError(f"{document.name}: {{{name}}}`{content}` names no label of the course")
        target = course.targets[label]
        if name == "eq":
            return f"[{text or target.ref_text}]({document.url(target.doc, 'equation-' + label)})"
        shown = target.ref_text if name == "ref" else target.numref_text
        if text and name == "numref":
            shown = text.replace("{number}", target.numref_text.split(" ")[-1]).replace("%s", target.numref_text)
        elif text:
            shown = text
        return f"[{shown}]({document.url(target.doc, label)})"
    if name == "term":
        text, term = explicit(content)
        anchor = course.terms.get(term.lower(), "term-" + re.sub(r"[^A-Za-z0-9_]+", "-", term).strip("-"))
        return f"[{text or term}]({document.url('book/glossary', anchor)})"
    if name == "math":
        return f"${content}$"
    if name in {"file", "code", "literal", "samp", "command", "program"}:
        return f"[`{content}`]({document.repository_file(content)})" if name == "file" else f"`{content}`"
    if name == "download":
        text, path = explicit(content)
        resolved = document.resolve_doc(path) if not path.startswith("/") else path.lstrip("/")
        return f"[{text or PurePosixPath(path).name}]({document.repository_file(resolved)})"
    if name == "kbd":
        return f"<kbd>{content}</kbd>"
    if name in {"sub", "sup"}:
        return f"<{name}>{content}</{name}>"
    if name == "abbr":
        return explicit(content.replace("(", "<", 1).replace(")", ">", 1))[0] or content
    if base == "glue" or name == "glue":
        return f"`{content}`"
    raise ValueError(f"{document.name}: no plain-Markdown rule for the role {{{name}}} (tools/myst_to_markdown.py)")


def inline(document: Document, line: str) -> str | None:
    """`line` with its roles converted; None for a line that only the website reads (a target, a comment)."""
    if TARGET.match(line) or COMMENT.match(line) or BLOCK_BREAK.match(line):
        return None
    label = EQUATION_LABEL.match(line)
    if label:
        line = label.group(1)
    return ROLE.sub(lambda m: role(document, m.group(1), m.group(2)), line)


def blockquote(title: str, body: str) -> str:
    lines = [f"**{title}**", ""] + body.split("\n") if title else body.split("\n")
    return "\n".join(f"> {line}".rstrip() for line in lines)


def directive(document: Document, name: str, argument: str, options: dict[str, str], body: str) -> str:
    course = document.course
    if name == "exercise":
        label = options.get("label")
        heading = course.exercises.get(label) if label else None
        return f"### {heading or ('Exercise' + (f' ({argument})' if argument else ''))}\n\n{body}".rstrip()
    if name in {"solution-start", "solution"}:
        heading = course.exercises.get(argument.strip(), "the exercise")
        return f"#### Solution to {heading}" + (f"\n\n{body}" if body.strip() else "")
    if name == "solution-end":
        return ""
    if name in BLOCKQUOTED:
        title = argument or (name.capitalize() if name in ADMONITIONS else "")
        if name == "seealso":
            title = argument or "See also"
        return blockquote(title, body)
    if name == "math":
        return f"$$\n{body.strip()}\n$$"
    if name in {"footbibliography", "bibliography"}:
        keys = list(course.references) if "all" in options else document.cited
        if name == "footbibliography":
            keys, document.cited[:] = list(document.cited), []
        return "\n".join(f"- {course.references[k].entry}" for k in keys)  # under the page's own heading
    if name in CODE_BLOCKS:
        language = argument or ("python" if name == "code-cell" else "")
        return f"```{language}\n{body}\n```"
    if name in {"figure", "image"}:
        alt = options.get("alt") or (body.strip() if name == "figure" else "") or PurePosixPath(argument).stem
        image = f"![{alt}]({document.raw_file(argument)})"
        return image + (f"\n\n*{body.strip()}*" if name == "figure" and body.strip() else "")
    if name.startswith("glue"):
        page = document.url(document.name)
        return f"*(The output `{argument}` is shown on [the website's page]({page}).)*"
    raise ValueError(
        f"{document.name}: no plain-Markdown rule for the directive {{{name}}} (tools/myst_to_markdown.py)"
    )


def split_options(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    options = {}
    if lines and lines[0].strip() == "---":  # a YAML block of options
        end = lines.index("---", 1) if "---" in lines[1:] else 0
        options = {str(k): str(v) for k, v in (yaml.safe_load("\n".join(lines[1:end])) or {}).items()}
        return options, lines[end + 1:]
    while lines and OPTION.match(lines[0]):
        key, value = OPTION.match(lines[0]).groups()
        options[key] = value
        lines = lines[1:]
    return options, lines


def closing_line(lines: list[str], opening: int, fence: str) -> int:
    """The index of the line that closes the fence opened at `opening` (the end of the text if none)."""
    closing = re.compile(rf"[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*")
    return next((j for j in range(opening + 1, len(lines)) if closing.fullmatch(lines[j])), len(lines))


def convert_lines(document: Document, lines: list[str]) -> list[str]:
    out, index = [], 0
    while index < len(lines):
        line = lines[index]
        opening = FENCE_OPEN.match(line)
        code = CODE_FENCE.match(line)
        if opening:
            fence = opening.group("fence")
            close = closing_line(lines, index, fence)
            options, body = split_options(lines[index + 1:close])
            name = opening.group("name")
            if name in CODE_BLOCKS:
                converted = "\n".join(body)  # code stays as written
            else:
                converted = "\n".join(convert_lines(document, body)).strip("\n")
            argument = inline(document, opening.group("argument")) or ""
            result = directive(document, name, argument, options, converted)
            out.extend(opening.group("indent") + x if x else x for x in result.split("\n"))
            index = close + 1
        elif code:  # a plain code block: copied as it is
            fence = code.group(1)
            close = closing_line(lines, index, fence)
            out.extend(lines[index:close + 1])
            index = close + 1
        else:
            converted = inline(document, line)
            if converted is not None:
                out.append(converted)
            index += 1
    return out


def convert(text: str, *, doc: str, course: Course | None = None, cited: list[str] | None = None) -> str:
    """The Markdown `text` of page `doc` ("book/softmax") with every MyST role and directive made plain.

    `cited` collects the citation keys met so far (the page's later ``{footbibliography}`` lists them).

    >>> convert("See {doc}`softmax` and {footcite}`lin2017focal`.", doc="book/cross_entropy")[:35]
    'See [Softmax: from scores to probab'
    """
    document = Document(doc, course or load_course(), cited if cited is not None else [])
    converted = "\n".join(convert_lines(document, text.split("\n")))
    return re.sub(r"\n{3,}", "\n\n", converted).strip("\n")


def convert_notebook(notebook: nbformat.NotebookNode, doc: str, course: Course | None = None) -> nbformat.NotebookNode:
    """Convert every Markdown cell of `notebook` (page `doc`) in place, dropping cells left empty; return it."""
    cited: list[str] = []
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = convert(cell.source, doc=doc, course=course, cited=cited)
            if not cell.source.strip():
                continue
        cells.append(cell)
    notebook.cells = cells
    return notebook
