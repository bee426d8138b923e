"""Convolutions of the dense detector: im2col and one matrix product against a loop, finite differences, PyTorch.

The PyTorch oracle is ``tests/golden/torch_conv.json``: ``torch.nn.functional.conv2d``'s values and
autograd gradients in float64, written by ``tools/torch_conv_golden.py`` with torch 2.13.0
(``/tmp/torchvenv/bin/python tools/torch_conv_golden.py``; PyTorch is not a course dependency).
Tolerance: ``1e-12`` relative to the largest entry of each array (the two libraries sum the products
of a patch in different orders).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from lossbook.conv import (
    col2im,
    conv2d,
    conv2d_backward,
    conv2d_forward,
    im2col,
    output_size,
    relu,
    relu_backward,
)
from lossbook.gradcheck import numerical_grad


def loop_conv2d(x, weight, bias, stride, padding):
    """The definition, one output number at a time: an oracle independent of im2col."""
    n, height, width, _ = x.shape
    k, _, _, c_out = weight.shape
    padded = np.zeros((n, height + 2 * padding, width + 2 * padding, x.shape[3]))
    padded[:, padding : padding + height, padding : padding + width] = x
    out_h = (height + 2 * padding - k) // stride + 1
    out_w = (width + 2 * padding - k) // stride + 1
    y = np.zeros((n, out_h, out_w, c_out))
    for image in range(n):
        for i in range(out_h):
            for j in range(out_w):
                for o in range(c_out):
                    total = bias[o]
                    for p in range(k):
                        for q in range(k):
                            for c in range(x.shape[3]):
                                total += padded[image, stride * i + p, stride * j + q, c] * weight[p, q, c, o]
                    y[image, i, j, o] = total
    return y


CASES = [  # (H, W, C_in, C_out, k, stride, padding)
    (5, 5, 1, 2, 3, 1, 1),
    (6, 6, 2, 3, 3, 2, 1),
    (7, 6, 3, 2, 3, 2, 0),
    (4, 5, 2, 2, 1, 1, 0),
    (6, 7, 1, 1, 2, 3, 1),
]


@pytest.mark.parametrize("case", CASES)
def test_conv2d_equals_the_loop_definition(rng, case):
    height, width, c_in, c_out, k, stride, padding = case
    x = rng.normal(size=(2, height, width, c_in))
    weight, bias = rng.normal(size=(k, k, c_in, c_out)), rng.normal(size=c_out)
    ours = conv2d(x, weight, bias, stride=stride, padding=padding)
    np.testing.assert_allclose(ours, loop_conv2d(x, weight, bias, stride, padding), rtol=1e-12, atol=1e-12)
    assert ours.shape[1:3] == (output_size(height, k, stride, padding), output_size(width, k, stride, padding))


@pytest.mark.parametrize("case", CASES)
def test_conv2d_backward_matches_finite_differences(rng, case):
    height, width, c_in, c_out, k, stride, padding = case
    x = rng.normal(size=(2, height, width, c_in))
    weight, bias = rng.normal(size=(k, k, c_in, c_out)), rng.normal(size=c_out)
    y, cache = conv2d_forward(x, weight, bias, stride=stride, padding=padding)
    upstream = rng.normal(size=y.shape)  # L = sum(upstream * y), a generic linear function of the output
    grad_x, grad_weight, grad_bias = conv2d_backward(upstream, cache)

    def loss_of(x_, weight_, bias_):
        return np.sum(upstream * conv2d(x_, weight_, bias_, stride=stride, padding=padding))

    np.testing.assert_allclose(grad_x, numerical_grad(lambda v: loss_of(v, weight, bias), x), atol=1e-7)
    np.testing.assert_allclose(grad_weight, numerical_grad(lambda v: loss_of(x, v, bias), weight), atol=1e-7)
    np.testing.assert_allclose(grad_bias, numerical_grad(lambda v: loss_of(x, weight, v), bias), atol=1e-7)


TORCH_GOLDEN = json.loads((Path(__file__).parent / "golden" / "torch_conv.json").read_text())


def golden_array(encoded):
    return np.array(encoded["array"], dtype=encoded["dtype"]).reshape(encoded["shape"])


def assert_close_to_torch(ours, theirs, what):
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, what
    error = np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))
    assert error <= 1e-12, f"{what}: relative error {error:.1e} against PyTorch"


@pytest.mark.parametrize("case", TORCH_GOLDEN["cases"], ids=[case["id"] for case in TORCH_GOLDEN["cases"]])
def test_conv2d_and_its_backward_match_pytorch(case):
    x, weight, bias = (golden_array(case[name]) for name in ("x", "weight", "bias"))
    y, cache = conv2d_forward(x, weight, bias, stride=case["stride"], padding=case["padding"])
    assert_close_to_torch(y, golden_array(case["value"]), "conv2d")
    grads = conv2d_backward(golden_array(case["grad_output"]), cache)
    for name, ours in zip(("grad_x", "grad_weight", "grad_bias"), grads, strict=True):
        assert_close_to_torch(ours, golden_array(case[name]), name)


def test_the_pytorch_cases_cover_strides_paddings_and_an_edge_outside_every_patch():
    cases = TORCH_GOLDEN["cases"]
    assert {(case["stride"], case["padding"]) for case in cases} >= {(1, 0), (1, 1), (2, 0), (2, 1)}
    assert any(shape % 2 for case in cases for shape in case["x"]["shape"][1:3])  # odd sizes
    # An image row that no patch covers gets exactly zero gradient, in PyTorch and here.
    unused = [case for case in cases if not np.any(golden_array(case["grad_x"])[:, -1])]
    assert unused, "no case leaves the last row of the image out of every patch"


def test_col2im_is_the_adjoint_of_im2col(rng):
    # <im2col(x), c> = <x, col2im(c)> for every x and c: the defining property of the backward copy.
    x = rng.normal(size=(2, 7, 6, 3))
    cols = rng.normal(size=im2col(x, 3, 2, 1).shape)
    left = np.sum(im2col(x, 3, 2, 1) * cols)
    right = np.sum(x * col2im(cols, x.shape, 3, 2, 1))
    assert left == pytest.approx(right, rel=1e-12)


def test_float32_stays_float32(rng):
    x = rng.normal(size=(1, 8, 8, 2)).astype(np.float32)
    weight, bias = rng.normal(size=(3, 3, 2, 4)).astype(np.float32), np.zeros(4, dtype=np.float32)
    y, cache = conv2d_forward(x, weight, bias, stride=2, padding=1)
    assert y.dtype == np.float32 and y.shape == (1, 4, 4, 4)
    assert all(grad.dtype == np.float32 for grad in conv2d_backward(np.ones_like(y), cache))


def test_relu_and_its_backward(rng):
    x = rng.normal(size=(3, 4))
    y = relu(x)
    np.testing.assert_array_equal(y, np.where(x > 0, x, 0))
    upstream = rng.normal(size=x.shape)
    np.testing.assert_allclose(relu_backward(upstream, y), numerical_grad(lambda v: np.sum(upstream * relu(v)), x),
                               atol=1e-8)


def test_bad_input_is_refused_with_the_argument_named(rng):
    x, weight, bias = np.zeros((1, 5, 5, 2)), np.zeros((3, 3, 2, 4)), np.zeros(4)
    with pytest.raises(ValueError, match="x must have shape"):
        conv2d(np.zeros((5, 5, 2)), weight, bias)
    with pytest.raises(ValueError, match="weight expects 2 input channels; x has 3"):
        conv2d(np.zeros((1, 5, 5, 3)), weight, bias)
    with pytest.raises(ValueError, match="weight must have shape"):
        conv2d(x, np.zeros((3, 2, 2, 4)), bias)
    with pytest.raises(ValueError, match="bias must have shape"):
        conv2d(x, weight, np.zeros(3))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        conv2d(x, weight, bias, stride=0)
    with pytest.raises(TypeError, match="padding must be an integer"):
        conv2d(x, weight, bias, padding=1.5)
    with pytest.raises(ValueError, match="does not fit"):
        conv2d(np.zeros((1, 2, 2, 2)), weight, bias)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        conv2d(np.zeros((1, 5, 5, 2), dtype=complex), weight, bias)
    y, cache = conv2d_forward(x, weight, bias)
    with pytest.raises(ValueError, match="grad_output must have the shape"):
        conv2d_backward(np.zeros((1, 4, 4, 4)), cache)
    with pytest.raises(ValueError, match="grad_output must have the shape of output"):
        relu_backward(np.zeros(3), np.zeros(4))
