"""lossbook: the loss functions of deep learning in NumPy, each with its gradient, checked against SymPy.

The library of the course "Loss Functions in Deep Learning". Names and semantics follow
``torch.nn.functional``; every loss ``name`` has a twin ``name_grad`` with the same arguments that
returns the gradient with respect to the first argument. SymPy is imported only by
:mod:`lossbook.symbolic`.
"""

from lossbook.binary import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    sigmoid_focal_loss,
    sigmoid_focal_loss_grad,
)
from lossbook.boxes import (
    batched_nms,
    box_iou,
    complete_box_iou_loss,
    complete_box_iou_loss_grad,
    distance_box_iou_loss,
    distance_box_iou_loss_grad,
    generalized_box_iou_loss,
    generalized_box_iou_loss_grad,
    nms,
)
from lossbook.calibration import brier_score, brier_score_grad, calibration_error, reliability_curve
from lossbook.classification import (
    cross_entropy,
    cross_entropy_grad,
    kl_div,
    kl_div_grad,
    multi_margin_loss,
    multi_margin_loss_grad,
    nll_loss,
    nll_loss_grad,
)
from lossbook.fused import (
    binary_cross_entropy_with_logits_value_and_grad,
    cross_entropy_value_and_grad,
    log_softmax_value_and_grad,
    softmax_value_and_grad,
)
from lossbook.metrics import mean_average_precision
from lossbook.regression import (
    huber_loss,
    huber_loss_grad,
    l1_loss,
    l1_loss_grad,
    mse_loss,
    mse_loss_grad,
    smooth_l1_loss,
    smooth_l1_loss_grad,
)
from lossbook.regularization import l2_penalty, l2_penalty_grad
from lossbook.stable import (
    log_sigmoid,
    log_softmax,
    log_softmax_grad,
    logsumexp,
    sigmoid,
    softmax,
    softmax_grad,
    softplus,
    softplus_grad,
)

__version__ = "0.1.0"

__all__ = [
    "binary_cross_entropy_with_logits_value_and_grad",
    "cross_entropy_value_and_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "batched_nms",
    "box_iou",
    "complete_box_iou_loss",
    "complete_box_iou_loss_grad",
    "distance_box_iou_loss",
    "distance_box_iou_loss_grad",
    "brier_score",
    "brier_score_grad",
    "calibration_error",
    "generalized_box_iou_loss",
    "generalized_box_iou_loss_grad",
    "nms",
    "huber_loss",
    "huber_loss_grad",
    "kl_div",
    "kl_div_grad",
    "l1_loss",
    "l1_loss_grad",
    "mse_loss",
    "mse_loss_grad",
    "multi_margin_loss",
    "multi_margin_loss_grad",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "smooth_l1_loss",
    "smooth_l1_loss_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "l2_penalty",
    "l2_penalty_grad",
    "mean_average_precision",
    "log_sigmoid",
    "log_softmax",
    "log_softmax_grad",
    "log_softmax_value_and_grad",
    "logsumexp",
    "nll_loss",
    "nll_loss_grad",
    "reliability_curve",
    "sigmoid",
    "softmax",
    "softmax_grad",
    "softmax_value_and_grad",
    "softplus",
    "softplus_grad",
]
