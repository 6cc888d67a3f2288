"""Compositions written on one line and the same computation split into named nodes.

Each pair shares its dims, inputs and loss; ``one`` and ``split`` are the forward items.
:func:`closed_forms` prints every input gradient's closed form with the split spec's own
intermediates written out, so that the two specs' forms can be compared as text."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from einderive import matrix as mx
from einderive.derivation import Derivation, derive
from einderive.kinds import RefKind
from einderive.render.styles import Unicode
from einderive.recognize import Where, node_ref, transpose_deep
from einderive.record import replace
from einderive.reuse import Named, reusable, reuse
from einderive.simplify import rebuild, simplify
from einderive.spec import loads, symmetric_inputs


class Pair(NamedTuple):
    name: str
    header: str  # dims and inputs
    one: tuple[str, ...]
    split: tuple[str, ...]
    loss: str = "L"

    def spec(self, which: str) -> str:
        items = self.one if which == "one" else self.split
        body = "".join(f"  - \"{line}\"\n" for line in items)
        return f"{self.header}forward:\n{body}loss: {self.loss}\n"


MLP = """dims: {B: 5, D: 3, H: 4, C: 2}
inputs:
  X: [B, D]
  W1: [H, D]
  b1: [H]
  W2: [C, H]
  b2: [C]
  Y: [B, C]
"""

GRU = """dims: {B: 2, D: 3, H: 5}
inputs:
  X: [B, D]
  Hp: [B, H]
  Wz: [H, D]
  Uz: [H, H]
  bz: [H]
  Wr: [H, D]
  Ur: [H, H]
  br: [H]
  Wh: [H, D]
  Uh: [H, H]
  bh: [H]
  G: [B, H]
"""

LSTM = """dims: {D: 3, H: 4}
inputs:
  x: [D]
  h: [H]
  c: [H]
  Wi: [H, D]
  Ui: [H, H]
  Wf: [H, D]
  Uf: [H, H]
  Wo: [H, D]
  Uo: [H, H]
  Wg: [H, D]
  Ug: [H, H]
  g: [H]
