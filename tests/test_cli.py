"""The command line: JSON metrics on standard output, clear errors with exit status 2, divergence with status 3."""

import json
import re
import subprocess
import sys

import pytest

import lossbook.cli
from lossbook.cli import EXIT_DIVERGED, json_line, main


def strict_json(line):
    """Parse one JSON line, refusing the NaN and Infinity that Python's json module accepts by default."""
    return json.loads(line, parse_constant=lambda constant: pytest.fail(f"not valid JSON: {constant} in {line}"))


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
        (["--hidden", "10"], "--hidden applies to --model mlp or single-object only"),
        (["--model", "mlp", "--hidden", "0"], "--hidden must be at least 1"),
        (["--batch-size", "100000"], "--batch-size must be at most the 300 training samples"),
        (["--data", "mnist"], "invalid choice: 'mnist'"),
        (["--data", "shapes"], "--data shapes needs --model detector or single-object"),
        (["--data", "shapes", "--model", "detector", "--hidden", "8"],
         "--hidden applies to --model mlp or single-object"),
        (["--data", "shapes", "--model", "detector", "--reg", "0.1"], "--reg does not apply to --model detector"),
        (["--data", "shapes", "--model", "single-object", "--boxes", "ciou"],
         "--boxes does not apply to --model single-object"),
        (["--data", "shapes", "--model", "detector", "--images-per-epoch", "0"],
         "--images-per-epoch must be at least 1"),
        (["--data", "shapes", "--model", "detector", "--batch-size", "5001"],
         "--batch-size must be at most the 5000 images of an epoch"),
        (["--model", "linear", "--objectness", "focal"], "--objectness does not apply to --model linear"),
        (["--data", "shapes", "--model", "single-object", "--steps", "5"],
         "--steps does not apply to --model single-object"),
        (["--data", "shapes", "--model", "single-object", "--epochs", "0"], "--epochs must be at least 1"),
        (["--epochs", "2"], "--epochs does not apply to --model linear"),
        (["--steps", "many"], "invalid int value: 'many'"),
        (["--seed", "-1"], r"--seed: must lie in \[0, 2\*\*32 - 1\]; got -1"),
        (["--seed", str(2**32)], r"--seed: must lie in \[0, 2\*\*32 - 1\]; got 4294967296"),
        (["--lr", "inf"], "--lr: must be a finite number; got 'inf'"),
        (["--lr", "nan"], "--lr: must be a finite number; got 'nan'"),
        (["--reg=-inf"], "--reg: must be a finite number; got '-inf'"),
        (["--momentum", "nan"], "--momentum: must be a finite number; got 'nan'"),
        (["--lr", "fast"], "--lr: expected a number; got 'fast'"),
        (["--model", "mlp", "--batch-size", "301"], "--batch-size must be at most the 300 training samples"),
        (["--data", "digits", "--batch-size", "1798"], r"--batch-size must be at most the \d+ training samples"),
        (["--data", "shapes", "--model", "single-object", "--batch-size", "10001"],
         "--batch-size must be at most the 10000 images of an epoch"),
    ],
)
def test_bad_options_exit_2_with_a_message(capsys, monkeypatch, arguments, message):
    refuse_to_train(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *arguments])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def refuse_to_train(monkeypatch):
    """Make any training fail the test: a bad option must be refused before any work."""
    def must_not_run(*args, **kwargs):
        pytest.fail("training started although an option was bad")

    monkeypatch.setattr(lossbook.cli, "train", must_not_run)
    monkeypatch.setattr(lossbook.cli, "train_detector", must_not_run)
    monkeypatch.setattr(lossbook.cli, "train_dense_detector", must_not_run)


@pytest.mark.parametrize(
    ("plot", "message"),
    [
        ("missing/loss.png", "the folder .*missing does not exist"),
        ("loss.xyz", r"must end in an extension matplotlib writes \(.*\.png.*\.svg.*\)"),
        ("loss", "must end in an extension matplotlib writes"),  # matplotlib would write loss.png
        (".", "must name a file; .* is a folder"),
    ],
)
@pytest.mark.parametrize("model", [["--model", "linear"], ["--data", "shapes", "--model", "single-object"]])
def test_bad_plot_paths_are_refused_before_training(tmp_path, capsys, monkeypatch, plot, message, model):
    refuse_to_train(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *model, "--plot", str(tmp_path / plot)])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_plot_format_follows_the_extension(tmp_path, capsys):
    plot = tmp_path / "loss.SVG"
    assert main(["train", "--steps", "3", "--plot", str(plot)]) == 0
    assert b"<svg" in plot.read_bytes()[:1000]
    assert strict_json(capsys.readouterr().out)["steps"] == 3


