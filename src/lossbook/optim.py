"""Optimizers: plain gradient descent, momentum (heavy ball or Nesterov) and Adam, as in ``torch.optim``.

Each optimizer updates a dict of parameter arrays in place from a dict of gradients with the same
keys: ``optimizer.step(params, grads)``. Update rules follow PyTorch's ``SGD`` and ``Adam``.
In place means shared: two models built on the same dict train the same arrays (copy it first).
"""

import numpy as np

from lossbook._validation import check_nonnegative_number


class GradientDescent:
    r"""The update :math:`\theta \leftarrow \theta - \eta\, g` with learning rate :math:`\eta`.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.optim import GradientDescent
    >>> params = {"w": np.array([1.0])}
    >>> GradientDescent(lr=0.1).step(params, {"w": np.array([2.0])})
    >>> params["w"]
    array([0.8])
    """

    def __init__(self, lr):
        self.lr = check_nonnegative_number(lr, "lr")

    def step(self, params, grads):
        for name, grad in grads.items():
            params[name] -= self.lr * grad


class Momentum:
    r"""Gradient descent with momentum, PyTorch's form.

    .. math:: v \leftarrow \mu v + g, \qquad \theta \leftarrow \theta - \eta\, v

    or, with ``nesterov=True``, :math:`\theta \leftarrow \theta - \eta\,(g + \mu v)`. The velocity
    :math:`v` starts at the first gradient.
    """

    def __init__(self, lr, momentum=0.9, nesterov=False):
        self.lr = check_nonnegative_number(lr, "lr")
        self.momentum = check_nonnegative_number(momentum, "momentum")
        if self.momentum >= 1:
            raise ValueError(f"momentum must be below 1; got {momentum}")
        self.nesterov = bool(nesterov)
        self.velocity = {}

    def step(self, params, grads):
        for name, grad in grads.items():
            if name in self.velocity:
                self.velocity[name] = self.momentum * self.velocity[name] + grad
            else:
                self.velocity[name] = grad.copy()
            direction = grad + self.momentum * self.velocity[name] if self.nesterov else self.velocity[name]
            params[name] -= self.lr * direction


class Adam:
    r"""Adam (Kingma and Ba, 2015) as in ``torch.optim.Adam``.

    .. math:: m \leftarrow \beta_1 m + (1 - \beta_1) g, \quad s \leftarrow \beta_2 s + (1 - \beta_2) g^2,
              \quad \theta \leftarrow \theta - \eta\, \frac{m / (1 - \beta_1^t)}{\sqrt{s / (1 - \beta_2^t)} + \epsilon}
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.lr = check_nonnegative_number(lr, "lr")
        self.beta1, self.beta2 = (check_nonnegative_number(b, "betas") for b in betas)
        if not (self.beta1 < 1 and self.beta2 < 1):
            raise ValueError(f"betas must lie in [0, 1); got {betas}")
        self.eps = check_nonnegative_number(eps, "eps")
        self.steps = 0
        self.first, self.second = {}, {}

    def step(self, params, grads):
        self.steps += 1
        for name, grad in grads.items():
            m = self.first.get(name, np.zeros_like(grad))
            s = self.second.get(name, np.zeros_like(grad))
            self.first[name] = m = self.beta1 * m + (1 - self.beta1) * grad
            self.second[name] = s = self.beta2 * s + (1 - self.beta2) * grad * grad
            m_hat = m / (1 - self.beta1**self.steps)
            s_hat = s / (1 - self.beta2**self.steps)
            params[name] -= self.lr * m_hat / (np.sqrt(s_hat) + self.eps)
