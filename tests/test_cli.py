"""The command line: JSON metrics on standard output, clear errors with exit status 2."""

import json
import re
import subprocess
import sys

import pytest

from lossbook.cli import main


def test_spiral_linear_prints_one_json_line(capsys):
    assert main(["train", "--data", "spiral", "--model", "linear", "--steps", "50"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    metrics = json.loads(lines[0])
    assert set(metrics) == {"train_loss", "train_accuracy", "steps", "seconds"}
    assert metrics["steps"] == 50 and 0 < metrics["train_loss"] < 1.1


def test_digits_reports_test_accuracy_and_is_deterministic(capsys):
    runs = []
    for _ in range(2):
        main(["train", "--data", "digits", "--model", "linear", "--steps", "100", "--seed", "3"])
        metrics = json.loads(capsys.readouterr().out)
        metrics.pop("seconds")
        runs.append(metrics)
    assert runs[0] == runs[1]
    assert runs[0]["test_accuracy"] > 0.9


def test_minibatch_and_plot(tmp_path, capsys):
    plot = tmp_path / "spiral.png"
    main(["train", "--model", "mlp", "--hidden", "20", "--steps", "30", "--batch-size", "64",
          "--momentum", "0.9", "--lr", "0.1", "--plot", str(plot)])
    assert json.loads(capsys.readouterr().out)["steps"] == 30
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--lr", "-1"], "--lr must be positive"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--momentum", "1.5"], r"--momentum must lie in \[0, 1\)"),
        (["--reg", "-0.1"], "--reg must be >= 0"),
        (["--hidden", "10"], "--hidden applies to --model mlp or detector only"),
        (["--model", "mlp", "--hidden", "0"], "--hidden must be at least 1"),
        (["--batch-size", "100000"], "--batch-size must be at most the 300 training samples"),
        (["--data", "mnist"], "invalid choice: 'mnist'"),
        (["--data", "shapes"], "--data shapes needs --model detector"),
        (["--data", "shapes", "--model", "detector", "--steps", "5"], "--steps does not apply to --model detector"),
        (["--data", "shapes", "--model", "detector", "--epochs", "0"], "--epochs must be at least 1"),
        (["--epochs", "2"], "--epochs does not apply to --model linear"),
        (["--steps", "many"], "invalid int value: 'many'"),
    ],
)
def test_bad_options_exit_2_with_a_message(capsys, arguments, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *arguments])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_detector_reports_detection_metrics(capsys):
    main(["train", "--data", "shapes", "--model", "detector", "--epochs", "1", "--hidden", "32", "--batch-size", "200"])
    metrics = json.loads(capsys.readouterr().out)
    assert set(metrics) == {"train_loss", "objectness_accuracy", "class_accuracy", "mean_iou", "steps", "seconds"}
    assert metrics["steps"] == 50
    assert 0 <= metrics["mean_iou"] <= 1 and 0 <= metrics["class_accuracy"] <= 1


def test_module_entry_point_help():
    out = subprocess.run([sys.executable, "-m", "lossbook", "train", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for option in (
        "--data", "--model", "--hidden", "--steps", "--epochs", "--lr", "--reg", "--batch-size", "--momentum", "--seed",
        "--plot",
    ):
        assert option in out.stdout
