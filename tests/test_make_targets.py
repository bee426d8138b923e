"""The Makefile's local workflow: make lab, make serve, make book keeping other builds, make assignments' paths.

Each make test runs the real Makefile, copied into an empty folder (so that nothing is built or
served), either for real where the target only checks and explains, or as a dry run (make -n).
"""

import importlib.util
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")


def make(folder, *arguments):
    """Run the repository's Makefile in `folder`; return (exit status, standard output and error)."""
    out = subprocess.run(["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), *arguments],
                         cwd=folder, capture_output=True, text=True)
    return out.returncode, out.stdout + out.stderr


@pytest.fixture
def checkout(tmp_path):
    """An empty folder with the files the Makefile's rules depend on, so a dry run resolves them."""
    (tmp_path / "tools").mkdir()
    for name in ("requirements.txt", "pyproject.toml", "tools/ipython_kernel_config.py"):
        (tmp_path / name).write_text("")
    return tmp_path


@needs_make
@pytest.mark.parametrize(("site", "build"), [("full", "make book"), ("student", "make book-student")])
def test_serve_says_what_to_build_first(checkout, site, build):
    status, output = make(checkout, "serve", f"SITE={site}")
    assert status != 0
    assert f"build it first with: {build}" in output


@needs_make
def test_serve_refuses_an_unknown_site(checkout):
    status, output = make(checkout, "serve", "SITE=teachers")
    assert status != 0 and "SITE must be full or student; got 'teachers'" in output


@needs_make
def test_lab_opens_at_the_root_and_allows_root_when_run_as_root(checkout):
    status, output = make(checkout, "-n", "lab")
    assert status == 0
    (command,) = [line for line in output.splitlines() if "jupyter lab" in line]
    assert f'--ServerApp.root_dir="{checkout}"' in command
    assert ("--allow-root" in command) == (os.geteuid() == 0)


@needs_make
def test_book_removes_only_its_own_build(checkout):
    status, output = make(checkout, "-n", "book")
    assert status == 0
    removed = [path for line in output.splitlines() if line.startswith("rm -rf") for path in line.split()[2:]]
    assert removed and all(path.startswith("_build/") for path in removed)
    for kept in ("_build/assignments", "_build/student", "_build/latex"):
        assert not any(kept.startswith(path.rstrip("/")) for path in removed), kept


def test_make_assignments_prints_the_path_it_wrote_and_copies_the_data(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("make_assignments", ROOT / "tools" / "make_assignments.py")
    make_assignments = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_assignments)
    monkeypatch.chdir(tmp_path)
    make_assignments.main([str(ROOT / "book" / "performance.ipynb"), "--output", "out"])
    printed = re.match(r"(\S+): ", capsys.readouterr().out).group(1)
    assert printed == "out/performance.ipynb" and Path(printed).is_file()
    assert (tmp_path / "out" / "bench_results.json").read_bytes() == (ROOT / "book" / "bench_results.json").read_bytes()


def test_kernel_config_drops_only_the_plain_tcp_notice():
    namespace = {}
    exec((ROOT / "tools" / "ipython_kernel_config.py").read_text(encoding="utf-8"), namespace)
    notice = namespace["_PlainTCPNotice"]()

    def record(message):
        return logging.LogRecord("IPKernelApp", logging.WARNING, __file__, 0, message, None, None)

    assert not notice.filter(record("Kernel is running over TCP without encryption. All communication ..."))
    assert notice.filter(record("Kernel is running out of memory"))


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
@pytest.mark.parametrize("path", ["build/lib/lossbook/cli.py", "dist/lossbook-0.1.0-py3-none-any.whl"])
def test_pip_install_leftovers_are_ignored(path):
    assert subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0
