"""Show the library's code on a chapter's page: the source without its docstrings.

A chapter puts the code beside the formula it implements. The full numpydoc docstring (Parameters,
Notes with the math, Examples) belongs on the API page, and on the chapter's page it would repeat the
formula the chapter just derived. :func:`source_text` returns an object's source with every docstring
(of the function, of a class and its methods, of nested functions) cut down to its one-line summary;
:func:`show_source` displays that text as highlighted Python in a notebook. Everything else (comments,
blank lines, layout, string literals that are not docstrings) is kept exactly as written.

IPython is imported only when :func:`show_source` is called: the numeric code never needs it.
"""

import ast
import inspect
import io
import re
import tokenize
import warnings

__all__ = ["show_source", "source_text"]

# Where the first sentence of a summary paragraph ends: a full stop, question or exclamation mark
# followed by whitespace and a capital letter (so "e.g. np.exp" and "z_1 .. z_K" do not end it).
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z])")
# A string literal's prefix (r, u, b, f, in either case) and its opening quote.
_STRING_START = re.compile(r"([rRuUbBfF]*)('''|\"\"\"|'|\")")


def show_source(*objects):
    """Display the source of functions, methods or classes, docstrings cut to their summary line.

    Parameters
    ----------
    *objects : function, method or class
        One or more objects defined in Python source; several are shown one after another, separated
        by two blank lines.

    Returns
    -------
    IPython.display.Code
        The text of :func:`source_text`, highlighted as Python. In a notebook its ``text/plain``
        representation is that text (without the final newline), ``text/html`` and ``text/latex``
        are Pygments' highlighting of it.

    Raises
    ------
    TypeError
        If no object is given, or an object is not a function, method or class with Python source.

    Examples
    --------
    >>> from lossbook.source import show_source
    >>> def halve(x):
    ...     '''Half of `x`.
    ...
    ...     Examples
    ...     --------
    ...     >>> halve(3.0)
    ...     1.5
    ...     '''
    ...     return 0.5 * x
    >>> shown = show_source(halve)
    >>> shown.language
    'python'
    >>> print(shown.data, end="")
    def halve(x):
        '''Half of `x`.'''
        return 0.5 * x
    """
    text = source_text(*objects)
    from IPython.display import Code  # lazily: only a notebook showing code needs IPython

    return Code(text, language="python")


def source_text(*objects):
    """The source of functions, methods or classes, every docstring cut to its summary line.

    Each object's source (from ``inspect.getsource``) is dedented, and every docstring in it, of
    a function, of a class, of a method or of a nested function, is replaced by a one-line docstring
    holding its first sentence, with the docstring's own prefix and quotes and at its place. A
    docstring that is already one line is kept as it is. Nothing else changes.

    Parameters
    ----------
    *objects : function, method or class
        One or more objects defined in Python source (a dataclass is a class; a bound method, a
        ``staticmethod`` or a ``classmethod`` is shown as its function).

    Returns
    -------
    str
        The sources, in the order given, separated by two blank lines, ending with a newline.

    Raises
    ------
    TypeError
        If no object is given, or an object is not a function, method or class with Python source.

    Examples
    --------
    >>> from lossbook.source import source_text
    >>> def scaled(x, factor=2.0):
    ...     '''Multiply by a factor.
    ...
    ...     Notes
    ...     -----
    ...     .. math:: y = f x
    ...     '''
    ...     return factor * x  # a new array, even for factor 1
    >>> print(source_text(scaled), end="")
    def scaled(x, factor=2.0):
        '''Multiply by a factor.'''
        return factor * x  # a new array, even for factor 1
    >>> def plain(x):
    ...     return x
    >>> print(source_text(scaled, plain), end="")
    def scaled(x, factor=2.0):
        '''Multiply by a factor.'''
        return factor * x  # a new array, even for factor 1
    <BLANKLINE>
    <BLANKLINE>
    def plain(x):
        return x
    """
    if not objects:
        raise TypeError("source_text() needs at least one function, method or class to show")
    return "\n\n\n".join(_one_source(obj).rstrip("\n") for obj in objects) + "\n"


