"""The op table: every op einderive knows, each declared once.

A scalar function (``sigmoid``, ``tanh`` ...) is one :func:`scalar` row: how it
prints, its NumPy and PyTorch code, and its derivative in terms of its
argument ``a`` and its own value ``out`` (so that backprop can say
``tanh'(z) = 1 - y**2`` with the node ``y`` instead of recomputing).  Its SymPy
class is made from that row.

A tensor op (``@``, ``sum``, ``einsum``, ``softmax`` ...) is one :class:`Op`
row: its arguments, its shape rule, its componentwise definition as a SymPy
expression of indexed symbols, and its NumPy code.  Backprop and the printers
never name an op; adding one touches this file and the tests.
"""

from __future__ import annotations

from typing import Callable

import sympy
from sympy import Function, Indexed, KroneckerDelta, S

from . import shapes
from .errors import SpecError
from .record import Record
from . import pyexpr as P

# ---------------------------------------------------------------------------
# Scalar (elementwise) functions


class ScalarFn(Record):
    name: str
    text: str  # head in the terminal: 'σ', 'tanh'
    latex: str  # head in LaTeX: r'\sigma', r'\tanh'
    numpy: Callable  # its NumPy code: x (a pyexpr tree) -> pyexpr tree
    torch: Callable  # its PyTorch code: x -> pyexpr tree
    deriv: Callable  # (a, out) -> sympy expression
    expand: Callable | None = None  # for helper functions printed by name: a -> definition
    user: bool = True  # callable from a spec
    domain: str | None = None  # 'positive' where the argument must be > 0
    style: str = "call"  # 'call': f(x); 'iverson': 1[x > 0]
    helper: str = ""  # NumPy helper definition the code needs
    doc: str = ""


class ElementwiseFunction(Function):
    """Base of the SymPy classes made from :data:`SCALARS`; never evaluates itself."""

    nargs = 1
    spec: ScalarFn

    def fdiff(self, argindex=1):
        return self.spec.deriv(self.args[0], self)


SCALARS: dict[str, ScalarFn] = {}
CLASSES: dict[str, type] = {}


def F(name: str):
    """The SymPy class of scalar function ``name``, made on first use (SymPy's
    metaclass takes a millisecond a class, and most specs use two or three)."""
    cls = CLASSES.get(name)
    if cls is None:
        cls = CLASSES[name] = type(name, (ElementwiseFunction,),
                                   {"spec": SCALARS[name], "__module__": __name__})
    return cls


def scalar(name, text, latex, numpy, torch, deriv, **kw) -> None:
    SCALARS[name] = ScalarFn(name, text, latex, numpy, torch, deriv, **kw)


_SIGMOID_HELPER = "def sigmoid(x):\n    return 0.5 * (1.0 + np.tanh(0.5 * x))"
_PHI_HELPER = ("_erf = np.vectorize(math.erf, otypes=[float])\n\n\n"
               "def Phi(x):\n    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))")


def _call(fn: str, *extra):
    """The code ``fn(x, *extra)`` as a builder."""
    return lambda x: P.call(fn, x, *extra)


def _times(f, g):
    """The code ``f(x) * g(x)`` as a builder."""
    return lambda x: P.binop("*", f(x), g(x))


def _one_minus(f):
    return lambda x: P.binop("-", P.num(1), f(x))


def _phi(lib: str):
    """exp(-x**2 / 2) / sqrt(2 pi)."""
    return lambda x: P.binop("/", P.call(f"{lib}.exp", P.binop(
        "*", P.num(-0.5), P.binop("**", x, P.num(2)))), P.call(
        "math.sqrt", P.binop("*", P.num(2.0), P.Name("math.pi"))))


def _torch_Phi(x):
    """0.5 * (1 + erf(x / sqrt(2)))."""
    return P.binop("*", P.num(0.5), P.binop("+", P.num(1), P.call(
        "torch.erf", P.binop("/", x, P.call("math.sqrt", P.num(2.0))))))


def _torch_step(x):
    """(x > 0).to(x.dtype)."""
    return P.method(P.Compare(">", x, P.num(0)), "to", P.Attr(x, "dtype"))


_ID = lambda x: x  # noqa: E731 - the argument itself, in x * f(x)

