"""Printing index forms (SymPy) and matrix forms, in Unicode and in LaTeX.

Both printers use SymPy's ``Printer`` dispatch (a ``_print_<Class>`` method per
class, looked up along the MRO) and own every token, so output does not move
when SymPy's defaults change between releases.  The two styles differ only in
their tokens: :class:`Unicode` for terminals and goldens, :class:`Latex` for
papers.  Printers never compute; the order of factors and terms comes from
the recognizer (``positions``), so index and matrix forms read alike.
"""

from __future__ import annotations

from functools import lru_cache

from sympy import Add, Indexed, Integer, KroneckerDelta, Mul, Pow, Rational, S, Sum, Symbol
from sympy.printing.printer import Printer

from .. import matrix as mx
from ..ops import AXIS_OPS, DIAG, SCALARS, AxisFunction, ElementwiseFunction
from .readable import Rewriter

PREC_ADD, PREC_MUL, PREC_POW, PREC_ATOM = 10, 20, 30, 40
SUPERSCRIPT = str.maketrans("0123456789-/", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ")


class Notation(Printer):
    """Shared logic; subclasses supply tokens."""

    printmethod = "_einderive_print"

    def __init__(self, ctx=None, loss: str = "L", positions: dict | None = None,
                 anon: dict | None = None):
        super().__init__()
        self.ctx = ctx
        self.loss = loss
        self.positions = positions or {}
        self.anon = anon or {}  # anon name -> (definition, its indices, matrix form or None)
        self.origin: dict = {}  # node rewritten for reading -> the node positions know
        self.einstein = True

    # -- helpers --------------------------------------------------------------------------

    def paren(self, s: str) -> str:
        return f"({s})"

    def wrap(self, e, level: int) -> str:
        s = self._print(e)
        return self.paren(s) if self.prec(e) < level else s

    def tensor(self, name: str, idx: str) -> str:
        """A tensor's element; an anonymous intermediate is written as its definition."""
        if name in self.anon:
            _, _, matrix = self.anon[name]
            if matrix is not None:
                return self.subscript(self.paren(self._print(matrix)), idx)
        return self.tensor_name(name, idx)

    def adjoint(self, name: str, idx: str, transposed: bool = False) -> str:
        return self.adjoint_of(self.tensor(name, idx), transposed)

    def emptyPrinter(self, e):  # pragma: no cover - every class einderive makes has a method
        return str(e)

    # -- index form: precedence -------------------------------------------------------------

    def prec(self, e) -> int:
        return precedence(e)

    # -- index form: printing ----------------------------------------------------------------

    def index(self, e, free: tuple = ()) -> str:
        """An index form, with Einstein's convention where it is unambiguous.

        ``free`` are the left-hand side's indices: no sum may take their letters."""
        rw = Rewriter({n: v[:2] for n, v in self.anon.items()},
                      lambda key: self.ctx.tensor_of.get(key) if self.ctx else None)
        lhs = frozenset(i.name for i in free if isinstance(i, Symbol))
        e = rw.disambiguate(rw.inline(e), lhs)
        self.origin = rw.origin
        if isinstance(e, Add):
            return self._join_terms(self._ordered_terms(e), top=True)
        return self._term(e)

    def _ordered_terms(self, e: Add) -> list:
        args = list(e.args)
        if self.positions:
            return sorted(args, key=lambda a: (self._pos(a), a.could_extract_minus_sign()))
        return sorted(args, key=lambda a: a.could_extract_minus_sign())

    def _flat_terms(self, terms: list) -> list:
        """Terms of nested sums, in order: ``a + (b − c)`` is written ``a + b − c``.

        Negating a whole nested sum to print its sign in front would flip every
        term after its first, so nested sums are opened before signs are read."""
        out = []
        for t in terms:
            out += self._flat_terms(self._ordered_terms(t)) if isinstance(t, Add) else [t]
        return out

    def _join_terms(self, terms: list, top: bool = False) -> str:
        out = ""
        for n, t in enumerate(self._flat_terms(terms)):
            neg = t.could_extract_minus_sign()
            u = -t if neg else t
            body = self._term(u) if top else self._print(u)
            if neg and self.prec(u) <= PREC_ADD and not isinstance(u, Sum):
                body = self.paren(body)
            if n == 0:
                out = self.style_minus() + body if neg else body
            else:
                out += f" {self.style_minus()} {body}" if neg else f" + {body}"
        return out

    def style_minus(self) -> str:
        return "−"

    def _term(self, e) -> str:
        """A top-level term: drop its sums when every summed index shows exactly twice."""
        factors, summed = [], []
        _flatten_sums(e, factors, summed)
        if summed and self.einstein and all(_count(Mul(*factors), v) == 2 for v in summed):
            self._implicit = set(summed)
            try:
                return self._print(Mul(*factors)) if len(factors) > 1 else \
                    self._print(factors[0])
            finally:
                self._implicit = set()
        return self._print(e)

    _implicit: set = set()

    def _print_Mul(self, e):
        folded = _folded(e)
        if folded != e:
            return self._print(folded)
        if e.could_extract_minus_sign():
            rest = -e
            return self.style_minus() + (self._print(rest) if isinstance(rest, Sum)
                                         else self.wrap(rest, PREC_MUL))
        consts, num, den = [], [], []
        for a in e.args:
            if self._is_constant(a):
                consts.append(a)
            elif isinstance(a, Pow) and a.exp.is_negative:
                den.append(Pow(a.base, -a.exp))
            else:
                num.append(a)
        num.sort(key=lambda a: (self._pos(a), self._kind_rank(a)))
        return self.product(Mul(*consts) if consts else S.One, num, den)

    def _pos(self, a) -> int:
        """Where the matrix form puts ``a`` (read through the rewrites for reading)."""
        return self.positions.get(self.origin.get(a, a), 10**9)

    def _kind_rank(self, a) -> int:
        """Without a matrix form to follow: deltas, then adjoints, then the rest."""
        if isinstance(a, KroneckerDelta):
            return 0
        if self.ctx is not None and any(k in self.ctx.adjoint_of for k in _keys(a)):
            return 1
        return 2

    def _is_constant(self, a) -> bool:
        if a.is_number:
            return True
        syms = a.free_symbols
        return bool(syms) and self.ctx is not None and \
            all(s in self.ctx.dim_of_size for s in syms) and not a.atoms(Indexed)

    def _print_Sum(self, e):
        body = e.function
        head = "".join(self.sum_sign(v) for v, _, _ in e.limits)
        inner = self.wrap(body, PREC_MUL) if not isinstance(body, Sum) else self._print(body)
        return f"{head}{inner}"

    def times_token(self) -> str:
        return " "

    def _print_Indexed(self, e):
        key = e.base.label
        idx = self.index_list(e.indices)
        if key in self.ctx.adjoint_of:
            return self.adjoint(self.ctx.adjoint_of[key], idx)
        return self.tensor(self.ctx.tensor_of[key], idx)

    def _print_Symbol(self, e):
        if self.ctx is not None:
            if e in self.ctx.adjoint_of:
                return self.adjoint(self.ctx.adjoint_of[e], "")
            if e in self.ctx.tensor_of:
                return self.tensor(self.ctx.tensor_of[e], "")
            if e in self.ctx.dim_of_size:
                return self.dim(self.ctx.dim_of_size[e])
        return self.index_name(e.name)

    def _print_Integer(self, e):
        return self.number(e)

    def _print_Rational(self, e):
        return self.number(e)

    def _print_NegativeOne(self, e):
        return self.number(e)

    def _print_One(self, e):
        return self.number(e)

    def _print_Zero(self, e):
        return self.number(e)

    def _print_Half(self, e):
        return self.number(e)

    def _print_KroneckerDelta(self, e):
        return self.delta(self.index_list(e.args))

    def _print_Function(self, e):
        # SymPy's dispatch skips subclasses of Function between the class and Function
        if isinstance(e, ElementwiseFunction):
            return self._print_ElementwiseFunction(e)
        if isinstance(e, AxisFunction):
            return self._print_AxisFunction(e)
        raise TypeError(f"cannot print {e!r}")  # pragma: no cover

    def _print_ElementwiseFunction(self, e):
        arg = e.args[0]
        return self.function(e.spec, [self._print(a) for a in e.args], self.prec(arg) < PREC_ATOM)

    def _print_AxisFunction(self, e):
        name = self.ctx.tensor_of[e.label]
        tensor = self.ctx.graph[name]
        if name in self.anon:  # an anonymous argument: its definition, whole
            definition, _, matrix = self.anon[name]
            arg = self._print(matrix if matrix is not None else definition)
        else:
            arg = self.tensor(name, "")
        if AXIS_OPS[e.head].text:  # A⁻¹: an anonymous argument is bracketed
            return self.matrix_function(AXIS_OPS[e.head], self.paren(arg) if name in self.anon
                                        else arg, False, self.index_list(e.indices))
        return self.axis_function(e.head, arg, e.axis, names_axis(e.axis, tensor.shape, e.head),
                                  self.index_list(e.indices))

    def function(self, spec, args: list, composite: bool) -> str:
        """``σ(x)``, ``√x``, ``𝟙[x > 0]``: a scalar function applied, in this style's tokens
        (its print style is in its op-table row)."""
        if spec.style == "template":
            return self.template(spec, args)
        if spec.style == "prefix":
            return self.sqrt(args[0], composite)
        return self.call(spec, ", ".join(args))

    def _num_factor(self, a, last: bool) -> str:
        """A factor of a product; a sum needs no brackets when nothing follows it."""
        if isinstance(a, Sum):
            return self._print(a) if last else self.paren(self._print(a))
        return self.wrap(a, PREC_MUL)

    def index_list(self, idx) -> str:
        return "".join(self.index_name(i.name) for i in idx if isinstance(i, Symbol))

    # -- matrix form -------------------------------------------------------------------------

    def mprec(self, m: mx.M) -> int:
        return precedence(m)

    def matrix(self, m: mx.M) -> str:
        return self._print(m)

    def _print_Ref(self, m: mx.Ref):
        if m.kind == "adjoint":
            return self.adjoint(m.name, "")
        if m.display is not None:
            return self._print(m.display)
        return self.tensor(m.name, "")

    def _print_Const(self, m: mx.Const):
        return self._print(m.value)

    def _print_Ones(self, m):
        return self.transposed(self.ones_token()) if m.shape[:1] == (1,) and \
            len(m.shape) == 2 and m.shape[1] != 1 else self.ones_token()

    def _print_Eye(self, m):
        return self.eye_token()

    def _print_Transpose(self, m: mx.Transpose):
        if isinstance(m.x, mx.Ref) and m.x.kind == "adjoint":
            return self.adjoint(m.x.name, "", transposed=True)
        if isinstance(m.x, mx.AxisFn) and AXIS_OPS[m.x.head].text_t:
            return self._print_AxisFn(m.x, transposed=True)  # A⁻ᵀ
        inner = self._print(m.x)
        return self.transposed(inner if self.mprec(m.x) >= PREC_ATOM else self.paren(inner))

    def _print_MatMul(self, m: mx.MatMul):
        parts = []
        for x in _chain(m):
            s = self._print(x)
            if not atomic(x):
                s = self.paren(s)
            parts.append(s)
        return self.juxtapose(parts)

    def _print_Hadamard(self, m: mx.Hadamard):
        num = [f for f in m.factors if not (isinstance(f, mx.Pow) and f.exp < 0)]
        den = [mx.power(f.x, -f.exp) for f in m.factors if isinstance(f, mx.Pow) and f.exp < 0]
        if m.is_scalar:
            return self.scalar_product(num, den)
        parts = [self._print(f) if _square(f) or atomic(f) else self.paren(self._print(f))
                 for f in num]
        s = self.odot_token().join(parts) if parts else self.number(S.One)
        for d in den:
            s += self.oslash_token() + (self._print(d) if atomic(d) else
                                        self.paren(self._print(d)))
        return s

    def scalar_product(self, num, den) -> str:
        raise NotImplementedError

    def _print_Scale(self, m: mx.Scale):
        c = m.coeff
        if _negative_coeff(c):
            inner = mx.scale(_negate(c), m.x)
            return self.style_minus() + self._print_scaled(inner)
        return self._print_scaled(m)

    def _print_scaled(self, m: mx.M) -> str:
        if not isinstance(m, mx.Scale):
            return self._print(m) if self.mprec(m) > PREC_ADD else self.paren(self._print(m))
        c, x = m.coeff, m.x
        if _reciprocal(x):  # ``c ⊘ x``: the coefficient is the numerator, not ``c 1 ⊘ x``
            factors = x.factors if isinstance(x, mx.Hadamard) else (x,)
            return self._print(mx.Hadamard((c, *factors), m.shape))
        body = self._print(x)
        if self.mprec(x) <= PREC_ADD:
            body = self.paren(body)
        return self.coefficient(c, body)

    def _print_Fn(self, m: mx.Fn):
        return self.function(SCALARS[m.name], [self._print(a) for a in m.args],
                             self.mprec(m.x) < PREC_ATOM)

    def _print_AxisFn(self, m: mx.AxisFn, transposed: bool = False):
        if AXIS_OPS[m.head].text:
            arg = self._print(m.x)
            shown = m.x.display if isinstance(m.x, mx.Ref) else m.x
            return self.matrix_function(AXIS_OPS[m.head], arg if shown is None or atomic(shown)
                                        else self.paren(arg), transposed, "")
        return self.axis_function(m.head, self._print(m.x), m.axis,
                                  names_axis(m.axis, m.arg_shape, m.head), "")

    def _print_Reduce(self, m: mx.Reduce):
        return self.operator(m.kind, self._print(m.x))

    def _print_Norm(self, m: mx.Norm):
        # a matrix's is the Frobenius norm; a vector's (a row or a column) the 2-norm
        return self.norm(self._print(m.x), len(m.x.shape) == 2 and 1 not in m.x.shape)

    def _print_Diag(self, m: mx.Diag):
        return self.operator(DIAG, self._print(m.x))

    def _print_Einsum(self, m: mx.Einsum):
        return self.einsum(m.subscripts, [self._print(x) for x in m.operands])

    # -- tokens (overridden) ---------------------------------------------------------------

    def ones_token(self) -> str:
        return "𝟏"

    def eye_token(self) -> str:
        """Bold, like 𝟏: a plain ``I`` is a name a tensor may have."""
        return "𝐈"

    def odot_token(self) -> str:
        return " ⊙ "

    def oslash_token(self) -> str:
        return " ⊘ "


def _dispatch(method_index, method_matrix):
    """SymPy's Add and Pow share their class names with the matrix form's."""
    def method(self, e):
        if isinstance(e, mx.M):
            return method_matrix(self, e)
        return method_index(self, e)
    return method


def _matrix_add(self, m: mx.Add):
    out = ""
    for n, t in enumerate(m.terms):
        neg, body_m = _split_sign(t)
        body = self._print(body_m)
        if self.mprec(body_m) <= PREC_ADD and (neg or n > 0 and _starts_negative(body_m)):
            body = self.paren(body)  # − (a + b) and a + (−b + c) keep brackets, a + b + c not
        if n == 0:
            out = (self.style_minus() + body) if neg else body
        else:
            out += (f" {self.style_minus()} " if neg else " + ") + body
    return out


def _split_sign(t: mx.M) -> tuple:
    """(True, −t) for a term written with a minus in front, else (False, t)."""
    if isinstance(t, mx.Scale) and _negative_coeff(t.coeff):
        return True, mx.scale(_negate(t.coeff), t.x)
    if isinstance(t, mx.Const) and t.value.could_extract_minus_sign():
        return True, mx.Const(-t.value)
    return False, t


def _starts_negative(m: mx.M) -> bool:
    """Whether ``m`` prints with a minus in front (then it cannot follow a plus)."""
    if isinstance(m, mx.Ref) and m.display is not None:
        return _starts_negative(m.display)
    if isinstance(m, mx.Add):
        return _split_sign(m.terms[0])[0] or _starts_negative(m.terms[0])
    return _split_sign(m)[0]


def _matrix_pow(self, m: mx.Pow):
    p = m.exp
    if p == S.Half:
        return self.sqrt(self._print(m.x), self.mprec(m.x) < PREC_ATOM)
    if p < 0:
        return self._print(mx.Hadamard((mx.ONE, m), m.shape)) if not m.is_scalar else \
            self.scalar_product([], [mx.power(m.x, -p)])
    if _square(m):
        s = self._print(m.x)
        return s + self.odot_token() + s
    base = self._print(m.x)
    if not atomic(m.x) or (isinstance(m.x, mx.Fn) and SCALARS[m.x.name].style == "prefix"):
        base = self.paren(base)
    return self.hadamard_power(base, p) if not m.is_scalar else self.power(base, p)


def _index_add(self, e):
    return self._join_terms(self._ordered_terms(e))


def _index_pow(self, e):
    base, p = e.base, e.exp
    if p == S.Half:
        return self.sqrt(self._print(base), self.prec(base) < PREC_ATOM)
    if p == 2 and self._implicit and any(v in base.free_symbols for v in self._implicit):
        s = self.wrap(base, PREC_POW)
        return f"{s}{self.times_token()}{s}"
    if p.is_negative:
        return self.product(S.One, [], [Pow(base, -p)])
    return self.power(self.wrap(base, PREC_ATOM), p)


Notation._print_Add = _dispatch(_index_add, _matrix_add)
Notation._print_Pow = _dispatch(_index_pow, _matrix_pow)


def is_prefix(e) -> bool:
    """``√x``: a square root prints as a prefix and needs no brackets as a divisor."""
    return isinstance(e, ElementwiseFunction) and e.spec.style == "prefix" or \
        isinstance(e, Pow) and e.exp == S.Half


def precedence(e) -> int:
    """The one precedence table: how tightly a node of either tree binds when printed.

    An operand whose precedence is below what its place needs is bracketed;
    index forms (SymPy) and matrix forms (``mx``) share the levels, in both styles."""
    if isinstance(e, mx.M):
        return _matrix_precedence(e)
    if isinstance(e, Mul):
        e = _folded(e)
    if isinstance(e, Add):
        return PREC_ADD
    if isinstance(e, Mul):
        if e.could_extract_minus_sign():
            return PREC_ADD
        return PREC_MUL
    if isinstance(e, Sum):
        return PREC_ADD
    if isinstance(e, Rational) and not isinstance(e, Integer):
        return PREC_ADD if e < 0 else PREC_MUL
    if isinstance(e, Integer) and e < 0:
        return PREC_ADD
    if isinstance(e, Pow):
        return PREC_MUL if e.exp < 0 or e.exp == S.Half else PREC_POW
    if isinstance(e, ElementwiseFunction) and e.spec.style == "prefix":
        return PREC_MUL  # √x is a prefix: bracket it under a power
    return PREC_ATOM


def _matrix_precedence(m: mx.M) -> int:
    if isinstance(m, mx.Add):
        return PREC_ADD
    if isinstance(m, mx.Scale):
        return PREC_ADD if _negative_coeff(m.coeff) else PREC_MUL
    if isinstance(m, (mx.MatMul, mx.Hadamard)):
        return PREC_MUL
    if isinstance(m, mx.Const):
        return precedence(m.value)
    if isinstance(m, mx.Pow):
        return PREC_MUL if m.exp < 0 or _square(m) else PREC_POW
    if isinstance(m, mx.Ref) and m.display is not None:
        return precedence(m.display)
    if isinstance(m, mx.Transpose) and isinstance(m.x, mx.Ref) and m.x.kind == "adjoint":
        return PREC_POW
    return PREC_ATOM


def names_axis(axis: int, shape: tuple, head: str = "") -> bool:
    """Whether ``softmax(S)`` must say its axis: any but the last, and the last too when it is
    a literal 1 (an M×1 ``S`` reads as the column vector, whose softmax runs over M).  A
    function whose axis defaults to every axis (``max``) says it unless ``S`` has one axis."""
    if head and not AXIS_OPS[head].has_axis:
        return False
    if head and not AXIS_OPS[head].last_by_default:
        return len(shape) > 1
    return axis != len(shape) - 1 or shape[-1] == 1


def _reciprocal(m: mx.M) -> bool:
    """A tensor printed as ``1 ⊘ …`` (every factor a negative power)."""
    if m.is_scalar:
        return False
    factors = m.factors if isinstance(m, mx.Hadamard) else (m,)
    return all(isinstance(f, mx.Pow) and f.exp < 0 for f in factors)


def atomic(m: mx.M) -> bool:
    """Whether a matrix-form node needs no brackets as an operand of a product."""
    return precedence(m) >= PREC_POW


def _folded(e):
    """A product of constants left unevaluated, ``−1·(−1·2)`` or ``−2·(2 N − 2)``, as the
    constant it is (``2``, ``4 − 4 N``): its printing folds it, so its precedence must too.
    A product with a tensor in it keeps its form (``2 (y_i − t_i)``)."""
    if isinstance(e, Mul) and all(_is_dim(s) for s in e.free_symbols):
        return Mul(*e.args)
    return e


@lru_cache(maxsize=1024)
def _is_dim(s) -> bool:
    return isinstance(s, Symbol) and bool(s.is_integer and s.is_positive)


def _square(m: mx.M) -> bool:
    """``y ⊙ y``: a square of a plain tensor, written as a product."""
    return isinstance(m, mx.Pow) and m.exp == 2 and not m.is_scalar and \
        isinstance(m.x, (mx.Ref, mx.Transpose))


def _chain(m: mx.M) -> list:
    if isinstance(m, mx.MatMul):
        return _chain(m.a) + _chain(m.b)
    return [m]


def _negative_coeff(c: mx.M) -> bool:
    if isinstance(c, mx.Hadamard) and c.factors:
        c = c.factors[0]
    return isinstance(c, mx.Const) and c.value.could_extract_minus_sign()


def _negate(c: mx.M) -> mx.M:
    if isinstance(c, mx.Hadamard):
        first = _negate(c.factors[0])
        rest = c.factors[1:]
        return mx.scalar_product([first, *rest])
    return mx.Const(-c.value)


def _keys(e) -> list:
    return [x.base.label for x in e.atoms(Indexed)] + list(e.atoms(Symbol))


def _flatten_sums(e, factors: list, summed: list) -> None:
    if isinstance(e, Sum):
        summed.extend(v for v, _, _ in e.limits)
        _flatten_sums(e.function, factors, summed)
    elif isinstance(e, Mul):
        for a in e.args:
            _flatten_sums(a, factors, summed)
    else:
        factors.append(e)


def _count(e, v) -> int:
    """How many times index ``v`` is written in each term of ``e`` (x_i² counts twice).

    A sum whose terms differ in the count gives -1: Einstein's convention cannot say it."""
    if e == v:
        return 1
    if isinstance(e, Pow) and e.exp.is_Integer and e.exp > 0:
        n = _count(e.base, v)
        return -1 if n < 0 else int(e.exp) * n
    if isinstance(e, Sum) and any(var == v for var, _, _ in e.limits):
        return 0
    if isinstance(e, Add):
        counts = {_count(a, v) for a in e.args}
        return counts.pop() if len(counts) == 1 else -1
    counts = [_count(a, v) for a in e.args]
    return -1 if any(c < 0 for c in counts) else sum(counts)
