"""Fan-out costs linear work (issue 18): a tensor read by N branches, or a node with N
consumers, must not make the engine do O(N²) work.

Tests never time anything: they count the work that used to grow quadratically
(``unify`` calls of the Namer) and check that a closed form too big to keep is never
built.  That the output is unchanged is covered by the goldens (``einderive check``)."""

from __future__ import annotations

import pytest

from einderive import indexed, loads, reverse
from einderive.graph import build as build_graph
from einderive.reverse import EXPAND_LIMIT, derive_index


def _spec(name: str, inputs: list[str], forward: list[str]) -> str:
    return (f"name: {name}\ndims: {{D: 4}}\ninputs:\n"
            + "".join(f"  {line}\n" for line in inputs)
            + "forward:\n" + "".join(f"  - {line}\n" for line in forward)
            + "loss: L\n")


def _gather(n: int) -> list[str]:
    lines = ["s1 = b1"] + [f"s{k} = s{k - 1} + b{k}" for k in range(2, n + 1)]
    return lines + [f"L = sum(s{n} * s{n})"]


def fanout(n: int) -> str:
    """One input x read by n branches b_k = tanh(W_k @ x)."""
    inputs = ["x: [D]"] + [f"W{k}: [D, D]" for k in range(1, n + 1)]
    return _spec(f"fanout{n}", inputs,
                 [f"b{k} = tanh(W{k} @ x)" for k in range(1, n + 1)] + _gather(n))


def wide(n: int) -> str:
    """One node h = sigmoid(W @ x) with n consumers b_k = tanh(V_k @ h)."""
    inputs = ["x: [D]", "W: [D, D]"] + [f"V{k}: [D, D]" for k in range(1, n + 1)]
    return _spec(f"wide{n}", inputs, ["h = sigmoid(W @ x)"]
                 + [f"b{k} = tanh(V{k} @ h)" for k in range(1, n + 1)] + _gather(n))


def _index(text: str, closed: bool = True):
    return derive_index(build_graph(loads(text)), closed)


def _unify_calls(monkeypatch, text: str) -> int:
    calls = [0]
    real = indexed.unify

    def counting(*args):
        calls[0] += 1
        return real(*args)
    monkeypatch.setattr(indexed, "unify", counting)  # its recursion goes through the global
    _index(text)
    monkeypatch.setattr(indexed, "unify", real)
    return calls[0]


@pytest.mark.parametrize("family", [fanout, wide], ids=["fanout", "wide"])
def test_namer_unify_calls_grow_linearly_with_fan_out(monkeypatch, family):
    small = _unify_calls(monkeypatch, family(32))
    large = _unify_calls(monkeypatch, family(64))
    assert small > 0  # the Namer does name forward values here: the count means something
    assert large / small <= 2.5, (small, large)


def test_namer_still_names_each_branch_by_its_own_node():
    """Keyed finer, the Namer must still find every branch: b_k's adjoint reads b_k, not W_k @ x."""
    d = _index(fanout(3))
    for k in (1, 2, 3):
        names = {str(a) for a in d.adjoints[f"W{k}"].expr.atoms(indexed.Indexed)}
        assert any(n.startswith(f"$b{k}[") for n in names), names
        assert not d.adjoints[f"W{k}"].expr.atoms(indexed.AxisFunction) and \
            "tanh" not in str(d.adjoints[f"W{k}"].expr)


def test_closed_form_too_big_is_not_built(monkeypatch):
    """x's adjoint sums 24 branch adjoints: with their closed forms it is far past
    EXPAND_LIMIT, so it gets no closed form and substitution never starts on it."""
    seen = []
    real = reverse.substitute_all

    def recording(e, table, ctx):
        seen.append(e)
        return real(e, table, ctx)
    monkeypatch.setattr(reverse, "substitute_all", recording)
    d = _index(fanout(24))
    x = d.adjoints["x"]
    assert x.closed is None
    assert not any(e is x.expr for e in seen)
    assert seen  # the small closed forms (the branches') were built


@pytest.mark.parametrize("n", [4, 5, 6])
def test_closed_form_near_the_limit_is_measured_built(n):
    """Near the limit the estimate does not decide: at 5 branches the pieces add up to
    161 nodes but SymPy flattens the built form to 156, which is kept (as before the
    estimate existed); at 6 the built form passes the limit."""
    x = _index(fanout(n)).adjoints["x"]
    assert (x.closed is None) == (n == 6)


def test_closed_form_under_the_limit_is_built():
    """The control: with two branches x's closed form is small and is built."""
    d = _index(fanout(2))
    x = d.adjoints["x"]
    assert x.closed is not None
    assert not any(str(a).startswith("$∂") for a in x.closed.free_symbols)


def test_substitute_all_replaces_several_adjoints_in_one_walk():
    """One walk with two keys gives what two walks with one key each give."""
    d = _index(fanout(2), closed=False)
    ctx = d.ctx
    e = d.adjoints["x"].expr
    table = {ctx.adjoint_keys[n]: (ctx.element(f"W{n[-1]}", d.adjoints[n].idx),
                                   d.adjoints[n].idx) for n in ("b1", "b2")}
    one = indexed.substitute_all(e, table, ctx)
    two = e
    for key, (value, free) in table.items():
        two = indexed.substitute_indexed(two, key, value, free, ctx)
    assert one != e
    norm = [indexed.rename(x, ctx, d.adjoints["x"].idx, d.adjoints["x"].idx) for x in (one, two)]
    assert norm[0] == norm[1]