"""

PAIRS: tuple[Pair, ...] = (
    Pair("swiglu", "dims: {B: 2, D: 3, F: 4}\ninputs:\n  X: [B, D]\n  W1: [F, D]\n"
         "  W3: [F, D]\n  T: [B, F]\n",
         ("A = silu(X @ W1.T) * (X @ W3.T)", "L = sum(A * T)"),
         ("G = X @ W1.T", "U = X @ W3.T", "A = silu(G) * U", "L = sum(A * T)")),
    Pair("pca", "dims: {N: 5, D: 4, K: 2}\ninputs:\n  X: [N, D]\n  W: [D, K]\n",
         ("R = X - X @ W @ W.T", "L = sum(R * R)"),
         ("H = X @ W", "R = X - H @ W.T", "L = sum(R * R)")),
    Pair("relu_mlp", MLP,
         ("Z2 = relu(X @ W1.T + b1) @ W2.T + b2", "L = mean((Z2 - Y) * (Z2 - Y))"),
         ("Z1 = X @ W1.T + b1", "A1 = relu(Z1)", "Z2 = A1 @ W2.T + b2", "R = Z2 - Y",
          "L = mean(R * R)")),
    Pair("tanh_mlp", MLP,
         ("H1 = tanh(X @ W1.T + b1)", "Z2 = H1 @ W2.T + b2", "L = mean((Z2 - Y) * (Z2 - Y))"),
         ("Z1 = X @ W1.T + b1", "H1 = tanh(Z1)", "Z2 = H1 @ W2.T + b2", "R = Z2 - Y",
          "L = mean(R * R)")),
    Pair("gru", GRU,
         ("Zg = sigmoid(X @ Wz.T + Hp @ Uz.T + bz)", "Rg = sigmoid(X @ Wr.T + Hp @ Ur.T + br)",
          "Hc = tanh(X @ Wh.T + (Rg * Hp) @ Uh.T + bh)", "Hn = (1 - Zg) * Hp + Zg * Hc",
          "L = sum(G * Hn)"),
         ("Az = X @ Wz.T + Hp @ Uz.T + bz", "Zg = sigmoid(Az)",
          "Ar = X @ Wr.T + Hp @ Ur.T + br", "Rg = sigmoid(Ar)",
          "Ah = X @ Wh.T + (Rg * Hp) @ Uh.T + bh", "Hc = tanh(Ah)",
          "Hn = (1 - Zg) * Hp + Zg * Hc", "L = sum(G * Hn)")),
    Pair("lstm", LSTM,
         ("i = sigmoid(Wi @ x + Ui @ h)", "f = sigmoid(Wf @ x + Uf @ h)",
          "o = sigmoid(Wo @ x + Uo @ h)", "u = tanh(Wg @ x + Ug @ h)", "cn = f * c + i * u",
          "hn = o * tanh(cn)", "L = sum(g * hn) + sum(cn * cn)"),
         ("ai = Wi @ x + Ui @ h", "i = sigmoid(ai)", "af = Wf @ x + Uf @ h", "f = sigmoid(af)",
          "ao = Wo @ x + Uo @ h", "o = sigmoid(ao)", "ag = Wg @ x + Ug @ h", "u = tanh(ag)",
          "cn = f * c + i * u", "tc = tanh(cn)", "hn = o * tc", "L = sum(g * hn) + sum(cn * cn)")),
    Pair("quadratic", "dims: {N: 4}\ninputs:\n  x: [N]\n  A: [N, N]\n",
         ("L = x @ A @ x",),
         ("u = A @ x", "L = x @ u")),
    Pair("trace_form", "dims: {N: 4, K: 3}\ninputs:\n  X: [N, K]\n  A: [N, N]\n",
         ("L = sum(X * (A @ X))",),
         ("Y = A @ X", "L = sum(X * Y)")),
    Pair("logreg", "dims: {B: 5, D: 3}\ninputs:\n  X: [B, D]\n  w: [D]\n  y: [B]\n",
         ("L = mean(-(y * log(sigmoid(X @ w)) + (1 - y) * log(1 - sigmoid(X @ w))))",),
         ("z = X @ w", "p = sigmoid(z)", "L = mean(-(y * log(p) + (1 - y) * log(1 - p)))")),
    Pair("softmax_regression", "dims: {B: 4, D: 3, C: 5}\ninputs:\n  X: [B, D]\n  W: [D, C]\n"
         "  T: [B, C]\n",
         ("L = -mean(sum(T * log_softmax(X @ W, axis=1), axis=1))",),
         ("Z = X @ W", "S = log_softmax(Z, axis=1)", "L = -mean(sum(T * S, axis=1))")),
    Pair("residual", "dims: {B: 3, D: 4, F: 5}\ninputs:\n  X: [B, D]\n  W1: [D, F]\n"
         "  W2: [F, D]\n  T: [B, D]\n",
         ("Y = X + relu(X @ W1) @ W2", "L = sum(Y * T)"),
         ("Z = X @ W1", "A = relu(Z)", "Y = X + A @ W2", "L = sum(Y * T)")),
    Pair("bias_first", "dims: {B: 3, D: 4, H: 2}\ninputs:\n  X: [B, D]\n  W: [D, H]\n  b: [H]\n"
         "  T: [B, H]\n",
         ("L = sum(T * sigmoid(b + X @ W))",),
         ("Z = b + X @ W", "P = sigmoid(Z)", "L = sum(T * P)")),
    Pair("vector_layer", "dims: {D: 4, H: 3}\ninputs:\n  x: [D]\n  W: [H, D]\n  b: [H]\n"
         "  t: [H]\n",
         ("L = sum((tanh(W @ x + b) - t) ** 2)",),
         ("z = W @ x + b", "h = tanh(z)", "r = h - t", "L = sum(r ** 2)")),
    Pair("layernorm", "dims: {B: 3, D: 4}\ninputs:\n  X: [B, D]\n  g: [D]\n  T: [B, D]\n",
         ("Y = g * (X - mean(X, axis=1, keepdims=True)) / sqrt(mean((X - mean(X, axis=1, "
          "keepdims=True)) ** 2, axis=1, keepdims=True) + 1e-5)", "L = sum(Y * T)"),
         ("mu = mean(X, axis=1, keepdims=True)", "C = X - mu",
          "v = mean(C ** 2, axis=1, keepdims=True)", "Y = g * C / sqrt(v + 1e-5)",
          "L = sum(Y * T)")),
    Pair("low_rank", "dims: {N: 4, M: 3, K: 2}\ninputs:\n  A: [N, M]\n  U: [N, K]\n  V: [M, K]\n",
         ("L = sum((A - U @ V.T) ** 2)",),
         ("P = U @ V.T", "R = A - P", "L = sum(R ** 2)")),
    Pair("transposed_layer", "dims: {B: 3, D: 4, H: 5}\ninputs:\n  X: [B, D]\n  W: [H, D]\n"
         "  T: [H, B]\n",
         ("L = sum(T * gelu(W @ X.T))",),
         ("Z = W @ X.T", "A = gelu(Z)", "L = sum(T * A)")),
    Pair("inverse_form", "dims: {N: 3}\ninputs:\n  X: [N, N]\n  a: [N]\n  b: [N]\n",
         ("L = a @ inv(X) @ b",),
         ("Y = inv(X)", "L = a @ Y @ b")),
    Pair("logdet_gram", "dims: {N: 3, M: 5}\ninputs:\n  X: [M, N]\n",
         ("L = logdet(X.T @ X)",),
         ("G = X.T @ X", "L = logdet(G)")),
    Pair("gaussian_exponent", "dims: {N: 3}\ninputs:\n  x: [N]\n  m: [N]\n  P: [N, N]\n",
         ("L = -0.5 * (x - m) @ P @ (x - m)",),
         ("d = x - m", "L = -0.5 * d @ P @ d")),
    Pair("tied_autoencoder", "dims: {B: 4, D: 5, K: 2}\ninputs:\n  X: [B, D]\n  W: [D, K]\n",
         ("R = sigmoid(X @ W) @ W.T - X", "L = sum(R * R)"),
         ("Z = X @ W", "H = sigmoid(Z)", "R = H @ W.T - X", "L = sum(R * R)")),
)


def derivations(pair: Pair) -> tuple[Derivation, Derivation]:
    return _derived(pair.spec("one")), _derived(pair.spec("split"))


@lru_cache(maxsize=32)
def _derived(text: str) -> Derivation:
    """A spec's derivation, once: a spec is one side of each of the pairs made from it."""
    return derive(loads(text))


