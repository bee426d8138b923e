"""The SymPy derivations: general C (classes numbered 0 to C - 1) and the concrete C = 3 and C = 10 cases."""

import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

from lossbook import cross_entropy_grad, softmax, symbolic


def test_general_cross_entropy_gradient_is_softmax_minus_target():
    d = symbolic.cross_entropy_general()
    j = sp.Symbol("j", integer=True)
    softmax_c = sp.exp(d.z[d.c]) / sp.Sum(sp.exp(d.z[j]), (j, 0, d.C - 1))
    assert sp.simplify(d.grad_normalized - (softmax_c - d.y[d.c])) == 0
    # Before using sum(y) = 1 the gradient is (sum_k y_k) p_c - y_c.
    k = sp.Symbol("k", integer=True)
    total = sp.Sum(d.y[k], (k, 0, d.C - 1))
    assert sp.simplify(d.grad - (total * softmax_c - d.y[d.c])) == 0


def test_general_sums_run_over_zero_based_class_indices():
    d = symbolic.cross_entropy_general()
    limits = {limit for s in d.loss.atoms(sp.Sum) for limit in s.limits}
    assert limits == {(d.j, 0, d.C - 1), (d.k, 0, d.C - 1)}
    jac = symbolic.softmax_jacobian_general()
    assert {limit for s in jac.p_j.atoms(sp.Sum) for limit in s.limits} == {(jac.c, 0, jac.C - 1)}
    assert [str(v) for v in symbolic.logit_symbols(3)] == ["z_0", "z_1", "z_2"]


@pytest.mark.parametrize("num_classes", [2, 3, 5])
def test_general_derivations_evaluate_like_the_library_for_concrete_sizes(rng, num_classes):
    # Substitute C and the entries z[0] .. z[C-1] and compare with the NumPy softmax: an index off by one
    # would read a z[C] that has no value, or drop z[0].
    logits = rng.normal(size=num_classes)
    target = rng.dirichlet(np.ones(num_classes))
    probs = softmax(logits)
    d = symbolic.cross_entropy_general()
    values = {d.z[n]: logits[n] for n in range(num_classes)} | {d.y[n]: target[n] for n in range(num_classes)}
    for c in range(num_classes):
        grad_c = d.grad_normalized.subs({d.C: num_classes, d.c: c}).doit().subs(values)
        assert float(grad_c) == pytest.approx(probs[c] - target[c], abs=1e-12)
    jac = symbolic.softmax_jacobian_general()
    for j in range(num_classes):
        for k in range(num_classes):
            entry = jac.jacobian.subs({jac.C: num_classes, jac.j: j, jac.k: k}).doit().subs(values)
            assert float(entry) == pytest.approx(probs[j] * ((j == k) - probs[k]), abs=1e-12)


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
