"""Models trained with the library's losses: a linear softmax classifier and a two-layer ReLU network.

Parameters live in a dict of arrays (``model.params``). ``forward`` returns the class scores and a
cache of what ``backward`` needs; ``backward`` turns the gradient of the loss with respect to the
scores into gradients for every parameter. ``loss_and_grads`` puts it together: cross-entropy of the
scores plus the L2 penalty :math:`\\lambda \\sum W^2` on the weight matrices (not the biases), through
:func:`~lossbook.classification.cross_entropy_value_and_grad` (the loss and its gradient from one
softmax) and :func:`~lossbook.regularization.l2_penalty_grad`.
"""

import numpy as np

from lossbook.classification import cross_entropy_value_and_grad
from lossbook.regularization import l2_penalty, l2_penalty_grad


class Classifier:
    """Shared training interface; subclasses define ``params``, ``regularized``, ``forward``, ``backward``."""

    params: dict
    regularized: tuple

    def loss_and_grads(self, X, y, lam=0.0):
        """Mean cross-entropy plus ``lam * sum(W ** 2)`` over the weight matrices, and its gradients.

        Returns
        -------
        loss : float
        grads : dict
            One array per parameter, shaped like it.
        """
        scores, cache = self.forward(X)
        # One call for the value and the gradient: the softmax is computed once per step, not twice.
        data_loss, dscores = cross_entropy_value_and_grad(scores, y)
        loss = data_loss + sum(l2_penalty(self.params[name], lam) for name in self.regularized)
        grads = self.backward(dscores, cache)
        for name in self.regularized:
            grads[name] += l2_penalty_grad(self.params[name], lam)
        return float(loss), grads

    def _work_array(self, name, shape, dtype):
        """An array kept between calls for an intermediate that never leaves a method (reallocated if the shape changes)."""
        arrays = self.__dict__.setdefault("_work_arrays", {})
        array = arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = arrays[name] = np.empty(shape, dtype)
        return array

    def predict(self, X):
        """The class with the largest score for each row of `X`."""
        return np.argmax(self.forward(X)[0], axis=1)

    def accuracy(self, X, y):
        return float(np.mean(self.predict(X) == np.asarray(y)))


class LinearSoftmax(Classifier):
    r"""Softmax regression: scores :math:`XW + b`.

    Parameters
    ----------
    n_features, n_classes : int
    rng : numpy.random.Generator or RandomState
        Draws the initial weights, :math:`0.01 \cdot \mathcal{N}(0, 1)` as in CS231n; biases start at 0.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.models import LinearSoftmax
    >>> model = LinearSoftmax(2, 3, np.random.default_rng(0))
    >>> loss, grads = model.loss_and_grads(np.ones((4, 2)), [0, 1, 2, 0], lam=1e-3)
    >>> sorted(grads), grads["W"].shape
    (['W', 'b'], (2, 3))
    """

    regularized = ("W",)

    def __init__(self, n_features, n_classes, rng, weight_scale=0.01):
        self.params = {
            "W": weight_scale * rng.standard_normal((n_features, n_classes)),
            "b": np.zeros((1, n_classes)),
        }

    def forward(self, X):
        X = np.asarray(X, dtype=float)
        scores = X @ self.params["W"]
        scores += self.params["b"]  # in place: no temporary to allocate for the sum
        return scores, X

    def backward(self, dscores, X):
        return {"W": X.T @ dscores, "b": dscores.sum(axis=0, keepdims=True)}


class TwoLayerNet(Classifier):
    r"""A network with one hidden ReLU layer: scores :math:`\max(0, XW_1 + b_1) W_2 + b_2`.

    Parameters
    ----------
    n_features, n_hidden, n_classes : int
    rng : numpy.random.Generator or RandomState
        Draws :math:`W_1` then :math:`W_2` as :math:`0.01 \cdot \mathcal{N}(0, 1)`, as in CS231n.
    """

    regularized = ("W1", "W2")

    def __init__(self, n_features, n_hidden, n_classes, rng, weight_scale=0.01):
        self.params = {
            "W1": weight_scale * rng.standard_normal((n_features, n_hidden)),
            "b1": np.zeros((1, n_hidden)),
            "W2": weight_scale * rng.standard_normal((n_hidden, n_classes)),
            "b2": np.zeros((1, n_classes)),
        }

    def forward(self, X):
        X = np.asarray(X, dtype=float)
        # max(0, X W1 + b1) in place: a fresh temporary costs an allocation and, when the allocator
        # has returned its memory to the system, page faults that can exceed the arithmetic.
        hidden = X @ self.params["W1"]
        hidden += self.params["b1"]
        np.maximum(hidden, 0, out=hidden)
        scores = hidden @ self.params["W2"]
        scores += self.params["b2"]
        return scores, (X, hidden)

    def backward(self, dscores, cache):
        X, hidden = cache
        W2 = self.params["W2"]
        # Into an array kept between steps: when a step frees several fresh (N, hidden) temporaries at
        # once, malloc returns the memory to the system and the next step pays page faults again.
        dhidden = np.matmul(dscores, W2.T, out=self._work_array("dhidden", hidden.shape, np.result_type(dscores, W2)))
        # ReLU passes gradient only where it was active; multiplying by the 0/1 mask is three times
        # faster than assigning through a boolean index (dhidden[hidden <= 0] = 0).
        np.multiply(dhidden, hidden > 0, out=dhidden)
        return {
            "W1": X.T @ dhidden,
            "b1": dhidden.sum(axis=0, keepdims=True),
            "W2": hidden.T @ dscores,
            "b2": dscores.sum(axis=0, keepdims=True),
        }
