r"""Detection metrics: COCO's mean average precision, equal to pycocotools' ``COCOeval`` on boxes.

A detector answers, for each image, with boxes, each with a class label and a score. The COCO
benchmark (Lin et al., 2014) scores such answers in steps, one function each here:

1. :func:`match_detections`: in one image, for one class and one IoU threshold, the detections take
   turns from the highest score down. Each takes the still unmatched ground-truth box it overlaps
   most, if that IoU reaches the threshold (a true positive); otherwise it is a false positive.
2. :func:`precision_recall_curve`: the detections of one class, pooled over all images and sorted by
   score. After each one, precision = TP / (TP + FP) and recall = TP / (number of ground-truth boxes).
3. :func:`interpolated_precision`: precision made non-increasing from the right, read at the 101
   recalls 0, 0.01, ..., 1. Average precision (AP) is the mean of these 101 numbers.
4. :func:`mean_average_precision`: AP averaged over the classes that have ground truth and over the
   IoU thresholds 0.50, 0.55, ..., 0.95 (``map``), or at one threshold (``map_50``, ``map_75``), or
   for the objects of one size (``map_small``, ...); and the matching recalls (``mar_...``).

The input is torchmetrics' ``MeanAveragePrecision`` format: one dict per image, with ``boxes``
``(x1, y1, x2, y2)``, ``scores`` and ``labels`` for the predictions, ``boxes`` and ``labels`` for the
targets. The values equal pycocotools' ``COCOeval(iouType="bbox")`` on the same boxes (the tests check
every key to 1e-12 on random scenes).
"""

from collections.abc import Mapping, Sequence

import numpy as np

from lossbook import _validation as check
from lossbook.boxes import box_iou

COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
"""The ten IoU thresholds 0.50, 0.55, ..., 0.95 of ``map``, built with linspace as COCO builds them."""

COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
"""The 101 recalls 0, 0.01, ..., 1 at which :func:`interpolated_precision` reads precision."""

COCO_AREA_RANGES = {"small": (0.0, 32.0**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)}
"""COCO's object sizes, in squared pixels (box width times height), bounds included at both ends."""

ALL_AREAS = (0.0, 1e5**2)
"""COCO's area range "all", within which every box counts."""

_THRESHOLD_CAP = 1 - 1e-10  # COCO's cap: at a threshold of 1, a box equal up to rounding still matches


def match_detections(iou, iou_threshold, gt_ignore=None):
    """Greedy matching of one image's detections of one class to its ground-truth boxes, as COCO does it.

    The detections take turns in the order of the rows (decreasing score). Each takes, among the
    ground-truth boxes not taken yet whose IoU with it reaches `iou_threshold`, the one it overlaps
    most (at a tie, the last one, as in pycocotools). A ground-truth box is found at most once: a
    second detection of the same object is a false positive.

    Parameters
    ----------
    iou : array_like, shape (D, G)
        IoU of every detection (rows, sorted by decreasing score) with every ground-truth box.
    iou_threshold : float
        The smallest IoU that counts as a match.
    gt_ignore : array_like of bool, shape (G,), optional
        Ground-truth boxes that count neither as found nor as missed (COCO: those outside the area
        range being evaluated). A detection takes a regular box when it can, an ignored one only
        when no regular box is left for it.

    Returns
    -------
    numpy.ndarray of int64, shape (D,)
        For each detection, the column of the ground-truth box it matched, or -1.

    Examples
    --------
    The first detection takes box 0; the second overlaps box 0 most, but box 0 is taken, and box 1
    is below the threshold for it; the third takes box 1.

    >>> from lossbook.metrics import match_detections
    >>> match_detections([[0.9, 0.0], [0.8, 0.3], [0.6, 0.7]], 0.5)
    array([ 0, -1,  1])
    """
    iou = np.asarray(iou, dtype=np.float64)
    num_detections, num_truths = iou.shape
    gt_ignore = np.zeros(num_truths, dtype=bool) if gt_ignore is None else np.asarray(gt_ignore, dtype=bool)
    threshold = min(iou_threshold, _THRESHOLD_CAP)
    matches = np.full(num_detections, -1, dtype=np.int64)
    taken = np.zeros(num_truths, dtype=bool)
    for d in np.flatnonzero(np.any(iou >= threshold, axis=1)):  # the other rows can match nothing
        candidates = ~taken & (iou[d] >= threshold)
        if not candidates.any():
            continue
        if np.any(candidates & ~gt_ignore):
            candidates &= ~gt_ignore
        best = np.flatnonzero(candidates & (iou[d] == iou[d][candidates].max()))[-1]
        matches[d] = best
        taken[best] = True
        if taken.all():
            break
    return matches


