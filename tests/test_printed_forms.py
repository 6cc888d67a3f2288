"""The printed text is proven: every equation `einderive derive` prints (forward forms, adjoints
in index and matrix form, the `where` helpers, the gradients) is read back by an independent
reader (tests/notation_reader.py), evaluated with NumPy at random inputs, and compared with the
reference (PyTorch autograd of an independent forward pass; without torch, the forward values and
finite-difference gradients of the inputs).
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings

import numpy as np
import pytest
import torch_reference as R
from conftest import SPEC_FILES
from notation_reader import Env, ReaderError
from printed import entries
from spec_strategies import valid_specs

settings.register_profile("ci", max_examples=10, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

MODELS = sorted((Path(__file__).parent / "models").glob("*.yaml"))
REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.yaml"))

# Known defects, one line each (a spec for each in tests/regressions); strict so a fix shows up.
XFAIL: dict[str, str] = {
    # verify checks these forms numerically (index, matrix and closed all pass)
    "cost_of_a_per_element_temporary":
        "the test reader reads an axis function's argument as a matrix form: n_ijl = "
        "min(X_ijkl − m_ik, axis=2)_ijl (an index form inside min) is refused (stop 39)",
}


def env_for(d, ref) -> Env:
    g = d.graph
    shapes = {t.name: t.shape for t in g.tensors if t.kind != "anon"}
    integers = {t.name: t.integer for t in g.inputs if t.integer is not None}
    # the letters follow the order of dims the spec wrote (README): a dim defined by others
    # (TD: T * D, before V and D) keeps its place there, where the reference sizes it later
    order = [d for d, _ in g.dims if d in ref.sizes]
    sizes = {d: ref.sizes[d] for d in order + [d for d in ref.sizes if d not in order]}
    return Env(shapes, sizes, ref.values, ref.adjoints, g.loss, integers)


def with_temporaries(d, env: Env, lines) -> Env:
    """``env`` knowing the temporaries the where-clauses define (t1 = reshape(permute(…))),
    each read from its printed definition (its dims from the derivation), so that the lines
    using them, and the definitions themselves, check against the reference."""
    from einderive.matrix import BatchSum, Each, Ref
    from notation_reader import MatrixEval, read
    # the chain forms' where-clauses and (``derive --expand``) the closed forms' own
    wheres = [w for a in d.adjoints for f in (a.form, a.closed) if f is not None
              for w in f.wheres]
    # (a batch sum's dims are those it adds up: t1 = Σ_m h4_mᵀ ⊘ (…) is N×K, its Ref says)
    dims = {w.lhs.name: w.rhs.dims for w in wheres
            if hasattr(w.rhs, "dims") and hasattr(w.lhs, "name") and
            not isinstance(w.rhs, (Each, BatchSum))}
    # a per-element temporary (t1_b = Z_b w): the whole tensor, read element by element
    each = {f"{w.lhs.name}_{''.join(w.rhs.names)}": (w.lhs.name, w.rhs.names, w.rhs.spec,
                                                      w.rhs.at, w.lhs.shape)
            for w in wheres if isinstance(w.rhs, Each) and isinstance(w.lhs, Ref)}
    # and a chain form's named parts (t1 = softmax((1/2) X Wq Wkᵀ Xᵀ), read t1_b per
    # element): the whole tensor, its batch axes leading, or where they stand (t2 = 2 t1 of
    # t1: B×CRR×H×W_, read t2_bh: its axes 0 and 2)
    dims.update({w.lhs.name: _whole_shape(w.lhs) for w in wheres
                 if isinstance(w.lhs, Ref) and w.lhs.name not in dims and
                 (not hasattr(w.rhs, "dims") or isinstance(w.rhs, BatchSum)) and
                 not w.lhs.missing})
    # each where-line's name -> the tensor it defines (t1_b: t1), and those defined here
    # (not a tensor of the spec that a name takes), which a block reads only when its own
    # clauses define them (:func:`_read_back`)
    env.where_names = {**{n: n for n in dims}, **{n: e[0] for n, e in each.items()}}
    env.temporaries = set()
    for section, line in lines:
        name = line.split(" = ", 1)[0]
        if section == "where" and name in env.where_names and \
                env.where_names[name] not in env.values:
            env.temporaries.add(env.where_names[name])
        if section == "where" and name in each and each[name][0] not in env.values:
            base, letters, shape, at, element = each[name]
            ev = MatrixEval(env)
            ev.batch = tuple(letters)
            x = ev.ev(read(line)[1])  # the batch axes first, then the element's
            first = [shape[a] for a in at] + [x for n, x in enumerate(shape) if n not in at]
            sizes = [env.dims[x] for x in first]
            # a 𝟏 (t2_j = (2/To) V (Vᵀ p_j − Tg_j) 𝟏ᵀ) is as long as the element's axis
            v = np.broadcast_to(x.v, sizes) if x.ones or x.is_ones else x.v
            v = np.moveaxis(np.reshape(v, sizes),
                            range(len(at)), list(at))
            if 1 in element:  # a column or row of each element (t1_b = Z_b w: D×1)
                env.spec_shapes = {**getattr(env, "spec_shapes", {}), base: tuple(shape)}
                v, shape = np.expand_dims(v, -1 - element[::-1].index(1)), (*shape, 1)
            env.values[base] = v
            env.shapes[base] = tuple(shape)
            continue
        if section == "where" and name in dims and name not in env.values:
            # a pad or a 𝟏 in it (t1 = 𝟏 (p − y)ᵀ Wcᵀ) is as long as the temporary's axis
            whole = tuple(x if isinstance(x, int) else env.dims.get(x) for x in dims[name])
            target = whole if None not in whole and len(whole) >= 2 else None
            x = MatrixEval(env, target).ev(read(line)[1])
            env.values[name] = np.broadcast_to(x.v, target) if target and \
                (x.ones or x.is_ones) else x.v
            env.shapes[name] = tuple(dims[name])
    return env


def _whole_shape(ref) -> tuple:
    """The dims of the whole tensor a named part ``ref`` (t2_bh) is an element of: its batch
    dims at their axes ``at`` (leading where it says none), its element's dims in between."""
    if not ref.at:
        return tuple(ref.batch) + tuple(ref.shape)
    whole = list(ref.shape)
    for axis, dim in sorted(zip(ref.at, ref.batch)):
        whole.insert(axis, dim)
    return tuple(whole)


