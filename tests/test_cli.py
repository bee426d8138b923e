"""The command line: JSON metrics on standard output, clear errors with exit status 2, divergence with status 3."""

import json
import re
import subprocess
import sys

import pytest

import lossbook.cli
from lossbook.cli import DENSE_METRICS, EXIT_DIVERGED, json_line, main, missing_program
from lossbook.training import TrainingDiverged


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
         r"--batch-size must be at most --images-per-epoch, the images of an epoch; got --batch-size 5001 and "
         r"--images-per-epoch 5000 \(the default of --model detector\)\n"),
        # The default batch size is checked as a given one: 32 for the detector, 100 for the single-object one.
        (["--data", "shapes", "--model", "detector", "--images-per-epoch", "10"],
         r"--batch-size must be at most --images-per-epoch, the images of an epoch; "
         r"got --batch-size 32 \(the default of --model detector\) and --images-per-epoch 10\n"),
        (["--data", "shapes", "--model", "detector", "--images-per-epoch", "31"],
         r"got --batch-size 32 \(the default of --model detector\) and --images-per-epoch 31\n"),
        (["--data", "shapes", "--model", "single-object", "--images-per-epoch", "50"],
         r"got --batch-size 100 \(the default of --model single-object\) and --images-per-epoch 50\n"),
        (["--data", "shapes", "--model", "single-object", "--images-per-epoch", "50", "--batch-size", "51"],
         r"got --batch-size 51 and --images-per-epoch 50\n"),
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
         r"--batch-size must be at most --images-per-epoch, .* got --batch-size 10001 and --images-per-epoch 10000 "
         r"\(the default of --model single-object\)"),
    ],
)
def test_bad_options_exit_2_with_a_message(capsys, monkeypatch, arguments, message):
    refuse_to_train(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", *arguments])
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize(
    ("model", "images", "batch", "used"),
    [("detector", 32, None, 32), ("single-object", 100, None, 100), ("detector", 7, 7, 7)],
)
def test_a_batch_of_a_whole_epoch_is_accepted(capsys, monkeypatch, model, images, batch, used):
    # The boundary of the check above: a batch (given, or the model's default) of all the images of an
    # epoch trains. Here a stand-in records what it was given and stops at once, as a diverged run would.
    given = {}

    def record(**kwargs):
        given.update(kwargs)
        raise TrainingDiverged(0, float("nan"))

    monkeypatch.setattr(lossbook.cli, "train_dense_detector" if model == "detector" else "train_detector", record)
    arguments = ["--data", "shapes", "--model", model, "--images-per-epoch", str(images)]
    assert main(["train", *arguments, *([] if batch is None else ["--batch-size", str(batch)])]) == EXIT_DIVERGED
    assert (given["batch_size"], given["images_per_epoch"]) == (used, images)
    assert strict_json(capsys.readouterr().out)["diverged_at_step"] == 0


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


@pytest.mark.parametrize("plot", ["", " "])
def test_an_empty_plot_path_is_refused(capsys, monkeypatch, plot):
    refuse_to_train(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", f"--plot={plot}"])
    assert exit_info.value.code == 2
    assert f"--plot must name a file; got an empty path {plot!r}\n" in capsys.readouterr().err


@pytest.mark.parametrize("texsystem", ["xelatex", "lualatex"])
def test_pgf_without_its_tex_program_is_refused_before_training(tmp_path, capsys, monkeypatch, texsystem):
    # matplotlib's pgf backend runs rcParams["pgf.texsystem"] to set the text, even for the .pgf file:
    # without it the run used to train, print its metrics, then end in a RuntimeError traceback.
    import matplotlib

    refuse_to_train(monkeypatch)
    monkeypatch.setitem(matplotlib.rcParams, "pgf.texsystem", texsystem)
    searched = []
    monkeypatch.setattr(lossbook.cli.shutil, "which", lambda name: searched.append(name))  # found nowhere
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--plot", str(tmp_path / "loss.PGF")])
    assert exit_info.value.code == 2
    assert re.search(rf"--plot: matplotlib writes \.PGF files with {texsystem}, which is not installed .*"
                     r"such as \.pdf or \.svg", capsys.readouterr().err)
    assert searched == [texsystem]
    assert list(tmp_path.iterdir()) == []


def test_only_pgf_needs_an_external_program(monkeypatch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    monkeypatch.setattr(lossbook.cli.shutil, "which", lambda name: None)
    formats = FigureCanvasAgg.get_supported_filetypes()
    assert {"pgf", "png", "pdf", "svg"} <= set(formats)
    assert {extension: missing_program(extension) for extension in formats if missing_program(extension)} == {
        "pgf": "xelatex"}
    monkeypatch.setattr(lossbook.cli.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert missing_program("pgf") is None


def test_plot_format_follows_the_extension(tmp_path, capsys):
    plot = tmp_path / "loss.SVG"
    assert main(["train", "--steps", "3", "--plot", str(plot)]) == 0
    assert b"<svg" in plot.read_bytes()[:1000]
    assert strict_json(capsys.readouterr().out)["steps"] == 3


def latex_error():
    from matplotlib.backends.backend_pgf import LatexError

    return LatexError("LaTeX errored (probably missing font or error in preamble)", "! Font not found")


@pytest.mark.parametrize(
    ("extension", "error", "message"),
    [
        ("png", lambda: OSError(28, "No space left on device"), "OSError: .*No space left on device"),
        # TeX found before training, yet failing when the figure is written: the metrics stay.
        ("pgf", lambda: RuntimeError("Error starting 'xelatex'"), "RuntimeError: Error starting 'xelatex'"),
        ("pgf", latex_error, r"LatexError: LaTeX errored \(probably missing font"),
    ],
)
def test_metrics_survive_a_plot_that_cannot_be_written(tmp_path, capsys, monkeypatch, extension, error, message):
    def fail(*args, **kwargs):
        raise error()

    monkeypatch.setattr(lossbook.cli.shutil, "which", lambda name: f"/usr/bin/{name}")  # TeX or not, found
    monkeypatch.setattr("lossbook.plotting.save_training_plot", fail)
    plot = tmp_path / f"loss.{extension}"
    assert main(["train", "--steps", "3", "--plot", str(plot)]) == 1
    captured = capsys.readouterr()
    assert strict_json(captured.out)["steps"] == 3
    assert re.search(rf"^python -m lossbook train: could not write --plot {re.escape(str(plot))}: {message}",
                     captured.err)
    assert "Traceback" not in captured.err


def test_an_unexpected_plot_error_is_not_hidden(tmp_path, capsys, monkeypatch):
    # Only the errors of writing a file are reported as status 1; a bug in the plot code stays visible.
    def bug(*args, **kwargs):
        raise TypeError("a bug")

    monkeypatch.setattr("lossbook.plotting.save_training_plot", bug)
    with pytest.raises(TypeError, match="a bug"):
        main(["train", "--steps", "3", "--plot", str(tmp_path / "loss.png")])


@pytest.mark.parametrize(
    ("arguments", "metrics"),
    [
        (["--model", "linear", "--lr", "1e6"], {"train_loss", "train_accuracy"}),
        (["--model", "mlp", "--lr", "1e6", "--steps", "200"], {"train_loss", "train_accuracy"}),
        (["--data", "digits", "--lr", "1e6", "--steps", "200"], {"train_loss", "train_accuracy", "test_accuracy"}),
        (["--data", "shapes", "--model", "single-object", "--lr", "1e30", "--epochs", "1", "--hidden", "8"],
         {"train_loss", "objectness_accuracy", "class_accuracy", "mean_iou"}),
        # The dense detector: 4 steps of 8 images (about 1 s); Adam's first step at this rate already overflows.
        (["--data", "shapes", "--model", "detector", "--lr", "1e30", "--epochs", "1", "--images-per-epoch", "32",
          "--batch-size", "8"], set(DENSE_METRICS)),
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


@pytest.mark.parametrize(
    ("arguments", "suggestion"),
    [
        # A huge L2 strength alone diverges at the default rate: the penalty's step lr * 2 * reg * W overshoots.
        (["--reg", "1e300", "--steps", "20"], r"try a smaller --lr than 1 or a smaller --reg than 1e\+300\n"),
        (["--model", "mlp", "--reg", "1e10", "--steps", "20"],
         r"try a smaller --lr than 1 or a smaller --reg than 1e\+10\n"),
        # Without the penalty the cross-entropy of a linear model grows only linearly in the weights: it
        # stays finite at lr 1e6 (loss about 8e4 after 200 steps), and overflows only at a huge rate.
        (["--reg", "0", "--lr", "1e300", "--steps", "20"], r"try a smaller --lr than 1e\+300\n"),
        (["--data", "shapes", "--model", "single-object", "--lr", "1e30", "--epochs", "1", "--hidden", "8"],
         r"try a smaller --lr than 1e\+30\n"),
    ],
)
def test_the_divergence_message_names_the_options_at_fault(capsys, arguments, suggestion):
    assert main(["train", *arguments]) == EXIT_DIVERGED
    captured = capsys.readouterr()
    assert strict_json(captured.out)["train_loss"] is None
    assert re.search(r"training diverged: .*" + suggestion, captured.err)
    assert ("--reg" in captured.err) == ("--reg than" in suggestion)


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
        # Each run trains with train_dense_detector's batch of 32 images: an epoch of 10 would run no full batch.
        (["--images-per-epoch", "10"],
         "--images-per-epoch must be at least the batch size of every run, 32; got --images-per-epoch 10\n"),
    ],
)
def test_experiment_refuses_bad_options(capsys, monkeypatch, arguments, message):
    monkeypatch.setattr("lossbook.experiments.run_detector_experiments",
                        lambda *a, **k: pytest.fail("the experiment started although an option was bad"))
    with pytest.raises(SystemExit) as exit_info:
        main(["experiment", "detector", *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
