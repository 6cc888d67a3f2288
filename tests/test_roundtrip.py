"""Printed formulas read back: a printed form must have exactly one reading, the right one.

Random index forms (SymPy trees) and matrix forms (``matrix`` trees) are printed
in the Unicode style and parsed back by a small precedence-climbing reader
written here from the notation's stated rules, not from the printer:

* ``+`` and ``−`` bind loosest; a leading ``−`` negates the product after it;
* a product is juxtaposition (a matrix product between two matrices, otherwise
  scalar), ``⊙``, ``⊘``, ``·`` and ``/``, all left to right;
* ``Σ_j`` sums the rest of its product over ``j``;
* superscripts, ``^∘p`` and ``ᵀ`` bind tightest; ``√`` takes the atom after it;
* Einstein's convention: in a top-level term, a letter that is not on the left
  and not bound by a Σ is summed; a letter bound by a Σ must not occur again
  in its term outside that Σ (one reading per index).

The value read back must equal the value of the tree (computed by a separate
evaluator over the tree) at random inputs; a bracket dropped, a sign flipped or
an index captured changes the number.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy import Add, Indexed, Integer, Mul, Pow, Rational, Sum, Symbol

from conftest import SPEC_FILES, derive_text
from einderive import matrix as mx
from einderive.ops import ElementwiseFunction, F
from einderive.render.styles import Latex, Unicode

N = 3
FUNCS = {"exp": np.exp, "tanh": np.tanh, "σ": lambda v: 1 / (1 + np.exp(-v)),
         "log": np.log, "√": np.sqrt, "sum": np.sum}
SUPERS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ", "0123456789-/"))

# -- the reader ------------------------------------------------------------------------------------

TOKEN = re.compile(r"""
    (?P<num>[0-9]+(\.[0-9]+)?(e[−-]?[0-9]+)?)  # ASCII digits: 𝟙 is a Unicode digit
  | (?P<sigma>Σ_[a-z]′*)
  | (?P<adj>∂[A-Za-z]\w*/∂)
  | (?P<delta>δ_\{[^{}]*\}|δ_(\([^)]*\)|[a-z′]+))   # δ_(j,labels_i): an index picked by an input
  | (?P<name>[A-Za-z][A-Za-z0-9_′\u0300-\u036f]*(,[a-z′]+)?(?<=_)\{[^{}]*\}|[A-Za-z][A-Za-z0-9′\u0300-\u036f]*_\([^)]*\)|[A-Za-z][A-Za-z0-9_′\u0300-\u036f]*(,[a-z′]+)?)
  | (?P<sub>_[a-z′]+)
  | (?P<sup>[⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ]+)
  | (?P<hpow>\^∘)
  | (?P<op>σ'|[−+/⊙⊘·()ᵀ√σ,=\[\]<>≤≥|𝟙])
  | (?P<space>\s+)
""", re.X)
FUNCTION_NAMES = {"exp", "tanh", "log", "sum", "relu", "gelu", "silu", "softplus", "Φ", "φ",
                  "softmax", "logsumexp", "rowsum", "colsum", "mean", "diag", "sign", "sin",
                  "cos", "log1p", "expm1", "erf", "square", "maximum", "minimum", "clip",
                  "leaky_relu", "elu", "max", "min", "det", "logdet"}
COMPARISONS = ("<", ">", "≤", "≥", "=")


def tokens(text: str) -> list:
    out, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        assert m, f"unreadable at {text[pos:]!r} in {text!r}"
        pos = m.end()
        kind = m.lastgroup
        if kind == "space":
            continue
        out.append((kind, m.group(kind)))
    return out


def _letters(sub: str) -> list:
    if sub.startswith("("):  # (labels_i,j): the index of each part (tokens_i carries i)
        return [x for part in sub[1:-1].split(",") for x in _letters(part.rsplit("_", 1)[-1])]
    return re.findall(r"[a-z]′*", sub)


class Reader:
    """Precedence climbing over the tokens; builds a small tree of tuples."""

    def __init__(self, text: str, known=("x", "y", "a", "b", "A", "B", "N")):
        self.toks = tokens(text)
        self.known = sorted(known, key=len, reverse=True)  # tensor and dim names
        self.n = 0
        self.bars = 0  # depth inside |…|, where a '|' closes

    def peek(self):
        return self.toks[self.n] if self.n < len(self.toks) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        assert value is None or tok[1] == value, f"expected {value!r}, got {tok}"
        self.n += 1
        return tok

    def read(self):
        e = self.sum()
        assert self.peek() == (None, None), f"trailing {self.toks[self.n:]}"
        return e

    def sum(self):
        terms = [(1, self.signed())]
        while self.peek()[1] in ("+", "−"):
            sign = 1 if self.take()[1] == "+" else -1
            terms.append((sign, self.product()))
        return ("add", terms)

    def signed(self):
        if self.peek()[1] == "−":
            self.take()
            return ("neg", self.product())
        return self.product()

    def starts_atom(self) -> bool:
        kind, value = self.peek()
        if value == "|":  # opens |x|, or closes one
            return not self.bars
        return kind in ("num", "name", "sigma", "adj", "delta") or value in ("(", "√", "σ",
                                                                          "σ'", "𝟙")

    def product(self):
        e = self.factor()
        while True:
            kind, value = self.peek()
            if kind == "sigma":
                return ("juxt", e, self.factor())
            if value in ("⊙", "⊘", "·", "/"):
                self.take()
                e = (value, e, self.factor())
            elif self.starts_atom():
                e = ("juxt", e, self.factor())
            else:
                return e

    def factor(self):
        kind, value = self.peek()
        if kind == "sigma":
            self.take()
            return ("sigma", _letters(value[2:])[0], self.product())
        e = self.atom()
        while True:
            kind, value = self.peek()
            if kind == "sup":
                self.take()
                e = ("pow", e, _fraction("".join(SUPERS[c] for c in value)))
            elif kind == "hpow":
                self.take()
                if self.peek()[1] == "(":
                    self.take("(")
                    neg = self.peek()[1] == "−" and self.take()
                    p = self._number()
                    if self.peek()[1] == "/":
                        self.take()
                        p = p / self._number()
                    self.take(")")
                    p = -p if neg else p
                else:
                    p = self._number()
                e = ("pow", e, p)
            elif value == "ᵀ":
                self.take()
                e = ("T", e)
            elif kind == "sub":  # (x + y)_i, softmax(S)_ij
                self.take()
                e = ("sub", e, tuple(_letters(value[1:])))
            else:
                return e

    def _number(self) -> float:
        kind, value = self.take()
        assert kind == "num", value
        return float(value)

    def atom(self):
        kind, value = self.take()
        if kind == "num":
            return ("num", float(value.replace("−", "-")))
        if value == "(":
            e = self.sum()
            self.take(")")
            return e
        if value == "√":
            if self.peek()[1] == "(":
                return ("fn", "√", self.atom())
            return ("fn", "√", self.atom())
        if value in ("σ", "σ'") or (kind == "name" and value in FUNCTION_NAMES):
            self.take("(")
            args = [self.sum()]
            while self.peek()[1] == ",":
                self.take(",")
                if self.toks[self.n + 1][1] == "=":  # softmax(S, axis=0)
                    self.take()
                    self.take("=")
                    self.take()
                else:  # maximum(a, b), leaky_relu(Z, 1/10)
                    args.append(self.sum())
            self.take(")")
            return ("fn", value, args[0]) if len(args) == 1 else \
                ("fnn", value, [(1, a) for a in args])
        if kind == "name" and value == "where":  # where(c > d, a, b)
            self.take("(")
            args = self.comparison()
            for _ in range(2):
                self.take(",")
                args.append(self.sum())
            self.take(")")
            return ("fnn", "where", [(1, a) for a in args])
        if value == "𝟙":  # 𝟙[a > b], 𝟙[lo ≤ z ≤ hi]
            self.take("[")
            args = self.comparison()
            self.take("]")
            return ("fnn", "𝟙", [(1, a) for a in args])
        if value == "|":
            self.bars += 1
            e = self.sum()
            self.take("|")
            self.bars -= 1
            return ("fn", "abs", e)
        if kind == "delta":
            return ("ref", "δ", self.name(value)[1] if value.endswith("}") else
                    tuple(_letters(value[2:])))
        if kind == "adj":
            name, idx = self.name(self.take()[1]) if self.peek()[0] == "name" else \
                ("(…)", ())
            if name == "(…)":  # the adjoint of an anonymous intermediate: ∂L/∂(x + y)_i
                e = self.atom_after_paren()
                return ("adjoint", e)
            return ("ref", "∂" + name, idx)
        assert kind == "name", value
        name, idx = self.name(value)
        return ("ref", name, idx)

    def comparison(self) -> list:
        args = [self.sum()]
        assert self.peek()[1] in COMPARISONS, f"expected a comparison, got {self.peek()}"
        while self.peek()[1] in COMPARISONS:
            self.take()
            args.append(self.sum())
        return args

    def atom_after_paren(self):
        self.take("(")
        e = self.sum()
        self.take(")")
        if self.peek()[0] == "sub":
            return ("sub", e, tuple(_letters(self.take()[1][1:])))
        return e

    def name(self, token: str):
        """A tensor's name and its indices: ``x_ij``, ``y_true,i``, ``W1_kj′``, ``E_(tokens_i,k)``."""
        if token.endswith("}"):  # X_{i, j·Dh + k}: the letters among the index maps' words
            name, _, inside = token[:-1].partition("_{")
            return name, tuple(w for w in re.findall(r"[A-Za-z]\w*′*", inside)
                               if re.fullmatch(r"[a-z]′*", w))
        if "_(" in token:
            name, sub = token.split("_(", 1)
            return name, tuple(_letters("(" + sub))
        if "," in token:
            name, idx = token.split(",")
            return name, tuple(_letters(idx))
        if token in self.known:
            return token, ()
        for k in self.known:
            if token.startswith(k + "_"):
                return k, tuple(_letters(token[len(k) + 1:]))
        if re.fullmatch(r"[a-z]′*", token):  # an index as a value: 𝟙[l ≤ m < l + To]
            return token, (token,)
        raise AssertionError(f"unknown name {token!r}")


def _fraction(text: str) -> float:
    a, _, b = text.partition("/")
    return float(a) / float(b) if b else float(a)


# -- Einstein's convention and one reading per index -----------------------------------------------

def occurrences(e, bound=frozenset()) -> list:
    """Letters written in ``e`` and not bound inside it; checks that no Σ rebinds a letter."""
    tag = e[0]
    if tag == "ref":
        return [v for v in e[2] if v not in bound]
    if tag == "sigma":
        assert e[1] not in bound, f"Σ_{e[1]} inside a sum already over {e[1]}"
        return occurrences(e[2], bound | {e[1]})
    if tag in ("num",):
        return []
    if tag == "sub":
        return occurrences(e[1], bound) + [v for v in e[2] if v not in bound]
    out = []
    for c in e[1:]:
        if isinstance(c, tuple):
            out += occurrences(c, bound)
        elif isinstance(c, list):
            for _, t in c:
                out += occurrences(t, bound)
    return out


def bound_letters(e) -> list:
    if e[0] in ("ref", "num"):
        return []
    if e[0] == "sub":
        return bound_letters(e[1])
    out = [e[1]] if e[0] == "sigma" else []
    for c in e[1:]:
        if isinstance(c, tuple):
            out += bound_letters(c)
        elif isinstance(c, list):
            for _, t in c:
                out += bound_letters(t)
    return out


def einstein(tree, free: set):
    """Each top-level term, its implicit sums made explicit; one reading checked."""
    terms = []
    for sign, t in tree[1]:
        written = occurrences(t)
        implicit = sorted({v for v in written if v not in free})
        for v in bound_letters(t):
            assert v not in written and v not in free, f"{v} bound by Σ and also written"
        for v in implicit:
            t = ("sigma", v, t)
        terms.append((sign, t))
    return ("add", terms)


# -- evaluating what was read ----------------------------------------------------------------------

def evaluate(e, env: dict, idx: dict):
    tag = e[0]
    if tag == "num":
        return e[1]
    if tag == "add":
        return sum(s * evaluate(t, env, idx) for s, t in e[1])
    if tag == "neg":
        return -evaluate(e[1], env, idx)
    if tag == "juxt":
        a, b = evaluate(e[1], env, idx), evaluate(e[2], env, idx)
        both = all(isinstance(v, np.ndarray) and v.ndim == 2 for v in (a, b))
        return a @ b if both else a * b
    if tag in ("⊙", "·"):
        return evaluate(e[1], env, idx) * evaluate(e[2], env, idx)
    if tag in ("⊘", "/"):
        return evaluate(e[1], env, idx) / evaluate(e[2], env, idx)
    if tag == "pow":
        return evaluate(e[1], env, idx) ** e[2]
    if tag == "T":
        return evaluate(e[1], env, idx).T
    if tag == "fn":
        return FUNCS[e[1]](evaluate(e[2], env, idx))
    if tag == "sigma":
        return sum(evaluate(e[2], env, {**idx, e[1]: n}) for n in range(N))
    if tag == "ref":
        if e[1] == "N":
            return float(N)
        value = env[e[1]]
        return value[tuple(idx[v] for v in e[2])] if e[2] else value
    raise AssertionError(e)


# -- index forms -----------------------------------------------------------------------------------

SPEC = """
name: roundtrip
dims: {N: 3}
inputs: {x: [N], y: [N], a: [], b: []}
forward:
  - L = sum(x * y) * a * b
loss: L
"""
CTX = derive_text(SPEC).index.ctx
IX, JX = Symbol("i"), Symbol("j")
SIZE = CTX.sizes["N"]
NUMBERS = [Integer(2), Integer(3), Rational(1, 2), Rational(3, 2), Integer(-1)]


def _leaf(name, idx):
    label = CTX.labels[name]
    return label[idx] if idx is not None else label


leaves = st.one_of(
    st.sampled_from([_leaf("x", IX), _leaf("y", IX), _leaf("x", JX), _leaf("y", JX),
                     _leaf("a", None), _leaf("b", None)]),
    st.sampled_from(NUMBERS + [SIZE]),
)
positive = st.sampled_from([_leaf("x", IX), _leaf("y", JX), _leaf("a", None), SIZE])


CONSTANTS = [SIZE - 1, SIZE + 2, 1 / SIZE, 1 / (SIZE - 1), SIZE ** Rational(1, 2),
             (2 * SIZE - 3) / (SIZE - 1), -1 / (SIZE * (SIZE - 1))]


def _extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(CONSTANTS), children).map(lambda t: Mul(*t)),
        st.tuples(children, children).map(lambda t: Add(*t, evaluate=False)),
        st.tuples(children, children).map(lambda t: Add(*t)),
        st.tuples(children, children).map(lambda t: Mul(*t)),
        st.tuples(children, children).map(lambda t: t[0] - t[1]),
        children.map(lambda c: Mul(-1, c, evaluate=False)),
        st.tuples(children, children).map(lambda t: t[0] / (t[1] ** 2 + 1)),
        st.tuples(children, st.sampled_from([2, 3])).map(lambda t: Pow(*t)),
        st.tuples(positive, st.sampled_from(NUMBERS[1:4])).map(lambda t: Pow(*t)),
        st.tuples(st.sampled_from(["exp", "tanh", "sigmoid"]), children).map(
            lambda t: F(t[0])(t[1])),
        st.tuples(st.sampled_from(["log", "sqrt"]), positive).map(lambda t: F(t[0])(t[1])),
        st.tuples(st.sampled_from([IX, JX]), children).map(
            lambda t: Sum(t[1], (t[0], 0, SIZE - 1))),
    )


