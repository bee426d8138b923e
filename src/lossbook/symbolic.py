r"""The losses defined and differentiated in SymPy: the course's independent oracle.

Every definition here is written straight from the textbook formula (softmax as
:math:`e^{z_i} / \sum_j e^{z_j}`, the loss as a sum of :math:`-q \log p`), with none of the library's
numerical tricks, so that agreement between this module and the NumPy code means something.

Two kinds of objects live here:

* concrete definitions that mirror the library's functions and shapes, taking NumPy object arrays
  of SymPy symbols where the library takes numbers (``cross_entropy(logits, target, ...)``), plus
  :func:`value_and_grad`, the bridge that differentiates them and evaluates the result on NumPy
  arrays with :func:`sympy.lambdify`;
* general derivations over an arbitrary number of classes K with indexed symbols and sums
  (:func:`cross_entropy_general`, :func:`softmax_jacobian_general`).

This is the only module of the library that imports SymPy (about a second to import).
"""

from types import SimpleNamespace

import numpy as np
import sympy as sp
from sympy.simplify.simplify import factor_sum


def logit_symbols(num_classes, name="z"):
    """A NumPy object array of `num_classes` real SymPy symbols ``z_1 .. z_K``."""
    return np.array(sp.symbols(f"{name}_1:{num_classes + 1}", real=True), dtype=object)


def softmax(z):
    r"""The textbook softmax :math:`e^{z_i} / \sum_j e^{z_j}` of a 1-D array of expressions."""
    z = np.asarray(z, dtype=object)
    denominator = sp.Add(*[sp.exp(v) for v in z])
    return np.array([sp.exp(v) / denominator for v in z], dtype=object)


def logsumexp(z):
    r"""The textbook :math:`\log \sum_j e^{z_j}` of a 1-D array of expressions."""
    return sp.log(sp.Add(*[sp.exp(v) for v in np.asarray(z, dtype=object)]))


def log_softmax(z):
    r"""The log-softmax :math:`z_i - \log \sum_j e^{z_j}` of a 1-D array of expressions."""
    z = np.asarray(z, dtype=object)
    lse = logsumexp(z)
    return np.array([v - lse for v in z], dtype=object)


def _rows(x):
    """Mirror the library's layout: classes on axis 1, rows of (N, d1, ...) flattened."""
    x = np.asarray(x, dtype=object)
    if x.ndim == 1:
        return x[None, :], ()
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1]), x.shape[:1] + x.shape[2:]


def _class_weights(weight, num_classes):
    """Numbers become SymPy Floats; SymPy expressions (symbolic weights w_1, ...) pass through."""
    if weight is None:
        return [sp.Integer(1)] * num_classes
    return [w if isinstance(w, sp.Basic) else sp.Float(float(w)) for w in weight]


def _reduce(per_sample, denominator, reduction, batch_shape):
    if reduction == "none":
        return np.array(per_sample, dtype=object).reshape(batch_shape)
    total = sp.Add(*per_sample)
    return total if reduction == "sum" else total / denominator


def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    r""":math:`-w_{y_i} \log p_{i, y_i}` summed, or divided by the counted weight for the mean."""
    rows, batch_shape = _rows(log_probs)
    labels = np.asarray(target).reshape(-1)
    weight = _class_weights(weight, rows.shape[1])
    per_sample, denominator = [], 0
    for row, label in zip(rows, labels):
        if label == ignore_index:
            per_sample.append(sp.Integer(0))
            continue
        per_sample.append(-weight[label] * row[label])
        denominator += weight[label]
    return _reduce(per_sample, denominator, reduction, batch_shape)


def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    r"""Cross-entropy :math:`-\sum_c w_c\, q_c \log p_c` with :math:`p = e^{z}/\sum e^{z}` and
    :math:`q = (1 - \varepsilon)\, y + \varepsilon / C`, the target smoothed toward uniform.

    Index targets are turned into one-hot rows; their mean divides by :math:`\sum_i w_{y_i}` over
    the samples that are not ignored, probability targets' mean by the number of samples.
    """
    logits = np.asarray(logits, dtype=object)
    rows, batch_shape = _rows(logits)
    num_classes = rows.shape[1]
    target = np.asarray(target)
    probability_targets = target.shape == logits.shape
    target_rows = _rows(target)[0] if probability_targets else target.reshape(-1)
    weight = _class_weights(weight, num_classes)
    eps = sp.nsimplify(label_smoothing)
    per_sample, denominator = [], 0
    for z, t in zip(rows, target_rows):
        if probability_targets:
            y = [sp.Float(v) for v in t]
            denominator += 1
        elif t == ignore_index:
            per_sample.append(sp.Integer(0))
            continue
        else:
            y = [1 if c == t else 0 for c in range(num_classes)]
            denominator += weight[t]
        p = softmax(z)
        q = [(1 - eps) * y[c] + eps / num_classes for c in range(num_classes)]
        per_sample.append(-sp.Add(*[weight[c] * q[c] * sp.log(p[c]) for c in range(num_classes)]))
    return _reduce(per_sample, denominator, reduction, batch_shape)


