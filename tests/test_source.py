"""lossbook.source: a chapter shows the code without its docstrings, cut to their summary line.

The objects shown are defined here, in a file, so that ``inspect.getsource`` finds them; each test
checks one promise of ``source_text`` (what is cut, what is kept) or of ``show_source`` (what the
notebook stores).
"""

import inspect
import textwrap
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

from lossbook.source import show_source, source_text


def scaled_log_softmax(x, scale=1.0):
    r"""Log-probabilities of scaled scores: :math:`s x_i - \log \sum_j e^{s x_j}`.

    Parameters
    ----------
    x : array_like
        Scores.

    Notes
    -----
    .. math::

        \log p_i = s x_i - \operatorname{logsumexp}(s x)

    See :func:`lossbook.log_softmax`.

    Examples
    --------
    >>> scaled_log_softmax([0.0, 0.0]).round(3)
    array([-0.693, -0.693])
    """
    z = scale * np.asarray(x, dtype=float)
    # Shift by the maximum: every exponent is then at most 0.
    shifted = z - z.max()
    return shifted - np.log(np.exp(shifted).sum())


def no_docstring(x):
    # Nothing to cut here: the text must come back unchanged.
    label = """a multi-line string
    that is not a docstring"""
    return x, label


def string_after_the_first_statement(x):
    """Return `x`, with a string expression that is not a docstring.

    More text.
    """
    x = x + 1
    """This string is not a docstring: it is not the first statement."""
    message = "\"\"\" inside a string"
    return x, message


def summary_wraps_onto_a_second_line(x):
    """A summary sentence that is long enough to have been wrapped onto a second line by its
    author, who then went on.

    Body.
    """
    return x


def two_sentences_in_the_summary(x):
    """Compute e.g. np.exp of `x` first. Then more that is not the summary.

    Body.
    """
    return x


def docstring_opens_on_its_own_line(x):
    """
    The summary, on the second line.

    Body.
    """
    return x


def unicode_before_the_closing_quotes(x):
    """Clip to the unit interval.

    Every entry ends 0 ≤ x ≤ 1 ± nothing."""
    return np.clip(x, 0, 1)  # “curly” quotes and ≤ in a comment are kept


def summary_ends_with_a_quote(x):
    """Say "hi"

    More.
    """
    return x


def implicitly_concatenated_docstring(x):
    ("Two pieces. "
     "One docstring.")
    return x


def with_nested_function(values):
    """Apply a nested helper to every value.

    Notes
    -----
    The helper has a docstring of its own.
    """

    def helper(v):
        """Double a value.

        Long explanation.
        """
        return 2 * v

    return [helper(v) for v in values]


class Accumulator:
    """Adds up what it is given.

    Attributes
    ----------
    total : float
        The running sum.
    """

    def __init__(self):
        self.total = 0.0

    def add(self, value):
        """Add `value` to the total.

        Parameters
        ----------
        value : float
            What to add.
        """
        self.total += value  # in place
        return self

    @staticmethod
    def zero():
        """A fresh accumulator's total, zero.

        Returns
        -------
        float
        """
        return 0.0


@dataclass(frozen=True)
class Interval:
    """A closed interval [low, high].

    Parameters
    ----------
    low, high : float
        The ends.
    """

    low: float
    high: float = 1.0

    def width(self):
        """The length, high - low."""
        return self.high - self.low


def compiles(text):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an invalid escape in a rebuilt string would warn
        compile(text, "<shown source>", "exec")
    return True


def test_numpydoc_docstring_is_cut_to_its_summary_line():
    text = source_text(scaled_log_softmax)
    assert text.splitlines()[:2] == [
        "def scaled_log_softmax(x, scale=1.0):",
        r'    r"""Log-probabilities of scaled scores: :math:`s x_i - \log \sum_j e^{s x_j}`."""',
    ]
    for gone in (".. math::", ":func:", ">>>", "Parameters", "Notes", "Examples", "operatorname"):
        assert gone not in text
    # The rest of the function, comment included, is the source as written.
    body = textwrap.dedent(inspect.getsource(scaled_log_softmax)).split('    """\n', 1)[1]
    assert text.endswith(body)
    assert compiles(text)


def test_a_raw_docstring_stays_raw_and_means_the_same():
    namespace = {"np": np}
    exec(compile(source_text(scaled_log_softmax), "<shown source>", "exec"), namespace)
    assert namespace["scaled_log_softmax"].__doc__ == scaled_log_softmax.__doc__.splitlines()[0]


def test_a_function_without_docstring_is_unchanged():
    assert source_text(no_docstring) == inspect.getsource(no_docstring)


def test_comments_and_strings_that_are_not_docstrings_are_kept():
    text = source_text(string_after_the_first_statement)
    assert '    """Return `x`, with a string expression that is not a docstring."""\n' in text
    assert '    """This string is not a docstring: it is not the first statement."""\n' in text
    assert 'message = "\\"\\"\\" inside a string"' in text
    assert "More text." not in text
    assert "# “curly” quotes and ≤ in a comment are kept" in source_text(unicode_before_the_closing_quotes)
    assert compiles(text)


