"""``-o FILE`` never destroys what it writes to, and a path it cannot write is the user's error."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from conftest import ROOT, SPECS

MLP = str(SPECS / "mlp.yaml")


def einderive(*args, **kwargs):
    """The real command in a subprocess (file descriptors, FIFOs and /dev/stdout are real)."""
    return subprocess.run([sys.executable, "-m", "einderive", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, **kwargs)


def test_a_missing_folder_is_a_usage_error_not_a_bug(run, tmp_path):
    result = run("derive", MLP, "-o", tmp_path / "out" / "x.txt")
    assert result.exit_code == 2
    assert "x.txt: error: cannot write: the folder" in result.stderr
    assert "does not exist" in result.stderr and "internal error" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_symlink_is_written_through_and_stays_a_link(run, tmp_path):
    target = tmp_path / "real" / "mlp.tex"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.tex"
    link.symlink_to(target)
    assert run("derive", MLP, "--latex", "-o", link).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert "\\frac" in target.read_text()
    assert [p.name for p in target.parent.iterdir()] == ["mlp.tex"]  # no temporary left


def test_a_dangling_symlink_creates_its_target(run, tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "new.txt")
    assert run("derive", MLP, "-o", link).exit_code == 0
    assert link.is_symlink() and "∂L/∂W" in (tmp_path / "new.txt").read_text()


def test_an_existing_file_keeps_its_permissions(run, tmp_path):
    out = tmp_path / "grad.py"
    out.write_text("old\n")
    out.chmod(0o750)
    assert run("derive", MLP, "-f", "numpy", "-o", out).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o750 and "def gradients" in out.read_text()


def test_dash_is_standard_output(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("derive", MLP, "-f", "json", "-o", "-")
    assert result.exit_code == 0 and result.stdout.startswith("{")
    result = run("graph", MLP, "-o", "-")
    assert result.exit_code == 0 and result.stdout.startswith("flowchart")
    assert list(tmp_path.iterdir()) == []


def test_a_fifo_is_written_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that the writer need not wait
    try:
        proc = einderive("derive", MLP, "-o", fifo, timeout=120)
        got = os.read(reader, 1 << 16).decode()
    finally:
        os.close(reader)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert "∂L/∂W    = ∂L/∂z xᵀ" in got


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="no /proc/self/fd")
def test_a_link_to_standard_output_is_the_stream(tmp_path):
    """What /dev/stdout is on Linux, made here: a test of the old code must not replace the
    machine's own /dev/stdout with a file."""
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    proc = einderive("derive", MLP, "-f", "markdown", "-o", link)
    assert proc.returncode == 0 and proc.stdout.startswith("<!-- einderive golden")
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


def test_check_update_writes_a_golden_through_its_symlink(run, tmp_path, monkeypatch):
    (tmp_path / "specs" / "golden").mkdir(parents=True)
    (tmp_path / "specs" / "mlp.yaml").write_text((SPECS / "mlp.yaml").read_text())
    kept = tmp_path / "kept.md"
    kept.write_text("<!-- einderive golden (format 1) -->\nold\n")
    (tmp_path / "specs" / "golden" / "mlp.md").symlink_to(kept)
    monkeypatch.chdir(tmp_path)
    assert run("check", "--update", "specs").exit_code == 0
    assert (tmp_path / "specs" / "golden" / "mlp.md").is_symlink()
    assert kept.read_text().startswith("<!-- einderive golden")
    assert run("check", "specs").exit_code == 0