def written_out(d: Derivation, keep: set[str], m: mx.M) -> mx.M:
    """``m`` with every forward node of ``d`` not in ``keep`` replaced by its matrix form
    (also inside the printed definition of an anonymous intermediate)."""
    forms = {t.name: f.matrix for t, f in d.forward if t.name not in keep}
    for t, f in d.forward:  # h1 = h0, h1 kept: h0 is h1 (the one-line spec names it so)
        if t.name in keep and isinstance(f.matrix, mx.Ref) and f.matrix.name in forms:
            forms[f.matrix.name] = mx.Ref(t.name, RefKind.TENSOR, f.matrix.shape)
    for _ in range(len(forms) + 1):
        refs = [r for r in mx.walk(m) if isinstance(r, mx.Ref) and r.kind == RefKind.TENSOR
                and r.name in forms and forms[r.name] is not None]
        anons = [r for r in mx.walk(m) if isinstance(r, mx.Ref) and r.display is not None]
        if not refs and not anons:
            return m
        for r in dict.fromkeys(refs):
            row = _row(forms[r.name], r)
            m = mx.substitute(m, r, forms[r.name] if row is None else row)
        for r in dict.fromkeys(anons):
            shown = written_out(d, keep, r.display)
            if shown != r.display:
                # Refs are equal whatever they display, and a tree rebuilt around an equal
                # one keeps the old (simplify.rebuild): the anonymous intermediate is renamed
                # (its name never prints: it prints as its display)
                m = mx.substitute(m, r, replace(r, name=f"{r.name}′", display=shown))
    return m


