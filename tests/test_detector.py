"""The capstone around the detection loss: the shapes data set, the Detector network, its metrics and training."""

import numpy as np
import pytest

import lossbook
from lossbook.datasets import SHAPE_NAMES, make_shapes
from lossbook.detection import IGNORE_INDEX, decode_boxes, detection_loss, detection_loss_grad, detection_loss_terms
from lossbook.gradcheck import numerical_grad
from lossbook.models import Detector
from lossbook.training import evaluate, paired_iou, train_detector

# ------------------------------------------------------------------------------------------------
# The data set


def test_shapes_types_and_ranges(rng):
    images, has_object, labels, boxes = make_shapes(300, rng)
    assert images.shape == (300, 32, 32) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    assert has_object.shape == labels.shape == (300,) and boxes.shape == (300, 4)
    present = has_object == 1
    assert set(np.unique(has_object)) <= {0, 1}
    assert 0.1 < 1 - present.mean() < 0.3  # p_empty = 0.2
    assert np.all(labels[~present] == IGNORE_INDEX)
    assert set(np.unique(labels[present])) == set(range(len(SHAPE_NAMES)))
    assert np.all(np.isnan(boxes[~present]))
    inside = boxes[present]
    assert np.all((inside >= 0) & (inside <= 1))
    sides = (inside[:, 2:] - inside[:, :2]) * 32
    assert np.all((sides >= 8 - 1e-9) & (sides <= 20 + 1e-9))


def test_shapes_are_deterministic_from_the_generator():
    first = make_shapes(20, np.random.default_rng(5))
    second = make_shapes(20, np.random.default_rng(5))
    third = make_shapes(20, np.random.default_rng(6))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], third[0])


def test_shape_pixels_lie_in_their_box_and_empty_images_are_noise():
    images, has_object, labels, boxes = make_shapes(200, np.random.default_rng(1), noise=0.0)
    for image, present, box in zip(images, has_object, boxes, strict=True):
        if not present:
            assert image.max() == 0
            continue
        rows, cols = np.nonzero(image)
        centres_x, centres_y = (cols + 0.5) / 32, (rows + 0.5) / 32
        assert np.all((centres_x >= box[0]) & (centres_x <= box[2]))
        assert np.all((centres_y >= box[1]) & (centres_y <= box[3]))


def test_shape_areas_tell_the_classes_apart():
    # Filled fraction of the box: square 1, disk pi/4, triangle 1/2 (up to pixelation).
    images, has_object, labels, boxes = make_shapes(600, np.random.default_rng(2), noise=0.0, min_size=16)
    present = has_object == 1
    lit = (images[present] > 0).sum(axis=(1, 2))
    box_area = ((boxes[present, 2] - boxes[present, 0]) * (boxes[present, 3] - boxes[present, 1])) * 32**2
    fraction = lit / box_area
    for label, expected in enumerate([1.0, np.pi / 4, 0.5]):
        assert abs(np.median(fraction[labels[present] == label]) - expected) < 0.08, SHAPE_NAMES[label]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_images": 0}, ValueError, "n_images"),
        ({"n_images": 2.5}, TypeError, "n_images"),
        ({"p_empty": 1.5}, ValueError, "p_empty"),
        ({"min_size": 30, "max_size": 20}, ValueError, "min_size"),
        ({"max_size": 40}, ValueError, "max_size"),
        ({"noise": -1.0}, ValueError, "noise"),
        ({"size": 1}, ValueError, "size"),
    ],
)
def test_shapes_reject_bad_arguments(kwargs, error, match):
    arguments = {"n_images": 3, "rng": np.random.default_rng(0), **kwargs}
    with pytest.raises(error, match=match):
        make_shapes(**arguments)


def test_shapes_need_a_generator():
    with pytest.raises(TypeError, match="rng"):
        make_shapes(3, 0)


def test_all_empty_and_all_full():
    _, has_object, _, _ = make_shapes(10, np.random.default_rng(0), p_empty=1.0)
    assert not has_object.any()
    _, has_object, _, _ = make_shapes(10, np.random.default_rng(0), p_empty=0.0)
    assert has_object.all()


# ------------------------------------------------------------------------------------------------
# The network, the metrics and training