def precision_recall_curve(scores, true_positive, false_positive, num_ground_truth):
    """Precision and recall after each detection, the detections sorted by decreasing score.

    Parameters
    ----------
    scores : array_like, shape (N,)
        Scores of the detections of one class, pooled over the images (in image order).
    true_positive, false_positive : array_like of bool, shape (N,) or (T, N)
        Which detections matched a ground-truth box and which did not (one row per IoU threshold).
        A detection that is neither (COCO ignores it) moves neither count.
    num_ground_truth : int
        The number of ground-truth boxes of the class that count (> 0).

    Returns
    -------
    precision, recall : numpy.ndarray, shaped like `true_positive`
        After the k highest-scoring detections: TP / (TP + FP) and TP / `num_ground_truth`.
    sorted_scores : numpy.ndarray, shape (N,)
        The scores in that order: keeping the detections scored at least ``sorted_scores[k]`` gives
        column k.

    Examples
    --------
    A false positive scored above two true positives, with three objects to find:

    >>> from lossbook.metrics import precision_recall_curve
    >>> precision, recall, _ = precision_recall_curve([0.9, 0.8, 0.7], [False, True, True], [True, False, False], 3)
    >>> precision.round(4), recall.round(4)
    (array([0.    , 0.5   , 0.6667]), array([0.    , 0.3333, 0.6667]))
    """
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")  # stable, as COCO: tied scores keep the image order
    true_positives = np.cumsum(np.asarray(true_positive, dtype=bool)[..., order], axis=-1, dtype=np.float64)
    false_positives = np.cumsum(np.asarray(false_positive, dtype=bool)[..., order], axis=-1, dtype=np.float64)
    recall = true_positives / num_ground_truth
    # COCO's np.spacing(1) turns 0 / 0 (nothing counted yet, only ignored detections) into 0.
    precision = true_positives / (true_positives + false_positives + np.spacing(1))
    return precision, recall, scores[order]


def interpolated_precision(precision, recall, recall_thresholds=COCO_RECALL_THRESHOLDS):
    """COCO's interpolated precision at the 101 recalls 0, 0.01, ..., 1; AP is the mean of the result.

    The precision at recall r is taken as the best precision at recall r or beyond: the curve is made
    non-increasing from the right. It is then read at each recall threshold, at the first detection
    whose recall reaches it. A recall that the detections never reach has precision 0.

    Parameters
    ----------
    precision, recall : array_like, shape (N,)
        One curve from :func:`precision_recall_curve`, in decreasing score order.
    recall_thresholds : array_like, shape (R,), default 0, 0.01, ..., 1

    Returns
    -------
    numpy.ndarray, shape (R,)

    Examples
    --------
    The curve of :func:`precision_recall_curve`'s example: recalls 0.01 to 0.33 are first reached at
    precision 0.5, but 0.6667 lies beyond; recalls above 2/3 are never reached. So 67 of the 101
    recalls read 0.6667 and AP = 67 * (2/3) / 101:

    >>> import numpy as np
    >>> from lossbook.metrics import interpolated_precision
    >>> sampled = interpolated_precision([0.0, 0.5, 2 / 3], [0.0, 1 / 3, 2 / 3])
    >>> sampled[[0, 1, 33, 34, 66, 67, 100]].round(4), round(float(np.mean(sampled)), 4)
    (array([0.6667, 0.6667, 0.6667, 0.6667, 0.6667, 0.    , 0.    ]), 0.4422)
    """
    precision, recall = np.asarray(precision, dtype=np.float64), np.asarray(recall, dtype=np.float64)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]  # the best precision at this recall or beyond
    first_reaching = np.searchsorted(recall, recall_thresholds, side="left")
    reached = first_reaching < len(recall)
    sampled = np.zeros(len(first_reaching))
    sampled[reached] = envelope[first_reaching[reached]]
    return sampled


