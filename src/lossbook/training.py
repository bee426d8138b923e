"""The training loop: steps of an optimizer on a model's regularized loss, with a history.

:func:`train` runs full-batch gradient descent (``batch_size=None``) or minibatch SGD, logs the loss
at a fixed interval (so a notebook's printed trace is the same on every run), and returns a
:class:`History`. On a terminal the command line adds a progress bar through the ``progress``
callback; nothing here draws or prints by itself except through ``log``.
"""

from dataclasses import dataclass, field

import numpy as np

from lossbook._validation import check_integer


@dataclass
class History:
    """What happened during training: the loss at every step, and accuracies where they were measured."""

    loss: list = field(default_factory=list)
    train_accuracy: dict = field(default_factory=dict)
    test_accuracy: dict = field(default_factory=dict)

    @property
    def steps(self):
        return len(self.loss)


def train(
    model,
    X,
    y,
    optimizer,
    steps,
    lam=0.0,
    batch_size=None,
    rng=None,
    log_every=None,
    log=print,
    decimals=6,
    evaluate_every=None,
    X_test=None,
    y_test=None,
    progress=None,
):
    """Train `model` in place for `steps` optimizer steps and return the :class:`History`.

    Parameters
    ----------
    model : lossbook.models.Classifier
    X, y : numpy.ndarray
        Training inputs (N, D) and integer labels (N,).
    optimizer : object with ``step(params, grads)``
    steps : int
    lam : float, default 0.0
        L2 strength, :math:`\\lambda \\sum W^2` (the post's convention; CS231n's ``reg`` is ``2 * lam``).
    batch_size : int, optional
        None for full-batch gradient descent; otherwise each step draws a minibatch with `rng`.
    log_every : int, optional
        Call ``log("step {s}: loss {loss}")`` every `log_every` steps, loss rounded to `decimals`.
    evaluate_every : int, optional
        Record training (and test, if given) accuracy every `evaluate_every` steps and at the end.
    progress : callable, optional
        Called as ``progress(step, loss)`` after every step (the command line's progress bar).

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.datasets import make_spiral
    >>> from lossbook.models import LinearSoftmax
    >>> from lossbook.optim import GradientDescent
    >>> rng = np.random.default_rng(0)
    >>> X, y = make_spiral(rng=rng)
    >>> history = train(LinearSoftmax(2, 3, rng), X, y, GradientDescent(1.0), steps=200, lam=5e-4,
    ...                 log_every=100, decimals=4)
    step 0: loss 1.0948
    step 100: loss 0.7502
    >>> history.steps
    200
    """
    steps = check_integer(steps, "steps")
    if steps < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must hold the same number of samples; got {len(X)} and {len(y)}")
    if batch_size is not None:
        batch_size = check_integer(batch_size, "batch_size")
        if not 1 <= batch_size <= len(X):
            raise ValueError(f"batch_size must lie in [1, {len(X)}]; got {batch_size}")
        if rng is None:
            raise TypeError("minibatch training needs rng, a numpy.random.Generator, to draw the batches")
    history = History()
    for step in range(steps):
        if batch_size is None:
            batch_X, batch_y = X, y
        else:
            batch = rng.choice(len(X), size=batch_size, replace=False)
            batch_X, batch_y = X[batch], y[batch]
        loss, grads = model.loss_and_grads(batch_X, batch_y, lam)
        history.loss.append(loss)
        if log_every and step % log_every == 0:
            log(f"step {step}: loss {loss:.{decimals}f}")
        optimizer.step(model.params, grads)
        if evaluate_every and ((step + 1) % evaluate_every == 0 or step + 1 == steps):
            history.train_accuracy[step + 1] = model.accuracy(X, y)
            if X_test is not None:
                history.test_accuracy[step + 1] = model.accuracy(X_test, y_test)
        if progress is not None:
            progress(step, loss)
    return history
