"""Figures the chapters and the command line share: loss curves and 2-D decision regions.

Matplotlib is imported here only, so the numeric library never pays for it.
"""

import matplotlib
import numpy as np


def plot_loss_curve(ax, history, label=None):
    """Loss per step on a log scale, with titled, labelled axes."""
    ax.plot(np.arange(history.steps), history.loss, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (cross-entropy + L2)")
    ax.set_title("Training loss")
    if label:
        ax.legend()


def plot_decision_regions(ax, model, X, y, resolution=300):
    """Colour the plane by the model's predicted class and draw the labelled points on top."""
    pad = 0.1
    x_min, y_min = X.min(axis=0) - pad
    x_max, y_max = X.max(axis=0) + pad
    grid_x, grid_y = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
    predicted = model.predict(np.c_[grid_x.ravel(), grid_y.ravel()]).reshape(grid_x.shape)
    n_classes = int(max(y.max(), predicted.max())) + 1
    cmap = matplotlib.colormaps["tab10"].resampled(10)
    levels = np.arange(n_classes + 1) - 0.5
    ax.contourf(grid_x, grid_y, predicted, levels=levels, cmap=cmap, alpha=0.3, vmin=-0.5, vmax=9.5)
    for label in range(n_classes):
        members = y == label
        ax.scatter(
            X[members, 0], X[members, 1], s=12, color=cmap(label), edgecolor="k", linewidth=0.3, label=f"class {label}"
        )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(f"Decision regions (training accuracy {model.accuracy(X, y):.0%})")
    ax.legend(loc="upper right", fontsize="small")


def save_training_plot(path, history, model, X, y, title):
    """Write the loss curve, and the decision regions when `model` is given (2-D data), to `path`."""
    matplotlib.use("Agg")  # the command line has no screen
    import matplotlib.pyplot as plt

    columns = 2 if model is not None else 1
    fig, axes = plt.subplots(1, columns, figsize=(5.5 * columns, 4.5), squeeze=False)
    plot_loss_curve(axes[0, 0], history)
    if model is not None:
        plot_decision_regions(axes[0, 1], model, X, y)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_detector_plot(path, history, title):
    """Write the detector's training loss per step and its held-out metrics per epoch to `path`."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.plot(np.arange(history.steps), history.loss)
    left.set_yscale("log")
    left.set_xlabel("step")
    left.set_ylabel("training loss (weighted sum of the four terms)")
    left.set_title("Training loss")
    epochs = sorted(history.test_metrics)
    for name in ("objectness_accuracy", "class_accuracy", "mean_iou"):
        right.plot(epochs, [history.test_metrics[e][name] for e in epochs], marker="o", label=name.replace("_", " "))
    right.set_xlabel("epoch")
    right.set_ylabel("held-out metric")
    right.set_ylim(0, 1)
    right.set_title("Held-out images")
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