def test_detector_backward_matches_finite_differences(rng, detection_batch):
    model = Detector(16, (6, 5), 3, rng, dtype=np.float64)
    for name in model.params:
        model.params[name] += 0.1 * rng.standard_normal(model.params[name].shape)
    images = rng.uniform(size=(7, 4, 4))
    _, has_object, labels, boxes = detection_batch()
    _, _, grads = model.loss_and_grads(images, has_object, labels, boxes)
    for name, value in model.params.items():
        def loss_at(v, name=name):
            saved = model.params[name]
            model.params[name] = v
            try:
                return model.loss_and_grads(images, has_object, labels, boxes)[0]
            finally:
                model.params[name] = saved

        np.testing.assert_allclose(grads[name], numerical_grad(loss_at, value), rtol=1e-6, atol=1e-8, err_msg=name)


def test_loss_and_grads_is_the_detection_loss_of_the_outputs(rng, detection_batch):
    model = Detector(16, (6,), 3, rng, dtype=np.float64)
    images = rng.uniform(size=(7, 4, 4))
    _, has_object, labels, boxes = detection_batch()
    weights, beta = {"box": 2.0}, 0.1
    loss, terms, grads = model.loss_and_grads(images, has_object, labels, boxes, weights, beta)
    outputs, cache = model.forward(images)
    assert terms == detection_loss_terms(outputs, has_object, labels, boxes, beta)
    assert loss == pytest.approx(float(detection_loss(outputs, has_object, labels, boxes, weights, beta)), rel=1e-12)
    expected = model.backward(detection_loss_grad(outputs, has_object, labels, boxes, weights, beta), cache)
    assert sorted(grads) == sorted(model.params)
    for name, grad in grads.items():
        np.testing.assert_array_equal(grad, expected[name], err_msg=name)


def test_paired_iou_is_the_diagonal_of_box_iou(rng):
    a = decode_boxes(rng.normal(size=(1100, 4)))
    b = decode_boxes(rng.normal(size=(1100, 4)))
    np.testing.assert_allclose(paired_iou(a, b, chunk=300), np.diagonal(lossbook.box_iou(a, b)))


def test_evaluate_a_perfect_and_a_wrong_model():
    class Oracle:
        def __init__(self, has_object, labels, boxes, wrong=False):
            self.answer = {
                "objectness": np.where(has_object == 1, 0.9, 0.1),
                "label": (np.where(has_object == 1, labels, 0) + wrong) % 3,
                "boxes": np.where(has_object[:, None] == 1, boxes, 0.0),
            }

        def predict(self, images):
            return self.answer

    images, has_object, labels, boxes = make_shapes(50, np.random.default_rng(3))
    perfect = evaluate(Oracle(has_object, labels, boxes), images, has_object, labels, boxes)
    assert perfect == {"objectness_accuracy": 1.0, "class_accuracy": 1.0, "mean_iou": 1.0}
    wrong = evaluate(Oracle(has_object, labels, boxes, wrong=True), images, has_object, labels, boxes)
    assert wrong["class_accuracy"] == 0.0


def test_training_is_seeded_and_learns():
    kwargs = {"epochs": 2, "images_per_epoch": 1000, "hidden": (64,), "n_test": 300, "lr": 3e-3}
    run = train_detector(seed=3, **kwargs)
    again = train_detector(seed=3, **kwargs)
    # Same data, same start: the same run, up to float32 rounding in the reductions.
    np.testing.assert_allclose(run.history.loss, again.history.loss, rtol=1e-4)
    assert run.metrics["steps"] == run.history.steps == 20
    assert np.mean(run.history.loss[-5:]) < 0.7 * np.mean(run.history.loss[:5])
    assert all(0 <= run.metrics[name] <= 1 for name in ("objectness_accuracy", "class_accuracy", "mean_iou"))
    assert set(run.history.test_metrics) == {1, 2}


def test_fixed_images_are_drawn_once():
    fixed = train_detector(epochs=2, images_per_epoch=200, hidden=(16,), n_test=50, fresh_images=False)
    fresh = train_detector(epochs=2, images_per_epoch=200, hidden=(16,), n_test=50)
    # The first epoch is the same; the second trains on new images only in the fresh run.
    np.testing.assert_allclose(fixed.history.loss[:2], fresh.history.loss[:2], rtol=1e-5)
    assert fixed.history.loss[2:] != fresh.history.loss[2:]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"), ({"lr": -1.0}, "lr"), ({"epochs": 1.5}, "epochs")],
)
def test_train_detector_rejects_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        train_detector(**kwargs)