def printed_text(d, run, path, expand: bool = False) -> str:
    r = run("derive", path, *(["--expand"] if expand else []))
    assert r.exit_code == 0, r.output
    return r.output


def failures(path, run, expand: bool = False, only: tuple[str, ...] = ()) -> list[str]:
    """Every printed equation of ``path`` that does not read back to the reference; with
    ``expand``, of ``derive --expand`` (the closed forms too); ``only``: of those sections
    ('closed': the closed forms alone, the other lines being read without ``expand``)."""
    from einderive.api import derive_file
    d = derive_file(str(path))
    ref = _finite_reference(d.graph)
    text = printed_text(d, run, path, expand)
    blocks: list[int] = []
    found = entries(text, expand, blocks)
    env = with_temporaries(d, env_for(d, ref), found)
    assert found, "no equations found in the printed derivation"
    return _read_back(env, found, only, blocks)


def _read_back(env: Env, found, only: tuple[str, ...] = (),
               blocks: list[int] | None = None) -> list[str]:
    """The entries ``found`` (of ``only`` those sections) that do not read back to ``env``'s
    reference, each as ``[section] why``; the words of an omitted closed form are no
    equation.  With ``blocks`` (each entry's block, :func:`printed.entries`) each block
    reads only the temporaries its own where-clauses define: one that reads a name another
    block defines (∂L/∂b's t3 = σ'(A t2 + b), no t2 in its block) does not read back."""
    bad = []
    temporaries = getattr(env, "temporaries", set())
    names = getattr(env, "where_names", {})
    defines: dict[int, set[str]] = {}
    for k, (section, line) in zip(blocks or (), found):
        name = line.split(" = ", 1)[0]
        # (a named part read per element, t1_b = softmax(…), defines the whole t1)
        name = names.get(name, name.split("_", 1)[0])
        if section == "where" and name in temporaries:
            defines.setdefault(k, set()).add(name)
    for n, (section, line) in enumerate(found):
        if section == "omitted" or (only and section not in only):
            continue
        hidden = {} if blocks is None else {
            t: env.values.pop(t) for t in temporaries - defines.get(blocks[n], set())
            if t in env.values}
        try:
            env.check(line)
        except ReaderError as exc:
            if not _unknown_without_torch(exc):
                bad.append(f"[{section}] {exc}")
        finally:
            env.values.update(hidden)
    return bad


