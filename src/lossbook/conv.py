r"""Two-dimensional convolution and ReLU with their backward passes, in NumPy, for the dense detector.

Images are stored channels last (NHWC): ``x[n, i, j, c]`` is channel c of pixel (i, j) of image n,
row i downwards, column j to the right. A convolution with a :math:`k \times k` kernel turns every
output position into a dot product between a :math:`k \times k \times C_\text{in}` patch of the input
and each of :math:`C_\text{out}` filters. :func:`im2col` copies all patches into the rows of one
matrix, so that the whole convolution is a single matrix product (which BLAS does fast):

.. math:: y[n, i, j, o] = b_o + \sum_{p, q, c} x_\text{pad}[n, s i + p, s j + q, c]\, W[p, q, c, o].

The backward pass follows from the same product: with :math:`G = \partial L / \partial y` laid out
like the output rows, :math:`\partial L / \partial W = \text{cols}^\top G`,
:math:`\partial L / \partial b = \sum G` and :math:`\partial L / \partial \text{cols} = G W^\top`,
which :func:`col2im` adds back onto the input positions each patch was copied from (a pixel that
lies in several patches collects a gradient from each).

Like the cross-entropy of the classification chapters, these are plain whole-array functions: one
line per step of the formulas above, checked against a loop-by-loop convolution and finite
differences in ``tests/test_conv.py``.
"""

import numpy as np

from lossbook import _validation as check


def _check_conv_options(kernel_size, stride, padding):
    kernel_size = check.check_integer(kernel_size, "kernel_size")
    stride = check.check_integer(stride, "stride")
    padding = check.check_integer(padding, "padding")
    if kernel_size < 1 or stride < 1 or padding < 0:
        raise ValueError(
            f"kernel_size and stride must be >= 1 and padding >= 0; got {kernel_size}, {stride}, {padding}"
        )
    return kernel_size, stride, padding


def output_size(size, kernel_size, stride=1, padding=0):
    """Side of a convolution's output: ``(size + 2 padding - kernel_size) // stride + 1``, as in PyTorch.

    Examples
    --------
    >>> from lossbook.conv import output_size
    >>> output_size(64, 3, stride=2, padding=1)  # 64 x 64 -> 32 x 32
    32
    """
    size = check.check_integer(size, "size")
    kernel_size, stride, padding = _check_conv_options(kernel_size, stride, padding)
    out = (size + 2 * padding - kernel_size) // stride + 1
    if out < 1:
        raise ValueError(f"a {kernel_size} x {kernel_size} kernel does not fit an input of side {size} "
                         f"with padding {padding}")
    return out


def im2col(x, kernel_size, stride=1, padding=0):
    r"""Copy every :math:`k \times k` patch of `x` into a row: shape (N, H_out, W_out, k * k * C).

    The patch at output position (i, j) starts at input row ``stride * i`` and column ``stride * j``
    of the zero-padded input. Its entries are ordered (kernel row, kernel column, channel), the
    order of a weight array of shape (k, k, C_in, C_out) flattened to (k * k * C_in, C_out).

    Parameters
    ----------
    x : numpy.ndarray, shape (N, H, W, C)
    kernel_size, stride, padding : int

    Returns
    -------
    numpy.ndarray, shape (N, H_out, W_out, kernel_size * kernel_size * C)

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.conv import im2col
    >>> x = np.arange(9.0).reshape(1, 3, 3, 1)  # one 3 x 3 image, one channel
    >>> im2col(x, 2)[0, 0, 0]  # the 2 x 2 patch at the top left
    array([0., 1., 3., 4.])
    >>> im2col(x, 2).shape  # 2 x 2 positions, 4 numbers each
    (1, 2, 2, 4)
    """
    x = _check_images(x, "x")
    kernel_size, stride, padding = _check_conv_options(kernel_size, stride, padding)
    n, height, width, channels = x.shape
    out_h = output_size(height, kernel_size, stride, padding)
    out_w = output_size(width, kernel_size, stride, padding)
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    # One strided slice per kernel offset (p, q): entry [n, i, j] is padded[n, s i + p, s j + q].
    patches = [
        padded[:, p : p + stride * out_h : stride, q : q + stride * out_w : stride, :]
        for p in range(kernel_size)
        for q in range(kernel_size)
    ]
    return np.stack(patches, axis=3).reshape(n, out_h, out_w, kernel_size * kernel_size * channels)


