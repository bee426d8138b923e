"""Shared fixtures: a seeded generator, so every random test is reproducible."""

import numpy as np
import pytest
from hypothesis import settings

# Deterministic Hypothesis runs in CI; no database, no deadline flakiness on a busy 2-core machine.
settings.register_profile("course", derandomize=True, deadline=None, max_examples=60, database=None)
settings.load_profile("course")


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)
