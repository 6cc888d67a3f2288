"""A plain ``einderive derive`` imports only what it uses: the cold start is held to
1.3 x ``import sympy`` (bench/run.py), and each module the text path drags in for nothing
(the LaTeX width machinery, verify, cost, code generation) is paid on every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# what `derive SPEC` (terminal text) must not load: each belongs to another output or command
NOT_ON_THE_TEXT_PATH = [
    "einderive.render.texwidth", "einderive.render.texlayout", "einderive.render.texparse",
    "einderive.render.cm_metrics", "einderive.render.latex", "einderive.verify",
    "einderive.cost", "einderive.render.cost", "einderive.render.code",
    "einderive.render.pymodule", "einderive.render.json_out", "einderive.render.markdown",
    "einderive.render.graph", "einderive.golden",
]

PROBE = r"""
import contextlib, io, json, sys
from einderive.cli import main
sys.argv = ["einderive", *sys.argv[1:]]
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, exc.code
print(json.dumps(sorted(m for m in sys.modules if m.startswith("einderive"))), file=sys.stderr)
"""


def _modules_loaded_by(*args: str) -> set[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_plain_derive_imports_only_what_the_text_path_uses():
    loaded = _modules_loaded_by("derive", "specs/mlp.yaml")
    assert "einderive.render.terminal" in loaded  # the probe did run the text path
    assert sorted(loaded & set(NOT_ON_THE_TEXT_PATH)) == []


@pytest.mark.parametrize("args, needs", [
    (["derive", "--format", "latex", "specs/mlp.yaml"], "einderive.render.texwidth"),
])
def test_the_probe_sees_a_module_an_output_does_load(args, needs):
    # the probe can fail: LaTeX output does load the width machinery the text path must not
    assert needs in _modules_loaded_by(*args)
