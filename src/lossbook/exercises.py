"""Self-checks for the exercises: a student's function or answer tested against the library.

Each check runs the student's code on random, edge and extreme inputs, compares with a reference
(usually lossbook itself), and on the first disagreement raises :class:`ExerciseError` saying
precisely what is wrong: which input, what came back (value, shape or dtype) and, where it does not
give the answer away, what was expected. A function's result on the check's own inputs is shown
beside the expected one; a computed answer (:func:`check_answer`) is not, because a student could
copy the expected value into the answer.
When everything agrees it prints one line saying what was checked. A student runs the check cell
after their solution; an instructor grades by running the notebook, or with nbgrader (an
:class:`ExerciseError` is an ``AssertionError``: a failed autograded test cell).

A check never trusts a claim: an answer left as ``None``, of the wrong type, or a bool where a number
is expected fails with a message that says so, never with a raw ``TypeError``. A claim such as "SymPy
simplifies the difference to 0" is checked through what it is about: the computed quantity
(:func:`check_answer`, :func:`check_number`, :func:`check_expression`), a property of it
(:func:`check_property`) or the function's behaviour on fresh inputs (:func:`check_function`).

Examples
--------
>>> import numpy as np
>>> from lossbook import softmax
>>> from lossbook.exercises import check_function
>>> check_function(lambda x: np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True), softmax,
...                [("scores (5, 4, 2)", (np.array([5.0, 4.0, 2.0]),))], name="my_softmax")
my_softmax: 1 case agrees with the reference (relative tolerance 1e-07).
"""

import numpy as np


class ExerciseError(AssertionError):
    """A student's answer disagrees with the reference; the message says where and how."""


def _is_bool(value):
    return isinstance(value, (bool, np.bool_)) or (isinstance(value, np.ndarray) and value.dtype.kind == "b")


def _not_none(got, what):
    if got is None:
        raise ExerciseError(f"{what} is None: not computed yet, or a function that forgot to return its result")


def _as_array(value, what):
    """`value` as a NumPy array, or :class:`ExerciseError` for a ragged nesting of lists."""
    try:
        return np.asarray(value)
    except ValueError:
        raise ExerciseError(
            f"{what} is a nesting of lists of different lengths; expected a number or an array of one shape: "
            f"{_short_repr(value)}"
        ) from None


def _short_repr(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(value):
    try:
        array = np.asarray(value)
    except ValueError:  # ragged lists
        return _short_repr(value)
    if array.ndim == 0:
        return repr(value)
    return f"array of shape {array.shape}, dtype {array.dtype}: {np.array2string(array, precision=6, threshold=12)}"


def compare(got, expected, *, rtol=1e-7, atol=1e-12, what="the answer", reveal=True):
    """Raise :class:`ExerciseError` unless `got` matches `expected` in type of result, shape and value.

    With ``reveal=False`` a wrong value is reported by its index and the value that came back only,
    never with the expected value (or its distance from it, from which the value would follow).
    """
    _not_none(got, what)
    if _is_bool(got) and not _is_bool(expected) and not isinstance(expected, tuple):
        raise ExerciseError(f"{what} is {_describe(got)}, a bool (True/False); expected a computed number")
    if getattr(got, "is_number", False) and not isinstance(got, (bool, np.bool_)):  # a SymPy number
        got = float(got)
    elif getattr(got, "free_symbols", None):
        raise ExerciseError(f"{what} still holds the symbols {sorted(map(str, got.free_symbols))}; expected a number")
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            raise ExerciseError(f"{what} must be a tuple of {len(expected)} items; got {_describe(got)}")
        for index, (g, e) in enumerate(zip(got, expected, strict=True)):
            compare(g, e, rtol=rtol, atol=atol, what=f"item {index} of {what}", reveal=reveal)
        return
    got_array, expected_array = _as_array(got, what), np.asarray(expected)
    if got_array.shape != expected_array.shape:
        raise ExerciseError(f"{what} has shape {got_array.shape}; expected shape {expected_array.shape}")
    if expected_array.dtype.kind == "f" and got_array.dtype.kind == "f" and got_array.dtype != expected_array.dtype:
        raise ExerciseError(
            f"{what} has dtype {got_array.dtype}; expected {expected_array.dtype} (keep the input's precision)"
        )
    if got_array.dtype.kind not in "fiub":
        raise ExerciseError(f"{what} must hold numbers; got {_describe(got)}")
    with np.errstate(invalid="ignore"):
        close = np.isclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=True)
    if not np.all(close):
        first = np.unravel_index(np.argmin(close), close.shape) if close.ndim else ()
        where = f" at index {tuple(int(i) for i in first)}" if first else ""
        if not reveal:
            wrong = int(close.size - np.count_nonzero(close))
            raise ExerciseError(
                f"{what} differs{where}: got {got_array[first].item()!r}, which is not within the tolerance "
                f"(relative {rtol:g}, absolute {atol:g}) of the expected value"
                + (f"; {wrong} of {close.size} entries differ" if close.ndim else "")
                + f"\n  got {_describe(got)}"
            )
        raise ExerciseError(
            f"{what} differs{where}: expected {expected_array[first].item()!r}, got {got_array[first].item()!r}\n"
            f"  expected {_describe(expected)}\n  got      {_describe(got)}"
        )


