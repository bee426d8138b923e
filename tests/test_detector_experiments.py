"""The committed tables of the dense detector's loss comparisons, re-checked by re-running one row.

``book/detector_experiments.json`` is written by ``make experiments`` (``python -m lossbook
experiment detector``), which takes about 20 minutes. The default detector (binary cross-entropy for
the 1, softmax for the C, GIoU for the 4) is the default arm of all three tables, so re-training it
with one seed re-checks one row of each table. It is a full run (about 130 s of processor time),
marked slow, so ``make check`` leaves it out and ``make test`` runs it.

On the machine that wrote the file the run repeats to the last digit. Another CPU may take other
float32 matrix-product kernels, whose last bits differ, and 2,500 Adam steps amplify that; the
tolerance, 0.02 in each mAP, is about twice the typical spread between seeds (0.005 to 0.013). The
calibration columns (``cell_ece``, ``det_ece``, ...) follow the same policy: twice the median spread
between seeds of that column over the arms of the record.

The calibration columns were added to the runs after the file was last written; until ``make
experiments`` writes it again, the record holds every other column, and the test of the calibration
columns is skipped, saying so.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from lossbook.experiments import COMPARISONS, DEFAULT_ARMS, REPORTED, run_arm
from lossbook.training import CALIBRATION_KEYS

RECORD = Path(__file__).resolve().parent.parent / "book" / "detector_experiments.json"


@pytest.fixture(scope="module")
def record():
    return json.loads(RECORD.read_text())


def test_the_record_says_how_it_was_made(record):
    assert record["command"].startswith("python -m lossbook experiment detector")
    assert len(record["seeds"]) >= 3
    assert {"python", "numpy", "lossbook"} <= set(record["versions"])
    assert {"platform", "processor", "cpu_count"} <= set(record["machine"])
    for comparison, arms in COMPARISONS.items():
        assert sorted(record["tables"][comparison]) == sorted(arms)
        for arm in arms:
            table = record["tables"][comparison][arm]
            assert [run["seed"] for run in table["runs"]] == record["seeds"]
            assert set(REPORTED) - set(CALIBRATION_KEYS) <= set(table["mean"])
            assert set(table["std"]) == set(table["mean"])


def has_calibration_columns(record):
    return set(CALIBRATION_KEYS) <= set(record["tables"]["objectness"]["bce"]["mean"])


def test_the_record_has_the_calibration_columns_in_every_run(record):
    if not has_calibration_columns(record):
        pytest.skip("book/detector_experiments.json predates the calibration columns: run make experiments")
    for table in record["tables"].values():
        for arm in table.values():
            assert set(REPORTED) <= set(arm["mean"])
            assert all(set(CALIBRATION_KEYS) <= set(run) for run in arm["runs"])


def test_the_default_arm_is_one_detector_in_every_table(record):
    runs = [record["tables"][comparison][arm]["runs"] for comparison, arm in DEFAULT_ARMS.items()]
    assert runs[0] == runs[1] == runs[2]


@pytest.mark.slow
def test_one_row_of_each_table_repeats(record):
    seed = record["seeds"][0]
    stored = record["tables"]["boxes"][DEFAULT_ARMS["boxes"]]["runs"][0]
    assert stored["seed"] == seed
    fresh = run_arm("boxes", DEFAULT_ARMS["boxes"], seed, record["training"])
    for key in ("map", "map_50", "map_75", "val_map"):
        assert fresh[key] == pytest.approx(stored[key], abs=0.02), key
    if has_calibration_columns(record):  # otherwise the test above is skipped, saying why
        for key in CALIBRATION_KEYS:
            spreads = [arm["std"][key] for table in record["tables"].values() for arm in table.values()]
            assert fresh[key] == pytest.approx(stored[key], abs=2 * float(np.median(spreads))), key
