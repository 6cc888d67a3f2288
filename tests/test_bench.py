"""The benchmark cannot rot: its specs derive and verify, its baselines compute the same
loss, and a cell of each mode runs.  Nothing here looks at a time."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import baselines  # noqa: E402
import cells  # noqa: E402
import families  # noqa: E402
import run  # noqa: E402

from einderive.api import CODEGEN, derive_file  # noqa: E402
from einderive.spec import load  # noqa: E402
from einderive.verify import _load, draw_inputs, prepare, sizes_for  # noqa: E402


@pytest.mark.parametrize("family", families.FAMILIES)
def test_generated_spec_has_n_branches_and_verifies(tmp_path, family):
    path = families.write(tmp_path, family, 3)
    spec = load(path)
    extra = {"chain": 1, "fanout": 1, "wide": 2}[family]  # h0 or x (and wide's W)
    assert len(spec.inputs) == 3 + extra
    gathered = 0 if family == "chain" else 3  # s1 .. s3
    assert len(spec.forward) == 3 + gathered + 1 + (family == "wide")
    record = cells.cell(family, "verify", 3)  # raises if a gradient is off
    assert record["runs"] == 1


@pytest.mark.parametrize("family", families.FAMILIES)
def test_baseline_graph_is_the_specs_graph(tmp_path, family):
    """The loss PyTensor and JAX differentiate is the loss einderive's spec defines."""
    d = derive_file(families.write(tmp_path, family, 3))
    inputs = draw_inputs(d.graph, sizes_for(d.graph), seed=1)
    want = _load(prepare(d, None, CODEGEN)).forward(**inputs)
    names = [i.name for i in d.spec.inputs]
    assert [np.shape(inputs[k]) for k in names] == baselines._shapes(family, 3)
    got = baselines._forward(family, 3, lambda z: 1 / (1 + np.exp(-z)), np.tanh,
                             [inputs[k] for k in names])
    assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("mode", cells.MODES)
def test_one_cell_of_each_mode(mode):
    record = cells.cell("wide", mode, 2, reps=2, budget=10.0)
    assert set(record) == {"family", "mode", "n", "median", "runs", "times"}
    assert (record["family"], record["mode"], record["n"]) == ("wide", mode, 2)
    assert record["runs"] == len(record["times"]) == 2


def test_growth_prefers_256_over_64_and_bounds_a_capped_cell():
    row = {16: 1.0, 64: 2.0, 256: 8.0, 512: 40.0}
    assert run.growth(row, cap=60) == (256, 64, 4.0, False)
    assert run.growth({8: 1.0, 32: 3.0, 64: 5.0}, cap=60) == (32, 8, 3.0, False)
    assert run.growth({16: 1.0, 64: 4.0, 256: None}, cap=60) == (256, 64, 15.0, True)
    capped = run.growth({16: 2.0, 64: None, 256: None}, cap=60)
    assert capped == (64, 16, 30.0, True)
    assert "> 60 s" in run.fmt_time(None, 60)
    assert "over" in run.growth_text(capped)


def test_memory_rows_take_the_largest_size_derived_or_asked_for():
    table = {("chain", "numpy"): {64: 1.0, 256: 3.0, 512: None},
             ("fanout", "text"): {64: 1.0, 256: 4.0}}
    assert run.memory_sizes(table, ("chain", "fanout", "wide"), (64, 256, 512)) == \
        {"chain": 256, "fanout": 256}  # wide: not measured in this run, no row
    assert run.memory_sizes({}, ("chain", "wide"), (8, 64)) == {"chain": 64, "wide": 64}
