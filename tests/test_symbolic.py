"""The SymPy derivations: general K and the concrete K = 3 and K = 10 cases."""

import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from lossbook import cross_entropy_grad, symbolic


def test_general_cross_entropy_gradient_is_softmax_minus_target():
    d = symbolic.cross_entropy_general()
    j = sp.Symbol("j", integer=True)
    softmax_i = sp.exp(d.z[d.i]) / sp.Sum(sp.exp(d.z[j]), (j, 1, d.K))
    assert sp.simplify(d.grad_normalized - (softmax_i - d.y[d.i])) == 0
    # Before using sum(y) = 1 the gradient is (sum_k y_k) p_i - y_i.
    total = sp.Sum(d.y[sp.Symbol("k", integer=True)], (sp.Symbol("k", integer=True), 1, d.K))
    assert sp.simplify(d.grad - (total * softmax_i - d.y[d.i])) == 0


@pytest.mark.parametrize("num_classes", [3, 10])
def test_concrete_gradient_simplifies_to_softmax_minus_one_hot(num_classes):
    z = symbolic.logit_symbols(num_classes)
    loss = symbolic.cross_entropy(z, 0, reduction="sum")
    p = symbolic.softmax(z)
    for j in (0, 1, num_classes - 1):
        assert sp.simplify(sp.diff(loss, z[j]) - (p[j] - (1 if j == 0 else 0))) == 0


@pytest.mark.parametrize("num_classes", [3, 10])
def test_concrete_gradient_evaluates_like_library(rng, num_classes):
    x = rng.normal(size=(2, num_classes))
    target = rng.dirichlet(np.ones(num_classes), size=2)
    _, grad = symbolic.value_and_grad(symbolic.cross_entropy, x, target, label_smoothing=0.1)
    np.testing.assert_allclose(grad, cross_entropy_grad(x, target, label_smoothing=0.1), rtol=1e-10)


def test_import_lossbook_does_not_import_sympy():
    code = "import sys, lossbook, lossbook.registry, lossbook.gradcheck; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
