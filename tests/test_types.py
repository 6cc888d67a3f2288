"""The package type-checks: ``mypy --strict`` with pyproject.toml's configuration finds nothing.

CI installs mypy with the ``[test]`` extra; without mypy the tests are skipped.  The
configuration lets SymPy (no type hints, no stub package) be untyped at its boundary, and
lists the modules still being typed in one override block that must end empty.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT

pytest.importorskip("mypy", reason="mypy is not installed (pip install '.[test]')")


def mypy(*paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict",
                           "--config-file", str(ROOT / "pyproject.toml"), *paths],
                          cwd=ROOT, capture_output=True, text=True)


def test_the_package_is_strict_clean():
    result = mypy("src/einderive")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout


def test_the_check_catches_an_unannotated_function_and_accepts_sympy(tmp_path):
    """The same configuration reports what --strict forbids (so the test above can fail),
    and an import of SymPy, which has no type hints, is no error."""
    bad = tmp_path / "bad_module.py"
    bad.write_text("import sympy\n\n\ndef f(x):\n    return sympy.Symbol(x)\n")
    result = mypy(str(bad))
    assert result.returncode == 1, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "[no-untyped-def]" in errors[0], result.stdout