index_forms = st.recursive(leaves, _extend, max_leaves=8).map(
    lambda e: Sum(e, (JX, 0, SIZE - 1)) if JX in e.free_symbols else e)


def value_of(e, env: dict, idx: dict):
    """The tree's own value (independent of every printer)."""
    if isinstance(e, Add):
        return sum(value_of(a, env, idx) for a in e.args)
    if isinstance(e, Mul):
        return math.prod(value_of(a, env, idx) for a in e.args)
    if isinstance(e, Pow):
        return value_of(e.base, env, idx) ** float(e.exp)
    if isinstance(e, Sum):
        (v, _, _), rest = e.limits[-1], e.limits[:-1]  # the last limit is the outermost
        body = Sum(e.function, *rest) if rest else e.function
        return sum(value_of(body, env, {**idx, v: n}) for n in range(N))
    if isinstance(e, Indexed):
        return env[CTX.tensor_of[e.base.label]][tuple(idx[s] for s in e.indices)]
    if isinstance(e, ElementwiseFunction):
        name = {"sigmoid": "σ", "sqrt": "√"}.get(e.spec.name, e.spec.name)
        return FUNCS[name](value_of(e.args[0], env, idx))
    if e == SIZE:
        return float(N)
    if e.is_Symbol:
        return env[CTX.tensor_of[e]]
    return float(e)


