"""lossbook.exercises: every check fails with its own message on a missing or wrong answer, never a raw error.

A stub left as ``None``, a value of the wrong type, or ``True`` assigned where a computed number is
expected must raise :class:`~lossbook.exercises.ExerciseError` (an ``AssertionError``, which nbgrader
scores as a failed test cell) with a message that says what is wrong. The oracles: the bad values are
built by hand for each kind of mistake; correct answers come from NumPy and SymPy directly.
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lossbook import softmax
from lossbook.exercises import (
    ExerciseError,
    check_answer,
    check_expression,
    check_function,
    check_number,
    check_property,
    check_sympy,
    compare,
)

x = sp.Symbol("x", real=True)

# Each check, called with the student's value in the place of the answer.
CHECKS = {
    "check_answer": lambda got: check_answer(got, 0.5, name="the answer"),
    "check_answer (array)": lambda got: check_answer(got, np.array([0.1, 0.9]), name="the answer"),
    "check_function": lambda got: check_function(got, np.exp, [("two numbers", (np.array([0.0, 1.0]),))],
                                                 name="the answer"),
    "check_expression": lambda got: check_expression(got, lambda v: v**2, [x], name="the answer"),
    "check_number": lambda got: check_number(got, name="the answer", low=0.0, high=1.0),
    "check_sympy": lambda got: check_sympy(got, [x], name="the answer"),
    "check_property": lambda got: check_property(got, lambda p: np.isclose(np.sum(p), 1.0), "sums to 1",
                                                 name="the answer"),
}

WRONG_VALUES = {
    "a string": "0.5",
    "a list of None": [None, None],
    "a dict": {"value": 0.5},
    "a SymPy boolean": sp.true,
    "a set": {0.5},
    "an object": object(),
    "a ragged list": [[0.1], [0.2, 0.7]],
}


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_none_fails_with_a_message_not_a_type_error(check):
    with pytest.raises(ExerciseError, match=r"the answer is (None|not written yet)"):
        check(None)


@pytest.mark.parametrize("value", WRONG_VALUES.values(), ids=WRONG_VALUES.keys())
@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_a_wrong_type_fails_with_an_exercise_error(check, value):
    with pytest.raises(ExerciseError, match="the answer"):
        check(value)


@pytest.mark.parametrize("claim", [True, False, np.True_, np.array([True, True])])
@pytest.mark.parametrize("check", ["check_answer", "check_answer (array)", "check_number"])
def test_a_bool_cannot_stand_for_a_computed_number(check, claim):
    with pytest.raises(ExerciseError, match=r"bool \(True/False\)|expected"):
        CHECKS[check](claim)


def test_exercise_error_is_an_assertion_error():
    # nbgrader scores a test cell that raises as failed; an AssertionError is what it expects of a test.
    assert issubclass(ExerciseError, AssertionError)


def test_check_function_names_a_missing_or_wrong_function():
    with pytest.raises(ExerciseError, match="my_softmax is None: define it"):
        check_function(None, softmax, [("one row", (np.zeros(3),))], name="my_softmax")
    with pytest.raises(ExerciseError, match="my_softmax must be a function; got float"):
        check_function(0.5, softmax, [("one row", (np.zeros(3),))], name="my_softmax")
    with pytest.raises(ExerciseError, match="not written yet"):
        check_function(lambda z: (_ for _ in ()).throw(NotImplementedError()), softmax, [("row", (np.zeros(3),))])


def test_check_number_accepts_numbers_of_every_kind(capsys):
    for value in [0.25, 1, np.float32(0.5), np.int64(1), sp.Rational(1, 3), sp.Integer(0), sp.pi / 4]:
        check_number(value, name="p", low=0.0, high=1.0)
    check_number(7.0, name="count", integer=True)
    assert capsys.readouterr().out.splitlines() == ["p: a number in [0, 1]."] * 7 + ["count: a whole number."]


@pytest.mark.parametrize(("value", "message"), [
    (1.5, r"1.5; expected a number in \[0, 1\]"),
    (-0.1, r"-0.1; expected a number in \[0, 1\]"),
    (float("nan"), "nan; expected a finite number"),
    (np.inf, "inf; expected a finite number"),
    (sp.Symbol("T") / 2, r"still holds the symbols \['T'\]"),
    (sp.I, "not a real number"),
    (np.array([0.5, 0.5]), "must be one real number; got ndarray"),
    (0.5 + 0j, "must be one real number; got complex"),
])
def test_check_number_says_why_a_value_is_refused(value, message):
    with pytest.raises(ExerciseError, match=message):
        check_number(value, low=0.0, high=1.0)


def test_check_number_wants_a_whole_number_when_asked():
    with pytest.raises(ExerciseError, match="2.5; expected a whole number"):
        check_number(2.5, integer=True)


def test_check_property_reports_a_failing_predicate_and_its_error():
    with pytest.raises(ExerciseError, match=r"p does not satisfy: is sorted; got array of shape \(3,\)"):
        check_property(np.array([3.0, 1.0, 2.0]), lambda a: np.all(np.diff(a) >= 0), "is sorted", name="p")
    with pytest.raises(ExerciseError, match=r"could not be checked for: has 3 rows \(AttributeError"):
        check_property(3.0, lambda a: a.shape[0] == 3, "has 3 rows", name="p")


def test_check_property_does_not_take_a_truthy_non_bool_for_true():
    # A predicate that returns the student's value itself (truthy) must not pass the check.
    with pytest.raises(ExerciseError, match="does not satisfy"):
        check_property("yes", lambda value: value, "is confirmed", name="claim")


@given(arrays(np.float64, st.integers(1, 6), elements=st.floats(-1e6, 1e6)))
def test_compare_passes_an_array_against_itself_and_fails_a_shifted_one(values):
    compare(values.copy(), values)
    with pytest.raises(ExerciseError, match="differs at index"):
        compare(values + 1.0 + np.abs(values), values)


def test_compare_accepts_an_integer_where_a_float_is_expected_but_not_a_bool():
    compare(1, 1.0)
    compare(np.array([0, 1]), np.array([0.0, 1.0]))
    compare(True, True)  # a bool is fine where a bool is the expected answer
    with pytest.raises(ExerciseError, match="a bool"):
        compare(True, 1.0)


def test_check_answer_refuses_an_expected_bool_which_assigning_true_would_pass():
    for flag in (True, False, np.True_, np.array([True, False])):
        with pytest.raises(TypeError, match="passed by assigning True"):
            check_answer(flag, flag, name="a claim")


@given(arrays(np.float64, st.integers(1, 6), elements=st.floats(-1e3, 1e3)), st.data())
def test_check_answer_never_shows_the_expected_value(got, data):
    # A student could paste a value that the message prints. So the message may depend on the answer and on
    # which entries are wrong, never on the expected values: two different expected arrays, wrong at the same
    # entry, give the same message.
    index = data.draw(st.integers(0, got.size - 1))
    messages = set()
    for offset in (1.0, 7.5):
        expected = got.copy()
        expected[index] += offset * (1.0 + abs(got[index]))
        with pytest.raises(ExerciseError) as failure:
            check_answer(got, expected, name="answer")
        messages.add(str(failure.value))
    assert len(messages) == 1
    assert f"at index ({index},): got {got[index].item()!r}" in messages.pop()
    with pytest.raises(ExerciseError, match="expected 2.0, got 5.0"):  # a function's result on given inputs may
        compare(np.array([1.0, 5.0]), np.array([1.0, 2.0]))  # show it: compare's default


def test_check_sympy_names_symbols_beyond_the_allowed_ones(capsys):
    y = sp.Symbol("y")
    check_sympy(x**2 + 1, [x], name="f")
    assert capsys.readouterr().out == "f: a SymPy expression in x.\n"
    with pytest.raises(ExerciseError, match=r"f uses symbols \['y'\] beyond \['x'\]"):
        check_sympy(x + y, [x], name="f")