def _finite_reference(graph, seed: int = 1, tries: int = 16):
    """The reference at the first of ``tries`` seeds from ``seed`` where every value is
    finite, as verify checks at the next seed's point (logdet(A @ X @ B) of a negative
    determinant at the first); the first seed's where none is (a spec outside its domain)."""
    for k in range(seed, seed + tries):
        ref = R.reference(graph, seed=k)
        if all(np.all(np.isfinite(v)) for v in ref.values.values()):
            return ref
    return R.reference(graph, seed=seed)


def _unknown_without_torch(exc) -> bool:
    """Without torch only the inputs' gradients are known (finite differences): a line that
    needs a node's adjoint is then not checked."""
    return R.torch is None and str(exc).startswith("no reference adjoint")


def _cases(paths, known: dict[str, str] = XFAIL):
    """Each spec a case, a known defect (``known``: stem -> reason) a strict xfail."""
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}",
                         marks=pytest.mark.xfail(strict=True, reason=known[p.stem]))
            if p.stem in known else pytest.param(p, id=f"{p.parent.name}/{p.stem}")
            for p in paths]


@pytest.mark.parametrize("path", _cases(SPEC_FILES + MODELS + REGRESSIONS))
def test_printed_forms_read_back_to_the_reference(path, run):
    bad = failures(path, run)
    assert not bad, "\n".join(bad)


MORE = sorted((Path(__file__).parent / "models" / "more").glob("*.yaml"))
# always: the forms the reader learnt to read there (onehot of rank-2 tokens, stacked and
# concatenated positions); all of tests/models/more with EINDERIVE_MORE_MODELS=1
MORE_ALWAYS = ("embed_rank3_tokens", "concat_stack_mix", "stack_transpose_linear",
               "negative_powers")


@pytest.mark.parametrize("path", _cases(
    [p for p in MORE if os.environ.get("EINDERIVE_MORE_MODELS") or p.stem in MORE_ALWAYS]))
def test_more_printed_forms_read_back_to_the_reference(path, run):
    bad = failures(path, run)
    assert not bad, "\n".join(bad)


ALL_MORE = sorted((Path(__file__).parent / "models").glob("more*/*.yaml"))
# always: a σ' helper of a form written per element (σ'(Y_i) = σ(Y_i) ⊙ (1 − σ(Y_i))); every
# spec of tests/models/more*/ with EINDERIVE_MORE_MODELS=1
WHERE_ALWAYS = ("broadcast_rank3",)


@pytest.mark.parametrize("path", [
    pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in ALL_MORE
    if os.environ.get("EINDERIVE_MORE_MODELS") or p.stem in WHERE_ALWAYS])
def test_where_clauses_read_back_as_their_forms_use_them(path, run):
    """Every printed where-clause reads back to the reference: its sides type as the form
    that uses it reads them (per element inside Σ_b or a form of each element: σ'(W2ᵀ x)
    with x of B×N was printed for σ'(W2ᵀ x_b), and did not type)."""
    bad = [b for b in failures(path, run) if b.startswith("[where]")]
    assert not bad, "\n".join(bad)


