r"""The losses defined and differentiated in SymPy: the course's independent oracle.

Every definition here is written straight from the textbook formula (softmax as
:math:`e^{z_i} / \sum_j e^{z_j}`, the loss as a sum of :math:`-q \log p`), with none of the library's
numerical tricks, so that agreement between this module and the NumPy code means something.

Two kinds of objects live here:

* concrete definitions that mirror the library's functions and shapes, taking NumPy object arrays
  of SymPy symbols where the library takes numbers (``cross_entropy(logits, target, ...)``), plus
  :func:`value_and_grad`, the bridge that differentiates them and evaluates the result on NumPy
  arrays with :func:`sympy.lambdify`;
* general derivations over an arbitrary number of classes C with indexed symbols and sums over the
  class indices :math:`0, \dots, C - 1` (:func:`cross_entropy_general`, :func:`softmax_jacobian_general`).

This is the only module of the library that imports SymPy (about a second to import).
"""

from types import SimpleNamespace

import numpy as np
import sympy as sp
from sympy.simplify.simplify import factor_sum


def logit_symbols(num_classes, name="z"):
    """A NumPy object array of `num_classes` real SymPy symbols ``z_0 .. z_{C-1}``, numbered as NumPy indexes.

    Examples
    --------
    >>> from lossbook.symbolic import logit_symbols
    >>> logit_symbols(3)
    array([z_0, z_1, z_2], dtype=object)
    """
    return np.array(sp.symbols(f"{name}_0:{num_classes}", real=True), dtype=object)


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


def nll_loss(log_probs, target, *, weight=None, ignore_index=-100, reduction="mean"):
    r""":math:`-\alpha_{y_i} \log p_{i, y_i}` summed, or divided by the counted weight for the mean."""
    rows, batch_shape = _rows(log_probs)
    labels = np.asarray(target).reshape(-1)
    weight = _class_weights(weight, rows.shape[1])
    per_sample, denominator = [], 0
    for row, label in zip(rows, labels, strict=True):
        if label == ignore_index:
            per_sample.append(sp.Integer(0))
            continue
        per_sample.append(-weight[label] * row[label])
        denominator += weight[label]
    return _reduce(per_sample, denominator, reduction, batch_shape)