def _env(rng):
    return {"x": rng.uniform(0.5, 2, N), "y": rng.uniform(0.5, 2, N),
            "a": rng.uniform(0.5, 2), "b": rng.uniform(0.5, 2)}


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(index_forms, st.booleans())
def test_index_forms_read_back_to_their_value(e, einstein_convention):
    p = Unicode(CTX)
    p.einstein = einstein_convention
    text = p.index(e, (IX,))
    tree = einstein(Reader(text).read(), {"i"})
    env = _env(np.random.default_rng(0))
    for i in range(N):
        want = value_of(e, env, {IX: i})
        got = evaluate(tree, env, {"i": i})
        assert np.isclose(got, want, rtol=1e-9, atol=1e-12), (text, got, want)


# -- matrix forms ----------------------------------------------------------------------------------

def _ref(name, shape):
    return mx.Ref(name, "tensor", shape)


A, B = _ref("A", (N, N)), _ref("B", (N, N))
a_ = _ref("a", ())
matrices = st.sampled_from([A, B, mx.transpose(A)])
COEFFS = [mx.Const(v) for v in (Integer(2), Rational(1, 2), Integer(-3), SIZE, 1 / (SIZE - 1),
                                 SIZE - 1, 2 - 1 / (SIZE - 1), -(2 * SIZE - 3) / (SIZE - 1))]