scalar("sigmoid", "σ", r"\sigma", _call("sigmoid"), _call("torch.sigmoid"),
       lambda a, out: F("sigmoid_prime")(a), helper=_SIGMOID_HELPER,
       doc="logistic function 1 / (1 + exp(-x))")
scalar("sigmoid_prime", "σ'", r"\sigma'", _times(_call("sigmoid"), _one_minus(_call("sigmoid"))),
       _times(_call("torch.sigmoid"), _one_minus(_call("torch.sigmoid"))),
       lambda a, out: out * (1 - 2 * F("sigmoid")(a)),
       expand=lambda a: F("sigmoid")(a) * (1 - F("sigmoid")(a)), user=False,
       helper=_SIGMOID_HELPER)
scalar("tanh", "tanh", r"\tanh", _call("np.tanh"), _call("torch.tanh"),
       lambda a, out: 1 - out ** 2, doc="hyperbolic tangent")
scalar("exp", "exp", r"\exp", _call("np.exp"), _call("torch.exp"),
       lambda a, out: out, doc="exponential")
scalar("log", "log", r"\log", _call("np.log"), _call("torch.log"),
       lambda a, out: 1 / a, domain="positive", doc="natural logarithm (argument > 0)")
scalar("sqrt", "√", r"\sqrt", _call("np.sqrt"), _call("torch.sqrt"),
       lambda a, out: 1 / (2 * out), domain="positive", doc="square root (argument > 0)")
scalar("relu", "relu", r"\operatorname{relu}", _call("np.maximum", P.num(0.0)),
       _call("torch.relu"), lambda a, out: F("step")(a), doc="max(x, 0)")
scalar("step", "𝟙", r"\mathbf{1}", _call("np.heaviside", P.num(0.0)), _torch_step,
       lambda a, out: S.Zero, user=False, style="iverson")
scalar("softplus", "softplus", r"\operatorname{softplus}", lambda x: P.call(
       "np.logaddexp", P.num(0.0), x), _call("torch.nn.functional.softplus"),
       lambda a, out: F("sigmoid")(a), doc="log(1 + exp(x))")
scalar("gelu", "gelu", r"\operatorname{gelu}", _times(_ID, _call("Phi")),
       _call("torch.nn.functional.gelu"),
       lambda a, out: F("Phi")(a) + a * F("phi")(a), helper=_PHI_HELPER,
       doc="x Φ(x), the exact (erf) form")
scalar("Phi", "Φ", r"\Phi", _call("Phi"), _torch_Phi,
       lambda a, out: F("phi")(a), user=False, helper=_PHI_HELPER)
scalar("phi", "φ", r"\varphi", _phi("np"), _phi("torch"),
       lambda a, out: -a * out, user=False)
scalar("silu", "silu", r"\operatorname{silu}", _times(_ID, _call("sigmoid")),
       _call("torch.nn.functional.silu"),
       lambda a, out: F("sigmoid")(a) * (1 + a * (1 - F("sigmoid")(a))),
       helper=_SIGMOID_HELPER, doc="x σ(x), also called swish")


# ---------------------------------------------------------------------------
# Tensor functions whose component depends on a whole axis of their argument.
# Their arguments are (label, axis, *indices); each knows its own derivative.


class AxisFunction(Function):
    """An element of a function of a whole tensor along one axis."""

    nargs = None
    head: str = ""

    @property
    def label(self):
        return self.args[0]

    @property
    def axis(self) -> int:
        return int(self.args[1])

    @property
    def indices(self) -> tuple:
        return tuple(self.args[2:])

    def _eval_derivative(self, s):
        if not (isinstance(s, Indexed) and s.base.label == self.label):
            return S.Zero
        return self.derivative(tuple(s.indices))

    def derivative(self, k: tuple):  # pragma: no cover - every subclass defines it
        raise NotImplementedError


class SoftmaxAt(AxisFunction):
    """``softmax(x, axis)[idx]``; its derivative is written with itself."""

    head = "softmax"

    def derivative(self, k):
        idx, ax = self.indices, self.axis
        same = S.One
        for n, (p, q) in enumerate(zip(idx, k)):
            if n != ax:
                same *= KroneckerDelta(p, q)
        other = list(idx)
        other[ax] = k[ax]
        return same * (KroneckerDelta(idx[ax], k[ax]) * self
                       - self * SoftmaxAt(self.label, self.args[1], *other))


