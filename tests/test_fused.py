"""Two paths, one truth: the fused entry points (tuned kernels) against the readable reference.

Every ``*_value_and_grad`` of :mod:`lossbook.fused` must return what the reference value function and
its ``_grad`` twin return: for every registered example (every option), in float32 and float64, at
extreme logits, and for batches large enough to be cut into row blocks and spread over two threads.
The kernels round differently from the reference (they may skip the max shift, and add rows with
einsum), so they agree to rounding, not to the bit: within 1e-12 relative in float64 and 2e-6 in
float32 on the registered examples, and within 64 units in the last place at extreme logits. The kernels must also
give the same bits whatever the thread count and block size, and must raise or stay quiet about
floating-point trouble exactly as the reference does.
"""

import warnings

import numpy as np
import pytest

import lossbook
from lossbook import _kernels, registry
from lossbook.models import LinearSoftmax, TwoLayerNet

FUSED = {
    "cross_entropy": lossbook.cross_entropy_value_and_grad,
    "binary_cross_entropy_with_logits": lossbook.binary_cross_entropy_with_logits_value_and_grad,
}
CASES = [
    pytest.param(registry.get(name), example, id=f"{name}-{example.label}")
    for name in FUSED
    for example in registry.get(name).examples(np.random.default_rng(0))
]


@pytest.fixture
def blocks_on_two_threads(monkeypatch):
    """Small row blocks and a low threshold, so that modest test arrays take the blocked, threaded path."""
    monkeypatch.setattr(_kernels, "BLOCK_ELEMENTS", 1 << 12)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_ELEMENTS", 1 << 13)
    monkeypatch.setattr(_kernels, "WORKERS", 2)