def _row(form: mx.M, r: mx.Ref) -> mx.M | None:
    """Row b of the matrix ``form`` as a column, where ``r`` reads a node of that form so
    (``(L_s1)_b`` of L_s1 = p V is Vᵀ p_b); the element of a permutation of a tensor of three
    axes (``Y_c`` = Y[:, c, :] of Y = Xᵀ is X_c = X[:, :, c]); None where ``r`` is neither or
    the form's element has no form here (the whole form is written in, as before)."""
    if isinstance(form, mx.Transpose) and isinstance(form.x, mx.Ref):
        return _element_of_swapped(form.x, r)
    shape = tuple(form.shape)
    if not r.batch or r.at or r.missing or len(shape) != 2 or r.batch != shape[:1] or \
            tuple(r.shape) != (shape[1], 1):
        return None
    return _row_of(form, r.batch)


def _element_of_swapped(x: mx.Ref, r: mx.Ref) -> mx.M | None:
    """The element ``r`` of Y = Xᵀ, X of three axes read per element of its first: Y's axes
    are X's 0, 2, 1, so Y's element at axis p is X's at the axis Y's p stands for."""
    if len(x.batch) != 1 or x.at or x.missing or len(r.batch) != 1 or len(r.at) > 1 or \
            r.missing or len(x.shape) != 2:
        return None
    axes = (0, 2, 1)  # Y's axis k is X's axes[k]
    where = r.at[0] if r.at else 0
    at = axes[where]
    rest = [axes[k] for k in range(3) if k != where]
    el = replace(x, batch=r.batch, at=() if at == 0 else (at,),
                 shape=tuple(r.shape) if rest == sorted(rest) else tuple(reversed(r.shape)))
    return el if rest == sorted(rest) else mx.transpose(el)


def _row_of(m: mx.M, batch: tuple[object, ...]) -> mx.M | None:
    shape = tuple(m.shape)
    if len(shape) != 2 or shape[:1] != batch:
        return None
    if isinstance(m, mx.Ref) and m.kind == RefKind.TENSOR and not m.batch:
        return replace(m, shape=(shape[1], 1), batch=batch)
    if isinstance(m, mx.MatMul):
        a = _row_of(m.a, batch)
        return None if a is None else mx.matmul(mx.transpose(m.b), a)
    if isinstance(m, mx.Scale):
        x = _row_of(m.x, batch)
        return None if x is None else mx.scale(m.coeff, x)
    return None


def kept(d: Derivation, keep: set[str]) -> Named:
    """The forward nodes of ``d`` in ``keep``, as a form written in them reads them."""
    return reusable([(node_ref(t.name, t.shape, f.matrix), f.matrix) for t, f in d.forward
                     if t.name in keep])


