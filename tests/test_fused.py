"""The fused entry points and the large-batch kernels: the same numbers as the separate functions.

``cross_entropy_value_and_grad`` and ``binary_cross_entropy_with_logits_value_and_grad`` must return
what the value function and its ``_grad`` twin return, for every registered example (every option).
Batches large enough to be cut into row blocks and spread over two threads must give the numbers of
a plain whole-array computation, the same on every run whatever the thread count, and must raise or
stay quiet about floating-point trouble exactly as a small batch does.
"""

import warnings

import numpy as np
import pytest

import lossbook
from lossbook import _blocks, registry
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
    monkeypatch.setattr(_blocks, "BLOCK_ELEMENTS", 1 << 12)
    monkeypatch.setattr(_blocks, "PARALLEL_MIN_ELEMENTS", 1 << 13)
    monkeypatch.setattr(_blocks, "WORKERS", 2)


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
    # One kernel serves all three functions: agreement is to rounding, in practice to the bit.
    np.testing.assert_allclose(value, expected_value, rtol=1e-12, atol=0)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12, atol=0)


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


def test_softmax_family_blocked_matches_the_whole_array_path(rng, blocks_on_two_threads):
    # A Fortran-ordered copy takes the whole-array formulas; the C-ordered original takes the row blocks.
    x = 5 * rng.standard_normal((3000, 7))
    fortran = np.asfortranarray(x)
    np.testing.assert_allclose(lossbook.softmax(x), lossbook.softmax(fortran), rtol=1e-13)
    np.testing.assert_allclose(lossbook.log_softmax(x), lossbook.log_softmax(fortran), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(lossbook.logsumexp(x), lossbook.logsumexp(fortran), rtol=1e-13)
    assert lossbook.logsumexp(x.reshape(30, 100, 7), keepdims=True).shape == (30, 100, 1)


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
        arguments, run = (logits,), lossbook.softmax
    monkeypatch.setattr(_blocks, "BLOCK_ELEMENTS", 1 << 12)
    monkeypatch.setattr(_blocks, "PARALLEL_MIN_ELEMENTS", 1)
    results = []
    for workers in (1, 2, 2):
        monkeypatch.setattr(_blocks, "WORKERS", workers)
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
        monkeypatch.setattr(_blocks, "BLOCK_ELEMENTS", block_elements)
        results.append((*lossbook.cross_entropy_value_and_grad(logits, labels), lossbook.log_softmax(logits)))
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
    assert np.isnan(lossbook.log_softmax(logits)[7]).all()


def test_errstate_of_the_caller_reaches_the_worker_threads(blocks_on_two_threads):
    huge = np.zeros((3000, 4), dtype=np.float32)
    huge[2500] = [3e38, -3e38, 0, 0]  # the max shift overflows: -3e38 - 3e38
    with pytest.raises(RuntimeWarning, match="overflow"):
        lossbook.softmax(huge)
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        probabilities = lossbook.softmax(huge)
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
    # TwoLayerNet keeps a work array between steps: what a step returned must not change at the next.
    saved = {name: grad.copy() for name, grad in grads.items()}
    model.loss_and_grads(rng.normal(size=(9, 4)), y, lam=0.01)
    for name, grad in grads.items():
        np.testing.assert_array_equal(grad, saved[name])
