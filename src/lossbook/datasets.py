"""Data sets for the training chapters: the CS231n spiral (generated) and scikit-learn's 8x8 digits.

Nothing is downloaded: the spiral is generated from a random generator the caller passes, and the
digits (1,797 images) ship inside scikit-learn, which is imported only when they are asked for.
"""

import numpy as np

from lossbook._validation import check_integer, check_nonnegative_number


def make_spiral(n_per_class=100, num_classes=3, noise=0.2, rng=None):
    r"""Points on `num_classes` interleaved spiral arms in the plane, as in the CS231n case study.

    Arm :math:`j` has `n_per_class` points at radii evenly spaced in [0, 1] and angles evenly spaced
    in :math:`[4j, 4(j + 1)]` radians plus Gaussian noise of standard deviation `noise`. The
    classes are not linearly separable: a linear classifier reaches about 50%.

    Parameters
    ----------
    n_per_class : int, default 100
    num_classes : int, default 3
    noise : float, default 0.2
        Standard deviation of the angle noise, in radians.
    rng : numpy.random.Generator or numpy.random.RandomState
        The source of the noise (a ``RandomState`` seeded with 0 reproduces the CS231n notes,
        which call ``np.random.randn`` in this order).

    Returns
    -------
    X : numpy.ndarray, shape (n_per_class * num_classes, 2), float64
    y : numpy.ndarray, shape (n_per_class * num_classes,), int64
        Class labels, arm by arm.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.datasets import make_spiral
    >>> X, y = make_spiral(rng=np.random.default_rng(0))
    >>> X.shape, np.bincount(y).tolist()
    ((300, 2), [100, 100, 100])
    """
    n_per_class = check_integer(n_per_class, "n_per_class")
    num_classes = check_integer(num_classes, "num_classes")
    noise = check_nonnegative_number(noise, "noise")
    if n_per_class < 1 or num_classes < 1:
        raise ValueError(f"n_per_class and num_classes must be >= 1; got {n_per_class} and {num_classes}")
    if rng is None or not hasattr(rng, "standard_normal"):
        raise TypeError("rng must be a numpy.random.Generator (or RandomState); pass np.random.default_rng(seed)")
    X = np.zeros((n_per_class * num_classes, 2))
    y = np.zeros(n_per_class * num_classes, dtype=np.int64)
    for j in range(num_classes):
        rows = slice(n_per_class * j, n_per_class * (j + 1))
        radius = np.linspace(0.0, 1.0, n_per_class)
        angle = np.linspace(j * 4, (j + 1) * 4, n_per_class) + rng.standard_normal(n_per_class) * noise
        X[rows] = np.c_[radius * np.sin(angle), radius * np.cos(angle)]
        y[rows] = j
    return X, y


def stratified_split(y, test_fraction, rng):
    """Indices (train, test) that keep each class's share in both parts, shuffled by `rng`.

    Each class contributes ``round(test_fraction * count)`` samples to the test part.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.datasets import stratified_split
    >>> train, test = stratified_split(np.repeat([0, 1], 10), 0.3, np.random.default_rng(0))
    >>> len(train), len(test), np.bincount(np.repeat([0, 1], 10)[test]).tolist()
    (14, 6, [3, 3])
    """
    y = np.asarray(y)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1; got {test_fraction}")
    train, test = [], []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n_test = int(round(test_fraction * len(members)))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_digits(test_fraction=0.25, rng=None):
    """scikit-learn's 8x8 handwritten digits, scaled to [0, 1], split into stratified train and test sets.

    Parameters
    ----------
    test_fraction : float, default 0.25
    rng : numpy.random.Generator
        Shuffles the split.

    Returns
    -------
    X_train, y_train, X_test, y_test : numpy.ndarray
        Images flattened to 64 pixels (float64 in [0, 1]); labels 0 to 9 (int64).
    """
    if rng is None or not hasattr(rng, "permutation"):
        raise TypeError("rng must be a numpy.random.Generator; pass np.random.default_rng(seed)")
    from sklearn.datasets import load_digits as sklearn_load_digits  # heavy: only when asked for

    digits = sklearn_load_digits()
    X = digits.data / 16.0  # pixel intensities are 0..16
    y = digits.target.astype(np.int64)
    train, test = stratified_split(y, test_fraction, rng)
    return X[train], y[train], X[test], y[test]