def _mextend(children):
    return st.one_of(
        st.tuples(children, children).map(lambda t: mx.add(*t)),
        st.tuples(children, children).map(lambda t: mx.add(t[0], mx.neg(t[1]))),
        st.tuples(children, children).map(lambda t: mx.hadamard(*t)),
        st.tuples(children, children).map(lambda t: mx.matmul(*t)),
        st.tuples(children, children).map(
            lambda t: mx.hadamard(t[0], mx.power(mx.add(mx.hadamard(t[1], t[1]), mx.ONE), -1))),
        children.map(mx.transpose),
        st.tuples(st.sampled_from(COEFFS), children).map(lambda t: mx.scale(*t)),
        st.tuples(st.sampled_from([a_, mx.Reduce("sum", A, ())]), children).map(
            lambda t: mx.scale(*t)),
        st.tuples(children, st.sampled_from([Integer(2), Integer(3)])).map(lambda t: mx.power(*t)),
        st.tuples(st.sampled_from([A, B]), st.sampled_from([Rational(1, 2), Rational(3, 2)]))
        .map(lambda t: mx.power(*t)),
        st.tuples(st.sampled_from(["exp", "tanh", "sigmoid"]), children).map(
            lambda t: mx.fn(*t)),
    )


matrix_forms = st.recursive(matrices, _mextend, max_leaves=8)