def l2_penalty(weights, lam):
    r""":math:`\lambda \sum_j W_j^2`."""
    return sp.Float(lam) * sp.Add(*[w**2 for w in np.asarray(weights, dtype=object).flat])


def value_and_grad(definition, x, *args, **kwargs):
    """Evaluate a SymPy definition and its SymPy-derived gradient at the NumPy array `x`.

    `definition` is one of this module's functions (same arguments as the library's twin). The
    first argument becomes an array of symbols shaped like `x`; SymPy differentiates the sum of the
    outputs with respect to each symbol; :func:`sympy.lambdify` evaluates value and gradient.

    Returns
    -------
    value : numpy.ndarray, shaped like the library's output
    grad : numpy.ndarray, shaped like `x`

    Examples
    --------
    >>> from lossbook import symbolic
    >>> value, grad = symbolic.value_and_grad(symbolic.cross_entropy, [[5.0, 4.0, 2.0]], [0])
    >>> round(float(value), 4), grad.round(4)
    (0.349, array([[-0.2946,  0.2595,  0.0351]]))
    """
    x = np.asarray(x, dtype=np.float64)
    symbols = np.array(sp.symbols(f"x_0:{x.size}", real=True), dtype=object).reshape(x.shape)
    out = definition(symbols, *args, **kwargs)
    outputs = list(np.asarray(out, dtype=object).flat)
    total = sp.Add(*outputs)
    grads = [sp.diff(total, s) for s in symbols.flat]
    evaluate = sp.lambdify(list(symbols.flat), outputs + grads, modules="numpy")
    values = np.array([float(v) for v in evaluate(*x.flat)])
    return values[: len(outputs)].reshape(np.shape(out)), values[len(outputs) :].reshape(x.shape)


def _in_range(expr):
    """Drop the 'index in 1..K' conditions SymPy attaches to KroneckerDelta sums: ours always hold."""
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0].expr)


def _pull_constants_out_of_sums(expr):
    return expr.replace(lambda e: isinstance(e, sp.Sum), factor_sum)


def cross_entropy_general():
    r"""Derive the cross-entropy gradient for any number of classes K.

    With indexed logits :math:`z_j` and target :math:`y_k`, the loss is
    :math:`L = -\sum_k y_k \big(z_k - \log \sum_j e^{z_j}\big)`. SymPy differentiates it with respect to
    :math:`z_i` (producing Kronecker deltas), the deltas are summed out, constants are pulled out of
    the sums, and :math:`\sum_k y_k = 1` gives :math:`\operatorname{softmax}(z)_i - y_i`.

    Returns
    -------
    types.SimpleNamespace
        ``K, i, z, y`` (the symbols), ``loss``, ``raw_grad`` (straight from :func:`sympy.diff`),
        ``grad`` (before using :math:`\sum y = 1`) and ``grad_normalized`` (after).

    Examples
    --------
    >>> from lossbook.symbolic import cross_entropy_general
    >>> cross_entropy_general().grad_normalized
    exp(z[i])/Sum(exp(z[j]), (j, 1, K)) - y[i]
    """
    K = sp.Symbol("K", integer=True, positive=True)
    z, y = sp.IndexedBase("z", real=True), sp.IndexedBase("y", real=True)
    i, j, k = sp.symbols("i j k", integer=True)
    loss = -sp.Sum(y[k] * (z[k] - sp.log(sp.Sum(sp.exp(z[j]), (j, 1, K)))), (k, 1, K))
    raw_grad = sp.diff(loss, z[i])
    grad = _pull_constants_out_of_sums(_in_range(raw_grad.doit()))
    grad_normalized = grad.subs(sp.Sum(y[k], (k, 1, K)), 1)
    return SimpleNamespace(K=K, i=i, z=z, y=y, loss=loss, raw_grad=raw_grad, grad=grad, grad_normalized=grad_normalized)


def softmax_jacobian_general():
    r"""Derive :math:`\partial p_i / \partial z_m` of the softmax for any number of classes K.

    Returns
    -------
    types.SimpleNamespace
        ``K, i, m, z``, ``p_i`` (the softmax entry) and ``jacobian`` (the derivative after summing
        out the Kronecker deltas), which equals :math:`p_i (\delta_{im} - p_m)`.

    Examples
    --------
    >>> import sympy as sp
    >>> from lossbook.symbolic import softmax_jacobian_general
    >>> d = softmax_jacobian_general()
    >>> p = lambda n: sp.exp(d.z[n]) / sp.Sum(sp.exp(d.z[d.j]), (d.j, 1, d.K))
    >>> sp.simplify(d.jacobian - p(d.i) * (sp.KroneckerDelta(d.i, d.m) - p(d.m)))
    0
    """
    K = sp.Symbol("K", integer=True, positive=True)
    z = sp.IndexedBase("z", real=True)
    i, j, m = sp.symbols("i j m", integer=True)
    p_i = sp.exp(z[i]) / sp.Sum(sp.exp(z[j]), (j, 1, K))
    jacobian = _pull_constants_out_of_sums(_in_range(sp.diff(p_i, z[m]).doit()))
    return SimpleNamespace(K=K, i=i, j=j, m=m, z=z, p_i=p_i, jacobian=jacobian)