def mean_average_precision(
    preds, targets, iou_thresholds=None, max_detections=100, *, area_ranges=None, return_curves=False
):
    """COCO's mean average precision and recall of boxes, equal to pycocotools' ``COCOeval`` ("bbox").

    Parameters
    ----------
    preds : list of dict, one per image
        ``"boxes"`` (M, 4) as ``(x1, y1, x2, y2)``, ``"scores"`` (M,) and ``"labels"`` (M,) integers
        (torchmetrics' ``MeanAveragePrecision`` format; M may be 0).
    targets : list of dict, one per image, in the same order
        ``"boxes"`` (G, 4) and ``"labels"`` (G,) of the objects in the image (G may be 0).
    iou_thresholds : array_like of float, optional
        Default COCO's 0.50, 0.55, ..., 0.95.
    max_detections : int, default 100
        Detections kept per image and class, the highest scored (COCO's limit is per image and
        category); at least 10.
    area_ranges : dict of str to (float, float), optional, keyword-only
        Object sizes, in squared pixels, reported as ``map_<name>`` and ``mar_<name>``; a box belongs
        to a range when ``lo <= width * height <= hi`` (both ends included, as in COCO). The default
        is exactly COCO's :data:`COCO_AREA_RANGES`: small up to ``32**2``, medium ``32**2`` to
        ``96**2``, large from ``96**2``. These suit photographs of about 640 pixels; for small
        synthetic scenes pass your own, for example ``{"small": (0, 12**2), "large": (12**2, 64**2)}``.
    return_curves : bool, default False, keyword-only
        Also return, under ``"curves"``, each class's precision-recall curves (all sizes, at most
        `max_detections` per image): a dict from label to a dict with ``"precision"`` and ``"recall"``
        (T, N) (one row per IoU threshold), ``"scores"`` (N,) in decreasing order, ``"interpolated"``
        (T, 101), ``"recall_thresholds"`` (101,), ``"iou_thresholds"`` (T,), ``"ap"`` (the class's AP
        over the thresholds, a float) and ``"num_ground_truth"``.

    Returns
    -------
    dict of str to float
        ``map`` (AP over the IoU thresholds, the classes and the 101 recalls), ``map_50`` and ``map_75``
        (at IoU 0.5 and 0.75; -1 when that threshold is not among `iou_thresholds`), ``map_<size>``
        for each area range, ``mar_1``, ``mar_10`` and ``mar_<max_detections>`` (recall with that many
        detections per image and class, averaged over thresholds and classes), ``mar_<size>``.
        A value is -1 where COCO gives -1: when no class has a ground-truth box in that area range.

    Notes
    -----
    Exactly COCO's definitions, as pycocotools computes them:

    - IoU without COCO's old "+1" on widths; areas are ``(x2 - x1) * (y2 - y1)``.
    - Per image and class, detections sorted by decreasing score (a stable sort), the first
      `max_detections` kept, matched by :func:`match_detections` at each threshold.
    - For an area range, the ground-truth boxes outside it are ignored (a detection matched to one
      counts neither way), and so are the unmatched detections outside it.
    - Per class, the detections of all images pooled and sorted by score (stable, in image order at
      ties): :func:`precision_recall_curve` and :func:`interpolated_precision`.
    - Classes without a ground-truth box (in that area range) are left out of the means: a class
      that only has false positives costs nothing. torchmetrics' optional target keys ``iscrowd``
      (crowd regions) and ``area`` are not supported: they are refused, not ignored.
    - ``map`` is read with `max_detections` per image and class. pycocotools' ``summarize()`` reads
      it at 100 whatever ``params.maxDets`` holds (-1 when 100 is not among them); at the default
      the two agree, and torchmetrics reads it at its largest limit, as here.
    - torchmetrics 1.9 (pycocotools backend) builds its default thresholds in float32
      (``torch.linspace``): recall 0.07 becomes 0.07000000029802322, and a class whose recall is
      exactly a hundredth reads its precision one detection later than COCO. Its values can then
      differ from these in the fourth digit; with ``rec_thresholds=np.linspace(0, 1, 101).tolist()``
      and ``iou_thresholds=np.linspace(0.5, 0.95, 10).tolist()`` they agree.

    References
    ----------
    Lin, Maire, Belongie, Hays, Perona, Ramanan, Dollar and Zitnick, "Microsoft COCO: Common Objects in
    Context", ECCV 2014. The metric's definition is pycocotools' ``cocoeval.py``.

    Examples
    --------
    Two images, one object each. The object of class 0 is found exactly, but a false positive scored
    0.95 lies above its detection; the detection of class 1 is shifted by half its width (IoU 1/3,
    below every threshold):

    >>> from lossbook import mean_average_precision
    >>> preds = [{"boxes": [[10, 10, 20, 20], [0, 0, 5, 5]], "scores": [0.9, 0.95], "labels": [0, 0]},
    ...          {"boxes": [[40, 30, 60, 50]], "scores": [0.8], "labels": [1]}]
    >>> targets = [{"boxes": [[10, 10, 20, 20]], "labels": [0]},
    ...            {"boxes": [[30, 30, 50, 50]], "labels": [1]}]
    >>> result = mean_average_precision(preds, targets)
    >>> result["map"], result["map_50"], result["mar_100"], result["map_large"]
    (0.25, 0.25, 0.5, -1.0)

    Class 0 has AP 0.5 (its true positive comes second), class 1 has AP 0: the mean is 0.25. Half
    of the objects are found (``mar_100``); none is large by COCO's measure (``-1``).
    """
    images = _check_images(preds, targets)
    iou_thresholds = _check_iou_thresholds(iou_thresholds)
    max_detections = check.check_integer(max_detections, "max_detections")
    if max_detections < 10:
        raise ValueError(f"max_detections must be at least 10 (mar_1 and mar_10 are reported); got {max_detections}")
    sizes = COCO_AREA_RANGES if area_ranges is None else _check_area_ranges(area_ranges)
    ranges = {"all": ALL_AREAS, **sizes}
    detection_limits = (1, 10, max_detections)
    classes = np.unique(np.concatenate([np.zeros(0, dtype=np.int64)] + [image[4] for image in images]))

    evaluations = _evaluate_images(images, classes, iou_thresholds, list(ranges.values()), max_detections)
    precision, recall, curves = _accumulate(evaluations, len(iou_thresholds), len(ranges), detection_limits,
                                            return_curves)

    all_areas, most = 0, len(detection_limits) - 1
    result = {"map": _mean_of_defined(precision[:, :, :, all_areas, most])}
    for name, threshold in (("map_50", 0.5), ("map_75", 0.75)):
        result[name] = _mean_of_defined(precision[iou_thresholds == threshold][:, :, :, all_areas, most])
    for a, name in enumerate(ranges):
        if a > 0:
            result[f"map_{name}"] = _mean_of_defined(precision[:, :, :, a, most])
    for m, limit in enumerate(detection_limits):
        result[f"mar_{limit}"] = _mean_of_defined(recall[:, :, all_areas, m])
    for a, name in enumerate(ranges):
        if a > 0:
            result[f"mar_{name}"] = _mean_of_defined(recall[:, :, a, most])
    if return_curves:
        for curve in curves.values():
            curve["iou_thresholds"] = iou_thresholds.copy()
            curve["ap"] = float(np.mean(curve["interpolated"]))
        result["curves"] = {int(classes[k]): curve for k, curve in curves.items()}
    return result