def mvalue(m, env):
    """The tree's own value (independent of every printer)."""
    if isinstance(m, mx.Ref):
        return env[m.name]
    if isinstance(m, mx.Const):
        return value_of(m.value, env, {})
    if isinstance(m, mx.Transpose):
        return mvalue(m.x, env).T
    if isinstance(m, mx.MatMul):
        return mvalue(m.a, env) @ mvalue(m.b, env)
    if isinstance(m, mx.Hadamard):
        return math.prod(mvalue(f, env) for f in m.factors)
    if isinstance(m, mx.Scale):
        return mvalue(m.coeff, env) * mvalue(m.x, env)
    if isinstance(m, mx.Add):
        return sum(mvalue(t, env) for t in m.terms)
    if isinstance(m, mx.Pow):
        return mvalue(m.x, env) ** float(m.exp)
    if isinstance(m, mx.Fn):
        return FUNCS[{"sigmoid": "σ", "sqrt": "√"}.get(m.name, m.name)](mvalue(m.x, env))
    if isinstance(m, mx.Reduce):
        return np.sum(mvalue(m.x, env))
    raise AssertionError(m)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(matrix_forms)
def test_matrix_forms_read_back_to_their_value(m):
    text = Unicode(CTX).matrix(m)
    tree = Reader(text).read()
    rng = np.random.default_rng(1)
    env = {"A": rng.uniform(0.5, 2, (N, N)), "B": rng.uniform(0.5, 2, (N, N)),
           "a": rng.uniform(0.5, 2)}
    want, got = mvalue(m, env), evaluate(tree, env, {})
    assert np.allclose(got, want, rtol=1e-9, atol=1e-12), (text, got, want)