@pytest.mark.parametrize(("spec", "example"), CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_matches_value_and_grad_functions(spec, example, dtype):
    first, *rest = example.args
    first = np.asarray(first, dtype=dtype)
    value, grad = FUSED[spec.name](first, *rest, **example.kwargs)
    expected_value = spec.loss(first, *rest, **example.kwargs)
    expected_grad = spec.grad(first, *rest, **example.kwargs)
    assert np.asarray(value).dtype == np.asarray(expected_value).dtype == dtype
    assert grad.dtype == expected_grad.dtype == dtype
    assert np.shape(value) == np.shape(expected_value) and grad.shape == expected_grad.shape
    # The kernels and the reference round differently: agreement to a few units in the last place.
    rtol, atol = (1e-12, 1e-15) if dtype == np.float64 else (2e-6, 1e-7)
    np.testing.assert_allclose(value, expected_value, rtol=rtol, atol=atol)
    np.testing.assert_allclose(grad, expected_grad, rtol=rtol, atol=atol)


def test_fused_rejects_bad_input_like_the_separate_functions():
    with pytest.raises(ValueError, match="target must have shape"):
        lossbook.cross_entropy_value_and_grad(np.zeros((3, 4)), [0, 1])
    with pytest.raises(ValueError, match="reduction must be one of"):
        lossbook.binary_cross_entropy_with_logits_value_and_grad([0.5], [1.0], reduction="avg")
    with pytest.raises(ValueError, match="target must have the shape of logits"):
        lossbook.binary_cross_entropy_with_logits_value_and_grad(np.zeros((2, 3)), np.zeros((3, 2)))


def whole_array_cross_entropy(logits, labels):
    """Reference: the stable formula on the whole array, in float64."""
    x = logits.astype(np.float64)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(x))
    grad = np.exp(log_probs)
    grad[rows, labels] -= 1
    return -log_probs[rows, labels], grad


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_classes", [3, 10, 100])
def test_blocked_cross_entropy_matches_whole_array_formula(rng, blocks_on_two_threads, dtype, n_classes):
    logits = (3 * rng.standard_normal((2000, n_classes))).astype(dtype)
    labels = rng.integers(0, n_classes, size=2000)
    expected_losses, expected_grad = whole_array_cross_entropy(logits, labels)
    losses, grad = lossbook.cross_entropy_value_and_grad(logits, labels, reduction="none")
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(losses, expected_losses, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(grad, expected_grad, rtol=tolerance, atol=tolerance)
    value, mean_grad = lossbook.cross_entropy_value_and_grad(logits, labels)
    np.testing.assert_allclose(value, expected_losses.mean(), rtol=tolerance)
    np.testing.assert_allclose(mean_grad, expected_grad / len(logits), rtol=tolerance, atol=tolerance / len(logits))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_in_blocks_matches_the_reference(rng, blocks_on_two_threads, name):
    # C-ordered rows take the row blocks on two threads; a Fortran-ordered copy takes the reference.
    x, g = 5 * rng.standard_normal((3000, 7)), rng.standard_normal((3000, 7))
    fused = getattr(lossbook, f"{name}_value_and_grad")
    value, grad = fused(x, g)
    np.testing.assert_allclose(value, getattr(lossbook, name)(x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(grad, getattr(lossbook, f"{name}_grad")(x, g), rtol=1e-12, atol=1e-13)
    for ours, reference in zip(fused(np.asfortranarray(x), g), (value, grad), strict=True):
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-13)


EXTREME_ROWS = [
    [1e4, 1e4 - 1, 1e4 - 3, 1e4 - 40],  # large scores: the naive exp overflows
    [-1e4, 0.0, 1e4, 5.0],  # probabilities that underflow to 0
    [-80.0, -85.0, -90.0, -95.0],  # all scores negative: the unshifted exp would underflow sooner
    [30.0, 0.0, -30.0, 1.0],
    [0.0, 0.0, 0.0, 0.0],
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "cross_entropy", "binary_cross_entropy_with_logits"])
def test_fused_matches_the_reference_at_extreme_logits(rng, dtype, name):
    x = np.array(EXTREME_ROWS, dtype=dtype)
    if name in ("softmax", "log_softmax"):
        g = rng.standard_normal(x.shape).astype(dtype)
        args, reference = (x, g), (getattr(lossbook, name)(x), getattr(lossbook, f"{name}_grad")(x, g))
    elif name == "cross_entropy":
        args = (x, np.array([3, 0, 1, 2, 1]))
        reference = (
            lossbook.cross_entropy(*args, reduction="none"),
            lossbook.cross_entropy_grad(*args, reduction="none"),
        )
    else:
        args = (x, (rng.random(x.shape) < 0.5).astype(dtype))
        reference = (lossbook.binary_cross_entropy_with_logits(*args, reduction="none"),
                     lossbook.binary_cross_entropy_with_logits_grad(*args, reduction="none"))
    options = {} if name in ("softmax", "log_softmax") else {"reduction": "none"}
    fused = getattr(lossbook, f"{name}_value_and_grad")(*args, **options)
    eps = np.finfo(dtype).eps
    for ours, theirs in zip(fused, reference, strict=True):
        assert ours.dtype == theirs.dtype == dtype and ours.shape == theirs.shape
        assert np.isfinite(ours).all()
        np.testing.assert_allclose(ours, theirs, rtol=64 * eps, atol=64 * eps)


@pytest.mark.parametrize("function", ["cross_entropy", "binary_cross_entropy_with_logits", "softmax"])
def test_results_do_not_depend_on_the_number_of_threads(rng, monkeypatch, function):
    logits = rng.standard_normal((5000, 20))
    if function == "cross_entropy":
        arguments = (logits, rng.integers(0, 20, size=5000))
        run = lossbook.cross_entropy_value_and_grad
    elif function == "binary_cross_entropy_with_logits":
        arguments = (logits, (rng.random(logits.shape) < 0.3).astype(float))
        run = lossbook.binary_cross_entropy_with_logits_value_and_grad
    else:
        arguments, run = (logits, logits), lossbook.softmax_value_and_grad
    monkeypatch.setattr(_kernels, "BLOCK_ELEMENTS", 1 << 12)
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_ELEMENTS", 1)
    results = []
    for workers in (1, 2, 2):
        monkeypatch.setattr(_kernels, "WORKERS", workers)
        result = run(*arguments)
        results.append(result if isinstance(result, tuple) else (result,))
    # Block sums are added in row order, whichever thread finishes first: the same bits every time.
    for ours, theirs in zip(results[0], results[1], strict=True):
        np.testing.assert_array_equal(ours, theirs)
    for ours, theirs in zip(results[1], results[2], strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_row_kernels_do_not_depend_on_the_block_size(rng, monkeypatch):
    logits = rng.standard_normal((5000, 20))
    labels = rng.integers(0, 20, size=5000)
    results = []
    for block_elements in (1 << 8, 1 << 12, 1 << 20):
        monkeypatch.setattr(_kernels, "BLOCK_ELEMENTS", block_elements)
        results.append((
            *lossbook.cross_entropy_value_and_grad(logits, labels),
            *lossbook.log_softmax_value_and_grad(logits, logits),
        ))
    for other in results[1:]:
        for ours, theirs in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(ours, theirs)


def test_large_batch_with_non_finite_rows_is_quiet_like_a_small_one(rng, blocks_on_two_threads):
    # pytest turns every warning into an error here: the blocked path must not warn where the small one does not.
    logits = rng.standard_normal((3000, 5))
    logits[7] = -np.inf  # no distribution: nan, as log_softmax gives
    labels = rng.integers(0, 5, size=3000)
    losses, grad = lossbook.cross_entropy_value_and_grad(logits, labels, reduction="none")
    assert np.isnan(losses[7]) and np.isnan(grad[7]).all()
    assert np.isfinite(np.delete(losses, 7)).all() and np.isfinite(np.delete(grad, 7, axis=0)).all()
    small_losses, _ = lossbook.cross_entropy_value_and_grad(logits[:10], labels[:10], reduction="none")
    np.testing.assert_allclose(small_losses, losses[:10])
    assert np.isnan(lossbook.log_softmax_value_and_grad(logits, logits)[0][7]).all()


def test_errstate_of_the_caller_reaches_the_worker_threads(blocks_on_two_threads):
    huge = np.zeros((3000, 4), dtype=np.float32)
    huge[2500] = [3e38, -3e38, 0, 0]  # the max shift overflows: -3e38 - 3e38
    zeros = np.zeros_like(huge)
    with pytest.raises(RuntimeWarning, match="overflow"):
        lossbook.softmax_value_and_grad(huge, zeros)
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        probabilities, _ = lossbook.softmax_value_and_grad(huge, zeros)
    np.testing.assert_allclose(probabilities[2500], [1, 0, 0, 0])


@pytest.mark.parametrize("model_class", [LinearSoftmax, TwoLayerNet])
def test_models_use_the_fused_loss_and_keep_their_results(rng, model_class):
    model = LinearSoftmax(4, 3, rng, 0.5) if model_class is LinearSoftmax else TwoLayerNet(4, 6, 3, rng, 0.5)
    X, y = rng.normal(size=(9, 4)), rng.integers(0, 3, size=9)
    loss, grads = model.loss_and_grads(X, y, lam=0.01)
    scores, cache = model.forward(X)
    expected = lossbook.cross_entropy(scores, y) + sum(
        lossbook.l2_penalty(model.params[name], 0.01) for name in model.regularized
    )
    expected_grads = model.backward(lossbook.cross_entropy_grad(scores, y), cache)
    for name in model.regularized:
        expected_grads[name] += lossbook.l2_penalty_grad(model.params[name], 0.01)
    assert loss == pytest.approx(float(expected), rel=1e-14)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, expected_grads[name], rtol=1e-13, atol=1e-16)
    # What a step returned must not change at the next (no buffer shared between steps).
    saved = {name: grad.copy() for name, grad in grads.items()}
    model.loss_and_grads(rng.normal(size=(9, 4)), y, lam=0.01)
    for name, grad in grads.items():
        np.testing.assert_array_equal(grad, saved[name])


# The row kernels' shortcuts (lossbook._kernels.row_sum, exp_without_shift_is_safe), checked against
# float64 references so that a faster route can never be a less accurate one.


@pytest.mark.parametrize("n_cols", [3, 8, 100, 1000, 2048, 5000])
def test_row_sums_are_accurate_on_every_route(n_cols):
    from lossbook._kernels import row_sum

    rng = np.random.default_rng(n_cols)
    rows = np.exp(rng.normal(-5, 3, size=(64, n_cols))).astype(np.float32)
    exact = rows.astype(np.float64).sum(axis=1)
    ulps = np.abs(row_sum(rows).astype(np.float64) - exact) / exact / np.finfo(np.float32).eps
    assert ulps.max() < 4, ulps.max()  # pairwise summation reaches about 2 ulps here
    assert row_sum(rows, keepdims=True).shape == (64, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_without_shift_only_where_nothing_can_overflow_or_underflow_sooner(dtype):
    from lossbook._kernels import exp_without_shift_is_safe

    limit = np.log(np.finfo(dtype).max) - np.log(1000) - 1
    assert exp_without_shift_is_safe(np.array([0.0, 3.0, limit - 1e-3]), 1000, dtype)
    assert not exp_without_shift_is_safe(np.array([-1e-3, 3.0]), 1000, dtype)  # a row below 0
    assert not exp_without_shift_is_safe(np.array([3.0, limit + 1.0]), 1000, dtype)  # C e^m overflows
    assert not exp_without_shift_is_safe(np.array([3.0, np.nan]), 1000, dtype)
    assert not exp_without_shift_is_safe(np.array([3.0, np.inf]), 1000, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("center", [0.0, 40.0, 85.0, -30.0, 700.0, -1e4])
def test_softmax_rows_accurate_with_and_without_the_shift(dtype, center):
    # Centers on both sides of the shortcut's range, and rows whose smallest probabilities are tiny:
    # every route must give each probability to a few ulps of its own size (float64 reference).
    rng = np.random.default_rng(7)
    x = (center + rng.normal(0, 8, size=(300, 1000))).astype(dtype)
    exact = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
    exact /= exact.sum(axis=1, keepdims=True)
    normal = exact > np.finfo(dtype).tiny * 1e3  # away from the subnormal range
    value = lossbook.softmax_value_and_grad(x, np.zeros_like(x))[0].astype(np.float64)
    relative = np.abs(value[normal] - exact[normal]) / exact[normal]
    # The shifted route rounds x - m (up to half an ulp of |x - m| ~ 60, i.e. 2e-6 in float32).
    assert relative.max() < (5e-6 if dtype == np.float32 else 1e-13), relative.max()