def _mean_of_defined(values):
    """The mean of the entries that are not -1 (COCO's mark of "undefined"), or -1 when there are none."""
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else -1.0


def _evaluate_images(images, classes, iou_thresholds, ranges, max_detections):
    """Match every image's detections, for each class and area range, at every IoU threshold.

    Returns ``evaluations[k][a]``: a list over the images that hold class k (as a box or a detection)
    of ``(scores, rank, true_positive, false_positive, num_regular_truths)``, with the detections in
    decreasing score order, ``rank`` their place in that order, and the flags of shape (T, D).
    """
    class_index = {int(label): k for k, label in enumerate(classes)}
    evaluations = [[[] for _ in ranges] for _ in classes]
    for det_boxes, det_scores, det_labels, gt_boxes, gt_labels in images:
        order = np.argsort(-det_scores, kind="mergesort")  # stable, as COCO
        det_boxes, det_scores, det_labels = det_boxes[order], det_scores[order], det_labels[order]
        iou = _iou_matrix(det_boxes, gt_boxes)
        det_areas, gt_areas = _areas(det_boxes), _areas(gt_boxes)
        for label in np.unique(gt_labels):
            k = class_index[int(label)]
            dets = np.flatnonzero(det_labels == label)[:max_detections]
            truths = np.flatnonzero(gt_labels == label)
            _evaluate_one(evaluations[k], iou[np.ix_(dets, truths)], det_scores[dets], det_areas[dets],
                          gt_areas[truths], iou_thresholds, ranges)
        # Detections of a class absent from this image are false positives, unless no image has the class:
        # then the class is left out of every mean, and its detections with it.
        for label in np.setdiff1d(np.unique(det_labels), gt_labels):
            if int(label) in class_index:
                dets = np.flatnonzero(det_labels == label)[:max_detections]
                _evaluate_one(evaluations[class_index[int(label)]], np.zeros((len(dets), 0)), det_scores[dets],
                              det_areas[dets], np.zeros(0), iou_thresholds, ranges)
    return evaluations