def test_metrics_survive_a_plot_that_cannot_be_written(tmp_path, capsys, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lossbook.plotting.save_training_plot", disk_full)
    assert main(["train", "--steps", "3", "--plot", str(tmp_path / "loss.png")]) == 1
    captured = capsys.readouterr()
    assert strict_json(captured.out)["steps"] == 3
    assert "could not write --plot" in captured.err and "No space left" in captured.err


@pytest.mark.parametrize(
    ("arguments", "metrics"),
    [
        (["--model", "linear", "--lr", "1e6"], {"train_loss", "train_accuracy"}),
        (["--model", "mlp", "--lr", "1e6", "--steps", "200"], {"train_loss", "train_accuracy"}),
        (["--data", "digits", "--lr", "1e6", "--steps", "200"], {"train_loss", "train_accuracy", "test_accuracy"}),
        (["--data", "shapes", "--model", "single-object", "--lr", "1e30", "--epochs", "1", "--hidden", "8"],
         {"train_loss", "objectness_accuracy", "class_accuracy", "mean_iou"}),
    ],
)
def test_divergence_stops_with_valid_json_and_status_3(capsys, arguments, metrics):
    # pytest turns every warning into an error (pyproject.toml), so this also checks that no NumPy
    # overflow warning escapes from the library.
    assert main(["train", *arguments]) == EXIT_DIVERGED
    captured = capsys.readouterr()
    line = strict_json(captured.out)
    assert set(line) == metrics | {"steps", "seconds", "diverged_at_step"}
    assert all(line[name] is None for name in metrics)
    step = line["diverged_at_step"]
    assert isinstance(step, int) and line["steps"] == step
    assert re.search(rf"training diverged: the loss became (inf|nan) at step {step} .*try a smaller --lr", captured.err)


def test_overflow_in_a_run_that_stays_finite_prints_no_warning(capsys):
    # Adam's squared gradients overflow at this rate although the loss stays finite: the run ends
    # normally, and no NumPy warning escapes (pytest would turn it into an error).
    arguments = ["--data", "shapes", "--model", "single-object", "--lr", "1e10", "--epochs", "1",
                 "--hidden", "8"]
    assert main(["train", *arguments]) == 0
    captured = capsys.readouterr()
    assert strict_json(captured.out)["train_loss"] > 1e6
    assert captured.err == ""


def test_divergence_after_the_last_update_is_caught(capsys):
    # At lr 1e6 the spiral's linear model first has a non-finite loss at some step k. Asking for
    # exactly k steps makes train() see only finite losses: the final loss after the last update
    # must still be caught, at the same step.
    main(["train", "--lr", "1e6"])
    step = strict_json(capsys.readouterr().out)["diverged_at_step"]
    assert main(["train", "--lr", "1e6", "--steps", str(step)]) == EXIT_DIVERGED
    assert strict_json(capsys.readouterr().out)["diverged_at_step"] == step
    assert main(["train", "--lr", "1e6", "--steps", str(step - 1)]) == 0
    assert strict_json(capsys.readouterr().out)["train_loss"] > 1e6


def test_json_line_writes_non_finite_values_as_null():
    line = json_line({"a": float("nan"), "b": float("inf"), "c": 1.5, "d": 3, "e": None})
    assert strict_json(line) == {"a": None, "b": None, "c": 1.5, "d": 3, "e": None}


def test_divergence_exit_status_and_no_warning_in_a_real_process():
    out = subprocess.run(
        [sys.executable, "-W", "error", "-m", "lossbook", "train", "--lr", "1e6"], capture_output=True, text=True
    )
    assert out.returncode == EXIT_DIVERGED
    assert strict_json(out.stdout)["train_loss"] is None
    assert out.stderr.startswith("python -m lossbook train: training diverged")
    assert "Warning" not in out.stderr and "Traceback" not in out.stderr


def test_detector_reports_detection_metrics(capsys):
    main(["train", "--data", "shapes", "--model", "single-object", "--epochs", "1", "--hidden", "32",
          "--batch-size", "200"])
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
    assert f"{EXIT_DIVERGED}  training diverged" in out.stdout


def test_dense_detector_reports_coco_map(capsys):
    # A short run: the metrics' names and ranges, not their values (the full run is the chapter's).
    assert main(["train", "--data", "shapes", "--model", "detector", "--epochs", "1", "--images-per-epoch", "64",
                 "--boxes", "ciou", "--objectness", "focal"]) == 0
    metrics = strict_json(capsys.readouterr().out)
    assert {"map", "map_50", "map_75", "map_small", "map_medium", "map_large", "val_map", "steps"} <= set(metrics)
    assert metrics["steps"] == 2
    assert all(0 <= metrics[key] <= 1 for key in ("map", "map_50", "map_75", "val_map"))


def test_experiment_writes_its_record(tmp_path, capsys):
    output = tmp_path / "table.json"
    assert main(["experiment", "detector", "--arms", "smooth_l1", "--seeds", "3", "--epochs", "1",
                 "--images-per-epoch", "32", "--output", str(output)]) == 0
    record = json.loads(output.read_text())
    assert record["seeds"] == [3] and record["training"] == {"epochs": 1, "images_per_epoch": 32}
    assert list(record["tables"]) == ["boxes"] and list(record["tables"]["boxes"]) == ["smooth_l1"]
    assert {"versions", "machine", "command"} <= set(record)
    assert strict_json(capsys.readouterr().out)["runs"] == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--arms", "hinge"], "--arms must be among"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--output", "missing/table.json"], "--output must name a file in a folder that exists"),
    ],
)
def test_experiment_refuses_bad_options(capsys, monkeypatch, arguments, message):
    monkeypatch.setattr("lossbook.experiments.run_detector_experiments",
                        lambda *a, **k: pytest.fail("the experiment started although an option was bad"))
    with pytest.raises(SystemExit) as exit_info:
        main(["experiment", "detector", *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
