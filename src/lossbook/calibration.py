"""Are the probabilities right? Calibration error, reliability curves, the Brier score and temperature scaling.

A classifier is calibrated when its confidence can be taken at face value: of the predictions made
with confidence 0.8, 80% are right. :func:`reliability_curve` sorts the predictions into bins of
confidence and measures, per bin, the mean confidence and the fraction that is right;
:func:`calibration_error` summarizes the gaps in one number, following torchmetrics'
``multiclass_calibration_error`` for probabilities of shape (N, C) and ``binary_calibration_error``
for shape (N,). :func:`brier_score` is the squared error of the probabilities, a proper scoring
rule. :func:`fit_temperature` fits the one parameter of temperature scaling (Guo et al., 2017) by
minimizing the negative log-likelihood on held-out data, with the course's own optimizer.

These functions take probabilities, not logits (the losses of the library take logits): a metric
of probabilities should see the probabilities the model reports.
"""

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from lossbook import _validation as check
from lossbook._reduction import reduce_grad, reduce_losses
from lossbook.classification import cross_entropy, cross_entropy_grad
from lossbook.optim import GradientDescent

NORMS = ("l1", "l2", "max")
ROW_SUM_ATOL = 1e-5
"""How far from 1 a row of (N, C) probabilities may sum: float32 softmax rows sum to 1 within about
1e-7 per thousand classes; logits, scores and rounded percentages miss by far more."""


def _check_probabilities(probs, target):
    """Probabilities (N,) or (N, C) in [0, 1], rows summing to 1, and integer labels (N,) in range."""
    probs = check.as_float_array(probs, "probs")
    if probs.ndim not in (1, 2) or (probs.ndim == 2 and probs.shape[1] < 2):
        raise ValueError(
            f"probs must have shape (N,) (probability of class 1) or (N, C) with C >= 2; got {probs.shape}"
        )
    if probs.shape[0] == 0:
        raise ValueError("probs must hold at least one sample; got an empty array")
    if not np.all((probs >= 0) & (probs <= 1)):  # also refuses nan
        bad = probs.flat[np.flatnonzero(~((probs >= 0) & (probs <= 1)))[0]]
        raise ValueError(f"probs must be probabilities in [0, 1] (apply softmax or sigmoid to logits); got {bad}")
    if probs.ndim == 2:
        row_sums = probs.sum(axis=1, dtype=np.float64)
        worst = int(np.argmax(np.abs(row_sums - 1)))
        if abs(row_sums[worst] - 1) > ROW_SUM_ATOL:
            raise ValueError(f"each row of probs must sum to 1 (within {ROW_SUM_ATOL:g}); "
                             f"row {worst} sums to {float(row_sums[worst])!r}")
    num_classes = 2 if probs.ndim == 1 else probs.shape[1]
    target = np.asarray(target)
    if target.shape != probs.shape[:1]:
        raise ValueError(f"target must have shape {probs.shape[:1]}, one label per sample; got {target.shape}")
    if target.dtype.kind == "b":
        target = target.astype(np.int64)
    labels = check.check_class_indices(target, (len(target), num_classes), "probs", ignore_index=None)
    return probs, labels