def test_the_reader_can_fail():
    # the reader is not the printer: a dropped bracket or a captured index is seen
    env = _env(np.random.default_rng(0))
    wrong = evaluate(einstein(Reader("1/(N N − 1)").read(), set()), env, {})
    right = evaluate(einstein(Reader("1/(N (N − 1))").read(), set()), env, {})
    assert not np.isclose(wrong, right)
    try:
        einstein(Reader("exp(Σ_j x_j) x_j y_j").read(), {"i"})
    except AssertionError:
        pass
    else:
        raise AssertionError("a letter bound and summed in one term was accepted")


# -- every index form einderive prints for the shipped specs and the issue's examples --------------

ISSUE_SPECS = [
    "dims: {N: 4}\ninputs: {x: [N], y: [N], t: [N]}\n"
    "forward:\n  - L = sum(log_softmax(x + y) * t) + sum(x ** 3)\nloss: L\n",
    "dims: {B: 2, D: 3, H: 4}\ninputs: {X: [B, D], W1: [H, D], W3: [H, D]}\n"
    "forward:\n  - A = silu(X @ W1.T) * (X @ W3.T)\n  - L = sum(A)\nloss: L\n",
    "dims: {M: 3, N: 4}\ninputs: {W: [M, N], q: [N], r: [N]}\n"
    "forward:\n  - y = (W @ q) / (1 + (W * W) @ r)\n  - L = sum(y)\nloss: L\n",
    "dims: {N: 4}\ninputs: {x: [N], t: [N]}\n"
    "forward:\n  - y = tanh(x - sum(x) / N)\n  - L = sum(y * t) + sum(x) / (N * (N - 1))\n"
    "loss: L\n",
]


def printed_index_forms(d):
    """(free letters, text) of every index form the terminal shows, --steps included."""
    from einderive.render import text as T
    names = lambda idx: {i.name for i in idx if hasattr(i, "name")}  # noqa: E731
    for t, f in d.forward:
        yield names(f.idx), T.index_rhs(d, f)
    for a in d.adjoints:
        for f in [a.form, a.closed, *(f for _, f in a.terms)]:
            if f is not None and f.index is not None:  # a matrix-level closed form has none
                yield names(f.idx), T.index_rhs(d, f)
        for edge in a.edges:
            shown = edge.shown
            (_, local), *chain = T.step_lines(d, edge)
            for part in _split_equals(local):
                yield names(shown.out_idx) | names(shown.in_idx), part
            for _, rhs in chain:
                for part in _split_equals(rhs):
                    yield names(shown.in_idx), part


def _split_equals(text: str) -> list:
    """The sides of a chain ``a = b = c``; an ``=`` inside brackets (𝟙[x = y]) is not one."""
    parts, depth, start = [], 0, 0
    for n, ch in enumerate(text):
        depth += ch in "([" and 1 or ch in ")]" and -1 or 0
        if depth == 0 and text.startswith(" = ", n):
            parts.append(text[start:n])
            start = n + 3
    return parts + [text[start:]]


def _known(d) -> list:
    from einderive.render.names import text_accented  # Xhat is printed X̂
    from einderive.render.text import step_names  # --steps defines these (via u = x + y)
    return [text_accented(t.name) for t in d.graph.tensors] + [n for n, _ in d.graph.dims] + \
        list(step_names(d).values())


@pytest.mark.parametrize("source", SPEC_FILES + ISSUE_SPECS,
                         ids=lambda s: s.stem if hasattr(s, "stem") else s.split("- ")[1][:20])
def test_every_printed_index_form_has_one_reading(source):
    from einderive import derive
    d = derive(source) if hasattr(source, "stem") else derive_text(source)
    for free, text in printed_index_forms(d):
        einstein(Reader(text, _known(d)).read(), free)


# -- the LaTeX style, read the same way ------------------------------------------------------------
# LaTeX is turned into the reader's tokens by what a reader sees on the page:
# \frac, \sqrt and \left( \right) group; plain braces do not (``{x + y}^{2}`` is
# x + y², so the exponent attaches to the last atom only).

LATEX_WORDS = {r"\odot": "⊙", r"\oslash": "⊘", r"\sigma": "σ", r"\exp": "exp", r"\tanh": "tanh",
               r"\log": "log", r"\cdot": "·"}