def col2im(cols, input_shape, kernel_size, stride=1, padding=0):
    r"""The adjoint of :func:`im2col`: add each patch row back onto the input positions it came from.

    If ``cols`` is :math:`\partial L / \partial\, \text{im2col}(x)`, the result is
    :math:`\partial L / \partial x`: every input pixel receives the sum over the patches that copied it.

    Parameters
    ----------
    cols : numpy.ndarray, shape (N, H_out, W_out, kernel_size * kernel_size * C)
    input_shape : tuple (N, H, W, C)
        The shape of the `x` given to :func:`im2col`.
    kernel_size, stride, padding : int

    Returns
    -------
    numpy.ndarray, shape `input_shape`

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.conv import col2im
    >>> counts = col2im(np.ones((1, 2, 2, 4)), (1, 3, 3, 1), 2)  # how many 2 x 2 patches hold each pixel
    >>> counts[0, :, :, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    cols = check.as_float_array(cols, "cols")
    kernel_size, stride, padding = _check_conv_options(kernel_size, stride, padding)
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be (N, H, W, C); got {input_shape}")
    n, height, width, channels = input_shape
    out_h = output_size(height, kernel_size, stride, padding)
    out_w = output_size(width, kernel_size, stride, padding)
    expected = (n, out_h, out_w, kernel_size * kernel_size * channels)
    if cols.shape != expected:
        raise ValueError(f"cols must have shape {expected} for input_shape {tuple(input_shape)}; got {cols.shape}")
    cols = cols.reshape(n, out_h, out_w, kernel_size * kernel_size, channels)
    padded = np.zeros((n, height + 2 * padding, width + 2 * padding, channels), dtype=cols.dtype)
    for offset in range(kernel_size * kernel_size):
        p, q = divmod(offset, kernel_size)
        padded[:, p : p + stride * out_h : stride, q : q + stride * out_w : stride, :] += cols[:, :, :, offset, :]
    return padded[:, padding : padding + height, padding : padding + width, :]


def _check_images(x, name):
    x = check.as_float_array(x, name)
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N, H, W, C), channels last; got {x.shape}")
    return x


def _check_weight(weight, bias, channels):
    weight = check.as_float_array(weight, "weight")
    if weight.ndim != 4 or weight.shape[0] != weight.shape[1]:
        raise ValueError(f"weight must have shape (k, k, C_in, C_out); got {weight.shape}")
    if weight.shape[2] != channels:
        raise ValueError(f"weight expects {weight.shape[2]} input channels; x has {channels}")
    bias = check.as_float_array(bias, "bias")
    if bias.shape != (weight.shape[3],):
        raise ValueError(f"bias must have shape ({weight.shape[3]},), one per output channel; got {bias.shape}")
    return weight, bias


def conv2d(x, weight, bias, *, stride=1, padding=0):
    r"""2-D convolution (cross-correlation, as in ``torch.nn.functional.conv2d``) of channels-last images.

    Parameters
    ----------
    x : array_like, shape (N, H, W, C_in)
    weight : array_like, shape (k, k, C_in, C_out)
    bias : array_like, shape (C_out,)
    stride : int, default 1, keyword-only
    padding : int, default 0, keyword-only
        Zeros added on every side.

    Returns
    -------
    numpy.ndarray, shape (N, H_out, W_out, C_out)
        With :math:`H_\text{out}` from :func:`output_size`; float32 in, float32 out.

    Notes
    -----
    PyTorch stores images channels first, (N, C, H, W), and weights as (C_out, C_in, k, k); the same
    numbers give the same result after ``x.transpose(0, 2, 3, 1)`` and ``weight.transpose(2, 3, 1, 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.conv import conv2d
    >>> x = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> box_filter = np.ones((2, 2, 1, 1))  # sums each 2 x 2 patch
    >>> conv2d(x, box_filter, [0.0], stride=2)[0, :, :, 0]
    array([[10., 18.],
           [42., 50.]])
    """
    y, _ = conv2d_forward(x, weight, bias, stride=stride, padding=padding)
    return y


def conv2d_forward(x, weight, bias, *, stride=1, padding=0):
    """:func:`conv2d`, and the cache that :func:`conv2d_backward` needs (the patch matrix and the shapes)."""
    x = _check_images(x, "x")
    weight, bias = _check_weight(weight, bias, x.shape[3])
    kernel_size = weight.shape[0]
    cols = im2col(x, kernel_size, stride, padding)
    # One matrix product for every output position of every image.
    y = cols @ weight.reshape(-1, weight.shape[3]) + bias
    return y, (cols, x.shape, weight, stride, padding)


def conv2d_backward(grad_output, cache):
    r"""Gradients of the loss with respect to the input, the weight and the bias of :func:`conv2d`.

    Parameters
    ----------
    grad_output : numpy.ndarray, shape (N, H_out, W_out, C_out)
        :math:`\partial L / \partial y`.
    cache : tuple
        The second value returned by :func:`conv2d_forward`.

    Returns
    -------
    grad_x, grad_weight, grad_bias : numpy.ndarray
        Shaped like `x`, `weight` and `bias`.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.conv import conv2d_backward, conv2d_forward
    >>> y, cache = conv2d_forward(np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1)), [0.0])
    >>> grad_x, grad_weight, grad_bias = conv2d_backward(np.ones_like(y), cache)  # L = sum(y)
    >>> grad_x[0, :, :, 0]  # each pixel counts once per patch that holds it
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> grad_weight[:, :, 0, 0], grad_bias  # four patches of ones; four outputs
    (array([[4., 4.],
           [4., 4.]]), array([4.]))
    """
    cols, input_shape, weight, stride, padding = cache
    grad_output = check.as_float_array(grad_output, "grad_output")
    expected = (*cols.shape[:3], weight.shape[3])
    if grad_output.shape != expected:
        raise ValueError(f"grad_output must have the shape of the convolution's output {expected}; "
                         f"got {grad_output.shape}")
    rows = grad_output.reshape(-1, weight.shape[3])
    flat_cols = cols.reshape(len(rows), -1)
    grad_weight = (flat_cols.T @ rows).reshape(weight.shape)
    grad_bias = rows.sum(axis=0)
    grad_cols = (rows @ weight.reshape(-1, weight.shape[3]).T).reshape(cols.shape)
    grad_x = col2im(grad_cols, input_shape, weight.shape[0], stride, padding)
    return grad_x, grad_weight, grad_bias


def relu(x):
    r""":math:`\max(0, x)`, elementwise.

    Examples
    --------
    >>> from lossbook.conv import relu
    >>> relu([-1.0, 0.0, 2.0])
    array([0., 0., 2.])
    """
    x = check.as_float_array(x, "x")
    return np.maximum(x, 0)


def relu_backward(grad_output, output):
    """Gradient through :func:`relu`: `grad_output` where the ReLU's `output` was positive, 0 elsewhere.

    At 0 the derivative is taken as 0, as in PyTorch.

    Examples
    --------
    >>> from lossbook.conv import relu_backward
    >>> relu_backward([5.0, 5.0, 5.0], [0.0, 0.0, 2.0])
    array([0., 0., 5.])
    """
    grad_output = check.as_float_array(grad_output, "grad_output")
    output = check.as_float_array(output, "output")
    if grad_output.shape != output.shape:
        raise ValueError(f"grad_output must have the shape of output {output.shape}; got {grad_output.shape}")
    return np.where(output > 0, grad_output, 0).astype(grad_output.dtype, copy=False)