class LogSumExpAt(AxisFunction):
    """``logsumexp(x, axis)[idx]``, ``idx`` without the reduced axis."""

    head = "logsumexp"

    def derivative(self, k):
        ax = self.axis
        same = S.One
        rest = [q for n, q in enumerate(k) if n != ax]
        for p, q in zip(self.indices, rest):
            same *= KroneckerDelta(p, q)
        full = list(self.indices)
        full.insert(ax, k[ax])
        return same * SoftmaxAt(self.label, self.args[1], *full)


AXIS_FUNCTIONS = {"softmax": SoftmaxAt, "logsumexp": LogSumExpAt}

# ---------------------------------------------------------------------------
# Forward expressions and tensor ops


class FExpr(Record):
    """A typed forward expression: an op applied to arguments, with its shape."""

    op: str
    args: tuple = ()
    params: tuple = ()  # (key, value) pairs
    shape: tuple = ()

    def param(self, key, default=None):
        return next((v for k, v in self.params if k == key), default)

    @property
    def is_ref(self) -> bool:
        return self.op == "ref"

    @property
    def is_const(self) -> bool:
        return self.op in ("num", "dim") or (
            self.op not in ("ref",) and bool(self.args) and all(a.is_const for a in self.args))


class Op(Record):
    """A tensor op: ``check`` gives the FExpr (or raises), ``comp`` its component,
    ``code`` its code (a pyexpr tree) from its arguments' code and a backend
    (:mod:`einderive.render.backends`), which spells what NumPy and PyTorch spell
    differently."""

    name: str
    check: Callable  # (call_loc, args: list[(FExpr, loc)], kwargs: dict) -> FExpr
    comp: Callable  # (e: FExpr, idx: tuple, ctx) -> sympy
    code: Callable  # (e: FExpr, args: list[pyexpr], backend) -> pyexpr
    signature: str = ""
    kwargs: tuple = ()  # accepted keyword names
    nargs: tuple = (1, 1)  # min, max positional (max None = any)
    needs_ref: bool = False  # argument must be a named tensor (split out otherwise)
    doc: str = ""
    user: bool = True


OPS: dict[str, Op] = {}
# Python's own operators: they take numbers as well as arrays, and an expression of them over
# numbers and dims is a constant (graph checks divisors with it, code keeps it a number)
ARITHMETIC = frozenset({"+", "-", "*", "/", "neg", "**"})


def op(name, **kw):
    def register(check):
        OPS[name] = Op(name=name, check=check, **kw)
        return check
    return register


def _mismatch(what, a, b, loc, hint):
    return SpecError(f"{what}: shapes {shapes.fmt(a)} and {shapes.fmt(b)} do not match", loc, hint)


# -- elementwise arithmetic ---------------------------------------------------


def _broadcast_check(sym):
    def check(loc, args, kwargs):
        (a, la), (b, lb) = args
        out = shapes.broadcast(a.shape, b.shape)
        if out is None:
            raise _mismatch(f"cannot broadcast the operands of '{sym}'", a.shape, b.shape, loc,
                            "elementwise ops follow NumPy broadcasting: trailing dims must be "
                            "equal or 1 (use keepdims=True to keep a reduced axis)")
        return FExpr(sym, (a, b), (), out)
    return check


def _bin_comp(f):
    def comp(e, idx, ctx):
        a, b = e.args
        return f(ctx.comp(a, shapes.align(idx, a.shape)), ctx.comp(b, shapes.align(idx, b.shape)))
    return comp


for _sym, _f, _py in (("+", lambda x, y: x + y, "+"), ("-", lambda x, y: x - y, "-"),
                      ("*", lambda x, y: x * y, "*"), ("/", lambda x, y: x / y, "/")):
    OPS[_sym] = Op(_sym, _broadcast_check(_sym), _bin_comp(_f),
                   (lambda p: lambda e, c, b: P.binop(p, c[0], c[1]))(_py), nargs=(2, 2),
                   doc="elementwise, NumPy broadcasting", user=False)


@op("neg", comp=lambda e, idx, ctx: -ctx.comp(e.args[0], idx),
    code=lambda e, c, b: P.neg(c[0]), user=False)
