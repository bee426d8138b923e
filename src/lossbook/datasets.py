"""Data sets for the training chapters: the CS231n spiral, scikit-learn's 8x8 digits and the shapes.

Nothing is downloaded: the spiral and the shapes are generated from a random generator the caller
passes, and the digits (1,797 images) ship inside scikit-learn, which is imported only when they are
asked for.

The shapes are the capstone's detection data set: small grayscale images holding one square, disk
or triangle, or nothing. Each image answers the three questions of the detection head
``output = C + 1 + 4``: is there an object (the 1), which of the C = 3 shapes is it (the C), and
where is its bounding box (the 4). A training loop can draw fresh images every epoch from the same
generator.
"""

import numpy as np

from lossbook._validation import check_integer, check_nonnegative_number
from lossbook.detection import IGNORE_INDEX


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
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits  # heavy: only when asked for
    except ImportError:
        raise ImportError(
            "load_digits needs scikit-learn, which ships the digits: pip install 'lossbook[digits]'"
        ) from None

    digits = sklearn_load_digits()
    X = digits.data / 16.0  # pixel intensities are 0..16
    y = digits.target.astype(np.int64)
    train, test = stratified_split(y, test_fraction, rng)
    return X[train], y[train], X[test], y[test]


SHAPE_NAMES = ("square", "disk", "triangle")
"""Class names, in label order: label 0 is a square, 1 a disk, 2 a triangle."""


def _check_images_and_rng(n_images, rng):
    """The first two arguments of :func:`make_shapes` and :func:`make_scenes`, checked."""
    n_images = check_integer(n_images, "n_images")
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1; got {n_images}")
    if rng is None or not hasattr(rng, "uniform") or not hasattr(rng, "integers"):
        raise TypeError("rng must be a numpy.random.Generator; pass np.random.default_rng(seed)")
    return n_images, rng


def _check_share(value, name):
    """A number in [0, 1]: the share of empty images, or of a box that may be covered."""
    value = check_nonnegative_number(value, name)
    if value > 1:
        raise ValueError(f"{name} must lie in [0, 1]; got {value}")
    return value