def per_element(d: Derivation, keep: set[str], m: mx.M, read: dict[str, mx.M]) -> mx.M:
    """``m`` with each reshape node of ``d`` not in ``keep`` that it reads per element (Q_h
    of Q = reshape(Xq, [T, H, Dh])) read as a temporary defined by the node's matrix form
    (τ3_h, τ3 = reshape(Xq, [T, H, Dh])), as the engine names a reshape read per element
    (``read``: the temporaries' definitions): written out in place, an element's subscript
    would be lost (Q_hᵀ as a transpose of the whole rank-3 reshape)."""
    forms = {t.name: f.matrix for t, f in d.forward if t.name not in keep}
    table: dict[mx.M, mx.M] = {}
    for r in mx.leaves(m):
        x = forms.get(r.name)
        if r.kind != RefKind.TENSOR or not r.batch or not isinstance(x, mx.Reshape):
            continue  # (a form read per element as it stands, conv1d(X, W, b), is written in)
        name = f"{r.name}⁎"
        read[name] = x
        table[r] = replace(r, name=name)
    return mx.substitute_all(m, table) if table else m


def canonical(m: mx.M, show, loose: bool = False) -> mx.M:
    """``m`` with the choices that do not change the form undone: a constant factor in front
    of a sum multiplied into its terms (also the first sum of a product), and the terms of
    every sum and the factors of every elementwise product in the order of their text;
    ``loose`` also carries every transpose to the leaves (where it is written is then no
    longer compared)."""
    if loose and isinstance(m, mx.Transpose) and not isinstance(m.x, mx.Ref):
        deep = transpose_deep(m.x)
        if not (isinstance(deep, mx.Transpose) and deep.x == m.x):
            return canonical(deep, show, loose)
    kids = [canonical(k, show, loose) for k in m.children()]
    if isinstance(m, mx.Scale) and isinstance(m.coeff, mx.Const):
        x = kids[1]
        chain = _chain(x)
        at = next((k for k, f in enumerate(chain) if isinstance(f, mx.Add)), None)
        if at is not None:
            inner = chain[at]
            spread = mx.add(*[canonical(mx.scale(m.coeff, t), show, loose)
                             for t in inner.terms])
            parts = [*chain[:at], spread, *chain[at + 1:]]
            out = parts[0]
            for f in parts[1:]:
                out = mx.matmul(out, f)
            return canonical(out, show, loose) if out != m else out
    if isinstance(m, mx.MatMul) and m.shape == () and _shape(kids[0])[0] == 1 and \
            _shape(kids[1])[1] == 1:  # an inner product aᵀ b is bᵀ a: its vectors in text order
        a, b = sorted((mx.transpose(kids[0]), kids[1]), key=show)
        return mx.matmul(mx.transpose(a), b)
    if isinstance(m, mx.Add):
        terms = [t for k in kids for t in (k.terms if isinstance(k, mx.Add) else (k,))]
        return mx.Add(tuple(sorted(terms, key=show)), m.shape)
    if isinstance(m, mx.Hadamard):
        factors = [f for k in kids for f in (k.factors if isinstance(k, mx.Hadamard) else (k,))]
        return mx.Hadamard(tuple(sorted(factors, key=show)), m.shape)
    return rebuild(m, kids)


def _shape(m: mx.M) -> tuple[object, ...]:
    return tuple(m.shape) if len(m.shape) == 2 else (None, None)


def _chain(m: mx.M) -> list[mx.M]:
    if isinstance(m, mx.MatMul):
        return _chain(m.a) + _chain(m.b)
    return [m]