def test_the_summary_is_the_first_sentence_on_one_line():
    assert source_text(summary_wraps_onto_a_second_line).splitlines()[1] == (
        '    """A summary sentence that is long enough to have been wrapped onto a second line by its'
        ' author, who then went on."""'
    )
    assert source_text(two_sentences_in_the_summary).splitlines()[1] == (
        '    """Compute e.g. np.exp of `x` first."""'
    )
    assert source_text(docstring_opens_on_its_own_line).splitlines()[1] == (
        '    """The summary, on the second line."""'
    )


def test_awkward_docstrings_are_rebuilt_from_their_value():
    text = source_text(summary_ends_with_a_quote)
    namespace = {}
    exec(compile(text, "<shown source>", "exec"), namespace)
    assert namespace["summary_ends_with_a_quote"].__doc__ == 'Say "hi"'
    text = source_text(implicitly_concatenated_docstring)
    assert '"""Two pieces."""' in text and "One docstring" not in text
    assert compiles(text)


def test_non_ascii_text_does_not_shift_the_cut():
    assert source_text(unicode_before_the_closing_quotes) == (
        "def unicode_before_the_closing_quotes(x):\n"
        '    """Clip to the unit interval."""\n'
        "    return np.clip(x, 0, 1)  # “curly” quotes and ≤ in a comment are kept\n"
    )


def test_a_nested_function_docstring_is_cut_too():
    text = source_text(with_nested_function)
    assert '    """Apply a nested helper to every value."""\n' in text
    assert '        """Double a value."""\n' in text
    assert "Long explanation" not in text and "Notes" not in text
    # Blank lines around the nested function are kept.
    assert '"""Double a value."""\n        return 2 * v\n\n    return' in text
    assert compiles(text)


def test_a_class_and_its_methods():
    text = source_text(Accumulator)
    assert text == (
        "class Accumulator:\n"
        '    """Adds up what it is given."""\n'
        "\n"
        "    def __init__(self):\n"
        "        self.total = 0.0\n"
        "\n"
        "    def add(self, value):\n"
        '        """Add `value` to the total."""\n'
        "        self.total += value  # in place\n"
        "        return self\n"
        "\n"
        "    @staticmethod\n"
        "    def zero():\n"
        '        """A fresh accumulator\'s total, zero."""\n'
        "        return 0.0\n"
    )
    assert compiles(text)


def test_a_method_is_dedented_whether_bound_unbound_or_static():
    expected = (
        "def add(self, value):\n"
        '    """Add `value` to the total."""\n'
        "    self.total += value  # in place\n"
        "    return self\n"
    )
    assert source_text(Accumulator.add) == expected
    assert source_text(Accumulator().add) == expected
    assert source_text(Accumulator.__dict__["zero"]).startswith("@staticmethod\ndef zero():\n")


def test_a_dataclass_keeps_its_decorator_and_fields():
    text = source_text(Interval)
    assert text.startswith('@dataclass(frozen=True)\nclass Interval:\n    """A closed interval [low, high]."""\n')
    assert "    low: float\n    high: float = 1.0\n" in text
    assert '        """The length, high - low."""\n' in text  # one line already: kept as it is
    assert compiles(text)


def test_several_objects_are_separated_by_two_blank_lines():
    text = source_text(no_docstring, Accumulator.add)
    first, second = text.split("\n\n\n")
    assert first + "\n" == source_text(no_docstring)
    assert second == source_text(Accumulator.add)
    assert compiles(text)


def test_show_source_is_python_code_whose_plain_text_is_the_source():
    from IPython.core.formatters import DisplayFormatter
    from IPython.display import Code

    shown = show_source(scaled_log_softmax, Interval)
    assert isinstance(shown, Code)
    assert shown.language == "python"
    assert shown.data == source_text(scaled_log_softmax, Interval)
    # What a notebook stores: text/plain is the source itself (without the final newline); the
    # html and latex forms are its highlighting.
    bundle, _ = DisplayFormatter().format(shown)
    assert bundle["text/plain"] == shown.data.rstrip("\n")
    assert {"text/html", "text/latex"} <= set(bundle)
    assert "scaled_log_softmax" in bundle["text/html"]


@pytest.mark.parametrize(
    "not_code",
    [42, "def f(): pass", len, int, np.exp, np, property(lambda self: 1)],
    ids=["number", "string", "builtin", "builtin-class", "ufunc", "module", "property"],
)
def test_an_object_without_python_source_is_rejected(not_code):
    with pytest.raises(TypeError, match="function, method or class|no Python source"):
        source_text(not_code)
    with pytest.raises(TypeError):
        show_source(not_code)


def test_nothing_to_show_is_rejected():
    with pytest.raises(TypeError, match="at least one"):
        source_text()