def _evaluate_one(records, iou, scores, det_areas, gt_areas, iou_thresholds, ranges):
    """One image and one class: for each area range, append its detections' flags to `records`."""
    # The matching sees a threshold only through the pairs that reach it, and an area range only through the
    # boxes it ignores: most thresholds and ranges repeat an earlier pattern, matched once.
    reaching = iou[None] >= np.minimum(iou_thresholds, _THRESHOLD_CAP)[:, None, None]
    thresholds_reached = np.flatnonzero(reaching.reshape(len(iou_thresholds), -1).any(axis=1))
    matchings = {}
    for a, (low, high) in enumerate(ranges):
        gt_ignore = (gt_areas < low) | (gt_areas > high)
        matches = np.full((len(iou_thresholds), len(scores)), -1, dtype=np.int64)
        for t in thresholds_reached:
            key = (reaching[t].tobytes(), gt_ignore.tobytes())
            if key not in matchings:
                matchings[key] = match_detections(iou, iou_thresholds[t], gt_ignore)
            matches[t] = matchings[key]
        matched = matches >= 0
        matched_ignored = matched & np.append(gt_ignore, False)[matches]  # index -1 reads the appended False
        outside = (det_areas < low) | (det_areas > high)
        counted = ~(matched_ignored | (~matched & outside))
        records[a].append((scores, np.arange(len(scores)), matched & counted, ~matched & counted,
                           int(np.count_nonzero(~gt_ignore))))


def _accumulate(evaluations, num_thresholds, num_ranges, detection_limits, return_curves):
    """COCO's ``accumulate``: precision (T, R, K, A, M) at the 101 recalls and recall (T, K, A, M), -1 if undefined."""
    num_classes = len(evaluations)
    shape = (num_thresholds, len(COCO_RECALL_THRESHOLDS), num_classes, num_ranges, len(detection_limits))
    precision = -np.ones(shape)
    recall = -np.ones((num_thresholds, num_classes, num_ranges, len(detection_limits)))
    curves = {}
    for k, by_range in enumerate(evaluations):
        for a, records in enumerate(by_range):
            num_truths = sum(record[4] for record in records)
            if num_truths == 0:
                continue
            scores, rank = np.concatenate([r[0] for r in records]), np.concatenate([r[1] for r in records])
            true_positive = np.concatenate([r[2] for r in records], axis=1)
            false_positive = np.concatenate([r[3] for r in records], axis=1)
            for m, limit in enumerate(detection_limits):
                kept = rank < limit
                pr, rc, sorted_scores = precision_recall_curve(
                    scores[kept], true_positive[:, kept], false_positive[:, kept], num_truths
                )
                recall[:, k, a, m] = rc[:, -1] if rc.shape[1] else 0.0
                interpolated = np.array([interpolated_precision(p, r) for p, r in zip(pr, rc, strict=True)])
                precision[:, :, k, a, m] = interpolated
                if return_curves and a == 0 and m == len(detection_limits) - 1:
                    curves[k] = {"precision": pr, "recall": rc, "scores": sorted_scores, "interpolated": interpolated,
                                 "recall_thresholds": COCO_RECALL_THRESHOLDS.copy(), "num_ground_truth": num_truths}
    return precision, recall, curves


def _iou_matrix(det_boxes, gt_boxes):
    """IoU of every detection with every ground-truth box of an image, shape (D, G); empty sides allowed."""
    if len(det_boxes) == 0 or len(gt_boxes) == 0:
        return np.zeros((len(det_boxes), len(gt_boxes)))
    with np.errstate(invalid="ignore"):  # two boxes of zero area: 0 / 0, which COCO counts as IoU 0
        return np.nan_to_num(box_iou(det_boxes, gt_boxes), nan=0.0)