def text_failures(text: str, expand: bool = False) -> list[str]:
    """The printed equations of the spec ``text`` that do not read back; with ``expand``,
    as ``derive --expand`` prints them (the closed forms too)."""
    from einderive.derivation import derive
    from einderive.render.terminal import Options, plain
    from einderive.spec import loads
    d = derive(loads(text, "random.yaml"))
    ref = R.reference(d.graph, seed=1)
    # a random point outside the spec's domain (a log of a negative value) proves nothing
    assume(all(np.all(np.isfinite(v)) for v in ref.values.values()))
    blocks: list[int] = []
    found = entries(plain(d, Options(expand=expand)), expand, blocks)
    # the where-temporaries (t1 = σ(…)) as the spec files' check reads them
    env = with_temporaries(d, env_for(d, ref), found)
    return _read_back(env, found, blocks=blocks)


@given(valid_specs(avoid_known=True, new_ops=False))  # the new ops move the draws onto the
# test reader's known limit ("logsumexp of an expression with a subscript")
def test_random_specs_print_what_they_compute(text):
    """Random specs read back to torch autograd; rank-3 tensors with literal-1 axes are left
    out (spec_strategies.KNOWN_DEFECT_SHAPES): a keepdims total of one prints as
    ``einsum('abc->', h1)²``, which reads, but not yet as a plain scalar."""
    bad = text_failures(text, expand=True)
    assert not bad, text + "\n" + "\n".join(bad)


@given(valid_specs(avoid_known=True, new_ops=False, structure=True))
def test_random_structured_specs_print_what_they_compute(text):
    """Random specs with slices, concatenations, reshapes, lookups at labels, batched products
    with part-batch factors or a vector (per-element temporaries) and symmetric inputs read
    back to torch autograd through their pad, slice, reshape, onehot and per-element lines."""
    bad = text_failures(text, expand=True)
    assert not bad, text + "\n" + "\n".join(bad)


def test_a_squared_divisor_is_written_once(run):
    """Σ_i y_i / x_i² (Einstein: i twice) was printed y_i / x_i x_i, i three times, read as
    (y_i / x_i) x_i: a square is written doubled only where it is a factor (e_i e_i), and a
    divisor's index counts once."""
    path = Path(__file__).parent / "models" / "more" / "negative_powers.yaml"
    out = run("derive", path).output
    assert "+ y_i / x_i²" in out and "x_i x_i" not in out
    latex = run("derive", path, "--latex", "--standalone").output
    assert r"\frac{y_{i}}{{x_{i}}^{2}}" in latex


# -- the reader can fail: damaged printed lines are caught -------------------------------------

PICK_DAMAGE = [  # specs/embedding_lm_head.yaml: an element picked by an integer input, onehot
    ("X_ik = E_(tokens_i,k)", "X_ik = E_(labels_i,k)"),
    ("X = onehot(tokens) E", "X = onehot(labels) E"),
    ("∂L/∂P_ij = −(1/T) δ_(j,labels_i)", "∂L/∂P_ij = −(1/T) δ_(j,tokens_i)"),
    ("∂L/∂E = onehot(tokens)ᵀ ∂L/∂X", "∂L/∂E = onehot(labels)ᵀ ∂L/∂X"),
    ("L = −(1/T) P_(i,labels_i)", "L = −(1/T) P_(i,tokens_i)"),
]


def _reads_good_rejects_bad(d, good: str, bad: str) -> None:
    """The reader reads the printed line ``good`` of ``d`` back to the reference and
    rejects the damaged ``bad``: each damage test's check, written once."""
    env = env_for(d, R.reference(d.graph, seed=1))
    env.check(good)
    with pytest.raises(ReaderError):
        env.check(bad)