def cross_entropy(logits, target, *, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    r"""Cross-entropy :math:`-\sum_c \alpha_c\, q_c \log p_c` with :math:`p = e^{z}/\sum e^{z}` and
    :math:`q = (1 - \varepsilon)\, y + \varepsilon / C`, the target smoothed toward uniform.

    Index targets are turned into one-hot rows; their mean divides by :math:`\sum_i \alpha_{y_i}` over
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
    for z, t in zip(rows, target_rows, strict=True):
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
    lam = lam if isinstance(lam, sp.Basic) else sp.Float(lam)
    return lam * sp.Add(*[w**2 for w in np.asarray(weights, dtype=object).flat])


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
    """Drop the 'index in 0..C-1' conditions SymPy attaches to KroneckerDelta sums: ours always hold."""
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0].expr)


def _pull_constants_out_of_sums(expr):
    return expr.replace(lambda e: isinstance(e, sp.Sum), factor_sum)


def cross_entropy_general():
    r"""Derive the cross-entropy gradient for any number of classes C.

    With indexed logits :math:`z_j` and target :math:`y_k`, classes numbered :math:`0, \dots, C - 1`,
    the loss is :math:`L = -\sum_{k=0}^{C-1} y_k \big(z_k - \log \sum_{j=0}^{C-1} e^{z_j}\big)`. SymPy
    differentiates it with respect to :math:`z_c` (producing Kronecker deltas), the deltas are summed
    out, constants are pulled out of the sums, and :math:`\sum_k y_k = 1` gives
    :math:`\operatorname{softmax}(z)_c - y_c`.

    Returns
    -------
    types.SimpleNamespace
        ``C, c, j, k, z, y`` (the symbols), ``loss``, ``raw_grad`` (straight from :func:`sympy.diff`),
        ``grad`` (before using :math:`\sum y = 1`) and ``grad_normalized`` (after).

    Examples
    --------
    >>> from lossbook.symbolic import cross_entropy_general
    >>> cross_entropy_general().grad_normalized
    exp(z[c])/Sum(exp(z[j]), (j, 0, C - 1)) - y[c]
    """
    C = sp.Symbol("C", integer=True, positive=True)
    z, y = sp.IndexedBase("z", real=True), sp.IndexedBase("y", real=True)
    c, j, k = sp.symbols("c j k", integer=True)
    loss = -sp.Sum(y[k] * (z[k] - sp.log(sp.Sum(sp.exp(z[j]), (j, 0, C - 1)))), (k, 0, C - 1))
    raw_grad = sp.diff(loss, z[c])
    grad = _pull_constants_out_of_sums(_in_range(raw_grad.doit()))
    grad_normalized = grad.subs(sp.Sum(y[k], (k, 0, C - 1)), 1)
    return SimpleNamespace(
        C=C, c=c, j=j, k=k, z=z, y=y, loss=loss, raw_grad=raw_grad, grad=grad, grad_normalized=grad_normalized
    )


def softmax_jacobian_general():
    r"""Derive :math:`\partial p_j / \partial z_k` of the softmax for any number of classes C.

    The softmax entry is :math:`p_j = e^{z_j} / \sum_{c=0}^{C-1} e^{z_c}`, classes numbered
    :math:`0, \dots, C - 1`.

    Returns
    -------
    types.SimpleNamespace
        ``C, j, k, c, z``, ``p_j`` (the softmax entry) and ``jacobian`` (the derivative after summing
        out the Kronecker deltas), which equals :math:`p_j (\delta_{jk} - p_k)`.

    Examples
    --------
    >>> import sympy as sp
    >>> from lossbook.symbolic import softmax_jacobian_general
    >>> d = softmax_jacobian_general()
    >>> p = lambda n: sp.exp(d.z[n]) / sp.Sum(sp.exp(d.z[d.c]), (d.c, 0, d.C - 1))
    >>> sp.simplify(d.jacobian - p(d.j) * (sp.KroneckerDelta(d.j, d.k) - p(d.k)))
    0
    """
    C = sp.Symbol("C", integer=True, positive=True)
    z = sp.IndexedBase("z", real=True)
    j, k, c = sp.symbols("j k c", integer=True)
    p_j = sp.exp(z[j]) / sp.Sum(sp.exp(z[c]), (c, 0, C - 1))
    jacobian = _pull_constants_out_of_sums(_in_range(sp.diff(p_j, z[k]).doit()))
    return SimpleNamespace(C=C, j=j, k=k, c=c, z=z, p_j=p_j, jacobian=jacobian)


def _elementwise(x):
    return np.asarray(x, dtype=object)


def _reduce_elements(losses, reduction, denominator=None):
    if reduction == "none":
        return losses
    total = sp.Add(*losses.flat)
    if reduction == "sum":
        return total
    return total / (losses.size if denominator is None else denominator)


def _broadcast_factor(value, shape):
    if value is None:
        return np.ones(shape, dtype=object)
    value = np.asarray(value, dtype=float)
    return np.broadcast_to(np.vectorize(sp.Float, otypes=[object])(value), shape)


def sigmoid(x):
    r"""The textbook logistic function :math:`1 / (1 + e^{-x})`."""
    return 1 / (1 + sp.exp(-x))


def binary_cross_entropy_with_logits(logits, target, *, weight=None, pos_weight=None, reduction="mean"):
    r""":math:`-w\,[p_w\, y \log \sigma(x) + (1 - y) \log(1 - \sigma(x))]` per element."""
    logits = _elementwise(logits)
    target = np.asarray(target, dtype=float)
    w, pw = _broadcast_factor(weight, logits.shape), _broadcast_factor(pos_weight, logits.shape)
    losses = np.empty(logits.shape, dtype=object)
    for index in np.ndindex(logits.shape):
        s, y = sigmoid(logits[index]), sp.Float(target[index])
        losses[index] = -w[index] * (pw[index] * y * sp.log(s) + (1 - y) * sp.log(1 - s))
    return _reduce_elements(losses, reduction)


def sigmoid_focal_loss(logits, target, *, alpha=0.25, gamma=2.0, reduction="none"):
    r""":math:`\alpha_t (1 - p_t)^\gamma\, \mathrm{BCE}` with :math:`p_t = p y + (1 - p)(1 - y)`."""
    logits = _elementwise(logits)
    target = np.asarray(target, dtype=float)
    gamma = sp.nsimplify(gamma)
    losses = np.empty(logits.shape, dtype=object)
    for index in np.ndindex(logits.shape):
        p, y = sigmoid(logits[index]), sp.Float(target[index])
        ce = -(y * sp.log(p) + (1 - y) * sp.log(1 - p))
        p_t = p * y + (1 - p) * (1 - y)
        alpha_t = alpha * y + (1 - alpha) * (1 - y) if alpha >= 0 else 1
        losses[index] = alpha_t * (1 - p_t) ** gamma * ce
    return _reduce_elements(losses, reduction)


def _regression(input, target, reduction, elementwise, weight=None, divide_by_weight=False):
    input = _elementwise(input)
    target = np.asarray(target, dtype=float)
    factor = _broadcast_factor(weight, input.shape)
    losses = np.empty(input.shape, dtype=object)
    for index in np.ndindex(input.shape):
        losses[index] = factor[index] * elementwise(input[index] - sp.Float(target[index]))
    # PyTorch's weighted MSE and L1 means divide by the total weight (its Huber by the element count).
    denominator = sp.Add(*factor.flat) if weight is not None and divide_by_weight else None
    return _reduce_elements(losses, reduction, denominator)


def mse_loss(input, target, *, reduction="mean", weight=None):
    r""":math:`w (x - y)^2` per element."""
    return _regression(input, target, reduction, lambda e: e**2, weight, divide_by_weight=True)


def l1_loss(input, target, *, reduction="mean", weight=None):
    r""":math:`w |x - y|` per element."""
    return _regression(input, target, reduction, sp.Abs, weight, divide_by_weight=True)


def smooth_l1_loss(input, target, *, reduction="mean", beta=1.0):
    r"""Quadratic :math:`e^2 / (2\beta)` for :math:`|e| < \beta`, else :math:`|e| - \beta / 2`."""
    beta = sp.nsimplify(beta)
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return _regression(
        input, target, reduction,
        lambda e: sp.Piecewise((e**2 / (2 * beta), sp.Abs(e) < beta), (sp.Abs(e) - beta / 2, True)),
    )


def huber_loss(input, target, *, reduction="mean", delta=1.0, weight=None):
    r"""Quadratic :math:`e^2 / 2` for :math:`|e| \le \delta`, else :math:`\delta (|e| - \delta / 2)`."""
    delta = sp.nsimplify(delta)
    return _regression(
        input, target, reduction,
        lambda e: sp.Piecewise((e**2 / 2, sp.Abs(e) <= delta), (delta * (sp.Abs(e) - delta / 2), True)),
        weight,
    )


def generalized_box_iou_loss(boxes1, boxes2, *, reduction="none", eps=1e-7):
    r""":math:`1 - I/(U + \epsilon) + (C - U)/(C + \epsilon)` per pair of boxes, from min and max."""
    boxes1 = _elementwise(boxes1)
    boxes2 = np.asarray(boxes2, dtype=float)
    eps = sp.Float(eps)
    losses = np.empty(len(boxes1), dtype=object)
    for n, ((x1, y1, x2, y2), target) in enumerate(zip(boxes1, boxes2, strict=True)):
        gx1, gy1, gx2, gy2 = (sp.Float(v) for v in target)
        inner_w = sp.Min(x2, gx2) - sp.Max(x1, gx1)
        inner_h = sp.Min(y2, gy2) - sp.Max(y1, gy1)
        intersection = sp.Piecewise((inner_w * inner_h, (inner_w > 0) & (inner_h > 0)), (0, True))
        union = (x2 - x1) * (y2 - y1) + (gx2 - gx1) * (gy2 - gy1) - intersection
        hull = (sp.Max(x2, gx2) - sp.Min(x1, gx1)) * (sp.Max(y2, gy2) - sp.Min(y1, gy1))
        losses[n] = 1 - (intersection / (union + eps) - (hull - union) / (hull + eps))
    return _reduce_elements(losses, reduction)


def _box_pair(box, target, eps):
    """Intersection, union, enclosing box and centres of one pair (symbols against numbers), torchvision's way."""
    x1, y1, x2, y2 = box
    gx1, gy1, gx2, gy2 = (sp.Float(v) for v in target)
    inner_w = sp.Min(x2, gx2) - sp.Max(x1, gx1)
    inner_h = sp.Min(y2, gy2) - sp.Max(y1, gy1)
    intersection = sp.Piecewise((inner_w * inner_h, (inner_w > 0) & (inner_h > 0)), (0, True))
    union = (x2 - x1) * (y2 - y1) + (gx2 - gx1) * (gy2 - gy1) - intersection
    diagonal_squared = (sp.Max(x2, gx2) - sp.Min(x1, gx1)) ** 2 + (sp.Max(y2, gy2) - sp.Min(y1, gy1)) ** 2
    centre_distance_squared = ((x1 + x2) / 2 - (gx1 + gx2) / 2) ** 2 + ((y1 + y2) / 2 - (gy1 + gy2) / 2) ** 2
    iou = intersection / (union + eps)
    return SimpleNamespace(iou=iou, diou=1 - iou + centre_distance_squared / (diagonal_squared + eps))


def distance_box_iou_loss(boxes1, boxes2, *, reduction="none", eps=1e-7):
    r""":math:`1 - I/(U + \epsilon) + \rho^2/(c^2 + \epsilon)` per pair: centre distance over the hull's diagonal."""
    boxes1 = _elementwise(boxes1)
    boxes2 = np.asarray(boxes2, dtype=float)
    losses = np.empty(len(boxes1), dtype=object)
    for n, (box, target) in enumerate(zip(boxes1, boxes2, strict=True)):
        losses[n] = _box_pair(box, target, sp.Float(eps)).diou
    return _reduce_elements(losses, reduction)


class stop_gradient(sp.Function):  # lower case, like the operation it stands for in JAX
    """The identity, with derivative zero: ``torch.no_grad()`` (or ``jax.lax.stop_gradient``) in SymPy.

    :func:`sympy.lambdify` evaluates it as the identity (through ``_imp_``); :func:`sympy.diff` sees a
    zero derivative, so whatever it wraps is a constant at the point of evaluation.
    """

    _imp_ = staticmethod(lambda x: x)

    def fdiff(self, argindex=1):
        return sp.S.Zero


def complete_box_iou_loss(boxes1, boxes2, *, reduction="none", eps=1e-7):
    r"""DIoU plus :math:`\alpha v`, :math:`v = \frac{4}{\pi^2}(\arctan\frac{\hat w}{\hat h} - \arctan\frac{w}{h})^2`.

    :math:`\alpha = v / (1 - \mathrm{IoU} + v + \epsilon)` is wrapped in :class:`stop_gradient`: it is
    a constant at the point where the gradient is evaluated, as in torchvision (``torch.no_grad()``)
    and in the paper. As in torchvision, the DIoU part and the IoU inside :math:`\alpha` use
    :math:`\epsilon = 10^{-7}` whatever `eps` is; `eps` enters :math:`\alpha` only.
    """
    boxes1 = _elementwise(boxes1)
    boxes2 = np.asarray(boxes2, dtype=float)
    losses = np.empty(len(boxes1), dtype=object)
    for n, (box, target) in enumerate(zip(boxes1, boxes2, strict=True)):
        pair = _box_pair(box, target, sp.Float(1e-7))
        x1, y1, x2, y2 = box
        gx1, gy1, gx2, gy2 = (sp.Float(v) for v in target)
        v = 4 / sp.pi**2 * (sp.atan((gx2 - gx1) / (gy2 - gy1)) - sp.atan((x2 - x1) / (y2 - y1))) ** 2
        alpha = stop_gradient(v / (1 - pair.iou + v + sp.Float(eps)))
        losses[n] = pair.diou + alpha * v
    return _reduce_elements(losses, reduction)


def multi_margin_loss(logits, target, *, p=1, margin=1.0, weight=None, reduction="mean"):
    r""":math:`\frac{\alpha_{y}}{C} \sum_{j \ne y} \max(0, m - x_y + x_j)^p` per sample; the mean divides by N."""
    rows, batch_shape = _rows(logits)
    labels = np.asarray(target).reshape(-1)
    num_classes = rows.shape[1]
    weight = _class_weights(weight, num_classes)
    per_sample = [
        weight[y] * sp.Add(*[sp.Max(0, margin - z[y] + z[j]) ** p for j in range(num_classes) if j != y]) / num_classes
        for z, y in zip(rows, labels, strict=True)
    ]
    return _reduce(per_sample, len(per_sample), reduction, batch_shape)


def brier_score(probs, target, *, reduction="mean"):
    r""":math:`\sum_c (p_c - y_c)^2` per sample with one-hot :math:`y` for probabilities (N, C); :math:`(p - y)^2`
    for the probabilities (N,) of class 1. The mean divides by N."""
    probs = np.asarray(probs, dtype=object)
    labels = np.asarray(target).reshape(-1)
    if probs.ndim == 1:
        per_sample = [(p - int(y)) ** 2 for p, y in zip(probs, labels, strict=True)]
    else:
        per_sample = [sp.Add(*[(row[c] - (1 if c == y else 0)) ** 2 for c in range(len(row))])
                      for row, y in zip(probs, labels, strict=True)]
    return _reduce_elements(np.array(per_sample, dtype=object), reduction)


def kl_div(input, target, *, reduction="mean", log_target=False):
    r""":math:`q (\log q - \log p)` per element with :math:`0 \log 0 = 0`; "batchmean" divides by N."""
    input = _elementwise(input)
    target = np.asarray(target, dtype=float)
    losses = np.empty(input.shape, dtype=object)
    for index in np.ndindex(input.shape):
        if log_target:
            t = sp.Float(target[index])
            losses[index] = sp.exp(t) * (t - input[index])
        elif target[index] == 0:
            losses[index] = sp.Integer(0)
        else:
            q = sp.Float(target[index])
            losses[index] = q * (sp.log(q) - input[index])
    denominator = {"batchmean": input.shape[0] if input.ndim else 1, "mean": input.size, "sum": 1, "none": 1}[reduction]
    return _reduce_elements(losses, reduction, denominator)