def _neg(loc, args, kwargs):
    (a, _), = args
    return FExpr("neg", (a,), (), a.shape)


@op("**", comp=lambda e, idx, ctx: ctx.comp(e.args[0], idx) ** ctx.comp(e.args[1], ()),
    code=lambda e, c, b: P.binop("**", c[0], c[1]), nargs=(2, 2), user=False)
def _pow(loc, args, kwargs):
    (a, la), (p, lp) = args
    if not p.is_const or p.shape != () or p.op == "dim" or _mentions_dim(p):
        raise SpecError("the exponent of '**' must be a number", lp,
                        "e.g. x ** 2 or x ** 0.5; for a tensor exponent write exp(p * log(x))")
    return FExpr("**", (a, p), (), a.shape)


def _mentions_dim(e: FExpr) -> bool:
    return e.op == "dim" or any(_mentions_dim(a) for a in e.args if isinstance(a, FExpr))


# -- transposes -----------------------------------------------------------------


def _transpose_comp(e, idx, ctx):
    axes = e.param("axes")
    (a,) = e.args
    inner = [None] * len(idx)
    for out_pos, src in enumerate(axes):
        inner[src] = idx[out_pos]
    return ctx.comp(a, tuple(inner))


def _transpose_code(e, c, b):
    return b.permute(c[0], e.param("axes"))


@op("transpose", comp=_transpose_comp, code=_transpose_code, kwargs=("axes",),
    signature="transpose(x, axes=None)", doc="reverse (or permute) the axes; x.T is the same")
def _transpose(loc, args, kwargs):
    (a, la), = args
    nd = len(a.shape)
    axes = kwargs.get("axes")
    if axes is None:
        perm = tuple(reversed(range(nd)))
    else:
        value, aloc = axes
        perm = _int_tuple(value, aloc, "axes")
        norm = tuple(shapes.normalize_axis(x, nd) for x in perm)
        if None in norm or sorted(norm) != list(range(nd)):
            raise SpecError(f"axes {tuple(perm)} is not a permutation of the {nd} axes of a "
                            f"tensor of shape {shapes.fmt(a.shape)}", aloc)
        perm = norm
    return FExpr("transpose", (a,), (("axes", perm),), tuple(a.shape[p] for p in perm))


# -- matmul -----------------------------------------------------------------------


@op("@", comp=lambda e, idx, ctx: _matmul_comp(e, idx, ctx),
    code=lambda e, c, b: P.binop("@", c[0], c[1]), nargs=(2, 2), user=False,
    doc="matrix product (NumPy's matmul)")
def _matmul(loc, args, kwargs):
    (a, la), (b, lb) = args
    sa, sb = a.shape, b.shape
    if not sa or not sb:
        raise SpecError("'@' needs tensors with at least one axis; a scalar has none", loc,
                        "multiply by a scalar with '*'")
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        raise _mismatch("cannot multiply with '@'", sa, sb, loc,
                        f"the last axis of the left operand ({ka}) must equal the "
                        f"{'only' if len(sb) == 1 else 'second-to-last'} axis of the right ({kb})")
    out = shapes.matmul(sa, sb)
    if out is None:
        raise _mismatch("cannot broadcast the batch axes of '@'", sa, sb, loc,
                        "batch axes follow NumPy broadcasting")
    return FExpr("@", (a, b), (), out)


def _matmul_comp(e, idx, ctx):
    a, b = e.args
    sa, sb = a.shape, b.shape
    k = 0 if sa[-1] == 1 else ctx.fresh(sa[-1])
    if len(sa) == 1 and len(sb) == 1:
        ia, ib = (k,), (k,)
    elif len(sb) == 1:
        ia, ib = tuple(idx) + (k,), (k,)
    elif len(sa) == 1:
        ia, ib = (k,), tuple(idx[:-1]) + (k, idx[-1])
    else:
        batch = idx[:-2]
        ia = shapes.align(batch, sa[:-2]) + (idx[-2], k)
        ib = shapes.align(batch, sb[:-2]) + (k, idx[-1])
    return ctx.sum(ctx.comp(a, ia) * ctx.comp(b, ib), (k,) if k != 0 else ())


# -- reductions -------------------------------------------------------------------


