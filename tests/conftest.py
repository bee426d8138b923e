"""Shared fixtures: a seeded generator, so every random test is reproducible, and a detection batch drawn from it."""

import numpy as np
import pytest
from hypothesis import settings

# Deterministic Hypothesis runs in CI; no database, no deadline flakiness on a busy 2-core machine.
settings.register_profile("course", derandomize=True, deadline=None, max_examples=60, database=None)
settings.load_profile("course")


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


@pytest.fixture
def detection_batch(rng):
    """Draw a batch for the detection loss from `rng`: head outputs, has_object, labels, boxes.

    Images 1 and 4 of the default 7 are empty (label -100, box NaN); the others hold an object with
    a box of side 0.2 to 0.5 near the centre.
    """
    from lossbook.detection import IGNORE_INDEX

    def draw(n=7, num_classes=3, empty=(1, 4)):
        outputs = rng.normal(size=(n, 5 + num_classes))
        has_object = np.ones(n, dtype=np.int64)
        has_object[list(empty)] = 0
        labels = np.where(has_object == 1, rng.integers(0, num_classes, size=n), IGNORE_INDEX)
        centres, sides = rng.uniform(0.3, 0.7, size=(n, 2)), rng.uniform(0.2, 0.5, size=(n, 2))
        boxes = np.concatenate([centres - sides / 2, centres + sides / 2], axis=1)
        boxes[has_object == 0] = np.nan
        return outputs, has_object, labels, boxes

    return draw
