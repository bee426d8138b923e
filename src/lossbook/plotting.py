"""Figures the chapters and the command line share: loss curves and 2-D decision regions.

Matplotlib is imported here only, so the numeric library never pays for it.

Every figure of the course uses the Okabe-Ito palette, whose colours readers with any common form
of colour blindness can tell apart. The chapters get it from ``book/matplotlibrc`` (Matplotlib
reads a ``matplotlibrc`` in the working directory, and a chapter's kernel runs in ``book/``); the
figures drawn here set it themselves (`course_style`), so the command line's plots use it too.
Where series could still be confused (in grey scale, say), they differ by marker or line style as
well: the decision regions mark each class with its own marker.
"""

import matplotlib
import numpy as np
from cycler import cycler

#: The Okabe-Ito palette without black and with yellow last (too pale for thin lines on white):
#: blue, orange, bluish green, vermillion, reddish purple, sky blue, yellow. The first four keep
#: the hues of Matplotlib's default cycle (C0 blue, C1 orange, C2 green, C3 red), so a chapter's
#: prose that names the colour of a default-coloured line stays true.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")

#: One marker per class in `plot_decision_regions`, in the palette's order.
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def course_style():
    """The rcParams of the course's figures: the Okabe-Ito colour cycle.

    Examples
    --------
    >>> import matplotlib
    >>> with matplotlib.rc_context(course_style()):
    ...     matplotlib.rcParams["axes.prop_cycle"].by_key()["color"][:2]
    ['#0072B2', '#E69F00']
    """
    return {"axes.prop_cycle": cycler(color=list(OKABE_ITO))}


def plot_loss_curve(ax, history, label=None, *, ylabel="training loss (cross-entropy + L2)"):
    """Loss per step on a log scale, with titled, labelled axes (`ylabel` says what the loss is)."""
    ax.plot(np.arange(history.steps), history.loss, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
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
    if n_classes > len(OKABE_ITO):
        raise ValueError(f"plot_decision_regions draws at most {len(OKABE_ITO)} classes, got {n_classes}")
    colours = OKABE_ITO[:n_classes]
    levels = np.arange(n_classes + 1) - 0.5
    ax.contourf(grid_x, grid_y, predicted, levels=levels, colors=colours, alpha=0.3)
    for label in range(n_classes):
        members = y == label
        ax.scatter(
            X[members, 0],
            X[members, 1],
            s=14,
            color=colours[label],
            marker=MARKERS[label],
            edgecolor="k",
            linewidth=0.3,
            label=f"class {label}",
        )
    ax.set_xlabel("$x_0$")  # the input's coordinates count from 0, as NumPy's X[:, 0] (notation.md)
    ax.set_ylabel("$x_1$")
    ax.set_title(f"Decision regions (training accuracy {model.accuracy(X, y):.0%})")
    ax.legend(loc="upper right", fontsize="small")


def save_training_plot(path, history, model, X, y, title):
    """Write the loss curve, and the decision regions when `model` is given (2-D data), to `path`."""
    matplotlib.use("Agg")  # the command line has no screen
    import matplotlib.pyplot as plt

    columns = 2 if model is not None else 1
    with matplotlib.rc_context(course_style()):
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

    with matplotlib.rc_context(course_style()):
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
        plot_loss_curve(left, history, ylabel="training loss (weighted sum of the four terms)")
        epochs = sorted(history.test_metrics)
        # Three metrics on one axis: a marker and a line style each, besides the colour.
        styles = zip(("objectness_accuracy", "class_accuracy", "mean_iou"), MARKERS[:3], ("-", "--", ":"), strict=True)
        for name, marker, linestyle in styles:
            values = [history.test_metrics[e][name] for e in epochs]
            right.plot(epochs, values, marker=marker, linestyle=linestyle, label=name.replace("_", " "))
        right.set_xlabel("epoch")
        right.set_ylabel("held-out metric")
        right.set_ylim(0, 1)
        right.set_title("Held-out images")
        right.legend()
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def save_dense_detector_plot(path, history, title):
    """Write the dense detector's loss and its three unweighted terms per step to `path`."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(course_style()):
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
        plot_loss_curve(left, history, ylabel="training loss (weighted sum of the three terms)")
        for (name, values), linestyle in zip(sorted(history.terms.items()), ("-", "--", ":"), strict=False):
            right.plot(np.arange(len(values)), values, linestyle=linestyle, label=name)
        right.set_yscale("log")
        right.set_xlabel("step")
        right.set_ylabel("unweighted loss term")
        right.set_title("The terms of C + 1 + 4")
        right.legend()
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
