"""Every registered loss, every option: SymPy = lossbook = finite differences.

Three independent oracles: the SymPy definition (textbook formulas, differentiated by SymPy), the
library (stable NumPy code with hand-derived gradients), and central finite differences of the
library's own value function. Tolerances: values and gradients against SymPy to 1e-10 relative in
float64; gradients against finite differences (h = 1e-6) to 1e-6 relative.
"""

import dataclasses

import numpy as np
import pytest

from lossbook import registry
from lossbook.crosscheck import cross_check
from lossbook.gradcheck import numerical_grad, relative_error

CASES = [
    pytest.param(spec, example, id=f"{spec.name}-{example.label}")
    for spec in registry.LOSSES
    for example in spec.examples(np.random.default_rng(0))
]


@pytest.mark.parametrize(("spec", "example"), CASES)
def test_library_matches_sympy_and_finite_differences(spec, example):
    first, *rest = example.args
    value = spec.loss(first, *rest, **example.kwargs)
    grad = spec.grad(first, *rest, **example.kwargs)
    sympy_value, sympy_grad = spec.symbolic_value_and_grad(first, *rest, **example.kwargs)
    fd_grad = numerical_grad(spec.finite_difference_target(first, *rest, **example.kwargs), first)

    assert np.shape(value) == np.shape(sympy_value)
    assert grad.shape == np.shape(first)
    assert relative_error(value, sympy_value) < 1e-10
    assert relative_error(grad, sympy_grad) < 1e-10
    assert relative_error(grad, fd_grad) < 1e-6


@pytest.mark.parametrize(("spec", "example"), CASES)
def test_float32_in_float32_out(spec, example):
    first, *rest = example.args
    first32 = np.asarray(first, dtype=np.float32)
    value = spec.loss(first32, *rest, **example.kwargs)
    grad = spec.grad(first32, *rest, **example.kwargs)
    assert value.dtype == np.float32
    assert grad.dtype == np.float32
    expected = spec.loss(first32.astype(np.float64), *rest, **example.kwargs)
    assert relative_error(value, expected) < 1e-5


@pytest.mark.parametrize(("spec", "example"), [c for c in CASES if c.values[1].kwargs.get("reduction") == "none"])
def test_none_reduction_grad_is_grad_of_sum(spec, example):
    first, *rest = example.args
    summed = {**example.kwargs, "reduction": "sum"}
    np.testing.assert_allclose(
        spec.grad(first, *rest, **example.kwargs), spec.grad(first, *rest, **summed), rtol=1e-12
    )
    np.testing.assert_allclose(
        np.sum(spec.loss(first, *rest, **example.kwargs)), spec.loss(first, *rest, **summed), rtol=1e-12
    )


def test_every_public_loss_is_registered():
    import lossbook

    # The fused *_value_and_grad entry points share their loss's registration (tests/test_fused.py).
    grads = {name for name in lossbook.__all__ if name.endswith("_grad") and not name.endswith("_value_and_grad")}
    # Not losses: the primitives' vector-Jacobian products take an upstream gradient
    # (tests/test_softmax_grad.py and tests/test_stable.py check them against PyTorch, SymPy and finite
    # differences; softplus_grad is the derivative of an elementwise function).
    primitives = {"softmax_grad", "log_softmax_grad", "softplus_grad"}
    assert all(getattr(lossbook, name).__module__ == "lossbook.stable" for name in primitives)
    registered = {spec.grad.__name__ for spec in registry.LOSSES}
    assert grads - primitives == registered


def test_registry_lookup():
    assert registry.get("cross_entropy").loss.__name__ == "cross_entropy"
    with pytest.raises(KeyError, match="no loss named"):
        registry.get("not_a_loss")


def test_cross_check_report_passes_for_every_loss():
    for spec in registry.LOSSES:
        report = cross_check(spec.name, np.random.default_rng(1))
        assert len(report.rows) == len(spec.examples(np.random.default_rng(1)))
        assert spec.name in str(report)


def test_cross_check_catches_a_wrong_gradient(monkeypatch):
    spec = registry.get("l2_penalty")
    wrong = dataclasses.replace(spec, grad=lambda weights, lam: lam * np.asarray(weights))  # missing factor 2
    monkeypatch.setattr(registry, "LOSSES", (wrong,))
    with pytest.raises(AssertionError, match="disagrees with its SymPy definition"):
        cross_check("l2_penalty", np.random.default_rng(0))