def _int_tuple(e: FExpr | None, loc, what) -> tuple:
    if e is not None and e.op == "num" and e.param("value").denominator == 1:
        return (int(e.param("value")),)
    if e is not None and e.op == "neg" and e.args[0].op == "num":
        return tuple(-x for x in _int_tuple(e.args[0], loc, what))
    if e is not None and e.op == "tuple":
        return tuple(x for item in e.args for x in _int_tuple(item, loc, what))
    raise SpecError(f"'{what}' must be an integer or a tuple of integers", loc,
                    f"e.g. {what}=-1 or {what}=(0, 1)")


def _flag(kwargs, key, default=False):
    if key not in kwargs:
        return default
    value, loc = kwargs[key]
    if value.op == "bool":
        return value.param("value")
    raise SpecError(f"'{key}' must be True or False", loc)


def _axes(kwargs, nd, shape, default_all=True):
    if "axis" not in kwargs or kwargs["axis"][0].op == "none":
        return tuple(range(nd)) if default_all else None
    value, loc = kwargs["axis"]
    raw = _int_tuple(value, loc, "axis")
    out = []
    for x in raw:
        ax = shapes.normalize_axis(x, nd)
        if ax is None:
            raise SpecError(f"axis {x} is out of range for a tensor of shape {shapes.fmt(shape)}",
                            loc, f"axes of a {nd}-d tensor run from {-nd} to {nd - 1}"
                            if nd else "a scalar has no axes")
        if ax in out:
            raise SpecError(f"axis {x} is repeated", loc)
        out.append(ax)
    return tuple(sorted(out))


def _reduce_check(name):
    def check(loc, args, kwargs):
        (a, la), = args
        nd = len(a.shape)
        axes = _axes(kwargs, nd, a.shape)
        keep = _flag(kwargs, "keepdims")
        shape = tuple(1 if n in axes else d for n, d in enumerate(a.shape)) if keep else \
            tuple(d for n, d in enumerate(a.shape) if n not in axes)
        return FExpr(name, (a,), (("axes", axes), ("keepdims", keep)), shape)
    return check


def _reduce_comp(mean):
    def comp(e, idx, ctx):
        (a,) = e.args
        axes, keep = e.param("axes"), e.param("keepdims")
        it = iter(idx)
        full, summed, count = [], [], S.One
        for n, d in enumerate(a.shape):
            if n in axes:
                if keep:
                    next(it)
                if d == 1:
                    full.append(0)
                else:
                    j = ctx.fresh(d)
                    full.append(j)
                    summed.append(j)
                    count *= ctx.size(d)
            else:
                full.append(next(it))
        body = ctx.sum(ctx.comp(a, tuple(full)), tuple(summed))
        return body / count if mean else body
    return comp


def _reduce_code(fn):
    return lambda e, c, b: b.reduce(fn, c[0], e.param("axes"), e.param("keepdims"),
                                    len(e.args[0].shape))


for _name, _mean in (("sum", False), ("mean", True)):
    OPS[_name] = Op(_name, _reduce_check(_name), _reduce_comp(_mean), _reduce_code(_name),
                    kwargs=("axis", "keepdims"), signature=f"{_name}(x, axis=None, keepdims=False)",
                    doc="sum over axes (all by default)" if not _mean
                    else "mean over axes (all by default)")


@op("l2_loss", comp=lambda e, idx, ctx: _l2_comp(e, ctx),
    code=lambda e, c, b: b.reduce("sum", P.binop("**", P.binop("-", c[0], c[1]), P.num(2))),
    nargs=(2, 2),
    signature="l2_loss(a, b)", doc="sum((a - b)**2), a scalar")
def _l2(loc, args, kwargs):
    (a, la), (b, lb) = args
    out = shapes.broadcast(a.shape, b.shape)
    if out is None:
        raise _mismatch("cannot broadcast the arguments of l2_loss", a.shape, b.shape, loc,
                        "l2_loss(a, b) compares tensors of the same shape")
    return FExpr("l2_loss", (a, b), (("shape", out),), ())


def _l2_comp(e, ctx):
    a, b = e.args
    out = e.param("shape")
    idx = tuple(0 if d == 1 else ctx.fresh(d) for d in out)
    diff = ctx.comp(a, shapes.align(idx, a.shape)) - ctx.comp(b, shapes.align(idx, b.shape))
    return ctx.sum(diff ** 2, tuple(i for i in idx if i != 0))


