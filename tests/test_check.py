"""einderive check: goldens held fixed the way syrupy and insta hold snapshots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, SPECS


@pytest.fixture(autouse=True)
def _cwd_restored(monkeypatch):
    """The tests below chdir into their project; the next test starts where pytest did
    (a test elsewhere that reads a relative path must not find itself in a tmp folder)."""
    monkeypatch.chdir(os.getcwd())


@pytest.fixture
def project(tmp_path):
    """A copy of two shipped specs with their goldens."""
    specs = tmp_path / "specs"
    (specs / "golden").mkdir(parents=True)
    for name in ("mlp", "bilinear"):
        shutil.copy(SPECS / f"{name}.yaml", specs)
        shutil.copy(SPECS / "golden" / f"{name}.md", specs / "golden")
    return tmp_path


def test_the_projects_own_goldens_match(run):
    os.chdir(ROOT)
    result = run("check", "specs/")
    assert result.exit_code == 0, result.stdout
    n = len(list(SPECS.glob("*.yaml")))
    assert result.stdout.strip().endswith(f"{n} passed")


def test_match(project, run):
    os.chdir(project)
    result = run("check")
    assert result.exit_code == 0
    assert result.stdout.strip() == "2 passed"


def test_mismatch_shows_a_unified_diff_and_the_update_command(project, run):
    os.chdir(project)
    golden = project / "specs" / "golden" / "mlp.md"
    golden.write_text(golden.read_text().replace("∂L/∂z xᵀ", "∂L/∂z x"))
    result = run("check", "specs")
    assert result.exit_code == 1
    out = result.stdout
    assert "changed: specs/mlp.yaml" in out
    assert "--- specs/golden/mlp.md (golden)" in out
    assert "+++ specs/golden/mlp.md (derived now)" in out
    assert "-∂L/∂W    = ∂L/∂z x\n+∂L/∂W    = ∂L/∂z xᵀ" in out
    assert "1 passed, 1 changed" in out
    assert out.strip().endswith("To accept the new derivations, run: einderive check --update "
                                "specs")


def test_missing_fails_and_writes_nothing(project, run):
    os.chdir(project)
    (project / "specs" / "golden" / "bilinear.md").unlink()
    result = run("check", "specs")
    assert result.exit_code == 1
    assert "missing: specs/bilinear.yaml has no golden specs/golden/bilinear.md" in result.stdout
    assert "1 passed, 1 missing" in result.stdout
    assert not (project / "specs" / "golden" / "bilinear.md").exists()


def test_orphaned_goldens_fail_a_folder_check_but_not_a_named_spec(project, run):
    os.chdir(project)
    (project / "specs" / "bilinear.yaml").unlink()
    result = run("check", "specs")
    assert result.exit_code == 1
    assert "orphaned: specs/golden/bilinear.md" in result.stdout
    assert "1 passed, 1 orphaned" in result.stdout
    assert "--prune" in result.stdout
    result = run("check", "specs/mlp.yaml")
    assert result.exit_code == 0 and "orphaned" not in result.stdout


def test_other_markdown_in_the_golden_folder_is_not_an_orphan(project, run):
    os.chdir(project)
    (project / "specs" / "golden" / "README.md").write_text("# notes\n")
    assert run("check", "specs").exit_code == 0


def test_update_then_match_and_prune(project, run):
    os.chdir(project)
    golden = project / "specs" / "golden"
    stale = (golden / "mlp.md").read_text().replace("∂L/∂z xᵀ", "∂L/∂z x")
    (golden / "mlp.md").write_text(stale)
    (golden / "old.md").write_text((golden / "bilinear.md").read_text())
    result = run("check", "--update", "specs")
    assert "written: specs/golden/mlp.md" in result.stdout
    assert result.exit_code == 1 and "orphaned: specs/golden/old.md" in result.stdout
    result = run("check", "--update", "--prune", "specs")
    assert result.exit_code == 0 and "deleted: specs/golden/old.md" in result.stdout
    assert not (golden / "old.md").exists()
    assert run("check", "specs").exit_code == 0


def test_golden_dir_option(project, run, tmp_path):
    os.chdir(project)
    other = tmp_path / "elsewhere"
    result = run("check", "--golden-dir", other, "specs")
    assert result.exit_code == 1 and result.stdout.count("missing:") == 2
    assert run("check", "--golden-dir", other, "--update", "specs").exit_code == 0
    assert (other / "mlp.md").read_text().splitlines()[3] == \
        f"- spec: `{os.path.relpath(project / 'specs' / 'mlp.yaml', other)}`"
    assert run("check", "--golden-dir", other, "specs").exit_code == 0


def test_an_unreadable_spec_is_reported_and_the_others_still_checked(project, run):
    os.chdir(project)
    (project / "specs" / "broken.yaml").write_text("inputs: {x: [N]}\nforward: [L = sum(x)]\n"
                                                   "loss: L\n")
    result = run("check", "specs")
    assert result.exit_code == 2
    assert "specs/broken.yaml:1:" in result.stderr and "unknown dim 'N'" in result.stderr
    assert "2 passed, 1 unreadable" in result.stdout


def test_a_failed_write_leaves_the_old_golden_whole(project, run, monkeypatch):
    import einderive.files as files
    os.chdir(project)
    golden = project / "specs" / "golden" / "mlp.md"
    golden.write_text("<!-- einderive golden (format 1) -->\nold content\n")

    def crash(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(files.os, "replace", crash)
    from einderive.errors import SpecError
    with pytest.raises(SpecError, match="disk full"):
        from einderive.golden import run_check
        run_check(["specs"], None, update=True)
    assert golden.read_text() == "<!-- einderive golden (format 1) -->\nold content\n"
    assert [p.name for p in golden.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_check_never_writes_without_update(project, run):
    os.chdir(project)
    (project / "specs" / "golden" / "mlp.md").unlink()
    folder = project / "specs" / "golden"
    folder.chmod(0o555)
    try:
        result = run("check", "specs")
    finally:
        folder.chmod(0o755)
    assert result.exit_code == 1 and not (folder / "mlp.md").exists()


GOLDEN_SCRIPT = """
import sys
from pathlib import Path
from einderive.golden import render_golden
for spec in sys.argv[1:]:
    sys.stdout.write(render_golden(Path(spec), Path(spec).parent / "golden" / "x.md"))
"""


def test_goldens_are_byte_identical_across_hash_seeds_and_locales():
    specs = [str(SPECS / f"{name}.yaml") for name in ("attention", "llama_mlp", "layernorm",
                                                      "softmax_regression")]
    outputs = set()
    for seed, lang in (("0", "C"), ("1", "C.UTF-8"), ("12345", "de_DE.UTF-8")):
        env = dict(os.environ, PYTHONHASHSEED=seed, LANG=lang, LC_ALL=lang, COLUMNS="37")
        proc = subprocess.run([sys.executable, "-c", GOLDEN_SCRIPT, *specs], env=env,
                              capture_output=True, check=True)
        outputs.add(proc.stdout)
    assert len(outputs) == 1
    (out,) = outputs
    assert out.endswith(b"\n") and b"\r" not in out and b"\x1b" not in out
    assert str(ROOT).encode() not in out