def latex_tokens(text: str) -> list:
    out: list = []
    _latex(text.replace(r"\,", " ").replace(r"\left(", "(").replace(r"\right)", ")"), out)
    return out


def _group(text: str, pos: int) -> tuple[str, int]:
    """The text of the brace group at ``pos`` and the position after it."""
    assert text[pos] == "{", text[pos:]
    depth = 0
    for n in range(pos, len(text)):
        depth += {"{": 1, "}": -1}.get(text[n], 0)
        if depth == 0:
            return text[pos + 1:n], n + 1
    raise AssertionError(f"unbalanced braces in {text!r}")


def _latex(text: str, out: list) -> None:
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch.isspace() or ch in "{}":
            pos += 1  # plain braces group nothing on the page
            continue
        m = re.match(r"\\[A-Za-z]+", text[pos:])
        word = m.group(0) if m else None
        if word == r"\frac":
            top, pos = _group(text, pos + len(word))
            bottom, pos = _group(text, pos)
            out.append(("op", "("))
            _latex(top, out)
            out += [("op", ")"), ("op", "/"), ("op", "(")]
            _latex(bottom, out)
            out.append(("op", ")"))
        elif word == r"\sqrt":
            inner, pos = _group(text, pos + len(word))
            out += [("op", "√"), ("op", "(")]
            _latex(inner, out)
            out.append(("op", ")"))
        elif word == r"\sum":
            sub, pos = _group(text, pos + len(word) + 1)
            out.append(("sigma", "Σ_" + sub.replace("'", "′")))
        elif word == r"\operatorname":
            name, pos = _group(text, pos + len(word))
            out.append(("name", name))
        elif word in LATEX_WORDS:
            value = LATEX_WORDS[word]
            out.append(("name" if value.isalpha() and len(value) > 1 else "op", value))
            pos += len(word)
        elif ch == "^":
            sup, pos = _group(text, pos + 1)
            if sup == r"\top":
                out.append(("op", "ᵀ"))
            else:
                hadamard = sup.startswith(r"\circ")
                value = sup[len(r"\circ"):].strip() if hadamard else sup
                out.append(("power", (hadamard, _fraction(value.replace("-", "−")
                                                          .replace("−", "-")))))
        elif ch == "_":
            sub, pos = _group(text, pos + 1)
            name = out.pop()
            assert name[0] == "name", name
            out.append(("name", f"{name[1]}_{sub.replace(chr(39), '′')}"))
        elif ch == "-":
            out.append(("op", "−"))
            pos += 1
        elif ch.isdigit():
            m = re.match(r"\d+", text[pos:])
            out.append(("num", m.group(0)))
            pos += m.end()
        elif ch.isalpha():
            out.append(("name", ch))
            pos += 1
        elif ch in "()+/":
            out.append(("op", ch))
            pos += 1
        else:
            raise AssertionError(f"unreadable LaTeX at {text[pos:]!r}")


class LatexReader(Reader):
    def __init__(self, text: str):
        self.toks = latex_tokens(text)
        self.known = ["x", "y", "a", "b", "A", "B", "N"]
        self.n = 0

    def factor(self):
        e = super().factor()
        while self.peek()[0] == "power" or self.peek()[1] == "ᵀ":
            kind, value = self.take()
            e = ("T", e) if kind == "op" else ("pow", e, value[1])
        return e


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(index_forms, st.booleans())
def test_latex_index_forms_read_back_to_their_value(e, einstein_convention):
    p = Latex(CTX)
    p.einstein = einstein_convention
    text = p.index(e, (IX,))
    tree = einstein(LatexReader(text).read(), {"i"})
    env = _env(np.random.default_rng(0))
    for i in range(N):
        want = value_of(e, env, {IX: i})
        got = evaluate(tree, env, {"i": i})
        assert np.isclose(got, want, rtol=1e-9, atol=1e-12), (text, got, want)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(matrix_forms)
def test_latex_matrix_forms_read_back_to_their_value(m):
    text = Latex(CTX).matrix(m)
    tree = LatexReader(text).read()
    rng = np.random.default_rng(1)
    env = {"A": rng.uniform(0.5, 2, (N, N)), "B": rng.uniform(0.5, 2, (N, N)),
           "a": rng.uniform(0.5, 2)}
    want, got = mvalue(m, env), evaluate(tree, env, {})
    assert np.allclose(got, want, rtol=1e-9, atol=1e-12), (text, got, want)
