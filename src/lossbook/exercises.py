"""Self-checks for the exercises: a student's function or answer tested against the library.

Each check runs the student's code on random, edge and extreme inputs, compares with a reference
(usually lossbook itself), and on the first disagreement raises :class:`ExerciseError` saying
precisely what is wrong: which input, what was expected, what came back (value, shape or dtype).
When everything agrees it prints one line saying what was checked. A student runs the check cell
after their solution; an instructor grades by running the notebook.

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


def _describe(value):
    array = np.asarray(value)
    if array.ndim == 0:
        return repr(value)
    return f"array of shape {array.shape}, dtype {array.dtype}: {np.array2string(array, precision=6, threshold=12)}"


def compare(got, expected, *, rtol=1e-7, atol=1e-12, what="the answer"):
    """Raise :class:`ExerciseError` unless `got` matches `expected` in type of result, shape and value."""
    if got is None:
        raise ExerciseError(f"{what} is None: not computed yet, or a function that forgot to return its result")
    if getattr(got, "is_number", False) and not isinstance(got, (bool, np.bool_)):  # a SymPy number
        got = float(got)
    elif getattr(got, "free_symbols", None):
        raise ExerciseError(f"{what} still holds the symbols {sorted(map(str, got.free_symbols))}; expected a number")
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            raise ExerciseError(f"{what} must be a tuple of {len(expected)} items; got {_describe(got)}")
        for index, (g, e) in enumerate(zip(got, expected, strict=True)):
            compare(g, e, rtol=rtol, atol=atol, what=f"item {index} of {what}")
        return
    got_array, expected_array = np.asarray(got), np.asarray(expected)
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
    """Check a computed answer (a number or an array) against the expected one; print a line if it agrees."""
    compare(got, expected, rtol=rtol, atol=atol, what=name)
    print(f"{name}: correct.")


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
