"""``einderive verify -f json``: one strict JSON document (schema ``einderive/verify``), a
row per printed form of each check with that form's own errors, the totals, and the exit
code the text view's run has."""

from __future__ import annotations

import json

import pytest

from einderive import verify as verify_module

np = pytest.importorskip("numpy")

from conftest import SPECS, fresh_python  # noqa: E402

ROW_KEYS = ["check", "kind", "form", "shape", "max_abs_error", "max_rel_error", "tolerance",
            "result"]


def _strict(text: str) -> dict:
    """The document, refusing NaN and Infinity (no JSON reader need accept them)."""
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the JSON")
    return json.loads(text, parse_constant=refuse)


def _break(monkeypatch, name: str) -> None:
    """verify's generated matrix module with the gradient of ``name`` negated."""
    original = verify_module._load

    def load(plan):
        module = original(plan)
        matrix = module.gradients["matrix"]

        def gradients(**inputs):
            out = dict(matrix(**inputs))
            out[name] = -out[name]
            return out
        return verify_module._Module(module.forward, {**module.gradients, "matrix": gradients},
                                     module.closed)
    monkeypatch.setattr(verify_module, "_load", load)


def test_a_passing_run_has_a_row_per_printed_form(run):
    result = run("verify", SPECS / "mlp.yaml", SPECS / "softmax_regression.yaml", "-f", "json")
    assert result.exit_code == 0
    doc = _strict(result.stdout)
    assert (doc["schema"], doc["schema_version"], doc["ok"], doc["exit_code"]) == \
        ("einderive/verify", 1, True, 0)
    mlp, softmax = doc["specs"]
    assert (mlp["spec"], mlp["path"], mlp["sizes"], mlp["seed"], mlp["tolerance"]) == \
        ("mlp", (SPECS / "mlp.yaml").as_posix(), {"M": 3, "N": 4}, 0, 1e-06)
    assert [list(r) for r in mlp["checks"]] == [ROW_KEYS] * len(mlp["checks"])
    assert [(r["check"], r["kind"], r["form"]) for r in mlp["checks"]] == [
        ("W", "gradient", "index"), ("W", "gradient", "matrix"), ("W", "gradient", "closed"),
        ("x", "gradient", "index"), ("x", "gradient", "matrix"), ("x", "gradient", "closed"),
        ("∂L/∂z", "adjoint", "closed")]
    assert mlp["checks"][0]["shape"] == [3, 4] and mlp["error"] is None
    # b prints no closed form: no row for it (the table's '—')
    assert [r["form"] for r in softmax["checks"] if r["check"] == "b"] == ["index", "matrix"]
    # each form has its own errors: W's closed form is computed otherwise than its index form
    w = {r["form"]: r["max_abs_error"] for r in softmax["checks"] if r["check"] == "W"}
    assert w["closed"] != w["index"] and all(0 <= e < 1e-6 for e in w.values())
    rows = mlp["checks"] + softmax["checks"]
    assert all(r["result"] == "pass" for r in rows)
    assert doc["totals"] == {"specs": 2, "passed": 2, "failed": 0, "unreadable": 0,
                             "gradients": 4, "adjoints": 1, "second_order": 0,
                             "rows": len(rows), "failed_rows": 0}
    assert doc["unreadable"] == []


def test_a_wrong_form_is_a_fail_row_and_exit_1(run, monkeypatch):
    _break(monkeypatch, "W")
    result = run("verify", SPECS / "mlp.yaml", "-f", "json")
    assert result.exit_code == 1
    doc = _strict(result.stdout)
    assert (doc["ok"], doc["exit_code"]) == (False, 1)
    failed = [(r["check"], r["form"]) for r in doc["specs"][0]["checks"] if r["result"] == "fail"]
    assert failed == [("W", "matrix")]  # the index and closed forms of W still pass
    row = next(r for r in doc["specs"][0]["checks"] if (r["check"], r["form"]) == ("W", "matrix"))
    assert row["max_abs_error"] > row["tolerance"]
    assert doc["totals"]["failed"] == 1 and doc["totals"]["failed_rows"] == 1
    assert not doc["specs"][0]["ok"]
    text = run("verify", SPECS / "mlp.yaml")  # the text view exits the same
    assert text.exit_code == 1 and "FAIL" in text.stdout


def test_a_spec_that_cannot_be_checked_or_read(run, tmp_path):
    log = tmp_path / "log.yaml"
    log.write_text("dims: {N: 3}\ninputs: {x: [N]}\nforward:\n  - y = x - 5\n"
                   "  - L = sum(log(y))\nloss: L\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("dims: {N: 3}\ninputs: {x: [N]}\nforward:\n  - L = sum(foo(x))\nloss: L\n")
    result = run("verify", log, bad, "-f", "json")
    assert result.exit_code == 2  # as the text view: a spec could not be read
    assert "unknown function 'foo'" in result.stderr
    doc = _strict(result.stdout)
    assert (doc["ok"], doc["exit_code"]) == (False, 2)
    (checked,) = doc["specs"]
    assert checked["checks"] == [] and not checked["ok"]
    assert "not finite" in checked["error"]["message"] and not checked["error"]["bug"]
    assert "positive" in checked["error"]["hint"]
    assert doc["unreadable"] == [{"path": bad.as_posix(), "line": 4, "col": 13,
                                  "message": "unknown function 'foo'",
                                  "hint": doc["unreadable"][0]["hint"]}]
    assert doc["totals"]["specs"] == 2 and doc["totals"]["unreadable"] == 1


def test_second_order_checks_are_rows_too(run):
    doc = _strict(run("verify", SPECS / "mlp.yaml", "--hvp", "-f", "json").stdout)
    second = [(r["check"], r["form"]) for r in doc["specs"][0]["checks"]
              if r["kind"] == "second_order"]
    assert second == [("H v (W)", "index"), ("H v (W)", "matrix"), ("H v (x)", "index"),
                      ("H v (x)", "matrix"), ("symmetry (index)", "index"),
                      ("symmetry (matrix)", "matrix")]
    assert doc["totals"]["second_order"] == 4


def test_the_document_is_the_same_bytes_under_any_hash_seed():
    outs = set()
    for seed in ("0", "12345"):
        done = fresh_python("-m", "einderive", "verify", "specs/mlp.yaml",
                            "specs/attention.yaml", "-f", "json", env={"PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr
        outs.add(done.stdout)
    assert len(outs) == 1