@pytest.mark.parametrize("good,bad", PICK_DAMAGE, ids=[b for _, b in PICK_DAMAGE])
def test_the_reader_catches_damage_in_picked_elements(good, bad):
    from einderive.api import derive_file
    d = derive_file(str(Path(__file__).resolve().parent.parent / "specs" /
                        "embedding_lm_head.yaml"))
    _reads_good_rejects_bad(d, good, bad)


ONES_DAMAGE = [  # a 𝟏 sized by the left side, the subscript's letters or the sum's other term
    ("softmax_of_zero", "h0 = softmax(0 𝟏)", "h0 = softmax(0 𝟏) + 𝟏"),
    ("softmax_of_zero", "h0_i = softmax(0 𝟏)_i", "h0_i = 2 softmax(0 𝟏)_i"),
    ("logsumexp_over_batch_axis",
     "L = ‖logsumexp(X, axis=0)‖_F² + einsum('ijk,ik->', X + einsum('ijk,ik->ijk', 𝟏, "
     "−einsum('iak->ik', M)), einsum('iak->ik', V))",
     "L = ‖logsumexp(X, axis=0)‖_F² + einsum('ijk,ik->', X + einsum('ijk,ik->ijk', 𝟏, "
     "einsum('iak->ik', M)), einsum('iak->ik', V))"),
    # a logsumexp along a column's long axis, in an index form: one number (seed 37)
    ("log_softmax_of_a_column", "h2_i = σ(x0_i) − logsumexp(σ(x0), axis=0)",
     "h2_i = σ(x0_i) − logsumexp(x0, axis=0)"),
]


@pytest.mark.parametrize("stem,good,bad", ONES_DAMAGE, ids=[b for _, _, b in ONES_DAMAGE])
def test_the_reader_sizes_ones_and_catches_damage(stem, good, bad):
    from einderive.api import derive_file
    d = derive_file(str(Path(__file__).parent / "regressions" / f"{stem}.yaml"))
    _reads_good_rejects_bad(d, good, bad)


MLP_DAMAGE = [
    ("∂L/∂W = ∂L/∂z xᵀ", "∂L/∂W = x ∂L/∂zᵀ"),  # a transpose in the wrong place
    ("∂L/∂y = −2 e", "∂L/∂y = 2 e"),  # a sign
    ("∂L/∂x = Wᵀ ∂L/∂z", "∂L/∂x = W ∂L/∂z"),  # a dropped transpose
    ("∂L/∂x_j = W_ij ∂L/∂z_i", "∂L/∂x_j = W_ji ∂L/∂z_i"),  # swapped indices
    ("∂L/∂W_ij = ∂L/∂z_i x_j", "∂L/∂W_ij = ∂L/∂z_j x_i"),
    ("∂L/∂z = ∂L/∂y ⊙ σ'(z)", "∂L/∂z = ∂L/∂y ⊙ σ(z)"),
    ("σ'(z) = y ⊙ (1 − y)", "σ'(z) = y ⊙ 1 − y"),  # a dropped bracket
    ("L = e_i e_i", "L = e_i e_j"),  # an index written once
]


@pytest.mark.parametrize("good,bad", MLP_DAMAGE, ids=[b for _, b in MLP_DAMAGE])
def test_the_reader_catches_damage(good, bad):
    from einderive.api import derive_file
    spec = Path(__file__).resolve().parent.parent / "specs" / "mlp.yaml"
    d = derive_file(str(spec))
    _reads_good_rejects_bad(d, good, bad)


ATTENTION_DAMAGE = [
    ("∂L/∂S = P ⊙ (∂L/∂P − rowsum(∂L/∂P ⊙ P))", "∂L/∂S = P ⊙ ∂L/∂P − rowsum(∂L/∂P ⊙ P)"),
    ("∂L/∂S = P ⊙ (∂L/∂P − rowsum(∂L/∂P ⊙ P))", "∂L/∂S = P ⊙ (∂L/∂P − colsum(∂L/∂P ⊙ P))"),
    ("∂L/∂S_ij = P_ij (∂L/∂P_ij − Σ_j′ ∂L/∂P_ij′ P_ij′)",
     "∂L/∂S_ij = P_ij (∂L/∂P_ij − Σ_j′ ∂L/∂P_ij P_ij′)"),
    ("∂L/∂K = s·∂L/∂Sᵀ Q", "∂L/∂K = s·∂L/∂S Q"),
]