# -- einsum -----------------------------------------------------------------------


@op("einsum", comp=lambda e, idx, ctx: _einsum_comp(e, idx, ctx),
    code=lambda e, c, b: b.einsum(e.param("subscripts"), c),
    nargs=(2, None), signature='einsum("ij,j->i", A, x)', doc="NumPy's einsum, any operands")
def _einsum(loc, args, kwargs):
    (sub, sloc), *operands = args
    if sub.op != "str":
        raise SpecError("einsum's first argument must be a subscripts string", sloc,
                        'e.g. einsum("ij,j->i", W, x)')
    text = sub.param("value").replace(" ", "")
    hint = 'subscripts look like "ij,jk->ik": one letter per axis, operands separated by commas'
    if "..." in text:
        raise SpecError("einsum's '...' (ellipsis) is not supported", sloc, "name every axis")
    if text.count("->") > 1:
        raise SpecError(f"invalid einsum subscripts {text!r}: more than one '->'", sloc, hint)
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",")
    for t in terms + ([rhs] if arrow else []):
        bad = [ch for ch in t if not ch.isascii() or not ch.isalpha()]
        if bad:
            raise SpecError(f"invalid einsum subscripts {text!r}: {bad[0]!r} is not a letter",
                            sloc, hint)
    if len(terms) != len(operands):
        raise SpecError(f"einsum subscripts {text!r} name {len(terms)} operand(s) but "
                        f"{len(operands)} were given", sloc, hint)
    sizes: dict[str, object] = {}
    for t, (x, xloc) in zip(terms, operands):
        if len(t) != len(x.shape):
            raise SpecError(f"einsum term {t!r} has {len(t)} letter(s) but its operand has shape "
                            f"{shapes.fmt(x.shape)}", xloc, "one letter per axis")
        for ch, d in zip(t, x.shape):
            if ch in sizes and sizes[ch] != d:
                raise SpecError(f"einsum letter {ch!r} stands for both {sizes[ch]} and {d}", xloc,
                                "a letter repeated across operands must stand for the same dim")
            sizes[ch] = d
    if arrow:
        if len(set(rhs)) != len(rhs):
            raise SpecError(f"einsum output {rhs!r} repeats a letter", sloc, hint)
        missing = [ch for ch in rhs if ch not in sizes]
        if missing:
            raise SpecError(f"einsum output letter {missing[0]!r} is not in any input", sloc, hint)
        out = rhs
    else:
        counts = {ch: lhs.count(ch) for ch in sizes}
        out = "".join(sorted(ch for ch, n in counts.items() if n == 1))
    full = ",".join(terms) + "->" + out
    return FExpr("einsum", tuple(x for x, _ in operands),
                 (("subscripts", full), ("sizes", tuple(sorted(sizes.items())))),
                 tuple(sizes[ch] for ch in out))


def _einsum_comp(e, idx, ctx):
    lhs, out = e.param("subscripts").split("->")
    sizes = dict(e.param("sizes"))
    letter = dict(zip(out, idx))
    summed = []
    for ch in sorted(set(lhs) - set(out) - {","}):
        letter[ch] = 0 if sizes[ch] == 1 else ctx.fresh(sizes[ch])
        if letter[ch] != 0:
            summed.append(letter[ch])
    body = S.One
    for t, x in zip(lhs.split(","), e.args):
        body *= ctx.comp(x, tuple(0 if d == 1 else letter[ch] for ch, d in zip(t, x.shape)))
    return ctx.sum(body, tuple(summed))


# -- functions of a whole axis -------------------------------------------------------


