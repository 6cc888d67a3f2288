"""No internal error is reachable from a valid spec: random valid specs (every op, broadcasting,
keepdims, literal-1 axes, rank 3, inline nesting, fan-out) through `derive` in every format,
`graph` in every format and `verify` exit 0 (or 2 for a spec einderive refuses), never 3.

CI runs a bounded number of examples.  Run more with
``HYPOTHESIS_PROFILE=thorough pytest tests/test_no_internal_error.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from conftest import SPEC_FILES
from spec_strategies import valid_specs

HERE = Path(__file__).parent
FILES = SPEC_FILES + sorted((HERE / "models").glob("*.yaml")) + \
    sorted((HERE / "regressions").glob("*.yaml"))
# Known defects, one line each (a spec for each in tests/regressions); strict so a fix shows up.
XFAIL: dict = {}  # none known: a defect found here gets a strict xfail with one line

settings.register_profile("ci", max_examples=10, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

COMMANDS = [
    ["derive"], ["derive", "--steps", "--expand", "--tree"],
    ["derive", "-f", "latex"], ["derive", "--latex", "--standalone"],
    ["derive", "-f", "markdown"], ["derive", "-f", "json"],
    ["derive", "-f", "numpy"], ["derive", "-f", "torch"],
    ["graph"], ["graph", "-f", "dot"], ["graph", "-f", "tikz"],
    ["verify"], ["cost"], ["derive", "--cost"],
]
# second order on random specs (the spec files' are checked against torch in test_second.py)
SECOND = [["derive", "--hvp="], ["derive", "--tangent=", "-f", "latex"], ["verify", "--hvp="]]


def run_all(text: str, commands: list[list[str]] = COMMANDS) -> list[str]:
    """The commands that exited with something other than 0 or 2 (verify: other than 0 or 2;
    a verify exit 1 is a wrong gradient, reported too)."""
    from einderive.cli import main
    runner = CliRunner()
    bad = []
    for cmd in commands:
        try:
            r = runner.invoke(main, cmd + ["-"], input=text, catch_exceptions=False)
        except Exception as exc:  # an exception escaping the CLI is worse than exit 3
            bad.append(f"{' '.join(cmd)}: raised {type(exc).__name__}: {exc}")
            continue
        if r.exit_code not in (0, 2):
            lines = [ln for ln in r.output.splitlines() if ln.strip()]
            shown = [ln for ln in lines if "FAIL" in ln or "error" in ln] or lines[-3:]
            bad.append(f"{' '.join(cmd)}: exit {r.exit_code}: {' | '.join(shown)}")
    return bad


@given(valid_specs())
def test_no_internal_error_on_random_valid_specs(text):
    """Random specs with every construct (the defects they used to hit are fixed; their specs
    stay in tests/regressions)."""
    bad = run_all(text, COMMANDS + SECOND)
    assert not bad, text + "\n" + "\n".join(bad)


@given(valid_specs(structure=True))
def test_no_internal_error_on_random_structured_specs(text):
    """Random specs with slices, concatenations, reshapes, lookups at labels, batched products
    and symmetric inputs."""
    bad = run_all(text, COMMANDS + SECOND)
    assert not bad, text + "\n" + "\n".join(bad)


@pytest.mark.skipif(os.environ.get("HYPOTHESIS_PROFILE") != "thorough",
                    reason="every construct, known defects included: run with "
                           "HYPOTHESIS_PROFILE=thorough")
@given(valid_specs())
def test_no_internal_error_on_any_random_valid_spec(text):
    bad = run_all(text, COMMANDS + SECOND)
    assert not bad, text + "\n" + "\n".join(bad)


@pytest.mark.parametrize("path", [
    pytest.param(p, id=f"{p.parent.name}/{p.stem}",
                 marks=pytest.mark.xfail(strict=True, reason=XFAIL[p.stem]))
    if p.stem in XFAIL else pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in FILES])
def test_no_internal_error_on_every_spec_file(path):
    bad = run_all(path.read_text(encoding="utf-8"))
    assert not bad, "\n".join(bad)