# -- the closed-form pass and verify (issue 18, -f numpy and verify) --------------------------


def _derived(text: str):
    from einderive.derivation import derive
    return derive(loads(text))


def test_the_forward_nodes_lookups_are_built_once_per_derivation(monkeypatch):
    """Every adjoint form is simplified and reused against the forward nodes: their lookups
    (node -> form, form -> node, the forms filed by operand) are built once, not per form
    (per form, the pass was quadratic in the nodes)."""
    from einderive import reuse, simplify
    built = {"parts": 0, "forms": 0}
    real_parts, prop = reuse._parts, simplify.ForwardForms.__dict__["forms"]
    real_forms = prop.func

    def parts(named):
        built["parts"] += 1
        return real_parts(named)

    def forms(self):
        built["forms"] += bool(self)  # the forward pass's own forms read no nodes yet
        return real_forms(self)
    monkeypatch.setattr(reuse, "_parts", parts)
    monkeypatch.setattr(prop, "func", forms)
    d = _derived(wide(6))
    assert d.gradient("x").form.matrix is not None  # the adjoints were read in matrix form
    assert built == {"parts": 1, "forms": 1}


@pytest.mark.parametrize("family", [fanout, wide], ids=["fanout", "wide"])
def test_verify_closed_forms_code_grows_linearly(family):
    """verify's closed forms are one function that runs the forward pass once: a function
    per gradient repeated it, so the code (and its compile and run time) was quadratic."""
    from einderive.render.pymodule import closed_forms_module
    small, large = (closed_forms_module(_derived(family(n))).count("\n") for n in (3, 6))
    assert small > 0  # closed forms are printed here, so there is code to measure
    assert large / small <= 2.2, (small, large)


def chain(n: int) -> str:
    """n layers h_k = sigmoid(W_k @ h_{k-1})."""
    inputs = ["h0: [D]"] + [f"W{k}: [D, D]" for k in range(1, n + 1)]
    forward = [f"h{k} = sigmoid(W{k} @ h{k - 1})" for k in range(1, n + 1)]
    return _spec(f"chain{n}", inputs, forward + [f"L = sum(h{n} * h{n})"])


def _calls(monkeypatch, module, name, family, sizes):
    """How often ``module.name`` is called (recursive calls too) deriving ``family(n)``,
    for each n of ``sizes``."""
    visits = []
    real = getattr(module, name)

    def counting(*args):
        visits.append(1)
        return real(*args)
    monkeypatch.setattr(module, name, counting)
    counts = []
    for n in sizes:
        visits.clear()
        _derived(family(n))
        counts.append(len(visits))
    return counts


def test_matrix_closed_forms_down_a_chain_stay_bounded(monkeypatch):
    """The matrix-level closed forms substitute the upstream adjoints' closed forms: down a
    chain each is larger than the one before, so, kept and simplified whatever their size,
    the simplifier's work grew with the square of the depth (chain 64 in -f numpy went from
    1.8 s to 11 s).  Past closed.SUBSTITUTED_LIMIT a form is neither simplified nor built on,
    so the simplifier visits a number of nodes linear in the depth."""
    from einderive import simplify
    counts = _calls(monkeypatch, simplify, "_pass", chain, (16, 32))
    assert counts[1] / counts[0] <= 2.2, counts  # without the limit: 5975 -> 14951


def test_closed_forms_are_written_out_in_one_walk(monkeypatch):
    """An adjoint of n terms names n upstream adjoints; writing each out with a walk of its
    own made the matrix-level closed forms of a wide graph cost n² (wide 256 in -f numpy
    went from 6.5 s to 9.8 s); one walk with a table visits a number of nodes linear in n."""
    from einderive import matrix as mx
    counts = _calls(monkeypatch, mx, "substitute_all", wide, (16, 32))
    assert counts[0] > 0 and counts[1] / counts[0] <= 2.3, counts


def _quotient_splits(monkeypatch, text: str) -> int:
    from einderive import reuse
    from einderive.derivation import derive
    calls = [0]
    real = reuse._quotient

    def counting(form):
        calls[0] += 1
        return real(form)
    monkeypatch.setattr(reuse, "_quotient", counting)
    derive(loads(text), closed=True)
    monkeypatch.setattr(reuse, "_quotient", real)
    return calls[0]


@pytest.mark.parametrize("family", [fanout, wide], ids=["fanout", "wide"])
def test_named_quotients_are_split_once_per_derivation(monkeypatch, family):
    """Every adjoint's form looks for the named quotients (batch norm's X̂ = Xc ⊘ √(var + ε));
    splitting every named form again for each adjoint made N adjoints × N nodes."""
    small = _quotient_splits(monkeypatch, family(16))
    large = _quotient_splits(monkeypatch, family(32))
    assert small > 0
    assert large / small <= 2.5, (small, large)