def check_function(student, reference, cases, *, name=None, rtol=1e-7, atol=1e-12):
    """Check ``student(*args)`` against ``reference(*args)`` on each ``(label, args)`` case.

    Raises
    ------
    ExerciseError
        On the first case whose result differs, naming the case and the inputs.
    """
    name = name or getattr(student, "__name__", "your function")
    if student is None:
        raise ExerciseError(f"{name} is None: define it with def (or assign a function to it)")
    if not callable(student):
        raise ExerciseError(f"{name} must be a function; got {type(student).__name__} {_describe(student)}")
    for label, args in cases:
        expected = reference(*args)
        try:
            got = student(*(np.copy(a) if isinstance(a, np.ndarray) else a for a in args))
        except NotImplementedError:
            raise ExerciseError(f"{name} is not written yet (it raises NotImplementedError)") from None
        except Exception as error:  # the student's bug, reported with the input that triggered it
            raise ExerciseError(
                f"{name} raised {type(error).__name__}: {error}\n  on {label}: {_args(args)}"
            ) from error
        try:
            compare(got, expected, rtol=rtol, atol=atol, what=f"{name} on {label}")
        except ExerciseError as error:
            raise ExerciseError(f"{error}\n  inputs: {_args(args)}") from None
    count = len(cases)
    cases_agree = f"{count} case{'s' if count != 1 else ''} agree{'s' if count == 1 else ''}"
    print(f"{name}: {cases_agree} with the reference (relative tolerance {rtol:g}).")


def _args(args):
    return ", ".join(_describe(a) for a in args)


def check_answer(got, expected, *, name="your answer", rtol=1e-7, atol=1e-12):
    """Check a computed answer (a number or an array) against the expected one; print a line if it agrees.

    A wrong answer's message names the first entry that differs and the value that came back, but never
    the expected value: the student's copy of a check must not hand out its answer.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.exercises import check_answer
    >>> check_answer(np.array([0.5, 0.25]), np.array([0.5, 0.25]), name="p")
    p: correct.
    >>> check_answer(np.array([0.5, 0.3]), np.array([0.5, 0.25]), name="p")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    lossbook.exercises.ExerciseError: p differs at index (1,): got 0.3, which is not within the tolerance ...

    Raises
    ------
    TypeError
        If `expected` is a bool: ``check_answer(flag, True)`` passes a student who assigns ``True``.
        Check the quantity the claim is about instead (:func:`check_property`, :func:`check_number`).
    """
    if _is_bool(expected):
        raise TypeError(
            f"check_answer({name!r}): an expected bool is passed by assigning True or False; check the computed "
            "quantity the claim is about instead (check_property, check_number, check_function)"
        )
    compare(got, expected, rtol=rtol, atol=atol, what=name, reveal=False)
    print(f"{name}: correct.")


def _real_number(got, what):
    """`got` as a float, or :class:`ExerciseError` saying why it is not a real number."""
    _not_none(got, what)
    if _is_bool(got):
        raise ExerciseError(f"{what} is {got!r}, a bool (True/False); expected a computed number")
    if getattr(got, "free_symbols", None):
        raise ExerciseError(f"{what} still holds the symbols {sorted(map(str, got.free_symbols))}; expected a number")
    if getattr(got, "is_number", False):  # a SymPy number
        if got.is_real is False:
            raise ExerciseError(f"{what} is {got}, not a real number")
        return float(got)
    array = _as_array(got, what) if not isinstance(got, str) else np.asarray(got, dtype=object)
    if array.shape != () or array.dtype.kind not in "fiu":
        raise ExerciseError(f"{what} must be one real number; got {type(got).__name__} {_describe(got)}")
    return float(array)


def check_number(got, *, name="your answer", low=None, high=None, integer=False):
    """Check that `got` is one real number (not a bool), finite, in ``[low, high]``, an integer if asked.

    For an answer whose value a visible check must not give away: the exact value goes in a hidden test.

    Examples
    --------
    >>> from lossbook.exercises import check_number
    >>> check_number(0.25, name="a probability", low=0.0, high=1.0)
    a probability: a number in [0, 1].
    >>> check_number(True, name="a probability")
    Traceback (most recent call last):
        ...
    lossbook.exercises.ExerciseError: a probability is True, a bool (True/False); expected a computed number
    """
    value = _real_number(got, name)
    if not np.isfinite(value):
        raise ExerciseError(f"{name} is {value!r}; expected a finite number")
    if integer and value != round(value):
        raise ExerciseError(f"{name} is {value!r}; expected a whole number")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ExerciseError(f"{name} is {value!r}; expected a number in [{_bound(low, '-inf')}, {_bound(high, 'inf')}]")
    kind = "a whole number" if integer else "a number"
    bounds = f" in [{_bound(low, '-inf')}, {_bound(high, 'inf')}]" if low is not None or high is not None else ""
    print(f"{name}: {kind}{bounds}.")