def make_shapes(n_images, rng, size=32, p_empty=0.2, min_size=8, max_size=20, noise=0.05):
    r"""Draw `n_images` images, each empty or holding one filled square, disk or triangle.

    An object is a square, a disk or an upright isosceles triangle (apex at the top), with a
    bounding box of side :math:`s \sim U[\text{min\_size}, \text{max\_size}]` pixels placed uniformly
    at random so that it lies inside the image. Its brightness is drawn from :math:`U[0.6, 1]` on a
    black background; Gaussian noise of standard deviation `noise` is added to every pixel and the
    result is clipped to [0, 1]. A pixel is part of the shape when its centre is.

    Parameters
    ----------
    n_images : int
        How many images, >= 1.
    rng : numpy.random.Generator
        The only source of randomness: the same generator state gives the same images.
    size : int, default 32
        Images are `size` x `size` pixels.
    p_empty : float in [0, 1], default 0.2
        Probability that an image holds no object.
    min_size, max_size : float, default 8 and 20
        Range of the object's side in pixels, ``1 <= min_size <= max_size <= size``.
    noise : float >= 0, default 0.05
        Standard deviation of the pixel noise.

    Returns
    -------
    images : numpy.ndarray, shape (n_images, size, size), float32
        Pixel intensities in [0, 1]; row index is y (downwards), column index is x.
    has_object : numpy.ndarray, shape (n_images,), int64
        1 where the image holds an object, 0 where it is empty.
    labels : numpy.ndarray, shape (n_images,), int64
        0 square, 1 disk, 2 triangle (see :data:`SHAPE_NAMES`); -100
        (:data:`~lossbook.detection.IGNORE_INDEX`, the ``ignore_index`` of
        :func:`~lossbook.classification.cross_entropy`) where the image is empty.
    boxes : numpy.ndarray, shape (n_images, 4), float64
        Bounding boxes ``(x1, y1, x2, y2)`` as fractions of the image side, in [0, 1] (multiply by
        `size` for pixels; the corners are those of :mod:`lossbook.boxes`). NaN where the image is
        empty, so that an empty image's box cannot slip into a loss or an average unnoticed.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.datasets import SHAPE_NAMES, make_shapes
    >>> images, has_object, labels, boxes = make_shapes(4, np.random.default_rng(0))
    >>> images.shape, images.dtype, has_object.tolist()
    ((4, 32, 32), dtype('float32'), [1, 1, 0, 0])
    >>> labels.tolist(), [SHAPE_NAMES[label] for label in labels[has_object == 1]]
    ([0, 2, -100, -100], ['square', 'triangle'])
    >>> (boxes * 32).round(1)  # in pixels; the empty images have no box
    array([[13.6, 12.2, 28.9, 27.5],
           [ 0. ,  2.7, 16.8, 19.4],
           [ nan,  nan,  nan,  nan],
           [ nan,  nan,  nan,  nan]])
    """
    n_images, rng = _check_images_and_rng(n_images, rng)
    size = check_integer(size, "size")
    if size < 2:
        raise ValueError(f"size must be at least 2 pixels; got {size}")
    p_empty = _check_share(p_empty, "p_empty")
    min_size = check_nonnegative_number(min_size, "min_size")
    max_size = check_nonnegative_number(max_size, "max_size")
    if not 1 <= min_size <= max_size <= size:
        raise ValueError(
            f"min_size and max_size must satisfy 1 <= min_size <= max_size <= size = {size}; "
            f"got min_size={min_size}, max_size={max_size}"
        )
    noise = check_nonnegative_number(noise, "noise")

    # Every draw is made for every image, empty or not, so the stream does not depend on p_empty.
    has_object = (rng.uniform(size=n_images) >= p_empty).astype(np.int64)
    labels = rng.integers(0, len(SHAPE_NAMES), size=n_images)
    side = rng.uniform(min_size, max_size, size=n_images)
    x1 = rng.uniform(0, 1, size=n_images) * (size - side)
    y1 = rng.uniform(0, 1, size=n_images) * (size - side)
    brightness = rng.uniform(0.6, 1.0, size=n_images)
    pixel_noise = rng.standard_normal((n_images, size, size), dtype=np.float32)

    # Pixel centres, broadcast against one box per image.
    centres = np.arange(size) + 0.5
    u = ((centres[None, :] - x1[:, None]) / side[:, None]).astype(np.float32)[:, None, :]
    v = ((centres[None, :] - y1[:, None]) / side[:, None]).astype(np.float32)[:, :, None]
    # (u, v): each pixel centre's position in its image's box, in [0, 1] x [0, 1] when inside.
    inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    square = inside
    disk = (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    triangle = inside & (np.abs(u - 0.5) <= v / 2)  # apex at the top centre, base along the bottom
    kind = labels[:, None, None]
    mask = np.where(kind == 0, square, np.where(kind == 1, disk, triangle)) & (has_object[:, None, None] == 1)

    images = np.clip(mask * brightness[:, None, None].astype(np.float32) + np.float32(noise) * pixel_noise, 0, 1)
    boxes = np.stack([x1, y1, x1 + side, y1 + side], axis=1) / size
    boxes[has_object == 0] = np.nan
    labels = np.where(has_object == 1, labels, IGNORE_INDEX)
    return images, has_object, labels, boxes


# ----------------------------------------------------------------------------------------------
# Scenes: many objects per image, for the dense detector


def _log_uniform(rng, low, high, size):
    """Draws whose logarithm is uniform on [log low, log high]: as many 4-8 px objects as 20-40 px ones."""
    return np.exp(rng.uniform(np.log(low), np.log(high), size=size))


def _place_without_heavy_overlap(widths, heights, tries_x, tries_y, size, max_overlap):
    """Pick, for each object of one image in turn, the first candidate position that overlaps no earlier
    object by more than `max_overlap` of the smaller one's area; None where every candidate fails."""
    placed = []
    corners = []
    for w, h, xs, ys in zip(widths, heights, tries_x, tries_y, strict=True):
        chosen = None
        for fx, fy in zip(xs, ys, strict=True):
            x1, y1 = fx * (size - w), fy * (size - h)
            box = (x1, y1, x1 + w, y1 + h)
            if all(_overlap_share(box, other) <= max_overlap for other in placed):
                chosen = box
                break
        corners.append(chosen)
        if chosen is not None:
            placed.append(chosen)
    return corners


def _overlap_share(a, b):
    """Intersection of boxes a and b over the area of the smaller one (1 when one holds the other)."""
    inner_w = min(a[2], b[2]) - max(a[0], b[0])
    inner_h = min(a[3], b[3]) - max(a[1], b[1])
    if inner_w <= 0 or inner_h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return inner_w * inner_h / smaller


def _paint(image, label, box, brightness):
    """Paint one object into `image` in place: the pixels whose centre lies in the shape take `brightness`."""
    x1, y1, x2, y2 = box
    # Only the pixels around the box can have their centre inside it.
    cols = np.arange(int(x1), min(int(np.ceil(x2)), image.shape[1]))
    rows = np.arange(int(y1), min(int(np.ceil(y2)), image.shape[0]))
    # (u, v): each pixel centre's position in the box, in [0, 1] x [0, 1] when inside.
    u = ((cols + 0.5 - x1) / (x2 - x1))[None, :]
    v = ((rows + 0.5 - y1) / (y2 - y1))[:, None]
    inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    if label == 0:  # square, stretched into a rectangle
        mask = inside
    elif label == 1:  # disk, stretched into an ellipse
        mask = (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    else:  # triangle: apex at the top centre, base along the bottom
        mask = inside & (np.abs(u - 0.5) <= v / 2)
    image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1][mask] = brightness


def make_scenes(
    n_images,
    rng,
    size=64,
    *,
    max_objects=4,
    min_size=4.0,
    max_size=40.0,
    max_aspect=1.5,
    max_overlap=0.5,
    noise=0.05,
    tries=10,
):
    r"""Draw `n_images` scenes, each holding 0 to `max_objects` shapes of widely different sizes.

    The data set of the dense detector. Each scene holds :math:`k \sim U\{0, \dots, \text{max\_objects}\}`
    objects (so a fifth of the scenes are empty with the defaults). Each object is one of the three
    classes of :data:`SHAPE_NAMES`, stretched: a square becomes a rectangle, a disk an ellipse, and the
    upright triangle a wider or taller one. Its size :math:`s = \sqrt{wh}` is log-uniform in
    [`min_size`, `max_size`] pixels (as many small objects as large ones), its aspect ratio
    :math:`w / h` log-uniform in [1 / `max_aspect`, `max_aspect`], its brightness uniform in [0.5, 1].
    Boxes lie inside the image. Objects may overlap, but not by more than `max_overlap` of the smaller
    one's area (a position is redrawn up to `tries` times; an object that finds no place is left out,
    which happens rarely). Objects are painted from the largest to the smallest, so a small object is
    never hidden under a large one. Gaussian noise of standard deviation `noise` is added and pixels
    are clipped to [0, 1]. As in :func:`make_shapes`, a pixel belongs to a shape when its centre does.

    Parameters
    ----------
    n_images : int
        How many scenes, >= 1.
    rng : numpy.random.Generator
        The only source of randomness: the same generator state gives the same scenes.
    size : int, default 64
        Scenes are `size` x `size` pixels.
    max_objects : int, default 4
    min_size, max_size : float, default 4 and 40
        Range of :math:`\sqrt{wh}`, in pixels.
    max_aspect : float >= 1, default 1.5
        Largest ratio of width to height (and of height to width).
    max_overlap : float in [0, 1], default 0.5
        Largest share of the smaller object's area that another object may cover.
    noise : float >= 0, default 0.05
    tries : int, default 10
        Positions drawn per object.

    Returns
    -------
    images : numpy.ndarray, shape (n_images, size, size), float32
        Pixel intensities in [0, 1]; row index is y (downwards), column index is x.
    targets : list of dict
        One per scene, in the format of torchmetrics' ``MeanAveragePrecision`` (and of
        :func:`lossbook.metrics.mean_average_precision`): ``"boxes"`` (k, 4) float64 corners
        ``(x1, y1, x2, y2)`` in pixels, ``"labels"`` (k,) int64 indices into :data:`SHAPE_NAMES`,
        largest object first.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook.datasets import SHAPE_NAMES, make_scenes
    >>> images, targets = make_scenes(3, np.random.default_rng(0))
    >>> images.shape, images.dtype
    ((3, 64, 64), dtype('float32'))
    >>> [len(target["labels"]) for target in targets]
    [4, 3, 2]
    >>> targets[2]["boxes"].round(1), [SHAPE_NAMES[label] for label in targets[2]["labels"]]
    (array([[ 8.4, 30. , 39.9, 57.1],
           [20.3, 21.5, 35.1, 34.6]]), ['triangle', 'disk'])
    """
    n_images, rng = _check_images_and_rng(n_images, rng)
    size = check_integer(size, "size")
    max_objects = check_integer(max_objects, "max_objects")
    tries = check_integer(tries, "tries")
    if size < 2 or max_objects < 0 or tries < 1:
        raise ValueError(f"size must be >= 2, max_objects >= 0 and tries >= 1; got {size}, {max_objects}, {tries}")
    min_size = check_nonnegative_number(min_size, "min_size")
    max_size = check_nonnegative_number(max_size, "max_size")
    max_aspect = check_nonnegative_number(max_aspect, "max_aspect")
    if max_aspect < 1:
        raise ValueError(f"max_aspect must be >= 1; got {max_aspect}")
    if not 1 <= min_size <= max_size or max_size * np.sqrt(max_aspect) > size:
        raise ValueError(
            f"min_size and max_size must satisfy 1 <= min_size <= max_size and max_size * sqrt(max_aspect) <= "
            f"size = {size}; got min_size={min_size}, max_size={max_size}, max_aspect={max_aspect}"
        )
    max_overlap = _check_share(max_overlap, "max_overlap")
    noise = check_nonnegative_number(noise, "noise")

    # Every draw is made for all max_objects slots of every scene, so the stream of random numbers does
    # not depend on how many objects a scene holds.
    slots = (n_images, max_objects)
    counts = rng.integers(0, max_objects + 1, size=n_images)
    labels = rng.integers(0, len(SHAPE_NAMES), size=slots)
    side = _log_uniform(rng, min_size, max_size, slots)
    aspect = _log_uniform(rng, 1 / max_aspect, max_aspect, slots)
    brightness = rng.uniform(0.5, 1.0, size=slots)
    tries_x, tries_y = rng.uniform(0, 1, size=(2, *slots, tries))
    pixel_noise = rng.standard_normal((n_images, size, size), dtype=np.float32)
    widths, heights = side * np.sqrt(aspect), side / np.sqrt(aspect)
    # The largest object of a scene comes first: it is placed first and painted first (at the back).
    order = np.argsort(-side, axis=1, kind="stable")

    present = np.zeros(slots, dtype=bool)
    corners = np.zeros((*slots, 4))
    images = np.zeros((n_images, size, size), dtype=np.float32)
    for n in range(n_images):
        chosen = order[n][order[n] < counts[n]]  # the scene's first counts[n] slots, largest first
        labels[n, : len(chosen)] = labels[n, chosen]
        brightness[n, : len(chosen)] = brightness[n, chosen]
        placed = _place_without_heavy_overlap(
            widths[n, chosen], heights[n, chosen], tries_x[n, chosen], tries_y[n, chosen], size, max_overlap
        )
        for rank, box in enumerate(placed):
            if box is not None:  # painted in order, each object over those before it
                present[n, rank] = True
                corners[n, rank] = box
                _paint(images[n], labels[n, rank], box, brightness[n, rank])
    images = np.clip(images + np.float32(noise) * pixel_noise, 0, 1)
    targets = [
        {"boxes": corners[n, present[n]], "labels": labels[n, present[n]].astype(np.int64)}
        for n in range(n_images)
    ]
    return images, targets