def bin_edges(n_bins, dtype=np.float64):
    """The ``n_bins + 1`` bin edges 0, 1/n, ..., 1, rounded as ``torch.linspace(0, 1, n_bins + 1)`` rounds them.

    torch counts the lower half of the edges up from 0, ``k * step``, and the upper half down from 1,
    ``1 - (n - k) * step``, each with a single rounding; ``np.linspace`` rounds some edges one unit in
    the last place differently, which would move a confidence lying exactly on an edge to the next bin.

    Examples
    --------
    >>> bin_edges(4)
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    n_bins = check.check_integer(n_bins, "n_bins")
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1; got {n_bins}")
    dtype = np.dtype(dtype)
    step = Fraction(float(dtype.type(1) / dtype.type(n_bins)))  # the step as torch rounds it
    half = (n_bins + 1) // 2
    exact = [k * step if k < half else 1 - (n_bins - k) * step for k in range(n_bins + 1)]
    return np.array([float(edge) for edge in exact]).astype(dtype)  # exact fractions, rounded once


@dataclass(frozen=True)
class ReliabilityCurve:
    """Per bin of confidence: its edges, the mean confidence, the fraction right, and the count.

    There are ``n_bins + 1`` bins: ``[edge_k, edge_k+1)`` for k = 0, ..., n_bins - 1, and a last
    bin that holds the confidences equal to 1 exactly (``lower == upper == 1``), as in torchmetrics.
    Empty bins have confidence and accuracy nan.
    """

    lower: np.ndarray
    upper: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray


def reliability_curve(probs, target, *, n_bins=15):
    r"""Bin the predictions by confidence; per bin, the mean confidence, the fraction right and the count.

    Parameters
    ----------
    probs : array_like, shape (N, C) or (N,)
        (N, C): class probabilities, each row summing to 1; the confidence is the largest
        probability (the top label) and a prediction is right when its top label is the target.
        (N,): the probability of class 1; the "fraction right" is the fraction of targets equal to 1.
    target : array_like of int, shape (N,)
        Class labels in [0, C), or 0 and 1 for (N,) probabilities.
    n_bins : int >= 1, default 15, keyword-only
        Equal-width bins on [0, 1].

    Returns
    -------
    ReliabilityCurve

    Examples
    --------
    >>> curve = reliability_curve([0.25, 0.25, 0.55, 0.75, 0.75], [0, 0, 1, 1, 1], n_bins=2)
    >>> curve.count, curve.confidence.round(4), curve.accuracy.round(4)
    (array([2, 3, 0]), array([0.25  , 0.6833,    nan]), array([ 0.,  1., nan]))
    """
    probs, labels = _check_probabilities(probs, target)
    edges = bin_edges(n_bins, probs.dtype)
    if probs.ndim == 2:
        confidence = probs.max(axis=1)  # the top-label confidence
        correct = probs.argmax(axis=1) == labels
    else:
        confidence, correct = probs, labels == 1
    # Bin k holds edges[k] <= confidence < edges[k + 1]; a confidence of exactly 1 gets bin n_bins.
    bins = np.searchsorted(edges, confidence, side="right") - 1
    count = np.bincount(bins, minlength=n_bins + 1)
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 = nan: an empty bin
        mean_confidence = np.bincount(bins, weights=confidence.astype(np.float64), minlength=n_bins + 1) / count
        accuracy = np.bincount(bins, weights=correct.astype(np.float64), minlength=n_bins + 1) / count
    return ReliabilityCurve(lower=edges, upper=np.append(edges[1:], edges[-1]), confidence=mean_confidence,
                            accuracy=accuracy, count=count)


def calibration_error(probs, target, *, n_bins=15, norm="l1"):
    r"""Binned calibration error: the expected (ECE), root-mean-square or maximum (MCE) gap.

    Follows torchmetrics' ``multiclass_calibration_error`` (top-label confidence) for `probs` of
    shape (N, C) and ``binary_calibration_error`` for shape (N,).

    Parameters
    ----------
    probs, target, n_bins
        As in :func:`reliability_curve`.
    norm : {"l1", "l2", "max"}, default "l1", keyword-only
        How the gaps between accuracy and confidence of the bins are combined (see Notes).

    Returns
    -------
    numpy scalar
        In the dtype of `probs`, in [0, 1].

    Notes
    -----
    With :math:`n_b` predictions in bin :math:`b`, their mean confidence :math:`\mathrm{conf}_b` and
    their accuracy :math:`\mathrm{acc}_b`, out of :math:`N`:

    .. math:: \mathrm{ECE} = \sum_b \frac{n_b}{N} \lvert \mathrm{acc}_b - \mathrm{conf}_b \rvert, \quad
              \mathrm{RMSCE} = \Big(\sum_b \frac{n_b}{N} (\mathrm{acc}_b - \mathrm{conf}_b)^2\Big)^{1/2}, \quad
              \mathrm{MCE} = \max_b \lvert \mathrm{acc}_b - \mathrm{conf}_b \rvert

    over the non-empty bins. The bins are those of :func:`reliability_curve`: half-open
    ``[k/n, (k+1)/n)``, with edges rounded as torch rounds them, and a bin of its own for a confidence
    of exactly 1. torchmetrics treats values outside [0, 1] as logits and applies softmax or sigmoid;
    this function refuses them. Its multiclass version converts the confidences to float32 first;
    this one keeps float64 input in float64, so on float64 input the two agree to about 1e-7.

    Examples
    --------
    >>> probs = [[0.25, 0.20, 0.55], [0.55, 0.05, 0.40], [0.10, 0.30, 0.60], [0.90, 0.05, 0.05]]
    >>> calibration_error(probs, [0, 1, 2, 0], n_bins=3, norm="l1").round(4)  # torchmetrics: 0.2000
    np.float64(0.2)
    >>> calibration_error([0.25, 0.25, 0.55, 0.75, 0.75], [0, 0, 1, 1, 1], n_bins=2, norm="max").round(4)
    np.float64(0.3167)
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}; got {norm!r}")
    curve = reliability_curve(probs, target, n_bins=n_bins)
    filled = curve.count > 0
    gaps = np.abs(curve.accuracy[filled] - curve.confidence[filled])
    share = curve.count[filled] / curve.count.sum()  # n_b / N
    if norm == "l1":
        error = np.sum(share * gaps)
    elif norm == "l2":
        error = np.sqrt(np.sum(share * gaps**2))
    else:
        error = np.max(gaps)
    return check.to_output(error, curve.lower.dtype)


def _check_brier(probs, target, reduction):
    probs, labels = _check_probabilities(probs, target)
    check.check_reduction(reduction)
    if probs.ndim == 1:
        return probs, labels.astype(probs.dtype)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(labels)), labels] = 1
    return probs, onehot