@pytest.mark.parametrize("good,bad", ATTENTION_DAMAGE, ids=[b for _, b in ATTENTION_DAMAGE])
def test_the_reader_catches_damage_in_attention(good, bad):
    from einderive.api import derive_file
    spec = Path(__file__).resolve().parent.parent / "specs" / "attention.yaml"
    d = derive_file(str(spec))
    _reads_good_rejects_bad(d, good, bad)


INDEX_ARGUMENT_DAMAGE = [  # softmax of an argument in index form: its axis is the last letter
    ("a_ij = softmax(Σ_k q_k X_ijk)_ij", "a_ij = softmax(Σ_k q_k X_ijk, axis=0)_ij"),
    ("a_ij = softmax(Σ_k q_k X_ijk)_ij", "a_ij = softmax(Σ_k q_k X_ikj)_ij"),
    ("a_ij = softmax(Σ_k q_k X_ijk)_ij", "a_ij = softmax(Σ_k q_k X_ijk)_ji"),
]


@pytest.mark.parametrize("good,bad", INDEX_ARGUMENT_DAMAGE,
                         ids=[b for _, b in INDEX_ARGUMENT_DAMAGE])
def test_the_reader_catches_damage_in_a_softmax_of_an_index_form(good, bad):
    from einderive.api import derive_file
    d = derive_file(str(Path(__file__).parent / "regressions" / "softmax_of_batched_matvec.yaml"))
    _reads_good_rejects_bad(d, good, bad)


_W1 = ("∂L/∂W1_jk = (1/(3 B)) Σ_i (softmax(X W1)_(i,lab_i) − δ_(k,lab_i)) X_ij "
       "softmax(X W1)_ik / Pm_(i,lab_i)")
PICKED_FUNCTION_DAMAGE = [  # a function of an expression at an integer input's element
    (_W1, _W1.replace("(softmax(X W1)_(i,lab_i)", "(softmax(X W2)_(i,lab_i)")),
    (_W1, _W1.replace("(softmax(X W1)_(i,lab_i)", "(softmax(X W1)_(i,k)")),
    (_W1, _W1.replace("(softmax(X W1)_(i,lab_i)", "(softmax(X W1, axis=0)_(i,lab_i)")),
]


@pytest.mark.parametrize("good,bad", PICKED_FUNCTION_DAMAGE,
                         ids=["other weight", "not picked", "other axis"])
def test_the_reader_catches_damage_in_a_picked_function_of_an_expression(good, bad):
    from einderive.api import derive_file
    d = derive_file(str(Path(__file__).parent / "regressions" /
                        "cost_of_a_picked_index_form.yaml"))
    _reads_good_rejects_bad(d, good, bad)


_X = "∂L/∂X_ijk = 2 Σ_k′ W_kk′ logsumexp(Z, axis=1)_ik′ softmax(Z, axis=1)_ijk′"
NARROWER_LETTER_DAMAGE = [  # k′ over the first piece's D of Z's D2: its first elements
    (_X, _X.replace("logsumexp(Z, axis=1)_ik′", "logsumexp(Z, axis=1)_{i, k′ + D}")),
    (_X, _X.replace("softmax(Z, axis=1)_ijk′", "softmax(Z, axis=2)_ijk′")),
    (_X, _X.replace("W_kk′", "W_k′k")),
]


@pytest.mark.parametrize("good,bad", NARROWER_LETTER_DAMAGE,
                         ids=["other piece", "other axis", "transposed"])
