"""The three-way check of a registered loss, as a report a chapter can print.

For each of the loss's registered examples, :func:`cross_check` compares the library's value and
gradient with the SymPy definition (differentiated by SymPy) and the gradient with central finite
differences of the library's value, then raises if any error passes its tolerance. Chapters call it
in their cross-check cell; the test suite runs the same comparison independently in
``tests/test_registry.py``.
"""

from dataclasses import dataclass

from lossbook import registry
from lossbook.gradcheck import numerical_grad, relative_error

SYMPY_TOLERANCE = 1e-10
FINITE_DIFFERENCE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class CheckRow:
    """Largest relative errors for one example: value and gradient against SymPy, gradient against
    finite differences."""

    label: str
    value_vs_sympy: float
    grad_vs_sympy: float
    grad_vs_finite_differences: float


@dataclass(frozen=True)
class CrossCheckReport:
    name: str
    rows: tuple

    @property
    def largest_sympy_error(self):
        return max(max(r.value_vs_sympy, r.grad_vs_sympy) for r in self.rows)

    @property
    def largest_finite_difference_error(self):
        return max(r.grad_vs_finite_differences for r in self.rows)

    def __str__(self):
        width = max(len(r.label) for r in self.rows)
        lines = [
            f"{'example':<{width}}  value vs SymPy  grad vs SymPy  grad vs finite diff.",
            *(
                f"{r.label:<{width}}  {r.value_vs_sympy:14.1e}  {r.grad_vs_sympy:13.1e}  "
                f"{r.grad_vs_finite_differences:20.1e}"
                for r in self.rows
            ),
            "",
            f"{self.name}: {len(self.rows)} examples, SymPy = lossbook to {self.largest_sympy_error:.1e} "
            f"(tolerance {SYMPY_TOLERANCE:.0e}), finite differences = lossbook to "
            f"{self.largest_finite_difference_error:.1e} (tolerance {FINITE_DIFFERENCE_TOLERANCE:.0e}).",
        ]
        return "\n".join(lines)


def cross_check(name, rng):
    """Check the registered loss `name` three ways on its examples drawn from `rng`.

    Returns
    -------
    CrossCheckReport
        Printable: one line per example with its three largest relative errors.

    Raises
    ------
    AssertionError
        If the library disagrees with SymPy beyond 1e-10 or with finite differences beyond 1e-6.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.crosscheck import cross_check
    >>> report = cross_check("l2_penalty", np.random.default_rng(0))
    >>> report.largest_sympy_error < 1e-10
    True
    """
    spec = registry.get(name)
    rows = []
    for example in spec.examples(rng):
        first, *rest = example.args
        value = spec.loss(first, *rest, **example.kwargs)
        grad = spec.grad(first, *rest, **example.kwargs)
        sympy_value, sympy_grad = spec.symbolic_value_and_grad(first, *rest, **example.kwargs)
        fd_grad = numerical_grad(spec.finite_difference_target(first, *rest, **example.kwargs), first)
        rows.append(
            CheckRow(
                example.label,
                relative_error(value, sympy_value),
                relative_error(grad, sympy_grad),
                relative_error(grad, fd_grad),
            )
        )
    report = CrossCheckReport(name, tuple(rows))
    if report.largest_sympy_error > SYMPY_TOLERANCE:
        raise AssertionError(f"{name} disagrees with its SymPy definition:\n{report}")
    if report.largest_finite_difference_error > FINITE_DIFFERENCE_TOLERANCE:
        raise AssertionError(f"{name} disagrees with finite differences:\n{report}")
    return report