def _bound(value, unbounded):
    return unbounded if value is None else f"{value:g}"


def check_property(got, predicate, description, *, name="your answer"):
    """Check that ``predicate(got)`` is true; `description` says the property in words.

    The predicate receives the student's value (never None: that fails first, with its own message).
    An exception in the predicate, for example from a value of the wrong type, fails the check with a
    message naming the property and the exception.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.exercises import check_property
    >>> check_property(np.array([0.2, 0.8]), lambda p: np.isclose(p.sum(), 1.0), "sums to 1", name="p")
    p: sums to 1.
    >>> check_property([0.2, 0.9], lambda p: np.isclose(np.sum(p), 1.0), "sums to 1", name="p")
    Traceback (most recent call last):
        ...
    lossbook.exercises.ExerciseError: p does not satisfy: sums to 1; got array of shape (2,), dtype float64: [0.2 0.9]
    """
    _not_none(got, name)
    try:
        holds = predicate(got)
    except Exception as error:  # a value of the wrong type or shape, reported as such
        raise ExerciseError(
            f"{name} could not be checked for: {description} ({type(error).__name__}: {error}); got {_describe(got)}"
        ) from None
    if not _is_bool(holds) or not bool(np.all(holds)):
        raise ExerciseError(f"{name} does not satisfy: {description}; got {_describe(got)}")
    print(f"{name}: {description}.")


def check_sympy(expression, symbols, *, name="your expression"):
    """Check that `expression` is a SymPy expression in `symbols` (a subset), without saying what it should be.

    The visible half of a check whose reference formula would give the answer away: the comparison with
    the formula (:func:`check_expression`) goes in a hidden test.

    Examples
    --------
    >>> import sympy as sp
    >>> from lossbook.exercises import check_sympy
    >>> a, b = sp.symbols("a b", positive=True)
    >>> check_sympy(2 / (a + b), [a, b], name="eta_star")
    eta_star: a SymPy expression in a, b.
    >>> check_sympy(0.5, [a, b], name="eta_star")
    Traceback (most recent call last):
        ...
    lossbook.exercises.ExerciseError: eta_star must be a SymPy expression; got float
    """
    import sympy as sp

    if expression is None:
        raise ExerciseError(f"{name} is not written yet (it is None)")
    if not isinstance(expression, sp.Expr):  # not a bool or an equation (SymPy's Boolean) either
        raise ExerciseError(f"{name} must be a SymPy expression; got {type(expression).__name__}")
    unknown = expression.free_symbols - set(symbols)
    if unknown:
        raise ExerciseError(f"{name} uses symbols {sorted(map(str, unknown))} beyond {[str(s) for s in symbols]}")
    print(f"{name}: a SymPy expression in {', '.join(map(str, symbols))}.")


def check_expression(expression, reference, symbols, *, name="your expression", rng=None, trials=20, rtol=1e-9):
    """Check a SymPy expression in `symbols` against a NumPy `reference` function at random points.

    Examples
    --------
    >>> import sympy as sp
    >>> from lossbook.exercises import check_expression
    >>> x = sp.Symbol("x", real=True)
    >>> check_expression(sp.diff(x**3, x), lambda v: 3 * v**2, [x], name="d/dx x^3")
    d/dx x^3: agrees with the reference at 20 random points.
    """
    import sympy as sp  # only the SymPy exercises pay for the import

    if expression is None:
        raise ExerciseError(f"{name} is not written yet (it is None)")
    if not isinstance(expression, sp.Basic):
        raise ExerciseError(f"{name} must be a SymPy expression; got {type(expression).__name__}")
    unknown = expression.free_symbols - set(symbols)
    if unknown:
        raise ExerciseError(f"{name} uses symbols {sorted(map(str, unknown))} beyond {[str(s) for s in symbols]}")
    evaluate = sp.lambdify(list(symbols), expression, "numpy")
    rng = rng if rng is not None else np.random.default_rng(0)
    for _ in range(trials):
        point = rng.normal(scale=2.0, size=len(symbols))
        compare(float(evaluate(*point)), float(reference(*point)), rtol=rtol, atol=1e-12,
                what=f"{name} at {dict(zip(map(str, symbols), np.round(point, 4), strict=True))}")
    print(f"{name}: agrees with the reference at {trials} random points.")
