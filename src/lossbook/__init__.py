"""lossbook: the loss functions of deep learning in NumPy, each with its gradient, checked against SymPy.

The library of the course "Loss Functions in Deep Learning". Names and semantics follow
``torch.nn.functional``; every loss ``name`` has a twin ``name_grad`` with the same arguments that
returns the gradient with respect to the first argument. SymPy is imported only by
:mod:`lossbook.symbolic`.
"""

from lossbook.classification import cross_entropy, cross_entropy_grad, nll_loss, nll_loss_grad
from lossbook.regularization import l2_penalty, l2_penalty_grad
from lossbook.stable import log_sigmoid, log_softmax, logsumexp, sigmoid, softmax, softplus

__version__ = "0.1.0"

__all__ = [
    "cross_entropy",
    "cross_entropy_grad",
    "l2_penalty",
    "l2_penalty_grad",
    "log_sigmoid",
    "log_softmax",
    "logsumexp",
    "nll_loss",
    "nll_loss_grad",
    "sigmoid",
    "softmax",
    "softplus",
]
