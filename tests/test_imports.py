"""A plain ``einderive derive`` imports only what it uses: the cold start is held to
1.3 x ``import sympy`` (bench/run.py), and each module the text path drags in for nothing
(the LaTeX width machinery, verify, cost, code generation) is paid on every command."""

from __future__ import annotations

import json

import pytest

from conftest import fresh_python

# what `derive SPEC` (terminal text) must not load: each belongs to another output or command
NOT_ON_THE_TEXT_PATH = [
    "einderive.render.texwidth", "einderive.render.texlayout", "einderive.render.texparse",
    "einderive.render.cm_metrics", "einderive.render.latex", "einderive.verify",
    "einderive.cost", "einderive.render.cost", "einderive.render.code",
    "einderive.render.pymodule", "einderive.render.json_out", "einderive.render.markdown",
    "einderive.render.graph", "einderive.golden",
    "dataclasses",  # the sheet's rows are Records: a dataclass compiles its methods at import
    "traceback",  # printed with --debug only
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
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _modules_loaded_by(*args: str) -> set[str]:
    done = fresh_python("-c", PROBE, *args)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def test_plain_derive_imports_only_what_the_text_path_uses():
    loaded = _modules_loaded_by("derive", "specs/mlp.yaml")
    assert "einderive.render.terminal" in loaded  # the probe did run the text path
    assert sorted(loaded & set(NOT_ON_THE_TEXT_PATH)) == []


@pytest.mark.parametrize("command", [["derive"], ["derive", "-f", "numpy"], ["verify"]])
def test_no_command_imports_sympys_tensor_module(command):
    # SymPy's Add imports it (and sympy.combinatorics) for a question lazy_tensor answers
    loaded = _modules_loaded_by(*command, "specs/mlp.yaml")
    assert "sympy.core.add" in loaded
    assert sorted(m for m in loaded if m.startswith(("sympy.tensor.tensor",
                                                     "sympy.combinatorics"))) == []


TENSORS_MEANWHILE = r"""
import sympy
from einderive.lazy_tensor import deferred
x, y = sympy.symbols("x y")
with deferred():
    assert str(x + y + 1) == "x + y + 1"  # Add.flatten ran against the placeholder
    import sympy.tensor.tensor as tt  # the placeholder, until something is read from it
    L = tt.TensorIndexType("L")
    i = tt.tensor_indices("i", L)
    A, B = tt.tensor_heads("A B", [L])
    s = A(i) + B(i) + A(i)
    assert isinstance(s, tt.TensAdd) and isinstance(s, sympy.tensor.tensor.TensExpr)
    assert str(s) == "2*A(i) + B(i)", s
    assert type(sympy.Add(A(i), B(i))) is tt.TensAdd  # Add.flatten now sees the real one
from sympy.tensor.tensor import TensExpr
assert TensExpr is tt.TensExpr and "TensExpr" in dir(sympy.tensor.tensor)
print("ok")
"""


def test_sympys_tensor_module_still_works_under_the_placeholder():
    # a subprocess: in this one the module may be imported already (then nothing is deferred)
    done = fresh_python("-c", TENSORS_MEANWHILE)
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize("args, needs", [
    (["derive", "--format", "latex", "specs/mlp.yaml"], "einderive.render.texwidth"),
])
def test_the_probe_sees_a_module_an_output_does_load(args, needs):
    # the probe can fail: LaTeX output does load the width machinery the text path must not
    assert needs in _modules_loaded_by(*args)


def test_the_forbidden_characters_are_ruamels_on_every_code_point():
    # spec.py finds YAML's forbidden characters with a short class instead of ruamel's
    # complement up to U+10FFFF (25 ms to compile); both must match the same characters
    import re

    from ruamel.yaml.reader import Reader

    from einderive.spec import NOT_PRINTABLE
    every = "".join(map(chr, range(0x110000)))
    ours = [m.start() for m in re.finditer(NOT_PRINTABLE, every)]
    theirs = [m.start() for m in Reader.NON_PRINTABLE.finditer(every)]
    assert ours == theirs and 0x07 in ours and 0xD800 in ours and 0xE9 not in ours


def test_a_forbidden_character_beside_a_non_ascii_one_is_still_a_spec_error(tmp_path):
    # non-ASCII text takes ruamel's regex path, which is the one spec.py replaces
    path = tmp_path / "bell.yaml"
    path.write_text("name: σ\x07\ninputs: {x: [N]}\n", encoding="utf-8")
    done = fresh_python("-m", "einderive", "derive", str(path))
    assert done.returncode == 2
    assert "unacceptable character #x0007: special characters are not allowed" in done.stderr


GENERATOR = r"""
import sys
import numpy
from einderive.verify import generator
drawn = generator([3, 1]).standard_normal(4)
assert "_hashlib" not in sys.modules and "secrets" not in sys.modules, "libcrypto loaded"
assert (drawn == numpy.random.default_rng([3, 1]).standard_normal(4)).all()  # NumPy's own
fresh = numpy.random.default_rng().integers(0, 2**62, size=2)  # an unseeded one: entropy
assert fresh[0] != fresh[1]
import secrets
assert secrets.token_hex(4) and "_hashlib" in sys.modules  # the real module, later
print("ok")
"""


def test_verify_draws_numpys_values_without_loading_openssl():
    """numpy.random imports ``secrets`` (and through it libcrypto, 4 MiB resident) for
    entropy verify never asks for; verify's generator loads it without, values unchanged."""
    done = fresh_python("-c", GENERATOR)
    assert done.stdout.strip() == "ok", done.stderr


def test_verify_runs_without_openssl():
    loaded = _modules_loaded_by("verify", "specs/mlp.yaml")
    assert "numpy.random" in loaded  # the probe did draw
    assert sorted(loaded & {"_hashlib", "secrets", "hmac"}) == []