def _axis_check(name, keep_allowed=False):
    def check(loc, args, kwargs):
        (a, la), = args
        nd = len(a.shape)
        if nd == 0:
            raise SpecError(f"{name} needs a tensor with at least one axis", la)
        if "axis" in kwargs:
            value, aloc = kwargs["axis"]
            raw = _int_tuple(value, aloc, "axis")
            if len(raw) != 1:
                raise SpecError(f"{name} takes a single axis", aloc, "e.g. axis=-1")
            ax = shapes.normalize_axis(raw[0], nd)
            if ax is None:
                raise SpecError(f"axis {raw[0]} is out of range for a tensor of shape "
                                f"{shapes.fmt(a.shape)}", aloc,
                                f"axes of a {nd}-d tensor run from {-nd} to {nd - 1}")
        else:
            ax = nd - 1
        keep = _flag(kwargs, "keepdims") if keep_allowed else True
        if name == "logsumexp":
            shape = tuple(1 if n == ax else d for n, d in enumerate(a.shape)) if keep else \
                tuple(d for n, d in enumerate(a.shape) if n != ax)
        else:
            shape = a.shape
        return FExpr(name, (a,), (("axis", ax), ("keepdims", keep)), shape)
    return check


def _axis_code(fn):
    return lambda e, c, b: b.axis_fn(fn, c[0], e.param("axis"), len(e.args[0].shape),
                                     e.param("keepdims"))


def _softmax_comp(e, idx, ctx):
    (a,) = e.args
    return SoftmaxAt(ctx.label(a), e.param("axis"), *idx)


def _log_softmax_comp(e, idx, ctx):
    (a,) = e.args
    ax = e.param("axis")
    rest = [i for n, i in enumerate(idx) if n != ax]
    return ctx.comp(a, idx) - LogSumExpAt(ctx.label(a), ax, *rest)


def _logsumexp_comp(e, idx, ctx):
    (a,) = e.args
    ax = e.param("axis")
    rest = [i for n, i in enumerate(idx) if n != ax] if e.param("keepdims") else list(idx)
    return LogSumExpAt(ctx.label(a), ax, *rest)


_SOFTMAX_HELPER = ("def softmax(x, axis=-1):\n"
                   "    z = np.exp(x - np.max(x, axis=axis, keepdims=True))\n"
                   "    return z / np.sum(z, axis=axis, keepdims=True)")
_LSE_HELPER = ("def logsumexp(x, axis=-1, keepdims=False):\n"
               "    m = np.max(x, axis=axis, keepdims=True)\n"
               "    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))\n"
               "    return out if keepdims else np.squeeze(out, axis=axis)")
_LOG_SOFTMAX_HELPER = ("def log_softmax(x, axis=-1):\n"
                       "    return x - logsumexp(x, axis=axis, keepdims=True)")

OPS["softmax"] = Op("softmax", _axis_check("softmax"), _softmax_comp, _axis_code("softmax"),
                    kwargs=("axis",), needs_ref=True, signature="softmax(x, axis=-1)",
                    doc="exp(x) / sum(exp(x)) along an axis")
OPS["log_softmax"] = Op("log_softmax", _axis_check("log_softmax"), _log_softmax_comp,
                        _axis_code("log_softmax"), kwargs=("axis",), needs_ref=True,
                        signature="log_softmax(x, axis=-1)", doc="x - logsumexp(x) along an axis")
OPS["logsumexp"] = Op("logsumexp", _axis_check("logsumexp", keep_allowed=True), _logsumexp_comp,
                      _axis_code("logsumexp"), kwargs=("axis", "keepdims"), needs_ref=True,
                      signature="logsumexp(x, axis=-1, keepdims=False)",
                      doc="log(sum(exp(x))) along an axis")

HELPERS = {"softmax": _SOFTMAX_HELPER, "logsumexp": _LSE_HELPER,
           "log_softmax": _LOG_SOFTMAX_HELPER}
HELPER_NEEDS = {"log_softmax": ("logsumexp",)}


# -- elementwise functions as tensor ops ----------------------------------------------


def _scalar_check(name):
    def check(loc, args, kwargs):
        (a, la), = args
        return FExpr(name, (a,), (), a.shape)
    return check


def _scalar_comp(name):
    return lambda e, idx, ctx: F(name)(ctx.comp(e.args[0], idx))


for _name, _fn in SCALARS.items():
    if _fn.user:
        OPS[_name] = Op(_name, _scalar_check(_name), _scalar_comp(_name),
                        (lambda n: lambda e, c, b: b.fn(n, c[0]))(_name),
                        signature=f"{_name}(x)", doc=_fn.doc)

FUNCTIONS = tuple(sorted(name for name, o in OPS.items() if o.user))


def sympy_number(value) -> sympy.Rational:
    return sympy.Rational(value.numerator, value.denominator)