def _code_object(obj):
    """The function or class whose source shows `obj`, or a TypeError saying what was expected."""
    if isinstance(obj, (staticmethod, classmethod)) or inspect.ismethod(obj):
        obj = obj.__func__
    if inspect.isfunction(obj) or inspect.isclass(obj):
        return obj
    kind = "a module" if inspect.ismodule(obj) else f"{type(obj).__name__} {obj!r}"
    raise TypeError(f"expected a function, method or class defined in Python source; got {kind}")


def _one_source(obj):
    obj = _code_object(obj)
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError) as error:  # built in, or defined where no source file is kept
        raise TypeError(f"{obj.__qualname__} has no Python source to show ({error})") from None
    source = _dedent(source)
    if obj.__name__ == "<lambda>":  # a lambda has no docstring, and its line need not parse alone
        return source
    return _shorten_docstrings(source)


def _dedent(source):
    """Remove the first line's indentation from every line that starts with it.

    A method's source is indented by its class. Unlike :func:`textwrap.dedent`, a line of a
    multi-line string written at column 0 does not stop the dedenting.
    """
    lines = source.splitlines(keepends=True)
    margin = lines[0][: len(lines[0]) - len(lines[0].lstrip(" \t"))]
    return "".join(line[len(margin) :] if line.startswith(margin) else line for line in lines)


def _docstring_nodes(tree):
    """The expression statements that are docstrings, of every function and class in `tree`."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                yield first


def _shorten_docstrings(source):
    lines = source.splitlines(keepends=True)
    line_starts = [0]
    for line in lines:
        line_starts.append(line_starts[-1] + len(line))

    def offset(lineno, col_offset):
        # ast counts columns in UTF-8 bytes; the text is indexed by characters.
        line = lines[lineno - 1]
        return line_starts[lineno - 1] + len(line.encode("utf-8")[:col_offset].decode("utf-8"))

    spans = []
    for node in _docstring_nodes(ast.parse(source)):
        start, end = offset(node.lineno, node.col_offset), offset(node.end_lineno, node.end_col_offset)
        spans.append((start, end, _one_line_docstring(source[start:end], node.value.value)))
    # Replace from the end, so that earlier offsets stay valid.
    for start, end, replacement in sorted(spans, reverse=True):
        source = source[:start] + replacement + source[end:]
    return source


def _one_line_docstring(literal, value):
    """A one-line docstring literal holding the first sentence of the docstring `literal`."""
    if "\n" not in literal:
        return literal
    if _string_token_count(literal) != 1:  # implicitly concatenated pieces: rebuild from the value
        return _literal_from_value(value)
    match = _STRING_START.match(literal)
    prefix, quote = match.groups()
    body = literal[match.end() : len(literal) - len(quote)]
    # Written as in the source (escapes and all), so that a raw docstring stays a raw string.
    shortened = prefix + quote + _summary(body) + quote
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an invalid escape warned when the module was compiled
            ast.literal_eval(shortened)
    except (SyntaxError, ValueError):  # e.g. the summary ends with the quote character
        return _literal_from_value(value)
    return shortened


def _string_token_count(literal):
    tokens = tokenize.generate_tokens(io.StringIO(literal).readline)
    return sum(token.type == tokenize.STRING for token in tokens)


def _literal_from_value(value):
    summary = _summary(value)
    return '"""' + summary.replace("\\", "\\\\").replace('"', '\\"') + '"""'


def _summary(text):
    """The first sentence of the first paragraph of `text`, on one line."""
    paragraph = []
    for line in text.strip().splitlines():
        if not line.strip():
            break
        paragraph.append(line.strip())
    summary = " ".join(paragraph)
    for match in _SENTENCE_END.finditer(summary):
        if summary[: match.start()].count("`") % 2 == 0:  # not inside inline code or math
            return summary[: match.end()]
    return summary