def brier_score(probs, target, *, reduction="mean"):
    r"""Brier score (Brier, 1950): the squared error of the predicted probabilities.

    Parameters
    ----------
    probs, target
        As in :func:`reliability_curve`.
    reduction : {"mean", "sum", "none"}, default "mean", keyword-only
        "none" gives one score per sample.

    Returns
    -------
    numpy scalar or numpy.ndarray of shape (N,)
        In the dtype of `probs`.

    Notes
    -----
    (N, C): Brier's original score, summed over the classes, in [0, 2]:
    :math:`\sum_c (p_c - y_c)^2` with one-hot :math:`y`. (N,): :math:`(p - y)^2`, in [0, 1]. These are
    the two conventions of scikit-learn's ``brier_score_loss`` (``scale_by_half="auto"``); for two
    classes the (N, 2) score is twice the (N,) score of the same probabilities. torchmetrics has no
    Brier score. Like the negative log-likelihood, the expected Brier score is smallest when the
    predicted probabilities are the true ones: it is a proper scoring rule.

    Examples
    --------
    >>> brier_score([[0.7, 0.2, 0.1]], [0]).round(4)  # 0.3^2 + 0.2^2 + 0.1^2
    np.float64(0.14)
    >>> brier_score([0.9, 0.2], [1, 0], reduction="none").round(4)
    array([0.01, 0.04])
    """
    probs, y = _check_brier(probs, target, reduction)
    squared = (probs - y) ** 2
    losses = squared if probs.ndim == 1 else squared.sum(axis=1)
    return reduce_losses(losses, reduction, probs.dtype)


def brier_score_grad(probs, target, *, reduction="mean"):
    r"""Gradient of :func:`brier_score` with respect to `probs`: :math:`2 (p - y)`, scaled by the reduction."""
    probs, y = _check_brier(probs, target, reduction)
    return reduce_grad(2 * (probs - y), reduction, probs.dtype, denominator=len(probs))


def temperature_nll(log_temperature, logits, target):
    r"""Mean negative log-likelihood of ``softmax(logits / T)`` with :math:`T = e^u`, and its derivative in u.

    Parameters
    ----------
    log_temperature : float
        :math:`u = \log T`; optimizing u keeps T positive.
    logits : array_like, shape (N, C)
    target : array_like of int, shape (N,)

    Returns
    -------
    nll, dnll_du : float

    Notes
    -----
    With :math:`G = \partial\,\mathrm{NLL} / \partial (z / T)` from :func:`~lossbook.classification.cross_entropy_grad`,
    the chain rule gives :math:`\partial\,\mathrm{NLL} / \partial T = -\sum_{ic} G_{ic} z_{ic} / T^2` and
    :math:`\partial\,\mathrm{NLL} / \partial u = T\, \partial\,\mathrm{NLL} / \partial T`.

    Examples
    --------
    >>> nll, slope = temperature_nll(0.0, [[2.0, 0.0], [0.0, 2.0]], [0, 0])
    >>> round(nll, 4), round(slope, 4)
    (1.1269, -0.7616)
    """
    u = check.check_real_number(log_temperature, "log_temperature")
    logits = np.asarray(logits, dtype=np.float64)
    temperature = np.exp(u)
    scaled = logits / temperature
    grad_scaled = cross_entropy_grad(scaled, target)  # dNLL / d(z / T)
    dnll_dt = -np.sum(grad_scaled * logits) / temperature**2
    return float(cross_entropy(scaled, target)), float(temperature * dnll_dt)


def fit_temperature(logits, target, *, optimizer=None, steps=300):
    r"""The temperature T > 0 that minimizes the NLL of ``softmax(logits / T)``: a training run on log T.

    Parameters
    ----------
    logits : array_like, shape (N, C)
        Scores of held-out (validation) samples; never the test set.
    target : array_like of int, shape (N,)
    optimizer : object with ``step(params, grads)``, optional, keyword-only
        Default ``GradientDescent(lr=1.0)`` from :mod:`lossbook.optim`.
    steps : int, default 300, keyword-only

    Returns
    -------
    temperature : float
    history : list of float
        The NLL before each step.

    Notes
    -----
    The slope in :math:`\log T` is clipped to [-1, 1] before each step. Far from the minimum it grows
    with the logits (about -12 at T = 1 for logits 20 times too large), and one unclipped step of
    gradient descent would overshoot by orders of magnitude; near the minimum it is small and the
    clipping does nothing.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> logits = 3 * rng.normal(size=(500, 4))
    >>> target = np.array([rng.choice(4, p=p) for p in np.exp(logits / 3) / np.exp(logits / 3).sum(1, keepdims=True)])
    >>> temperature, history = fit_temperature(logits, target)
    >>> round(temperature, 1)  # the data were drawn at T = 3
    3.0
    """
    steps = check.check_integer(steps, "steps")
    optimizer = GradientDescent(lr=1.0) if optimizer is None else optimizer
    params = {"log_temperature": np.zeros(1)}  # start at T = 1, the model as trained
    history = []
    for _ in range(steps):
        nll, slope = temperature_nll(params["log_temperature"][0], logits, target)
        history.append(nll)
        # Clipped: the first steps of a far-off start move log T by at most lr each (see Notes).
        optimizer.step(params, {"log_temperature": np.clip([slope], -1.0, 1.0)})
    return float(np.exp(params["log_temperature"][0])), history
