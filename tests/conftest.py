"""Shared helpers: derive a spec from text, render it, run the CLI (in-process, or in a
fresh interpreter)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SPEC_FILES = sorted(SPECS.glob("*.yaml"))


def derive_text(text: str, path: str = "test.yaml"):
    """A Derivation of a spec given as (dedented) YAML text."""
    from einderive.derivation import derive
    from einderive.spec import loads
    return derive(loads(textwrap.dedent(text), path))


def assert_spec_error(text: str, at: str, message: str, hint: str, exact: bool = False) -> None:
    """Building the spec ``text`` is a SpecError at ``at`` (line:col; a prefix of it unless
    ``exact``) whose message holds ``message`` and whose hint holds ``hint``."""
    from einderive.errors import SpecError
    from einderive.graph import build
    from einderive.spec import loads
    with pytest.raises(SpecError) as info:
        build(loads(textwrap.dedent(text), "spec.yaml"))
    e = info.value
    where = f"{e.loc.line}:{e.loc.col}"
    assert (where == at if exact else where.startswith(at)), e.format()
    assert message in e.message, e.message
    assert hint in (e.hint or ""), e.hint


def forms(d, name: str) -> tuple[str, str]:
    """(index form, matrix form) of ∂L/∂name, as printed in the terminal."""
    from einderive.render import text as T
    a = d.adjoint(name)
    return T.index_rhs(d, a.form), T.matrix_rhs(d, a.form)


@pytest.fixture
def run():
    """Run the CLI in-process; returns the click Result."""
    from einderive.cli import main
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    return invoke


def fresh_python(*args: str, env: dict[str, str] | None = None
                 ) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` run by a new interpreter from the repository with this tree's sources
    first (``env`` adds variables): what a process starting cold imports, loads or prints,
    which one that has run other tests cannot show."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, text=True, capture_output=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT / "src"), **(env or {})))


needs_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None,
                                    reason="pdflatex is not installed")
