"""Optimizers: plain gradient descent, momentum (heavy ball or Nesterov) and Adam, as in ``torch.optim``.

Each optimizer updates a dict of parameter arrays in place from a dict of gradients with the same
keys: ``optimizer.step(params, grads)``. Update rules follow PyTorch's ``SGD`` and ``Adam``.
In place means shared: two models built on the same dict train the same arrays (copy it first).

:class:`GradScaler` is the dynamic loss scaling of half-precision training, with the policy of
``torch.amp.GradScaler``: it wraps any of these optimizers' steps.
"""

import numpy as np

from lossbook._validation import check_integer, check_nonnegative_number


class GradientDescent:
    r"""The update :math:`\mathbf{w} \leftarrow \mathbf{w} - \eta\, \mathbf{g}` with learning rate :math:`\eta`.

    :math:`\mathbf{w}` is every parameter array, :math:`\mathbf{g}` its gradient, as on the course's notation page.

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

    .. math:: \mathbf{v} \leftarrow \rho\, \mathbf{v} + \mathbf{g}, \qquad
              \mathbf{w} \leftarrow \mathbf{w} - \eta\, \mathbf{v}

    or, with ``nesterov=True``, :math:`\mathbf{w} \leftarrow \mathbf{w} - \eta\,(\mathbf{g} + \rho\, \mathbf{v})`, where
    :math:`\rho` is ``momentum`` and :math:`\eta` is ``lr``. The velocity :math:`\mathbf{v}` starts at the
    first gradient.
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

    .. math:: \bar{\mathbf{g}} \leftarrow \beta_1 \bar{\mathbf{g}} + (1 - \beta_1)\, \mathbf{g}, \quad
              \overline{\mathbf{g}^2} \leftarrow \beta_2 \overline{\mathbf{g}^2} + (1 - \beta_2)\, \mathbf{g}^2, \quad
              \mathbf{w} \leftarrow \mathbf{w} - \eta\,
              \frac{\bar{\mathbf{g}} / (1 - \beta_1^t)}{\sqrt{\overline{\mathbf{g}^2} / (1 - \beta_2^t)} + \mathrm{eps}}

    elementwise, at step :math:`t = 1, 2, \dots`: :math:`\bar{\mathbf{g}}` is the running average of the
    gradient, :math:`\overline{\mathbf{g}^2}` that of its square, :math:`(\beta_1, \beta_2)` is ``betas`` and
    ``eps`` keeps the denominator away from zero (the code calls the averages ``first`` and ``second``).
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


class GradScaler:
    r"""Dynamic loss scaling for half-precision training, with the policy of ``torch.amp.GradScaler``.

    A gradient smaller than float16's smallest subnormal number, :math:`2^{-24} \approx 6 \cdot 10^{-8}`,
    rounds to zero in a float16 backward pass. Multiplying the loss by a scale :math:`s` multiplies
    every gradient by :math:`s` (the chain rule is linear), which lifts small gradients into range;
    dividing them by :math:`s` afterwards, in float32, gives the true gradient back. Too large a scale
    overflows instead, so the scale adapts:

    * a step whose gradients hold an inf or a nan is skipped, and the scale is multiplied by
      `backoff_factor`;
    * after `growth_interval` consecutive steps with finite gradients, the scale is multiplied by
      `growth_factor` (unless that would overflow float32), and the count starts again.

    Parameters
    ----------
    init_scale : float, default 65536.0 (:math:`2^{16}`)
    growth_factor : float > 1, default 2.0
    backoff_factor : float in (0, 1), default 0.5
    growth_interval : int >= 1, default 2000

    Notes
    -----
    One training step reads::

        loss = model.loss(...)                     # any float dtype
        grads = backward(scaler.scale(loss))       # or: backward with the upstream gradient scaler.scale(1.0)
        scaler.step(optimizer, params, grads)      # unscale in float32; skip the step if not finite
        scaler.update()                            # back off or grow the scale

    The scale is kept in float32 and unscaling multiplies by the float32 number nearest to
    :math:`1/s`, as PyTorch does. Unlike PyTorch, which refuses to unscale float16 gradients (it
    expects float32 master weights under autocast), :meth:`unscale` returns float32 copies, so the
    tiny true gradients survive the division.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.optim import GradScaler, GradientDescent
    >>> scaler = GradScaler(init_scale=1024.0, growth_interval=2)
    >>> params = {"w": np.array([1.0], np.float16)}
    >>> sgd = GradientDescent(lr=1.0)
    >>> true_grad = 1e-8  # below float16's smallest number: a float16 backward pass gives 0
    >>> float(np.float16(true_grad))
    0.0
    >>> grads = {"w": np.array([true_grad * scaler.scale(1.0)], np.float16)}  # the scaled backward pass
    >>> scaler.step(sgd, params, grads)
    True
    >>> print(f"{scaler.unscale(grads)['w'][0]:.3g}")  # unscaled in float32: the true gradient, to float16's precision
    1e-08
    >>> params["w"]  # 1 - 1e-8 rounds back to 1 in float16: small updates need float32 weights too
    array([1.], dtype=float16)
    >>> scaler.update(); scaler.get_scale()
    1024.0
    >>> scaler.step(sgd, params, {"w": np.array([np.inf], np.float16)})   # skipped: not finite
    False
    >>> scaler.update(); scaler.get_scale()
    512.0
    """

    def __init__(self, init_scale=2.0**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000):
        self._scale = np.float32(check_nonnegative_number(init_scale, "init_scale"))
        if not self._scale > 0:
            raise ValueError(f"init_scale must be > 0; got {init_scale}")
        self.growth_factor = check_nonnegative_number(growth_factor, "growth_factor")
        if not self.growth_factor > 1:
            raise ValueError(f"growth_factor must be > 1; got {growth_factor}")
        self.backoff_factor = check_nonnegative_number(backoff_factor, "backoff_factor")
        if not 0 < self.backoff_factor < 1:
            raise ValueError(f"backoff_factor must lie in (0, 1); got {backoff_factor}")
        self.growth_interval = check_integer(growth_interval, "growth_interval")
        if self.growth_interval < 1:
            raise ValueError(f"growth_interval must be >= 1; got {growth_interval}")
        self.growth_tracker = 0  # consecutive steps with finite gradients since the last change of scale
        self.found_inf = None  # set by unscale: None (not yet this step), True or False
        self._unscaled = None

    def get_scale(self):
        """The current scale, as a Python float."""
        return float(self._scale)

    def scale(self, loss):
        """`loss` times the scale, in the dtype of `loss` (a Python number gives a float)."""
        if isinstance(loss, (int, float)):
            return loss * float(self._scale)
        loss = np.asarray(loss)
        return (loss * self._scale).astype(loss.dtype) if loss.dtype.kind == "f" else loss * self._scale

    def unscale(self, grads):
        """float32 copies of the gradients divided by the scale; records whether any is inf or nan.

        Calling it again in the same step returns the same arrays (PyTorch's ``unscale_`` runs once
        per step too).
        """
        if self._unscaled is not None:
            return self._unscaled
        inv_scale = np.float32(1.0 / float(self._scale))  # PyTorch: scale.double().reciprocal().float()
        self._unscaled = {name: np.asarray(g, np.float32) * inv_scale for name, g in grads.items()}
        self.found_inf = not all(np.all(np.isfinite(g)) for g in self._unscaled.values())
        return self._unscaled

    def step(self, optimizer, params, grads):
        """Unscale `grads` and take ``optimizer.step(params, unscaled)`` unless one is inf or nan.

        Returns True when the step was taken, False when it was skipped.
        """
        unscaled = self.unscale(grads)
        if self.found_inf:
            return False
        optimizer.step(params, unscaled)
        return True

    def update(self):
        """Back off after a non-finite step, or count a good one and grow after `growth_interval` of them."""
        if self.found_inf is None:
            raise RuntimeError("update() needs a step() or unscale() first, in the same iteration")
        if self.found_inf:
            self._scale = np.float32(self._scale * np.float32(self.backoff_factor))
            self.growth_tracker = 0
        else:
            self.growth_tracker += 1
            if self.growth_tracker == self.growth_interval:
                with np.errstate(over="ignore"):
                    grown = np.float32(self._scale * np.float32(self.growth_factor))
                if np.isfinite(grown):  # never grow into float32's inf
                    self._scale = grown
                self.growth_tracker = 0
        self.found_inf, self._unscaled = None, None