def _areas(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


# ----------------------------------------------------------------------------------------------
# Input checks


def _check_images(preds, targets):
    """Both lists checked; returns per image (det_boxes, det_scores, det_labels, gt_boxes, gt_labels)."""
    for value, name in ((preds, "preds"), (targets, "targets")):
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a list with one dict per image; got {type(value).__name__}")
    if len(preds) != len(targets):
        raise ValueError(f"preds and targets must have one entry per image each; got {len(preds)} and {len(targets)}")
    images = []
    for i, (pred, target) in enumerate(zip(preds, targets, strict=True)):
        det_boxes, det_labels = _check_entry(pred, f"preds[{i}]", ("boxes", "scores", "labels"))
        gt_boxes, gt_labels = _check_entry(target, f"targets[{i}]", ("boxes", "labels"))
        if np.any(target.get("iscrowd", 0)):
            raise ValueError(f"targets[{i}]['iscrowd']: crowd regions are not supported (all must be 0)")
        if "area" in target:
            raise ValueError(f"targets[{i}] has an 'area': areas are computed from the boxes; leave the key out")
        det_scores = check.as_float_array(pred["scores"], f"preds[{i}]['scores']").astype(np.float64)
        if det_scores.shape != (len(det_boxes),):
            raise ValueError(
                f"preds[{i}]['scores'] must have shape ({len(det_boxes)},), one per box; got {det_scores.shape}"
            )
        if not np.all(np.isfinite(det_scores)):
            raise ValueError(f"preds[{i}]['scores'] must be finite; got {det_scores[~np.isfinite(det_scores)][0]}")
        images.append((det_boxes, det_scores, det_labels, gt_boxes, gt_labels))
    return images


def _check_entry(entry, name, keys):
    if not isinstance(entry, Mapping):
        raise TypeError(f"{name} must be a dict with keys {keys}; got {type(entry).__name__}")
    missing = [key for key in keys if key not in entry]
    if missing:
        raise ValueError(f"{name} must have the keys {keys}; missing {missing}")
    boxes = check.as_float_array(entry["boxes"], f"{name}['boxes']").astype(np.float64)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)  # an empty list is an image without boxes
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name}['boxes'] must have shape (M, 4), rows (x1, y1, x2, y2); got {boxes.shape}")
    if not np.all(np.isfinite(boxes)):
        raise ValueError(f"{name}['boxes'] must be finite")
    flipped = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if np.any(flipped):
        row = int(np.flatnonzero(flipped)[0])
        raise ValueError(f"{name}['boxes'] must satisfy x1 <= x2 and y1 <= y2; row {row} is {boxes[row].tolist()}")
    labels = np.asarray(entry["labels"])
    if labels.size == 0:
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name}['labels'] must hold integer class labels; got dtype {labels.dtype}")
    if labels.shape != (len(boxes),):
        raise ValueError(f"{name}['labels'] must have shape ({len(boxes)},), one per box; got {labels.shape}")
    return boxes, labels.astype(np.int64)


def _check_iou_thresholds(iou_thresholds):
    if iou_thresholds is None:
        return COCO_IOU_THRESHOLDS.copy()
    thresholds = check.as_float_array(iou_thresholds, "iou_thresholds").astype(np.float64)
    if thresholds.ndim != 1 or thresholds.size == 0:
        raise ValueError(f"iou_thresholds must be a non-empty list of numbers; got shape {thresholds.shape}")
    if not np.all((thresholds >= 0) & (thresholds <= 1)):
        raise ValueError(f"iou_thresholds must lie in [0, 1]; got {thresholds.tolist()}")
    return thresholds


def _check_area_ranges(area_ranges):
    if not isinstance(area_ranges, Mapping) or not area_ranges:
        raise TypeError("area_ranges must be a non-empty dict from a name to (low, high) in squared pixels")
    checked = {}
    for name, bounds in area_ranges.items():
        if not isinstance(name, str) or not name.isidentifier() or name == "all":
            raise ValueError(f"area_ranges names must be identifiers other than 'all' (keys map_<name>); got {name!r}")
        if not isinstance(bounds, Sequence) or len(bounds) != 2:
            raise ValueError(f"area_ranges[{name!r}] must be a pair (low, high); got {bounds!r}")
        low = check.check_real_number(bounds[0], f"area_ranges[{name!r}][0]", at_least=0)
        high = bounds[1] if bounds[1] == np.inf else check.check_real_number(bounds[1], f"area_ranges[{name!r}][1]")
        if not high >= low:
            raise ValueError(f"area_ranges[{name!r}] must have low <= high; got {bounds!r}")
        checked[name] = (low, high)
    return checked