def closed_forms(d: Derivation, keep: set[str], loose: bool = False) -> dict[str, str | None]:
    """Each input gradient's closed form (None when it has none: too large to print), the
    nodes not in ``keep`` written out, simplified and printed up to :func:`canonical`."""
    p = Unicode()
    out: dict[str, str | None] = {}
    for g in d.gradients:
        form = g.closed
        if form is None or form.matrix is None:
            out[g.name] = None
            continue
        m = form.matrix
        # (a reshape read per element stays the temporary it is, as per_element names one)
        named = [w for w in form.wheres if isinstance(w.lhs, mx.Ref)
                 and not (w.lhs.batch and isinstance(w.rhs, mx.Reshape))]
        for _ in named:  # the named parts (where t1 = …) written out: one may name another
            for w in named:
                m = mx.substitute(m, w.lhs, w.rhs)
        read: dict[str, mx.M] = {}
        m = per_element(d, keep, m, read)
        written = written_out(d, keep, m)
        # simplified as the engine simplifies a closed form: Sᵀ is S of a symmetric input
        # (z zᵀ of z = S⁻¹ d written out is S⁻¹ d dᵀ S⁻¹, S spd, as the one line prints it)
        sym = symmetric_inputs(d.graph.spec)
        if written != m:  # a node written out reads the kept ones as the engine reads every
            # form: b5's exp(−x ⊙ x) is exp(−b3) where b3 = x ⊙ x is kept
            m = reuse(simplify(written, form.wheres, sym), kept(d, keep))
        else:
            m = simplify(written, form.wheres, sym)
        wheres = tuple(replace(w, rhs=per_element(d, keep, w.rhs, read)) for w in form.wheres)
        wheres += tuple(Where(mx.Ref(n, RefKind.TENSOR, x.shape), x) for n, x in read.items())
        m, defs = _temporaries(m, wheres)
        out[g.name] = p.matrix(canonical(m, p.matrix, loose)) + "".join(
            f"; {n} = {p.matrix(canonical(_written(d, keep, x, wheres), p.matrix, loose))}"
            for n, x in defs)
    return out


def _written(d: Derivation, keep: set[str], x: mx.M, wheres: tuple[Where, ...]) -> mx.M:
    """A temporary's definition with the nodes not in ``keep`` written out, simplified as
    the form itself is where that changed it (reshape(reshape(σ(z), [N, D]), [N, H, Dh]) of
    y = reshape(σ(z), [N, D]) written out is σ(z), as the one-line spec reads it)."""
    written = written_out(d, keep, x)
    return x if written == x else \
        reuse(simplify(written, wheres, symmetric_inputs(d.graph.spec)), kept(d, keep))


def _temporaries(m: mx.M, wheres: tuple[Where, ...]) -> tuple[mx.M, list[tuple[str, mx.M]]]:
    """``m`` with the temporaries it still reads (one read per element, t3_h, is not
    written out whole) renamed τ1, τ2, … in the order they are first read, and each one's
    definition so renamed: two specs number a derivation's temporaries each in its own
    order (multi-head attention's t3 = reshape(…) of the one is the other's t4), and only
    the names may differ."""
    defs = {w.lhs.name: w.rhs for w in wheres if isinstance(w.lhs, mx.Ref)}
    order: list[str] = []
    todo = [m]
    while todo:
        for r in mx.leaves(todo.pop(0)):
            if r.name in defs and r.name not in order:
                order.append(r.name)
                todo.append(defs[r.name])
    names = {n: f"τ{k}" for k, n in enumerate(order, 1)}

    def renamed(x: mx.M) -> mx.M:
        return mx.substitute_all(x, {r: replace(r, name=names[r.name]) for r in mx.leaves(x)
                                     if r.name in names})
    return (renamed(m), [(names[n], renamed(defs[n])) for n in order]) if order else (m, [])


def compare(pair: Pair, loose: bool = False) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """The gradients both specs print in closed form, and of those the ones that print
    differently: input name -> (one-line form, split form)."""
    one, split = derivations(pair)
    keep = {t.name for t in one.graph.nodes}
    a, b = closed_forms(one, keep, loose), closed_forms(split, keep, loose)
    both = [n for n in a if a[n] is not None and b.get(n) is not None]
    return both, {n: (str(a[n]), str(b[n])) for n in both if a[n] != b[n]}


def assert_same_gradients(pair: Pair) -> None:
    """Both specs of ``pair`` print some gradient in closed form, and each such gradient
    the same (up to naming and term order)."""
    both, diff = compare(pair)
    assert both, "no gradient of the pair has a closed form in both specs"
    assert not diff, "\n".join(f"grad({n}):\n  one line: {a}\n  split:    {b}"
                               for n, (a, b) in diff.items())
