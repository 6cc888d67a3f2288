"""The short cuts of the whole-process path leave nothing behind and change nothing seen:
a command run in-process gives the collector back as it found it, and a spec's comments
(which the YAML reader no longer gathers) change neither the spec read nor an error's place."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from einderive.errors import SpecError
from einderive.spec import loads

from conftest import SPECS, fresh_python

PLAIN = """\
name: mlp
dims: {M: 3, N: 4}
inputs:
  W: [M, N]
  x: [N]
forward:
  - z = W @ x
  - L = sum(z * z)
loss: L
"""

# the same spec with a comment wherever YAML allows one (the round-trip scanner kept them)
COMMENTED = """\
# σ: a comment before everything
name: mlp  # a name
dims: {M: 3, N: 4}  # flow mapping, then a comment
inputs:  # the leaves
  # a comment line inside a mapping
  W: [M, N]  # W
  x: [N]
forward:
  # a comment line inside a list
  - z = W @ x  # the product
  - L = sum(z * z)
loss: L  # the loss
# and one at the end
"""


def test_a_command_gives_the_collector_back(run: Any) -> None:
    before = gc.get_threshold()
    result = run("derive", SPECS / "mlp.yaml")
    assert result.exit_code == 0, result.output
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0  # nothing left out of the collector's sight


# `einderive derive specs/mlp.yaml` run in-process by a script, its output swallowed
RUN_MLP = r"""
from einderive.cli import main
sys.argv = ["einderive", "derive", "specs/mlp.yaml"]
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, exc.code
"""


def _in_a_fresh_python(script: str) -> tuple[str, str]:
    """What ``script`` prints (stripped) and its standard error, run by a new interpreter."""
    done = fresh_python("-c", script)
    return done.stdout.strip(), done.stderr


SYMPY_UNSCANNED = r"""
import contextlib, gc, io, sys
scans = []

def during_sympy(phase, info):  # a collection that starts while SymPy's package runs
    m = sys.modules.get("sympy")
    if phase == "start" and m is not None and getattr(m.__spec__, "_initializing", False):
        scans.append(info["generation"])

gc.callbacks.append(during_sympy)
""" + RUN_MLP + r"""
assert "sympy" in sys.modules and gc.isenabled()
print(len(scans))
"""


def test_a_command_imports_sympy_unscanned() -> None:
    """SymPy's import makes 10⁵ objects that live as long as the process; a command imports
    it with the collector off (scanning them found nothing but cost 5 % of the import)."""
    out, err = _in_a_fresh_python(SYMPY_UNSCANNED)
    assert out == "0", err


YOUNG_AFTER_SYMPY = r"""
import contextlib, gc, io, sys
young = []

def scanned(phase, info):  # how many objects each collection after SymPy's import scans
    if phase == "start" and "sympy" in sys.modules:
        young.append(sum(len(gc.get_objects(g)) for g in range(info["generation"] + 1)))

gc.callbacks.append(scanned)
""" + RUN_MLP + r"""
print(max(young, default=0))
"""


def test_no_collection_rescans_what_the_imports_made() -> None:
    """SymPy's and the engine's imports leave some 10⁵ objects young; frozen before the
    collector is back, no collection of the command scans them (the first one did, right
    after the import: 8·10⁴ objects, 30 ms of the 256-layer chain's 1.1 s)."""
    out, err = _in_a_fresh_python(YOUNG_AFTER_SYMPY)
    assert int(out) < 40_000, err


FROZEN_AT_EXIT = r"""
import atexit, contextlib, gc, io, sys
""" + RUN_MLP + RUN_MLP + r"""
assert gc.get_freeze_count() == 0  # in-process, the heap is collectable after a command
atexit._run_exitfuncs()
print(gc.get_freeze_count() > 50_000)
"""


def test_the_exit_finds_the_heap_frozen() -> None:
    """The interpreter's last collection would rescan SymPy's lifelong objects (8 % of the
    import's instructions): a command has them frozen at exit."""
    out, err = _in_a_fresh_python(FROZEN_AT_EXIT)
    assert out == "True", err


def test_comments_change_nothing_read() -> None:
    plain, commented = loads(PLAIN, "a.yaml"), loads(COMMENTED, "a.yaml")
    assert [(f.text, f.text_loc.col) for f in plain.forward] == \
        [(f.text, f.text_loc.col) for f in commented.forward]
    assert [f.text_loc.line for f in commented.forward] == [10, 11]
    assert [(i.name, i.shape) for i in plain.inputs] == \
        [(i.name, i.shape) for i in commented.inputs]
    assert [(d.name, d.size) for d in plain.dims] == [(d.name, d.size) for d in commented.dims]
    assert (plain.name, plain.loss) == (commented.name, commented.loss)


@pytest.mark.parametrize("bad, at", [
    ("loss: L  # again\n", "14:1"),  # a duplicate key after comments
    ("lost: L  # a typo\n", "14:1"),  # an unknown key
    ("  - [z]  # not an assignment\n", "14:3"),  # a forward item after the list ended
])
def test_an_error_after_comments_is_placed_as_before(bad: str, at: str) -> None:
    with pytest.raises(SpecError) as info:
        loads(COMMENTED + bad, "a.yaml")
    e = info.value
    assert f"{e.loc.line}:{e.loc.col}" == at, e.format()