def test_the_reader_catches_damage_in_a_function_read_over_part_of_its_axis(good, bad):
    from einderive.api import derive_file
    d = derive_file(str(Path(__file__).parent / "regressions" /
                        "reduced_function_of_joined_axis.yaml"))
    _reads_good_rejects_bad(d, good, bad)


_LOOKUP = "X_ik = E_(tok_{i, ⌊k/D⌋},k mod D)"
LOOKUP_DAMAGE = [  # a lookup at a digit of a merged axis: tok's element at computed indices
    (_LOOKUP, "X_ik = E_(tok_{⌊k/D⌋, i},k mod D)"),
    (_LOOKUP, "X_ik = E_(tok_{i, k mod T},k mod D)"),
    (_LOOKUP, "X_ik = E_(tok_{i, ⌊k/D⌋},⌊k/T⌋)"),
    # the adjoint's scatter row by row: a number per sequence b times each one's matrix
    (_SCATTER := "∂L/∂E = Σ_b (1 − tanh(wᵀ X_b)²)·onehot(tok_b)ᵀ reshape(w, [T, D])",
     "∂L/∂E = Σ_b (1 − tanh(wᵀ X_b))·onehot(tok_b)ᵀ reshape(w, [T, D])"),
    (_SCATTER, "∂L/∂E = Σ_b (1 − tanh(wᵀ X_b)²)·onehot(tok_b)ᵀ reshape(2 w, [T, D])"),
]


@pytest.mark.parametrize("good,bad", LOOKUP_DAMAGE, ids=["swapped", "other digit", "column",
                                                         "scatter power", "scatter factor"])
def test_the_reader_catches_damage_in_a_lookup_at_computed_indices(good, bad):
    from einderive.api import derive_file
    d = derive_file(str(Path(__file__).parent / "regressions" / "lookup_reshaped.yaml"))
    _reads_good_rejects_bad(d, good, bad)


SLICE_DAMAGE = [  # tests/regressions/slice_pad_concatenate.yaml: printed, then damaged
    ("∂L/∂xt_ki = ∂L/∂a_{k − K, i} 𝟙[K ≤ k < N]", "∂L/∂xt_ki = ∂L/∂a_{k − K, i}"),  # no range
    ("∂L/∂xt_ki = ∂L/∂a_{k − K, i} 𝟙[K ≤ k < N]",
     "∂L/∂xt_ki = ∂L/∂a_{k + K, i} 𝟙[K ≤ k < N]"),  # a shift's sign
    ("∂L/∂xt = pad(∂L/∂a, K:N, axis=0)", "∂L/∂xt = pad(∂L/∂a, 0:M, axis=0)"),  # the offset
    ("∂L/∂x = pad(∂L/∂y, 0:K, axis=1) + slice(∂L/∂c, :, K:K + N)",
     "∂L/∂x = pad(∂L/∂y, 0:K, axis=1) + slice(∂L/∂c, :, 0:N)"),
    ("∂L/∂z = 2 slice(c, :, 0:K) + 2 z", "∂L/∂z = 2 slice(c, :, N:K + N) + 2 z"),
    ("∂L/∂x_ik = ∂L/∂c_{i, k + K} + ∂L/∂y_ik 𝟙[0 ≤ k < K]",
     "∂L/∂x_ik = ∂L/∂c_{i, k + K} + ∂L/∂y_ik"),  # y read past its axis, no range
]


@pytest.mark.parametrize("good,bad", SLICE_DAMAGE, ids=[b for _, b in SLICE_DAMAGE])
def test_the_reader_catches_damage_in_slices_and_pads(good, bad):
    """The reader evaluates pad, slice and 𝟙 as a person reads them: a dropped range, a
    wrong shift or a wrong bound changes the number."""
    from einderive.api import derive_file
    d = derive_file(str(Path(__file__).parent / "regressions" / "slice_pad_concatenate.yaml"))
    _reads_good_rejects_bad(d, good, bad)
