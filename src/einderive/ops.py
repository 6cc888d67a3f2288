"""The op table: every op einderive knows, each declared once.

An elementwise function (``sigmoid``, ``abs``, ``maximum``, ``where`` ...) is one
:func:`scalar` row: how it prints (a call ``f(x)``, a prefix ``√x``, or a
template such as ``𝟙[{0} > {1}]`` or ``|{0}|``), its NumPy and PyTorch code,
its tensor arguments (any number, broadcast together) and number params
(``alpha``), where its derivative jumps (``kink``: ``verify`` draws around it),
the names other libraries give it, and its derivative by each argument in terms
of the arguments and its own value ``out`` (so that backprop can say
``tanh'(z) = 1 - y**2`` with the node ``y`` instead of recomputing).  Its SymPy
class is made from that row, and a user-callable row is a tensor op as well.

A tensor op (``@``, ``sum``, ``einsum``, ``softmax`` ...) is one :class:`Op`
row: its arguments, its shape rule, its componentwise definition as a SymPy
expression of indexed symbols, and its code, spelled by a backend
(:mod:`einderive.render.backends`).  A function of a whole axis also has an
:class:`AxisOp` row (whether it reduces the axis, its NumPy helper, its PyTorch
name).  Backprop, the printers, the recognizer and the code generators never
name an op (``tests/test_ops.py`` greps them); adding an elementwise op is one
:func:`scalar` call here plus its row in ``tests/test_ops.py``.
"""

from __future__ import annotations

import math
import operator
import re
import sys
from fractions import Fraction
from collections.abc import Iterable
from typing import Any, Callable

import sympy
from sympy import Function, Indexed, KroneckerDelta, Rational, S

from . import shapes
from .errors import ShapeMismatch, SpecError
from .kinds import PseudoOp, ReduceKind, TensorKind
from .record import Record
from . import pyexpr as P
from .shared_facts import install as share_facts, shared_nargs

share_facts()  # every module that builds SymPy expressions imports this one

Fn = Callable[..., Any]  # a builder: code from code, a SymPy expression from SymPy ones
Tup = tuple[Any, ...]
Args = list[tuple["FExpr", Any]]  # (argument, its source location)
Kw = dict[str, tuple["FExpr", Any]]  # keyword -> (value, its source location)

# ---------------------------------------------------------------------------
# Scalar (elementwise) functions


class ScalarFn(Record):
    """One elementwise function: everything about it, in one row."""

    name: str
    text: str  # terminal: the head ('σ', 'tanh'), or for style 'template' the whole form
    latex: str  # LaTeX: the head (r'\sigma'), or the whole form; '{0}', '{1}' ... are arguments
    numpy: Fn  # its NumPy code: (*args) pyexpr trees -> pyexpr tree
    torch: Fn  # its PyTorch code: (*args) -> pyexpr tree
    deriv: Fn  # unary: (a, out) -> ∂out/∂a; else (args, out) -> (∂out/∂arg, ...)
    arity: int = 1  # tensor arguments, broadcast together
    params: Tup = ()  # (keyword, default): numbers after the tensors, e.g. ('alpha', 1/100)
    expand: Fn | None = None  # for helper functions printed by name: a -> definition
    user: bool = True  # callable from a spec
    domain: str | None = None  # 'positive' where the argument must be > 0
    style: str = "call"  # 'call': f(x); 'prefix': √x; 'template': text/latex filled in
    kink: bool = False  # derivative jumps somewhere: verify draws its inputs away from 0
    helper: str = ""  # NumPy helper definition the code needs
    needs: Tup = ()  # other helpers that helper calls
    aliases: Tup = ()  # what NumPy/PyTorch users also call it
    doc: str = ""
    arg_names: Tup = ()  # its tensor arguments' names in the usage hint (default x, or a, b …)
    # its shape for the Gauss-Newton split (convex.py): 'convex' or 'concave', then
    # ' increasing' or ' decreasing' where monotone; '' where it is neither
    curvature: str = ""
    # its value where it is decided by its arguments alone (𝟙[0 ≤ 0 < 1] is 1 once a delta
    # puts a number in): (*args) -> a number, or None to stay unevaluated
    value: Fn | None = None
    # f(−x) = 1 − f(x) (σ, Φ): the simplifier writes f(−u) as 1 − f(u) where that cancels
    complement: bool = False
    # its values are 0 and 1 (an Iverson bracket): a positive power of it is itself
    indicator: bool = False
    # its value is max(0, u) of one argument u, the others 0 (relu(u), maximum(0, u) either
    # way round): a hinge, 0 wherever u is not positive
    hinge: bool = False
    # it is 𝟙[u > 0] or 𝟙[u ≥ 0] of its argument at this position, the others 0 (relu's step,
    # 𝟙[u > 0], 𝟙[0 ≤ u]): 1 wherever a hinge of u is not 0
    positive_at: int | None = None
    # its value at numbers exactly as NumPy computes it (abs, sqrt: IEEE's correctly rounded
    # ones): (*Python numbers) -> a number, or None; float_value reads a call of it
    on_floats: Fn | None = None
    # its value jumps (sign): of a constant argument it is taken as the user's floats give it
    # (sign(0.1 + 0.2 − 0.3) is 1 in floats, 0 in exact arithmetic)
    jumps: bool = False

    def partials(self, args: Tup, out: Any) -> Tup:
        """The derivative of ``out`` by each argument (a param's is never asked for)."""
        if self.arity == 1 and not self.params:
            return (self.deriv(args[0], out),)
        return tuple(self.deriv(args, out))

    @property
    def signature(self) -> str:
        names = list(self.arg_names) or (["x"] if self.arity == 1 else
                                         ["a", "b", "c", "d"][:self.arity])
        return f"{self.name}({', '.join(names + [f'{k}={float(v)!r}' for k, v in self.params])})"


class ElementwiseFunction(Function):  # type: ignore[misc]
    """Base of the SymPy classes made from :data:`SCALARS`; never evaluates itself, but
    where its row says its value (a range condition of numbers)."""

    nargs = 1
    spec: ScalarFn

    @classmethod
    def _decided(cls, *args: Any) -> Any:
        value = cls.spec.value
        return None if value is None else value(*args)

    eval = _decided  # SymPy's construction hook, as Flat's

    def __new__(cls, *args: Any, **options: Any) -> Any:
        return shared_nargs(super().__new__(cls, *args, **options))

    def _eval_power(self, e: Any) -> Any:
        """𝟙[u > 0]² is 𝟙[u > 0]: SymPy asks the base of a power first."""
        return self if self.spec.indicator and e.is_positive else None

    def fdiff(self, argindex: int = 1) -> Any:
        parts = self.spec.partials(self.args, self)
        return parts[argindex - 1] if argindex <= len(parts) else S.Zero


SCALARS: dict[str, ScalarFn] = {}
CLASSES: dict[str, type] = {}


def logistic_parts(e: Any) -> Any:
    """``exp(u)`` where the SymPy factor ``e`` is ``1/(1 + exp(u))`` (the logistic function's
    denominator: exp(u) over it is σ(u)), else None."""
    if not (isinstance(e, sympy.Pow) and e.exp == -1 and isinstance(e.base, sympy.Add) and
            len(e.base.args) == 2 and S.One in e.base.args):
        return None
    (term,) = (a for a in e.base.args if a != 1)
    return term if isinstance(term, F("exp")) else None


def logistic(u: Any) -> Any:
    """σ(u) as an index form writes it."""
    return F("sigmoid")(u)


def has_exp(e: Any) -> bool:
    """Whether ``e`` holds an exp; without walking it when no exp was ever made (the class
    is made on first use: an expression can hold none before; the renderers ask this of
    every index form, a chain256's 770 walks)."""
    cls = CLASSES.get("exp")
    return cls is not None and bool(e.has(cls))


def F(name: str) -> Any:
    """The SymPy class of scalar function ``name``, made on first use (SymPy's
    metaclass takes a millisecond a class, and most specs use two or three)."""
    cls = CLASSES.get(name)
    if cls is None:
        spec = SCALARS[name]
        cls = CLASSES[name] = type(name, (ElementwiseFunction,),
                                   {"spec": spec, "__module__": __name__,
                                    "nargs": spec.arity + len(spec.params)})
    return cls


def scalar(name: str, text: str, latex: str, numpy: Fn, torch: Fn,
           deriv: Fn, **kw: Any) -> None:
    SCALARS[name] = ScalarFn(name, text, latex, numpy, torch, deriv, **kw)


_SIGMOID_HELPER = "def sigmoid(x):\n    return 0.5 * (1.0 + np.tanh(0.5 * x))"
# math.erf is exact to double precision; vectorised, it needs no SciPy
_ERF_HELPER = ("_erf = np.vectorize(math.erf, otypes=[float])\n\n\n"
               "def erf(x):\n    return _erf(x)")
_PHI_HELPER = "def Phi(x):\n    return 0.5 * (1.0 + erf(x / math.sqrt(2.0)))"


def _call(fn: str, *extra: P.Py) -> Fn:
    """The code ``fn(x, *extra)`` as a builder."""
    return lambda *x: P.call(fn, *x, *extra)


def _times(f: Fn, g: Fn) -> Fn:
    """The code ``f(x) * g(x)`` as a builder."""
    return lambda x: P.binop("*", f(x), g(x))


def _one_minus(f: Fn) -> Fn:
    return lambda x: P.binop("-", P.num(1), f(x))


def _gauss(lib: str, scale: P.Py, square: Callable[[P.Py], P.Py]) -> Fn:
    """exp(-square(x)) / scale."""
    return lambda x: P.binop("/", P.call(f"{lib}.exp", P.neg(square(x))), scale)


_SQRT_2PI = P.call("math.sqrt", P.binop("*", P.num(2.0), P.Name("math.pi")))
_HALF_SQUARE = lambda x: P.binop("*", P.num(0.5), P.binop("**", x, P.num(2)))  # noqa: E731
_SQUARE = lambda x: P.binop("**", x, P.num(2))  # noqa: E731
_SQRT_PI_2 = P.binop("/", P.call("math.sqrt", P.Name("math.pi")), P.num(2.0))


def _torch_Phi(x: P.Py) -> P.Py:
    """0.5 * (1 + erf(x / sqrt(2)))."""
    return P.binop("*", P.num(0.5), P.binop("+", P.num(1), P.call(
        "torch.erf", P.binop("/", x, P.call("math.sqrt", P.num(2.0))))))


def _torch_step(x: P.Py) -> P.Py:
    """(x > 0).to(x.dtype)."""
    return P.method(P.Compare(">", x, P.num(0)), "to", P.Attr(x, "dtype"))


def _np_indicator(cmp: str) -> Fn:
    """``np.heaviside(a - b, at_tie)``: 1 where ``a cmp b`` holds, a float array."""
    tie = P.num(1.0 if "=" in cmp else 0.0)
    if cmp.startswith(">"):
        return lambda a, b: P.call("np.heaviside", P.binop("-", a, b), tie)
    return lambda a, b: P.call("np.heaviside", P.binop("-", b, a), tie)


def _torch_indicator(cmp: str) -> Fn:
    """``(a cmp b).to(dtype)``: the inputs' dtype, in scope in generated PyTorch code."""
    return lambda a, b: P.method(P.Compare(cmp, a, b), "to", P.Name("dtype"))


def _ordered(pick: Callable[..., Any], *values: Any) -> Any:
    """max or min of numbers as NumPy's maximum and minimum give it; None where one is nan
    (NumPy's is nan, Python's depends on the order)."""
    return None if any(v is None or v != v for v in values) else pick(values)


_ID = lambda x: x  # noqa: E731 - the argument itself, in x * f(x)

scalar("sigmoid", "σ", r"\sigma", _call("sigmoid"), _call("torch.sigmoid"),
       lambda a, out: F("sigmoid_prime")(a), helper=_SIGMOID_HELPER, complement=True,
       doc="logistic function 1 / (1 + exp(-x))")
scalar("sigmoid_prime", "σ'", r"\sigma'", _times(_call("sigmoid"), _one_minus(_call("sigmoid"))),
       _times(_call("torch.sigmoid"), _one_minus(_call("torch.sigmoid"))),
       lambda a, out: out * (1 - 2 * F("sigmoid")(a)),
       expand=lambda a: F("sigmoid")(a) * (1 - F("sigmoid")(a)), user=False,
       helper=_SIGMOID_HELPER)
scalar("tanh", "tanh", r"\tanh", _call("np.tanh"), _call("torch.tanh"),
       lambda a, out: 1 - out ** 2, doc="hyperbolic tangent")
scalar("exp", "exp", r"\exp", _call("np.exp"), _call("torch.exp"),
       lambda a, out: out, doc="exponential", curvature="convex increasing")
scalar("log", "log", r"\log", _call("np.log"), _call("torch.log"),
       lambda a, out: 1 / a, domain="positive", doc="natural logarithm (argument > 0)",
       curvature="concave increasing")
scalar("sqrt", "√", r"\sqrt", _call("np.sqrt"), _call("torch.sqrt"),
       lambda a, out: 1 / (2 * out), domain="positive", style="prefix",
       doc="square root (argument > 0)", curvature="concave increasing",
       on_floats=lambda v: math.sqrt(v) if v >= 0 else None)
scalar("relu", "relu", r"\operatorname{relu}", _call("np.maximum", P.num(0.0)),
       _call("torch.relu"), lambda a, out: F("step")(a), kink=True, doc="max(x, 0)",
       curvature="convex increasing", hinge=True, on_floats=lambda v: _ordered(max, 0.0, v))
scalar("step", "𝟙[{0} > 0]", r"\mathbf{{1}}\left[{0} > 0\right]",
       _call("np.heaviside", P.num(0.0)), _torch_step,
       lambda a, out: S.Zero, user=False, style="template", kink=True, indicator=True,
       positive_at=0)
scalar("softplus", "softplus", r"\operatorname{softplus}", lambda x: P.call(
       "np.logaddexp", P.num(0.0), x), _call("torch.nn.functional.softplus"),
       lambda a, out: F("sigmoid")(a), doc="log(1 + exp(x))", curvature="convex increasing")
scalar("gelu", "gelu", r"\operatorname{gelu}", _times(_ID, _call("Phi")),
       _call("torch.nn.functional.gelu"),
       lambda a, out: F("Phi")(a) + a * F("phi")(a), helper=_PHI_HELPER, needs=("erf",),
       doc="x Φ(x), the exact (erf) form")
scalar("Phi", "Φ", r"\Phi", _call("Phi"), _torch_Phi,
       lambda a, out: F("phi")(a), user=False, helper=_PHI_HELPER, needs=("erf",),
       complement=True)
scalar("phi", "φ", r"\varphi", _gauss("np", _SQRT_2PI, _HALF_SQUARE),
       _gauss("torch", _SQRT_2PI, _HALF_SQUARE), lambda a, out: -a * out, user=False)
scalar("silu", "silu", r"\operatorname{silu}", _times(_ID, _call("sigmoid")),
       _call("torch.nn.functional.silu"),
       lambda a, out: F("sigmoid")(a) * (1 + a * (1 - F("sigmoid")(a))),
       helper=_SIGMOID_HELPER, aliases=("swish",), doc="x σ(x), also called swish")
scalar("abs", "|{0}|", r"\left|{0}\right|", _call("np.abs"), _call("torch.abs"),
       lambda a, out: F("sign")(a), style="template", kink=True,
       aliases=("absolute", "fabs"), doc="absolute value |x|", curvature="convex",
       on_floats=abs)
scalar("sign", "sign", r"\operatorname{sign}", _call("np.sign"), _call("torch.sign"),
       lambda a, out: S.Zero, kink=True, doc="sign of x: −1, 0 or 1 (its derivative 0)",
       on_floats=lambda v: None if v != v else (v > 0) - (v < 0), jumps=True)
scalar("sin", "sin", r"\sin", _call("np.sin"), _call("torch.sin"),
       lambda a, out: F("cos")(a), doc="sine")
scalar("cos", "cos", r"\cos", _call("np.cos"), _call("torch.cos"),
       lambda a, out: -F("sin")(a), doc="cosine")
scalar("log1p", "log1p", r"\operatorname{log1p}", _call("np.log1p"), _call("torch.log1p"),
       lambda a, out: 1 / (1 + a), domain="positive", doc="log(1 + x) (argument > -1)",
       curvature="concave increasing")
scalar("expm1", "expm1", r"\operatorname{expm1}", _call("np.expm1"), _call("torch.expm1"),
       lambda a, out: F("exp")(a), doc="exp(x) - 1", curvature="convex increasing")
scalar("erf", "erf", r"\operatorname{erf}", _call("erf"), _call("torch.erf"),
       lambda a, out: F("erf_prime")(a), helper=_ERF_HELPER,
       doc="error function (NumPy code: math.erf vectorised, exact to double precision)")
scalar("erf_prime", "erf'", r"\operatorname{erf}'", _gauss("np", _SQRT_PI_2, _SQUARE),
       _gauss("torch", _SQRT_PI_2, _SQUARE), lambda a, out: -2 * a * out, user=False)
scalar("square", "square", r"\operatorname{square}", _call("np.square"), _call("torch.square"),
       lambda a, out: 2 * a, doc="x ** 2", curvature="convex", on_floats=lambda v: v * v)

# the ops whose code the code generators also use for matrix forms (a total, an einsum, a
# permutation of axes, the ∘½ power), named here once
SUM, EINSUM, TRANSPOSE, POW_HALF = "sum", "einsum", "transpose", "sqrt"
SOLVE = "linalg.solve"  # A⁻¹ B, in both libraries, without forming A⁻¹
DIAG = "diag"  # the diagonal matrix of a vector: also the matrix form of v ⊙ 𝐈
DIAGONAL = "diagonal"  # the diagonal of a square matrix, a column: the matrix form of A_ii
RESHAPE = "reshape"  # also the matrix form of an element read at an index map
# the ops other modules name: the simplifier's identities (exp(−u) = 1/exp(u), 1/(1 + e⁻ᵘ) =
# σ(u), log(1 + eᵘ) = softplus(u), |u| = sign(u) u, log(softmax(u)) = log_softmax(u)), the
# reading of a softmax's target (roles.py), the parser's operators (graph.py); named here once
EXP, LOG, SIGMOID, SOFTPLUS, ABS, SIGN = "exp", "log", "sigmoid", "softplus", "abs", "sign"
SOFTMAX, LOGSUMEXP, MEAN = "softmax", "logsumexp", "mean"
NEG, TIMES, DIVIDE = "neg", "*", "/"

# -- comparisons, as indicators (Iverson brackets) and in where(cond, a, b) ----------------

class Comparison(Record):
    """One comparison: its op names (gt → the indicator 𝟙[a > b], where_gt), how it prints,
    and Python's operator, which decides it where its arguments are numbers."""

    name: str
    text: str
    latex: str
    holds: Callable[[Any, Any], Any]


COMPARISONS = {">": Comparison("gt", ">", ">", operator.gt),
               "<": Comparison("lt", "<", "<", operator.lt),
               ">=": Comparison("ge", "≥", r"\geq", operator.ge),
               "<=": Comparison("le", "≤", r"\leq", operator.le)}
# the comparison that holds exactly where ``cmp`` does not
NEGATION = {">": "<=", "<": ">=", ">=": "<", "<=": ">"}
# where(a cmp b, x, y)'s op is this prefix and the comparison's name (where_gt)
WHERE_PREFIX = "where_"


def _pick(holds: bool | None, yes: Any, no: Any) -> Any:
    """``yes`` where a comparison is decided true, ``no`` false, None undecided."""
    return None if holds is None else yes if holds else no


def _decided_comparison(cmp: str) -> Fn:
    """``a cmp b`` where its arguments decide it, else None: numbers, or one value on both
    sides (x > x never holds, x ≥ x always)."""
    def holds(a: Any, b: Any) -> bool | None:
        if a == b:
            return bool(COMPARISONS[cmp].holds(0, 0))
        if a.is_Number and b.is_Number:
            return bool(COMPARISONS[cmp].holds(a, b))
        return None
    return holds


def _decided_where(cmp: str) -> Fn:
    """where(a cmp b, x, y) where its arguments decide it: x and y one value (where(c, 1,
    1) is 1), or the comparison decided (where(x > x, x, 2 x) is 2 x); else None."""
    decided = _decided_comparison(cmp)
    return lambda a, b, x, y: x if x == y else _pick(decided(a, b), x, y)


for _cmp, _c in COMPARISONS.items():
    _n, _t, _l = _c.name, _c.text, _c.latex
    scalar(_n, f"𝟙[{{0}} {_t} {{1}}]", f"\\mathbf{{{{1}}}}\\left[{{0}} {_l} {{1}}\\right]",
           _np_indicator(_cmp), _torch_indicator(_cmp), lambda args, out: (S.Zero, S.Zero),
           arity=2, user=False, style="template", kink=True, indicator=True,
           positive_at=0 if _cmp.startswith(">") else 1,  # 𝟙[u > 0], 𝟙[0 < u]
           value=(lambda d: lambda a, b: _pick(d(a, b), S.One, S.Zero))(
               _decided_comparison(_cmp)))
    scalar(f"{WHERE_PREFIX}{_n}", f"where({{0}} {_t} {{1}}, {{2}}, {{3}})",
           f"\\operatorname{{{{where}}}}\\left({{0}} {_l} {{1}}, {{2}}, {{3}}\\right)",
           (lambda c: lambda x, y, a, b: P.call("np.where", P.Compare(c, x, y), a, b))(_cmp),
           (lambda c: lambda x, y, a, b: P.call("torch.where", P.Compare(c, x, y), a, b))(_cmp),
           (lambda n, m: lambda args, out: (S.Zero, S.Zero, F(n)(*args[:2]),
                                            F(m)(*args[:2])))(_n, COMPARISONS[NEGATION[_cmp]].name),
           arity=4, user=False, style="template", kink=True, value=_decided_where(_cmp))

# 𝟙[a = b]: where a reduction's max (or min) was taken, the derivative of max and min
scalar("eq", "𝟙[{0} = {1}]", r"\mathbf{{1}}\left[{0} = {1}\right]",
       lambda a, b: P.method(P.call("np.equal", a, b), "astype", P.Name("float")),
       _torch_indicator("=="), lambda args, out: (S.Zero, S.Zero),
       arity=2, user=False, style="template", kink=True, indicator=True)

scalar("maximum", "maximum", r"\operatorname{maximum}", _call("np.maximum"),
       _call("torch.maximum"), lambda args, out: (F("gt")(*args), F("le")(*args)), arity=2,
       kink=True, aliases=("fmax",), doc="elementwise larger of a and b (broadcasting)",
       hinge=True, on_floats=lambda a, b: _ordered(max, a, b))
scalar("minimum", "minimum", r"\operatorname{minimum}", _call("np.minimum"),
       _call("torch.minimum"), lambda args, out: (F("lt")(*args), F("ge")(*args)), arity=2,
       kink=True, aliases=("fmin",), doc="elementwise smaller of a and b (broadcasting)",
       on_floats=lambda a, b: _ordered(min, a, b))
scalar("between", "𝟙[{1} ≤ {0} ≤ {2}]", r"\mathbf{{1}}\left[{1} \leq {0} \leq {2}\right]",
       lambda x, lo, hi: P.binop("*", _np_indicator(">=")(x, lo), _np_indicator("<=")(x, hi)),
       lambda x, lo, hi: P.binop("*", _torch_indicator(">=")(x, lo),
                                 _torch_indicator("<=")(x, hi)),
       lambda args, out: (S.Zero,) * 3, arity=3, user=False, style="template", kink=True,
       indicator=True)
# clip is minimum(maximum(x, lo), hi), also where lo > hi (then hi everywhere): lo passes the
# gradient where x < lo < hi, hi where hi < maximum(x, lo) (PyTorch's clamp does the same)
scalar("clip_by_lo", "𝟙[{0} < {1} < {2}]", r"\mathbf{{1}}\left[{0} < {1} < {2}\right]",
       lambda x, lo, hi: P.binop("*", _np_indicator("<")(x, lo), _np_indicator("<")(lo, hi)),
       lambda x, lo, hi: P.binop("*", _torch_indicator("<")(x, lo),
                                 _torch_indicator("<")(lo, hi)),
       lambda args, out: (S.Zero,) * 3, arity=3, user=False, style="template", kink=True,
       indicator=True)
scalar("clip_by_hi", "𝟙[{2} < maximum({0}, {1})]",
       r"\mathbf{{1}}\left[{2} < \operatorname{{maximum}}\left({0}, {1}\right)\right]",
       lambda x, lo, hi: _np_indicator(">")(P.call("np.maximum", x, lo), hi),
       lambda x, lo, hi: _torch_indicator(">")(P.call("torch.maximum", x, lo), hi),
       lambda args, out: (S.Zero,) * 3, arity=3, user=False, style="template", kink=True,
       indicator=True)
scalar("clip", "clip", r"\operatorname{clip}", _call("np.clip"), _call("torch.clamp"),
       lambda args, out: (F("between")(*args), F("clip_by_lo")(*args), F("clip_by_hi")(*args)),
       arity=3, kink=True, aliases=("clamp",), arg_names=("x", "lo", "hi"),
       doc="minimum(maximum(x, lo), hi): x limited to [lo, hi] (broadcasting)",
       on_floats=lambda x, lo, hi: _ordered(min, _ordered(max, x, lo), hi))
_ALPHA = Fraction(1, 100)
scalar("leaky_relu", "leaky_relu", r"\operatorname{leaky\_relu}",
       lambda x, alpha: P.call("np.where", P.Compare(">", x, P.num(0)), x,
                               P.binop("*", alpha, x)),
       _call("torch.nn.functional.leaky_relu"),
       lambda args, out: (F("where_gt")(args[0], 0, 1, args[1]),), params=(("alpha", _ALPHA),),
       kink=True, doc="x where x > 0, alpha x elsewhere")
scalar("elu", "elu", r"\operatorname{elu}",
       lambda x, alpha: P.call("np.where", P.Compare(">", x, P.num(0)), x, P.binop(
           "*", alpha, P.call("np.expm1", P.call("np.minimum", x, P.num(0.0))))),
       _call("torch.nn.functional.elu"),
       lambda args, out: (F("where_gt")(args[0], 0, 1, out + args[1]),),
       params=(("alpha", Fraction(1)),), kink=True,
       doc="x where x > 0, alpha (exp(x) - 1) elsewhere")


# ---------------------------------------------------------------------------
# Tensor functions whose component depends on a whole axis of their argument.
# Their arguments are (label, axis, *indices); each knows its own derivative.


class AxisFunction(Function):  # type: ignore[misc]
    """An element of a function of a whole tensor along one axis."""

    nargs = None
    head: str = ""
    reduces: bool = False  # its result drops the axis (its matrix form has fewer axes)

    @property
    def label(self) -> Any:
        return self.args[0]

    @property
    def axis(self) -> int:
        return int(self.args[1])

    @property
    def indices(self) -> Tup:
        return tuple(self.args[2:])

    def dims(self, shape: Tup) -> Tup:
        """The dims its indices run over, of an argument of ``shape``: a reducing function's
        without its axis (logsumexp(Z, axis=1)_ik of Z [B, T, N] over B, N), or with it kept
        as 1 where the indices keep it."""
        if not self.reduces or len(self.indices) == len(shape):
            return tuple(1 if self.reduces and a == self.axis else d for a, d in enumerate(shape))
        return tuple(d for a, d in enumerate(shape) if a != self.axis)

    def _eval_derivative(self, s: Any) -> Any:
        if not (isinstance(s, Indexed) and s.base.label == self.label):
            return S.Zero
        return self.derivative(tuple(s.indices))

    def derivative(self, k: Tup) -> Any:  # pragma: no cover - every subclass defines it
        raise NotImplementedError


class SoftmaxAt(AxisFunction):
    """``softmax(x, axis)[idx]``; its derivative is written with itself."""

    head = "softmax"
    reduces = False

    def derivative(self, k: Tup) -> Any:
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
    reduces = True

    def derivative(self, k: Tup) -> Any:
        ax = self.axis
        same = S.One
        rest = [q for n, q in enumerate(k) if n != ax]
        for p, q in zip(self.indices, rest):
            same *= KroneckerDelta(p, q)
        full = list(self.indices)
        full.insert(ax, k[ax])
        return same * SoftmaxAt(self.label, self.args[1], *full)


class ExtremumAt(AxisFunction):
    """``max(x, axis)[idx]`` (or ``min``), ``idx`` without the reduced axis.  Its derivative
    by ``x_k`` routes the upstream to the arg-max: 𝟙[x_k = max], written with the node that
    holds the max (``eq`` below).  Ties get the whole upstream each; ``verify`` draws
    continuous inputs, so it never samples one (README: reductions)."""

    reduces = True

    def _eval_derivative(self, s: Any) -> Any:
        if not (isinstance(s, Indexed) and s.base.label == self.label):
            return S.Zero
        k = tuple(s.indices)
        same = S.One
        rest = [q for n, q in enumerate(k) if n != self.axis]
        for p, q in zip(self.indices, rest):
            same *= KroneckerDelta(p, q)
        return same * F("eq")(s, self)


class MatrixFunction(AxisFunction):
    """An element of a function of a whole square matrix (``inv``, ``det``, ``logdet``):
    arguments (label, 0, *indices), the 0 an axis it does not have.  Its derivative by
    ``A_kl`` is declared in index form with the inverse ``inv(A)`` as an auxiliary tensor
    (named by the node that holds it, if any), so backprop stays node by node."""

    def _eval_derivative(self, s: Any) -> Any:
        if not (isinstance(s, Indexed) and s.base.label == self.label):
            return S.Zero
        k, l = s.indices
        return self.by(k, l)

    def inverse(self, i: Any, j: Any) -> Any:
        return InvAt(self.label, S.Zero, i, j)

    def by(self, k: Any, l: Any) -> Any:  # pragma: no cover - every subclass defines it
        raise NotImplementedError


class InvAt(MatrixFunction):
    """Y = A⁻¹: ∂Y_ij/∂A_kl = −Y_ik Y_lj (the Matrix Cookbook's adjoint −A⁻ᵀ ∂L/∂Y A⁻ᵀ)."""

    head = "inv"

    def by(self, k: Any, l: Any) -> Any:
        i, j = self.indices
        return -self.inverse(i, k) * self.inverse(l, j)


class DetAt(MatrixFunction):
    """det A: ∂ det A/∂A_kl = det A (A⁻¹)_lk."""

    head = "det"
    reduces = True

    def by(self, k: Any, l: Any) -> Any:
        return self * self.inverse(l, k)


class LogDetAt(MatrixFunction):
    """log det A (det A > 0): ∂/∂A_kl = (A⁻¹)_lk, i.e. A⁻ᵀ."""

    head = "logdet"
    reduces = True

    def by(self, k: Any, l: Any) -> Any:
        return self.inverse(l, k)


class ExtremumOfAllAt(AxisFunction):
    """``max(x)`` (or ``min``) over every axis of a tensor of two or more, a scalar:
    arguments (label, 0); its derivative by ``x_K`` is 𝟙[x_K = max], as along an axis."""

    reduces = True

    def _eval_derivative(self, s: Any) -> Any:
        if not (isinstance(s, Indexed) and s.base.label == self.label):
            return S.Zero
        return F("eq")(s, self)


class MaxOfAllAt(ExtremumOfAllAt):
    head = "max_all"


class MinOfAllAt(ExtremumOfAllAt):
    head = "min_all"


class MaxAt(ExtremumAt):
    head = "max"


class MinAt(ExtremumAt):
    head = "min"



# ---------------------------------------------------------------------------
# Forward expressions and tensor ops


class FExpr(Record):
    """A typed forward expression: an op applied to arguments, with its shape."""

    op: str
    args: Tup = ()
    params: Tup = ()  # (key, value) pairs
    shape: Tup = ()

    def param(self, key: str, default: Any = None) -> Any:
        return next((v for k, v in self.params if k == key), default)

    @property
    def is_ref(self) -> bool:
        return self.op == PseudoOp.REF

    @property
    def is_const(self) -> bool:
        return self.op in (PseudoOp.NUM, PseudoOp.DIM) or (
            self.op != PseudoOp.REF and bool(self.args) and all(a.is_const for a in self.args))


class Op(Record):
    """A tensor op: ``check`` gives the FExpr (or raises), ``comp`` its component,
    ``code`` its code (a pyexpr tree) from its arguments' code and a backend
    (:mod:`einderive.render.backends`), which spells what NumPy and PyTorch spell
    differently."""

    name: str
    check: Fn  # (call_loc, args: list[(FExpr, loc)], kwargs: Kw) -> FExpr
    comp: Fn  # (e: FExpr, idx: Tup, ctx) -> sympy
    code: Fn  # (e: FExpr, args: list[pyexpr], backend) -> pyexpr
    signature: str = ""
    kwargs: Tup = ()  # accepted keyword names
    nargs: Tup = (1, 1)  # min, max positional (max None = any)
    needs_ref: bool = False  # argument must be a named tensor (split out otherwise)
    doc: str = ""
    user: bool = True
    aliases: Tup = ()  # what NumPy/PyTorch users also call it
    condition: bool = False  # its first argument is a comparison (where)
    string_first: bool = False  # its first argument is a string (einsum's subscripts)
    square: bool = False  # its first argument is a matrix it inverts: verify draws an input
    #                       there well conditioned, with a positive determinant
    # its FLOPs as the generated code computes it, this node alone: (e, args: its FExpr
    # arguments, meter: flops.Counter) -> Flops; None: one FLOP per element of its result
    flops: Fn | None = None
    contracts: bool = False  # a matrix product (its inputs are a FLOP counter's matmul operands)
    view: bool = False  # its argument's elements rearranged: a matmul of it reads its argument
    # its check also takes ``dims=``: each dim's size as a SymPy expression of the dims with
    # sizes of their own (D = H·Dh), to check that sizes fit (reshape)
    dims: bool = False
    # and ``declared=``: the declared sizes of those dims (symbol → int), to say whether two
    # sizes that differ for some sizes are equal at the declared ones (reshape's message)
    declared: bool = False
    sizes_last: bool = False  # its arguments after the first are sizes: code passes them as ints
    list_first: bool = False  # its first argument is a list of tensors (concatenate's pieces)
    # its result has a new axis as long as it has pieces (stack): the graph gives that count
    # a dim before the check (graph.count_dim), which finds it among ``dims`` by its value
    count_axis: bool = False
    # how the Gauss-Newton split (convex.py) reads its curvature: 'linear' (in its first
    # argument, with nonnegative weights: a sum, a view), 'add', 'sub', 'neg', 'mul', 'div',
    # 'pow', 'contract' (a product of its tensor arguments), or a function's shape as
    # ScalarFn.curvature says; '' where it is none of these
    curvature: str = ""
    all_refs: bool = False  # every tensor argument a named tensor (conv's X and W, read apart)
    # how NumPy's method spelling passes what follows the tensor one by one: the keyword
    # those arguments gather into as a tuple (x.transpose(0, 2, 1) is transpose(x, axes=(0,
    # 2, 1))), or '[]' for one list after the tensor (x.reshape(2, 3) is reshape(x, [2, 3]))
    gathers: str = ""
    # NumPy's and PyTorch's spelling passes the keywords positionally, in this order (x.sum(1)
    # is sum(x, axis=1)); False where a library's next argument is another thing (norm's
    # order: np.linalg.norm(x, 1) is the 1-norm, not norm(x, axis=1))
    positional_keywords: bool = True
    # its value may be infinite where its arguments are finite: (*args) -> bool, the arguments
    # SymPy's or the matrix form's (x ** p with p negative or not whole: a reciprocal, a root,
    # where x is 0); None where it never is. An indicator beside such a factor is the code's
    # strong zero (0 there, never 0 · inf)
    unbounded: Fn | None = None


OPS: dict[str, Op] = {}
# Python's own operators: they take numbers as well as arrays, and an expression of them over
# numbers and dims is a constant (graph checks divisors with it, code keeps it a number)
ARITHMETIC = frozenset({"+", "-", "*", "/", "neg", "**"})
POWER = "**"  # also a quotient's op in SymPy's trees and the matrix form's: a power −1


def op(name: str, **kw: Any) -> Fn:
    def register(check: Fn) -> Fn:
        OPS[name] = Op(name=name, check=check, **kw)
        return check
    return register


def _mismatch(what: str, a: Tup, b: Tup, loc: Any, hint: str) -> SpecError:
    return ShapeMismatch(f"{what}: shapes {shapes.fmt(a)} and {shapes.fmt(b)} do not match",
                         loc, hint, (a, b))


# -- elementwise arithmetic ---------------------------------------------------


def _broadcast_check(sym: str) -> Fn:
    def check(loc: Any, args: Args, kwargs: Kw) -> FExpr:
        (a, la), (b, lb) = args
        out = shapes.broadcast(a.shape, b.shape)
        if out is None:
            raise _mismatch(f"cannot broadcast the operands of '{sym}'", a.shape, b.shape, loc,
                            "elementwise ops follow NumPy broadcasting: trailing dims must be "
                            "equal or 1 (use keepdims=True to keep a reduced axis)")
        return FExpr(sym, (a, b), (), out)
    return check


def _bin_comp(f: Fn) -> Fn:
    def comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
        a, b = e.args
        return f(ctx.comp(a, shapes.align(idx, a.shape)), ctx.comp(b, shapes.align(idx, b.shape)))
    return comp


# -- FLOP counts (flops.py's conventions; ``meter`` is its Counter, which makes the Flops)


def _free_flops(e: FExpr, args: list[FExpr], meter: Any) -> Any:
    return meter.free()


def _matmul_flops(e: FExpr, args: list[FExpr], meter: Any) -> Any:
    # NumPy's matmul: 2k FLOPs per element of the result
    return meter.matmul(2 * meter.numel(e.shape) * meter.size(args[0].shape[-1]))


def _reduce_flops(mean: bool) -> Fn:
    def count(e: FExpr, args: list[FExpr], meter: Any) -> Any:
        if not e.param("axes"):
            return meter.free()
        divide = meter.numel(e.shape) if mean else 0
        return meter.other(meter.numel(args[0].shape) + divide)
    return count


def _l2_flops(e: FExpr, args: list[FExpr], meter: Any) -> Any:
    return meter.other(3 * meter.numel(args[0].shape))  # Σ (a − b)²: subtract, square, add


def _einsum_flops(e: FExpr, args: list[FExpr], meter: Any) -> Any:
    sub = e.param("subscripts")
    lhs, out = sub.split("->") if "->" in sub else (sub, _implicit_output(sub))
    terms = lhs.split(",")
    sizes = {ch: meter.size(s) for term, a in zip(terms, args) for ch, s in zip(term, a.shape)}
    return meter.einsum(terms, out, sizes)


def _implicit_output(sub: str) -> str:
    letters = sub.replace(",", "")
    return "".join(sorted(ch for ch in set(letters) if letters.count(ch) == 1))


def _axis_flops(name: str) -> Fn:
    def count(e: FExpr, args: list[FExpr], meter: Any) -> Any:
        (x,) = args
        return meter.axis(name, x.shape, e.param("axis"), meter.numel(e.shape))
    return count


for _sym, _f, _py, _curv in (("+", lambda x, y: x + y, "+", "add"),
                             ("-", lambda x, y: x - y, "-", "sub"),
                             ("*", lambda x, y: x * y, "*", "mul"),
                             ("/", lambda x, y: x / y, "/", "div")):
    OPS[_sym] = Op(_sym, _broadcast_check(_sym), _bin_comp(_f),
                   (lambda p: lambda e, c, b: P.binop(p, c[0], c[1]))(_py), nargs=(2, 2),
                   doc="elementwise, NumPy broadcasting", user=False, curvature=_curv)


@op("neg", comp=lambda e, idx, ctx: -ctx.comp(e.args[0], idx),
    code=lambda e, c, b: P.neg(c[0]), user=False, flops=_free_flops, curvature="neg")
def _neg(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (a, _), = args
    return FExpr("neg", (a,), (), a.shape)


@op(POWER, comp=lambda e, idx, ctx: ctx.comp(e.args[0], idx) ** ctx.comp(e.args[1], ()),
    code=lambda e, c, b: P.binop("**", c[0], c[1]), nargs=(2, 2), user=False, curvature="pow",
    unbounded=lambda x, p: not (p.is_Integer and p >= 0))
def _pow(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (a, la), (p, lp) = args
    if p.is_const and p.shape == () and (p.op == PseudoOp.DIM or mentions_dim(p)):
        raise SpecError("the exponent of '**' is a dim; an exponent must be a number", lp,
                        "write the dim's size as a number, e.g. x ** 3")
    if not p.is_const or p.shape != ():
        raise SpecError("the exponent of '**' must be a number", lp,
                        "e.g. x ** 2 or x ** 0.5; for a tensor exponent write exp(p * log(x))")
    value = constant_value(p)
    if value is not None and not value.is_real:  # (-8) ** (1/3), (-1) ** 0.5
        raise SpecError("the exponent of '**' is not a real number", lp,
                        "an exponent is a real number: x ** 2, x ** 0.5, x ** -1.5")
    if value is not None and not value.is_Rational:
        raise SpecError(f"the exponent of '**' is {value}, not a rational number", lp,
                        f"write it as a decimal: x ** {float(value)!r}")
    return FExpr("**", (a, p), (), a.shape)


# -- what the code generators ask of a factor, of either tree (SymPy's, the matrix form's)

Call = tuple[str, Tup] | None  # a tree's node read as an op of the table and its arguments


def call_of(e: Any) -> Call:
    """A SymPy node as the op it is: ``x ** p``, or a call of a scalar function's row; None
    for anything else (the matrix form's reading is :func:`einderive.matrix.call_of`)."""
    if isinstance(e, sympy.Pow):
        return POWER, e.args
    if isinstance(e, ElementwiseFunction):
        return e.spec.name, e.args
    return None


def is_indicator(call: Call) -> bool:
    """Whether a node read as ``call`` is an indicator, 𝟙[…] (its row's flag)."""
    row = SCALARS.get(call[0]) if call is not None else None
    return row is not None and row.indicator


def may_be_infinite(nodes: Iterable[Any], read: Callable[[Any], Call],
                    adjoint: Callable[[Any], bool]) -> bool:
    """Whether a factor whose nodes are ``nodes`` may not be finite where the forward pass is:
    it holds an op whose row says it may be of finite arguments (a reciprocal, a root), or
    an adjoint, which may be (∂L/∂r of √r at r = 0). ``read`` reads a node as an op
    (:func:`call_of`), ``adjoint`` says whether it is an adjoint: one of each per tree."""
    return any(adjoint(n) or _unbounded(read(n)) for n in nodes)


def _unbounded(call: Call) -> bool:
    """Whether a node read as ``call`` may be infinite of finite arguments (its row says)."""
    row = OPS.get(call[0]) if call is not None else None
    return call is not None and row is not None and row.unbounded is not None and \
        bool(row.unbounded(*call[1]))


_PYTHON_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "**": operator.pow}
_POWER_BITS = 1 << 16  # a whole number power Python computes exactly, up to this many bits


def float_value(e: FExpr) -> int | float | None:
    """The value of an arithmetic expression of numbers as the generated code computes it, in
    the user's Python: each literal as Python reads it (one written with . e or E a float,
    2.0 too, any other an int; a number with no text as :func:`pyexpr.num` writes it, a whole
    one up to 2⁵³ an int, any other a float), each operation Python's (a float's rounded, an int's exact) or
    NumPy's where its row says it (``on_floats``: abs, sqrt, maximum …), so that ``0.1 + 0.2``
    is 0.30000000000000004 and ``1 + 1e-17`` is 1.0; None where ``e`` reads a tensor, a dim
    or any other op, or where Python would not give a real number.
    A comparison of two such values is decided as NumPy decides it, not in exact rationals
    (:func:`constant_value`), whose answer differs where rounding crosses it."""
    if e.op == PseudoOp.NUM:
        v = Fraction(e.param("value"))
        text = str(e.param("text", ""))
        int_text = not any(ch in text for ch in ".eE")  # (no text: a number the engine built)
        if v.denominator == 1 and int_text and (abs(v) <= P.FLOAT_EXACT_WHOLE or text):
            return int(v)  # (a whole literal is Python's int at any size: 2⁵³ + 1 − 2⁵³ is 1;
            # 2.0 is a float, so 10 ** 400 * 2.0 raises OverflowError, as Python raises it)
        try:
            return float(v)
        except OverflowError:  # (past a float's range)
            return None
    fn = SCALARS.get(e.op)
    if e.shape != () or (e.op not in ARITHMETIC and (fn is None or fn.on_floats is None)):
        return None
    values = [float_value(a) for a in e.args]
    if any(v is None for v in values):
        return None
    if fn is not None and fn.on_floats is not None:
        out = fn.on_floats(*values)
        return out if isinstance(out, (int, float)) else None
    try:
        return _python_arithmetic(e.op, values)  # type: ignore[arg-type]
    except ArithmeticError:  # division by zero (reported where it is built), overflow
        return None


def _python_arithmetic(op: str, values: list[int | float]) -> int | float | None:
    """``op`` of ``values`` as Python computes it (raising as it raises: ZeroDivisionError,
    OverflowError); None for a complex number ((−8) ** 0.5) or a whole power past
    :data:`_POWER_BITS`."""
    if op == "neg":
        return -values[0]
    a, b = values
    if op == "**" and isinstance(a, int) and isinstance(b, int) and \
            b * max(a.bit_length(), 1) > _POWER_BITS:
        return None
    out = _PYTHON_ARITHMETIC[op](a, b)
    return out if isinstance(out, (int, float)) else None


FLOAT_MAX = sys.float_info.max  # (1.7976931348623157e308)


def overflows(e: FExpr) -> bool:
    """Whether the user's Python computes ``e``, an operation of finite numbers alone, past a
    float's range: a float inf (``1e308 * 10``) or an OverflowError (``10.0 ** 400``,
    ``10 ** 400 + 0.5``).  Python's ints past it are exact (``10 ** 400 - 10 ** 400`` is 0)
    until they meet a tensor (:func:`past_floats`)."""
    if e.op not in ARITHMETIC or e.shape != ():
        return False
    values = [float_value(a) for a in e.args]
    if any(v is None or isinstance(v, float) and not math.isfinite(v) for v in values):
        return False
    try:
        out = _python_arithmetic(e.op, values)  # type: ignore[arg-type]
    except OverflowError:
        return True
    except ArithmeticError:
        return False
    return isinstance(out, float) and math.isinf(out)


def past_floats(e: FExpr) -> bool:
    """Whether ``e`` is numbers alone that Python computes as an int past a float's range
    (``10 ** 400``), which NumPy and PyTorch cannot take beside a tensor."""
    value = float_value(e)
    return isinstance(value, int) and abs(value) > FLOAT_MAX


# the significant digits to which the user's floats and the exact value of an arithmetic of
# numbers must agree for the exact value to stand (1 - 0.9999 is 1/10000, its float
# 9.999999999998899e-05 one rounding away, far below what any check sees): rounding that
# cancellation amplifies is met where it happens, each operation reading its operands' floats
AGREE_DIGITS = 9


def as_computed(e: FExpr) -> FExpr:
    """An arithmetic of numbers as the user's program means it, each operation read as its
    operands now mean (the graph calls it on each one it builds): its exact value where the
    user's floats compute it to :data:`AGREE_DIGITS` significant digits (``0.1 + 0.2`` stays
    3/10, its float 0.30000000000000004 one rounding away), else the number they compute, as the
    literal that writes it (``0.1 + 0.2 - 0.3`` is 5.551115123125783e-17, not 0, so
    ``(0.1 + 0.2 - 0.3) * 1e17 * x`` has the gradient 5.551115123125783 NumPy computes;
    ``1e16 + 1 - 1e16`` is 0, not 1).  An operation of a number so folded is the float it
    computes whatever the exact value (``(0.1 + 0.2 - 0.3) ** -1`` is 1.8014398509481984e16,
    not 10³²/5551115123125783), and one of Python's ints that reads a whole literal past 2⁵³
    is the int it computes (``9007199254740993 - 9007199254740992`` is 1, which the code
    then writes: :func:`pyexpr.num` writes such a literal as a float).  ``e`` itself where it
    reads a dim, a tensor or an op with no exact value here, or where Python gives no finite
    real number."""
    if e.op not in ARITHMETIC or e.shape != () or mentions_dim(e):
        return e
    computed, exact = float_value(e), constant_value(e)
    if computed is None or exact is None or isinstance(computed, float) and \
            not math.isfinite(computed):  # (an int is finite: 10 ** 400, past a float's range)
        return e
    if isinstance(computed, int):  # Python's ints: exact
        return _literal(computed, folded=False) if _past_whole_floats(e) else e
    gap = sympy.Abs(exact - sympy_number(Fraction(computed)))
    if bool(gap * 10 ** AGREE_DIGITS <= sympy.Abs(exact)) and \
            not any(_folded(a) for a in e.args):
        return e
    return _literal(computed, folded=True)


def _literal(value: int | float, folded: bool) -> FExpr:
    """The number ``value`` as the literal that writes it (a negative one a minus of it);
    ``folded``: a float the user's floats computed where the exact value differs."""
    text = repr(abs(value))
    number = FExpr(PseudoOp.NUM, (), (("value", Fraction(text)), ("text", text)) +
                   ((("folded", True),) if folded else ()), ())
    return FExpr(NEG, (number,), (), ()) if value < 0 else number


def _folded(e: FExpr) -> bool:
    """Whether ``e`` is a number :func:`as_computed` folded to the user's float (or its minus)."""
    if e.op == NEG:
        e = e.args[0]
    return e.op == PseudoOp.NUM and bool(e.param("folded"))


def _past_whole_floats(e: FExpr) -> bool:
    """Whether ``e`` reads a whole literal (no . e E) past a float's exact whole numbers."""
    if e.op == PseudoOp.NUM:
        v, text = Fraction(e.param("value")), str(e.param("text", ""))
        return v.denominator == 1 and abs(v) > P.FLOAT_EXACT_WHOLE and bool(text) and \
            not any(ch in text for ch in ".eE")
    return any(_past_whole_floats(a) for a in e.args)


def writes_decimals(e: FExpr) -> bool:
    """Whether ``e`` is numbers alone and writes a decimal (``0.1 + 0.2``, ``1e-5``, not
    ``1 / 4``): a named constant's line then prints its value as its decimal where that is
    exact (``c = 0.3``, as the line wrote it, not 3/10)."""
    def numbers(e: FExpr) -> bool:
        return e.op == PseudoOp.NUM or e.op in ARITHMETIC and all(map(numbers, e.args))

    def decimal(e: FExpr) -> bool:
        return any(ch in str(e.param("text", "")) for ch in ".eE") or any(map(decimal, e.args))
    return numbers(e) and decimal(e)


def constant_value(e: FExpr) -> Any:
    """The SymPy value of an arithmetic expression of numbers and dims (dims as positive
    integer symbols), or None if ``e`` reads a tensor or applies any other op."""
    if e.op == PseudoOp.NUM:
        return sympy_number(e.param("value"))
    if e.op == PseudoOp.DIM:
        return sympy.Symbol(e.param("name"), integer=True, positive=True)
    if e.op not in ARITHMETIC or e.shape != ():
        return None
    values = [constant_value(a) for a in e.args]
    if any(v is None for v in values):
        return None
    if e.op == "neg":
        return -values[0]
    a, b = values
    if e.op == "/" or e.op == "**":
        if e.op == "**" and b.is_negative and a == 0 or e.op == "/" and b == 0:
            return None  # reported where it is built
        return a / b if e.op == "/" else a ** b
    return a + b if e.op == "+" else a - b if e.op == "-" else a * b


def mentions_dim(e: FExpr) -> bool:
    """Whether ``e`` reads a dim anywhere."""
    return e.op == PseudoOp.DIM or any(mentions_dim(a) for a in e.args if isinstance(a, FExpr))


# -- transposes -----------------------------------------------------------------


def _transpose_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    axes = e.param("axes")
    (a,) = e.args
    inner = [None] * len(idx)
    for out_pos, src in enumerate(axes):
        inner[src] = idx[out_pos]
    return ctx.comp(a, tuple(inner))


def _transpose_code(e: FExpr, c: list[Any], b: Any) -> Any:
    return b.permute(c[0], e.param("axes"))


@op("transpose", comp=_transpose_comp, code=_transpose_code, kwargs=("axes",), flops=_free_flops,
    view=True, curvature="linear", gathers="axes", aliases=("permute",),
    signature="transpose(x, axes=None)", doc="reverse (or permute) the axes; x.T is the same")
def _transpose(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (a, la), = args
    nd = len(a.shape)
    axes = kwargs.get("axes")
    if axes is None:
        perm = tuple(reversed(range(nd)))
    else:
        value, aloc = axes
        perm = _int_tuple(value, aloc, "axes")
        norm = [shapes.normalize_axis(x, nd) for x in perm]
        valid = [x for x in norm if x is not None]
        if len(valid) != len(norm) or sorted(valid) != list(range(nd)):
            raise SpecError(f"axes {tuple(perm)} is not a permutation of the {nd} axes of a "
                            f"tensor of shape {shapes.fmt(a.shape)}", aloc,
                            f"list each axis 0 … {nd - 1} once, in the new order, e.g. "
                            f"axes={tuple(reversed(range(nd)))}")
        perm = tuple(valid)
    return FExpr("transpose", (a,), (("axes", perm),), tuple(a.shape[p] for p in perm))


# -- matmul -----------------------------------------------------------------------


@op("@", comp=lambda e, idx, ctx: _matmul_comp(e, idx, ctx),
    code=lambda e, c, b: P.binop("@", c[0], c[1]), nargs=(2, 2), user=False, flops=_matmul_flops,
    contracts=True, curvature="contract",
    doc="matrix product (NumPy's matmul)")
def _matmul(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (a, la), (b, lb) = args
    sa, sb = a.shape, b.shape
    if not sa or not sb:
        raise SpecError("'@' needs tensors with at least one axis; a scalar has none", loc,
                        "multiply by a scalar with '*'")
    ka = sa[-1]
    kb = sb[0] if len(sb) == 1 else sb[-2]
    if ka != kb:
        raise _mismatch("cannot multiply with '@'", sa, sb, loc,
                        f"the last axis of the left operand ({shapes.dim_name(ka)}) must "
                        f"equal the {'only' if len(sb) == 1 else 'second-to-last'} axis of the "
                        f"right ({shapes.dim_name(kb)})")
    out = shapes.matmul(sa, sb)
    if out is None:
        raise _mismatch("cannot broadcast the batch axes of '@'", sa, sb, loc,
                        "batch axes follow NumPy broadcasting")
    return FExpr("@", (a, b), (), out)


def _matmul_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
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


def int_literal(e: FExpr | None) -> int | None:
    """The value of an integer written as one (``1``, ``-2``), else None: ``axis=1.0`` is
    NumPy's TypeError, not axis 1, and ``-1.5`` no axis at all."""
    if e is not None and e.op == "neg":
        inner = int_literal(e.args[0]) if e.args[0].op == PseudoOp.NUM else None
        return None if inner is None else -inner
    if e is None or e.op != PseudoOp.NUM or Fraction(e.param("value")).denominator != 1:
        return None
    text = e.param("text")
    return None if text is not None and not str(text).lstrip("+-").isdigit() \
        else int(e.param("value"))


def _int_tuple(e: FExpr | None, loc: Any, what: str) -> tuple[int, ...]:
    one = int_literal(e)
    if one is not None:
        return (one,)
    if e is not None and e.op == PseudoOp.TUPLE:
        return tuple(x for item in e.args for x in _int_tuple(item, loc, what))
    raise SpecError(f"'{what}' must be an integer or a tuple of integers", loc,
                    f"e.g. {what}=-1 or {what}=(0, 1)")


def _flag(kwargs: Kw, key: str, default: bool = False) -> bool:
    if key not in kwargs:
        return default
    value, loc = kwargs[key]
    if value.op == PseudoOp.BOOL:
        return bool(value.param("value"))
    raise SpecError(f"'{key}' must be True or False", loc)


def _axes(kwargs: Kw, nd: int, shape: Tup) -> tuple[int, ...]:
    """The sorted axes of ``axis=`` (every axis when absent or None)."""
    if "axis" not in kwargs or kwargs["axis"][0].op == PseudoOp.NONE:
        return tuple(range(nd))
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
            raise SpecError(f"axis {x} is repeated", loc,
                            "list each axis once, e.g. axis=(0, 1)" if nd > 1
                            else "a 1-d tensor has one axis: axis=0")
        out.append(ax)
    return tuple(sorted(out))


def _reduce_check(name: str) -> Fn:
    def check(loc: Any, args: Args, kwargs: Kw) -> FExpr:
        (a, la), = args
        nd = len(a.shape)
        axes = _axes(kwargs, nd, a.shape)
        keep = _flag(kwargs, "keepdims")
        shape = tuple(1 if n in axes else d for n, d in enumerate(a.shape)) if keep else \
            tuple(d for n, d in enumerate(a.shape) if n not in axes)
        return FExpr(name, (a,), (("axes", axes), ("keepdims", keep)), shape)
    return check


def _reduce_comp(mean: bool, norm: bool = False) -> Fn:
    """sum or mean over the axes; with ``norm``, √(Σ x²) (the 2-norm, Frobenius for a matrix)."""
    def comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
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
        x = ctx.comp(a, tuple(full))
        body = ctx.sum(x ** 2 if norm else x, tuple(summed))
        return F(POW_HALF)(body) if norm else body / count if mean else body
    return comp


def _reduce_code(fn: str) -> Fn:
    return lambda e, c, b: b.reduce(fn, c[0], e.param("axes"), e.param("keepdims"),
                                    len(e.args[0].shape))


for _name, _mean in (("sum", False), ("mean", True)):
    OPS[_name] = Op(_name, _reduce_check(_name), _reduce_comp(_mean), _reduce_code(_name),
                    kwargs=("axis", "keepdims"), signature=f"{_name}(x, axis=None, keepdims=False)",
                    flops=_reduce_flops(_mean), curvature="linear",
                    doc="sum over axes (all by default)" if not _mean
                    else "mean over axes (all by default)")

OPS["norm"] = Op("norm", _reduce_check("norm"), _reduce_comp(False, norm=True),
                 lambda e, c, b: b.sqrt(b.reduce(SUM, P.binop("**", c[0], P.num(2)),
                                                 e.param("axes"), e.param("keepdims"),
                                                 len(e.args[0].shape))),
                 kwargs=("axis", "keepdims"), signature="norm(x, axis=None, keepdims=False)",
                 aliases=("frobenius", "l2_norm"), curvature="convex", positional_keywords=False,
                 doc="√(sum(x**2)) over axes (all by default): the 2-norm of a vector, the "
                     "Frobenius norm of a matrix; derivative x / norm")


@op("l2_loss", comp=lambda e, idx, ctx: _l2_comp(e, ctx),
    code=lambda e, c, b: b.reduce("sum", P.binop("**", P.binop("-", c[0], c[1]), P.num(2))),
    nargs=(2, 2), flops=_l2_flops, curvature="convex",
    signature="l2_loss(a, b)", doc="sum((a - b)**2), a scalar")
def _l2(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (a, la), (b, lb) = args
    out = shapes.broadcast(a.shape, b.shape)
    if out is None:
        raise _mismatch("cannot broadcast the arguments of l2_loss", a.shape, b.shape, loc,
                        "l2_loss(a, b) compares tensors of the same shape")
    return FExpr("l2_loss", (a, b), (("shape", out),), ())


def _l2_comp(e: FExpr, ctx: Any) -> Any:
    a, b = e.args
    out = e.param("shape")
    idx = tuple(0 if d == 1 else ctx.fresh(d) for d in out)
    diff = ctx.comp(a, shapes.align(idx, a.shape)) - ctx.comp(b, shapes.align(idx, b.shape))
    return ctx.sum(diff ** 2, tuple(i for i in idx if i != 0))


# -- einsum -----------------------------------------------------------------------


@op("einsum", comp=lambda e, idx, ctx: _einsum_comp(e, idx, ctx),
    code=lambda e, c, b: b.einsum(e.param("subscripts"), c),
    nargs=(2, None), signature='einsum("ij,j->i", A, x)', doc="NumPy's einsum, any operands",
    string_first=True, flops=_einsum_flops, contracts=True, curvature="contract")
def _einsum(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (sub, sloc), *operands = args
    if sub.op != PseudoOp.STR:
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
            if ch in sizes and 1 in (d, sizes[ch]):  # a size-1 axis broadcasts, as in NumPy
                sizes[ch] = d if sizes[ch] == 1 else sizes[ch]  # (_einsum_comp reads it at 0)
                continue
            if ch in sizes and sizes[ch] != d:
                raise SpecError(f"einsum letter {ch!r} stands for both {sizes[ch]} and {d}", xloc,
                                "a letter repeated across operands must stand for the same dim "
                                "(or be a size-1 axis, which broadcasts as in NumPy)")
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


def _einsum_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
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


def _axis_text(value: FExpr) -> str:
    if value.op == PseudoOp.NONE:
        return "None"
    if value.op == PseudoOp.TUPLE:
        return "(" + ", ".join(_axis_text(x) for x in value.args) + \
            ("," if len(value.args) == 1 else "") + ")"
    one = int_literal(value)
    return str(one) if one is not None else "…"


def _single_axis_hint(name: str, a: FExpr, value: FExpr) -> str:
    """What a one-axis op (softmax, log_softmax, logsumexp) takes, and for logsumexp how to
    reduce several axes (nested: log Σ_j exp(log Σ_k exp x_jk) = log Σ_jk exp x_jk)."""
    nd = len(a.shape)
    first = f"e.g. axis=-1 (the last of the {nd} axes)" if nd > 1 else "axis=0"
    if name != "logsumexp" or nd < 2:
        return first
    axes = list(range(nd))
    if value.op == PseudoOp.TUPLE:
        given = [int_literal(x) for x in value.args]
        if all(g is not None for g in given):
            norm = [shapes.normalize_axis(int(g), nd) for g in given if g is not None]
            if all(a is not None for a in norm) and len(set(norm)) == len(norm) > 1:
                axes = sorted(a for a in norm if a is not None)
    nested = str(a.param("name")) if a.op == PseudoOp.REF else "x"
    for ax in reversed(axes):
        nested = f"logsumexp({nested}, axis={ax})"
    which = "every axis" if value.op == PseudoOp.NONE else "several axes"
    return f"{first}; over {which}, nest one axis at a time (last first): {nested}"


def _axis_check(name: str, keep_allowed: bool = False) -> Fn:
    def check(loc: Any, args: Args, kwargs: Kw) -> FExpr:
        (a, la), = args
        nd = len(a.shape)
        if nd == 0:
            raise SpecError(f"{name} needs a tensor with at least one axis", la)
        if "axis" in kwargs:
            value, aloc = kwargs["axis"]
            raw = () if value.op == PseudoOp.NONE else _int_tuple(value, aloc, "axis")
            if len(raw) != 1:  # None or several axes (a float is _int_tuple's error)
                raise SpecError(f"{name} takes a single integer axis, not axis={_axis_text(value)}",
                                aloc, _single_axis_hint(name, a, value))
            ax = shapes.normalize_axis(raw[0], nd)
            if ax is None:
                raise SpecError(f"axis {raw[0]} is out of range for a tensor of shape "
                                f"{shapes.fmt(a.shape)}", aloc,
                                f"axes of a {nd}-d tensor run from {-nd} to {nd - 1}")
        else:
            ax = nd - 1
        keep = _flag(kwargs, "keepdims") if keep_allowed else True
        if AXIS_OPS[name].reduces:
            shape = tuple(1 if n == ax else d for n, d in enumerate(a.shape)) if keep else \
                tuple(d for n, d in enumerate(a.shape) if n != ax)
        else:
            shape = a.shape
        return FExpr(name, (a,), (("axis", ax), ("keepdims", keep)), shape)
    return check


def _axis_code(fn: str) -> Fn:
    return lambda e, c, b: b.axis_fn(fn, c[0], e.param("axis"), len(e.args[0].shape),
                                     AXIS_OPS[fn].reduces and e.param("keepdims"))


def _of_one(e: FExpr) -> bool:
    """Whether ``e`` reduces (or normalises) an axis of literal size one: then logsumexp, max
    and min there are their argument, softmax is 1 and log_softmax 0 (the lowering says so,
    rather than printing a softmax of one entry beside a 𝟏 of another size)."""
    ax = e.param("axis")
    return ax is not None and e.args[0].shape[ax] == 1


def _at_one(e: FExpr, idx: Tup, ctx: Any) -> Any:
    """The argument of ``e`` (a reduction over its axis of size one) at ``idx``."""
    (a,) = e.args
    ax = e.param("axis")
    rest = [i for n, i in enumerate(idx) if n != ax] if e.param("keepdims") else list(idx)
    return ctx.comp(a, tuple(rest[:ax]) + (0,) + tuple(rest[ax:]))


def _constant_along(e: FExpr, idx: Tup, ctx: Any) -> tuple[Any, Any] | None:
    """(c, n) where the argument of ``e`` is the number c at every entry (a softmax over an
    axis of one, lowered to 1) and its axis has n entries, else None: logsumexp of it is
    c + log(n), log_softmax −log(n), softmax 1/n (printed as such, never as a function of
    𝟏 whose size no reader knows)."""
    (a,) = e.args
    while a.op == PseudoOp.REF:  # (an anonymous node's own definition: softmax(x3) of x3 M×1)
        t = ctx.graph[a.param("name")]
        if t.kind != TensorKind.ANON or t.expr is None:
            break
        a = t.expr
    ax = e.param("axis")
    if AXIS_OPS[e.op].reduces:  # (its indices lack the axis: read at its first entry)
        at = [i for n, i in enumerate(idx) if n != ax] if e.param("keepdims") else list(idx)
        c = ctx.comp(a, tuple(at[:ax]) + (S.Zero,) + tuple(at[ax:]))
    else:  # (softmax's indices are its argument's: the entry itself)
        c = ctx.comp(a, tuple(idx))
    if not (isinstance(c, sympy.Expr) and c.is_number):
        return None
    return c, ctx.size(a.shape[ax])


def _softmax_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    (a,) = e.args
    if _of_one(e):
        return S.One
    const = _constant_along(e, idx, ctx)
    if const is not None:
        return 1 / const[1]
    return SoftmaxAt(ctx.label(a), e.param("axis"), *idx)


def _log_softmax_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    (a,) = e.args
    if _of_one(e):
        return S.Zero
    const = _constant_along(e, idx, ctx)
    if const is not None:
        return -F("log")(const[1])
    ax = e.param("axis")
    rest = [i for n, i in enumerate(idx) if n != ax]
    return ctx.comp(a, idx) - LogSumExpAt(ctx.label(a), ax, *rest)


def _logsumexp_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    (a,) = e.args
    if _of_one(e):
        return _at_one(e, idx, ctx)
    const = _constant_along(e, idx, ctx)
    if const is not None:
        return const[0] + F("log")(const[1])
    ax = e.param("axis")
    rest = [i for n, i in enumerate(idx) if n != ax] if e.param("keepdims") else list(idx)
    return LogSumExpAt(ctx.label(a), ax, *rest)


class AxisOp(Record):
    """A function of a whole axis: what the code generators and recognizer need of it."""

    name: str
    reduces: bool  # its result drops the axis (logsumexp) or keeps its argument's shape
    helper: str  # its NumPy helper, in the generated module
    torch: str  # its PyTorch function, which takes dim= (and keepdim= when it reduces)
    needs: Tup = ()  # helpers its helper calls, defined first
    numpy: str = ""  # a NumPy function called instead of a helper (always given axis=)
    last_by_default: bool = True  # axis= defaults to -1 (softmax); else printed unless 1-d
    has_axis: bool = True  # False: a function of a whole square matrix (inv, det)
    inverse: bool = False  # its value is A⁻¹: code multiplies by it with a solve instead
    text: str = ""  # how it prints, if not as a call: '{0}⁻¹' (terminal), ...
    latex: str = ""  # ... '{0}^{-1}' (LaTeX)
    text_t: str = ""  # its transpose: '{0}⁻ᵀ' (the Matrix Cookbook's A⁻ᵀ)
    latex_t: str = ""
    # FLOPs per element read, per row (an element of the reduced result), per element written
    flops: tuple[int, int, int] = (0, 0, 0)

    def flops_of(self, read: Any, rows: Any, written: Any) -> Any:
        """Its FLOPs on ``read`` elements in ``rows`` rows, writing ``written`` elements."""
        per_read, per_row, per_written = self.flops
        return per_read * read + per_row * rows + per_written * written
    # a function of a whole n×n matrix: its FLOPs from n (then ``flops`` is not read)
    per_matrix: Fn | None = None
    transpose_free: bool = False  # its value at Aᵀ is its value at A (det, log det)
    sums_to_one: bool = False  # its values along its axis add up to 1 (softmax)

    def same_at_transpose(self, shape: Tup) -> bool:
        """Whether its value at a transpose of an argument of ``shape`` is its value at the
        argument: det(Aᵀ) = det(A) for a matrix, rank 2 only; of a batch of matrices
        (transpose(X, (1, 0, 2)), its matrices' rows swapped across the batch) it is not."""
        return self.transpose_free and len(shape) == 2


AXIS_OPS = {o.name: o for o in (
    AxisOp("softmax", False, "def softmax(x, axis=-1):\n"
           "    z = np.exp(x - np.max(x, axis=axis, keepdims=True))\n"
           "    return z / np.sum(z, axis=axis, keepdims=True)", "torch.softmax",
           flops=(5, 0, 0), sums_to_one=True),  # max, subtract, exp, sum, divide
    AxisOp("logsumexp", True, "def logsumexp(x, axis=-1, keepdims=False):\n"
           "    m = np.max(x, axis=axis, keepdims=True)\n"
           "    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))\n"
           "    return out if keepdims else np.squeeze(out, axis=axis)", "torch.logsumexp",
           flops=(4, 2, 0)),  # max, subtract, exp, sum per element; log, add per row
    AxisOp("log_softmax", False, "def log_softmax(x, axis=-1):\n"
           "    return x - logsumexp(x, axis=axis, keepdims=True)", "torch.log_softmax",
           needs=("logsumexp",), flops=(4, 2, 1)),  # logsumexp's, then x − it
    # torch.amax, not torch.max: amax takes dim= and returns the values alone
    AxisOp("max", True, "", "torch.amax", numpy="np.max", last_by_default=False,
           flops=(1, 0, 0)),  # one comparison per element read
    AxisOp("min", True, "", "torch.amin", numpy="np.min", last_by_default=False,
           flops=(1, 0, 0)),
    # over every axis (axis=None): printed max(X), no axis to name
    AxisOp("max_all", True, "", "torch.amax", numpy="np.max", has_axis=False,
           text="max({0})", latex="\\max\\left({0}\\right)", flops=(1, 0, 0)),
    AxisOp("min_all", True, "", "torch.amin", numpy="np.min", has_axis=False,
           text="min({0})", latex="\\min\\left({0}\\right)", flops=(1, 0, 0)),
    AxisOp("inv", False, "", "torch.linalg.inv", numpy="np.linalg.inv", has_axis=False,
           inverse=True, per_matrix=lambda n: 2 * n**3,  # LU, then n triangular solves
           text="{0}⁻¹", latex="{0}^{{-1}}", text_t="{0}⁻ᵀ", latex_t="{0}^{{-\\top}}"),
    # by LAPACK's LU factorisation (2n³/3), then the n diagonal entries' product
    AxisOp("det", True, "", "torch.linalg.det", numpy="np.linalg.det", has_axis=False,
           per_matrix=lambda n: Rational(2, 3) * n**3 + n, transpose_free=True),
    # slogdet, not log(det(A)): det under- or overflows long before its log does
    AxisOp("logdet", True, "def logdet(x):\n    sign, value = np.linalg.slogdet(x)\n"
           "    return value if sign > 0 else np.nan", "torch.logdet", has_axis=False,
           per_matrix=lambda n: Rational(2, 3) * n**3 + n, transpose_free=True),
)}

OPS["softmax"] = Op("softmax", _axis_check("softmax"), _softmax_comp, _axis_code("softmax"),
                    kwargs=("axis",), needs_ref=True, signature="softmax(x, axis=-1)",
                    doc="exp(x) / sum(exp(x)) along an axis", flops=_axis_flops("softmax"))
OPS["log_softmax"] = Op("log_softmax", _axis_check("log_softmax"), _log_softmax_comp,
                        _axis_code("log_softmax"), kwargs=("axis",), needs_ref=True,
                        aliases=("logsoftmax",),
                        signature="log_softmax(x, axis=-1)", doc="x - logsumexp(x) along an axis",
                        flops=_axis_flops("log_softmax"), curvature="concave")
OPS["logsumexp"] = Op("logsumexp", _axis_check("logsumexp", keep_allowed=True), _logsumexp_comp,
                      _axis_code("logsumexp"), kwargs=("axis", "keepdims"), needs_ref=True,
                      aliases=("log_sum_exp",),
                      signature="logsumexp(x, axis=-1, keepdims=False)",
                      doc="log(sum(exp(x))) along an axis", flops=_axis_flops("logsumexp"),
                      curvature="convex increasing")



def _extremum_check(name: str) -> Fn:
    """max/min: one axis (``axis=None`` only for a vector, whose one axis it is)."""
    def check(loc: Any, args: Args, kwargs: Kw) -> FExpr:
        (a, la), = args
        nd = len(a.shape)
        if nd == 0:
            raise SpecError(f"{name} needs a tensor with at least one axis", la,
                            f"{name} of a scalar is the scalar itself")
        given = kwargs.get("axis")
        keep = _flag(kwargs, "keepdims")
        if (given is None or given[0].op == "none") and nd > 1:  # every axis: a scalar
            return FExpr(name, (a,), (("axis", None), ("keepdims", keep)),
                         (1,) * nd if keep else ())
        if given is None or given[0].op == "none":
            ax = 0
        else:
            raw = _int_tuple(given[0], given[1], "axis")
            if len(raw) != 1:
                raise SpecError(f"{name} takes a single axis or every axis (axis=None)",
                                given[1], f"reduce one axis at a time, e.g. "
                                f"{name}({name}(X, axis=1)), or all: {name}(X)")
            norm = shapes.normalize_axis(raw[0], nd)
            if norm is None:
                raise SpecError(f"axis {raw[0]} is out of range for a tensor of shape "
                                f"{shapes.fmt(a.shape)}", given[1],
                                f"axes of a {nd}-d tensor run from {-nd} to {nd - 1}")
            ax = norm
        shape = tuple(1 if n == ax else d for n, d in enumerate(a.shape)) if keep else \
            tuple(d for n, d in enumerate(a.shape) if n != ax)
        return FExpr(name, (a,), (("axis", ax), ("keepdims", keep)), shape)
    return check


def _extremum_comp(cls: type, of_all: type) -> Fn:
    def comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
        (a,) = e.args
        ax = e.param("axis")
        if ax is None:
            return of_all(ctx.label(a), S.Zero)
        if _of_one(e):
            return _at_one(e, idx, ctx)
        rest = [i for n, i in enumerate(idx) if n != ax] if e.param("keepdims") else list(idx)
        return cls(ctx.label(a), ax, *rest)
    return comp


def _extremum_code(name: str) -> Fn:
    def code(e: FExpr, c: list[Any], b: Any) -> Any:
        if e.param("axis") is None:
            return b.axis_fn(name + "_all", c[0], 0, len(e.args[0].shape), e.param("keepdims"))
        return _axis_code(name)(e, c, b)
    return code


for _name, _cls, _all, _what in (("max", MaxAt, MaxOfAllAt, "largest"),
                                 ("min", MinAt, MinOfAllAt, "smallest")):
    OPS[_name] = Op(_name, _extremum_check(_name), _extremum_comp(_cls, _all),
                    _extremum_code(_name),
                    kwargs=("axis", "keepdims"), needs_ref=True,
                    aliases=("amax",) if _name == "max" else ("amin",),
                    signature=f"{_name}(x, axis=None, keepdims=False)",
                    flops=_axis_flops(_name),
                    doc=f"{_what} entry along one axis, or of all (axis=None); "
                        f"derivative 𝟙[x = {_name}]")



# -- functions of a square matrix ------------------------------------------------------


def _square_check(name: str, reduces: bool) -> Fn:
    def check(loc: Any, args: Args, kwargs: Kw) -> FExpr:
        (a, la), = args
        _require_square(name, a, la)
        return FExpr(name, (a,), (("axis", 0), ("keepdims", False)), () if reduces else a.shape)
    return check


# what a batch of square matrices [..., N, N] takes in place of the op, as an einsum (the
# letters before "ii" are the batch's); ops absent here have no batched spelling
_BATCHED_SQUARE = {"diagonal": "->{b}i", "trace": "->{b}"}


def _require_square(name: str, a: FExpr, loc: Any) -> None:
    nd = len(a.shape)
    if nd > 2 and a.shape[-1] == a.shape[-2] and a.shape[-1] != 1:
        text = str(a.param("name")) if a.op == PseudoOp.REF else "A"
        batch = "bcdefgh"[:nd - 2]
        out = _BATCHED_SQUARE.get(name)
        if out is not None:
            sub = batch + "ii" + out.format(b=batch)
            raise SpecError(f"{name} takes one square matrix, not a batch of them (shape "
                            f"{shapes.fmt(a.shape)})", loc,
                            f'for every matrix of the batch at once write einsum("{sub}", '
                            f'{text})')
        one = f"reshape({text}" + "".join("[" + ":, " * k + "0:1]" for k in range(nd - 2)) + \
            f", [{a.shape[-2]}, {a.shape[-1]}])"  # a slice ranges over one axis
        raise SpecError(f"{name} of a batch of square matrices (shape {shapes.fmt(a.shape)}) "
                        f"is not supported: {name} takes one matrix", loc,
                        f"declare one matrix, e.g. {text}: [{a.shape[-2]}, {a.shape[-1]}]; "
                        f"a small batch can be written one matrix at a time, the first being "
                        f"{one}")
    if nd != 2:
        raise SpecError(f"{name} needs a square matrix, not a tensor of shape "
                        f"{shapes.fmt(a.shape)}", loc,
                        "declare it with two equal dims, e.g. A: [N, N]")
    if a.shape[0] != a.shape[1]:
        raise SpecError(f"{name} needs a square matrix, not one of shape {shapes.fmt(a.shape)}",
                        loc, "both axes must be the same dim, e.g. A: [N, N]")


def _matrix_fn_comp(cls: type) -> Fn:
    def comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
        return cls(ctx.label(e.args[0]), S.Zero, *idx)
    return comp


for _name, _cls, _doc in (
        ("inv", InvAt, "the inverse A⁻¹ of a square matrix; adjoint −A⁻ᵀ (∂L/∂Y) A⁻ᵀ"),
        ("det", DetAt, "the determinant of a square matrix; derivative det(A) A⁻ᵀ"),
        ("logdet", LogDetAt, "log det A of a square matrix with det A > 0; derivative A⁻ᵀ")):
    OPS[_name] = Op(_name, _square_check(_name, _cls.reduces), _matrix_fn_comp(_cls),
                    _axis_code(_name), needs_ref=True, signature=f"{_name}(A)", doc=_doc,
                    square=True, flops=_axis_flops(_name),
                    aliases={"inv": ("inverse", "pinv"), "det": ("determinant",),
                             "logdet": ("slogdet", "log_det")}[_name])


@op("trace", comp=lambda e, idx, ctx: _trace_comp(e, ctx),
    code=lambda e, c, b: P.call(b.f("trace"), c[0]), signature="trace(A)",
    flops=lambda e, args, meter: meter.other(meter.size(args[0].shape[0])), curvature="linear",
    doc="the sum of the diagonal of a square matrix; derivative I")
def _trace(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (a, la), = args
    _require_square("trace", a, la)
    return FExpr("trace", (a,), (), ())


def _trace_comp(e: FExpr, ctx: Any) -> Any:
    d = e.args[0].shape[0]
    i = 0 if d == 1 else ctx.fresh(d)
    return ctx.sum(ctx.comp(e.args[0], (i, i)), (i,) if i != 0 else ())


@op("diagonal", comp=lambda e, idx, ctx: ctx.comp(e.args[0], (idx[0], idx[0])),
    code=lambda e, c, b: P.call(b.f("diagonal"), c[0]), signature="diagonal(A)",
    flops=_free_flops, curvature="linear",
    doc="the diagonal of a square matrix, a vector; adjoint diag(∂L/∂d)")
def _diagonal(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (a, la), = args
    _require_square("diagonal", a, la)
    return FExpr("diagonal", (a,), (), a.shape[:1])


@op(DIAG, comp=lambda e, idx, ctx: ctx.comp(e.args[0], idx[:1]) * KroneckerDelta(*idx),
    code=lambda e, c, b: b.diag(c[0]), signature=f"{DIAG}(v)", flops=_free_flops,
    curvature="linear",
    doc="the diagonal matrix with v on its diagonal; adjoint diagonal(∂L/∂D)")
def _diag(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (a, la), = args
    if len(a.shape) != 1:
        raise SpecError(f"diag takes a vector, not a tensor of shape {shapes.fmt(a.shape)}", la,
                        "diag(v) builds a diagonal matrix; diagonal(A) reads one")
    return FExpr("diag", (a,), (), (a.shape[0], a.shape[0]))


@op("solve", comp=lambda e, idx, ctx: _solve_comp(e, idx, ctx),
    code=lambda e, c, b: b.solve(c[0], c[1]), nargs=(2, 2),
    needs_ref=True, square=True, signature="solve(A, B)", flops=lambda e, args, meter:
    meter.other(solve_flops(meter.size(args[0].shape[0]),
                            meter.numel(e.shape) / meter.size(args[0].shape[0]))),
    doc="A⁻¹ B without forming the inverse (B a vector or a matrix)")
def _solve(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (a, la), (b, lb) = args
    _require_square("solve", a, la)
    if len(b.shape) not in (1, 2) or b.shape[0] != a.shape[0]:
        raise _mismatch("cannot solve", a.shape, b.shape, loc,
                        "solve(A, B) needs A square (N×N) and B with N rows (N or N×K)")
    return FExpr("solve", (a, b), (), b.shape)


def solve_flops(n: Any, k: Any) -> Any:
    """A⁻¹ B for an n×n A and an n×k B, by an LU factorisation (2n³/3, LAPACK's count) and
    2k triangular solves: the generated code's solve, and its product by an inverse."""
    return Rational(2, 3) * n**3 + 2 * n**2 * k


def _solve_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    a, b = e.args
    d = a.shape[0]
    k = 0 if d == 1 else ctx.fresh(d)
    body = InvAt(ctx.label(a), S.Zero, idx[0], k) * ctx.comp(b, (k,) + tuple(idx[1:]))
    return ctx.sum(body, (k,) if k != 0 else ())


# -- picking elements by integer inputs: embedding lookup, labels --------------------------
#
# E[tokens] gathers rows: X_{t,d} = E_{tokens_t, d}; Z[range(B), labels] picks one element
# per row: y_b = Z_{b, labels_b}.  An integer input is only ever an index (graph refuses it
# anywhere else), so it has no adjoint; the adjoint of E reads the index as the one-hot
# matrix onehot(tokens)_{t,v} = δ(tokens_t, v), which recognize.py prints.

GATHER = "getitem"  # E[tokens], Z[range(B), labels]: the subscript, not a callable name


def _gather(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (base, lb), *index = args
    if len(index) == 1 and index[0][0].op == PseudoOp.REF:
        return _gather_rows(base, lb, index[0])
    if len(index) == 2 and index[0][0].op == PseudoOp.DIM and index[1][0].op == PseudoOp.REF:
        return _gather_pairs(base, lb, index[0], index[1])
    raise SpecError(f"a tensor of shape {shapes.fmt(base.shape)} is indexed by rows, "
                    "E[tokens], or by one element per row, Z[range(B), labels]", loc,
                    "an index is an integer input, e.g. tokens: {shape: [T], integer: V}")


def _gather_rows(base: FExpr, lb: Any, index: tuple[FExpr, Any]) -> FExpr:
    tok, lt = index
    if not tok.shape:  # its element would be a plain symbol, which no index rule reads
        raise SpecError(f"'{tok.param('name')}' is a single index; an index tensor has at "
                        "least one axis", lt, f"for one row, declare it {tok.param('name')}: "
                        f"{{shape: [1], integer: {tok.param('integer')}}}")
    if not base.shape or base.shape[0] != tok.param("integer"):
        raise SpecError(f"'{tok.param('name')}' holds indices 0 .. {tok.param('integer')} - 1 "
                        f"but the tensor's first axis is "
                        f"{base.shape[0] if base.shape else 'missing (a scalar)'}", lt,
                        f"index a tensor whose rows are the {tok.param('integer')} choices, "
                        f"e.g. E: [{tok.param('integer')}, D]")
    return FExpr(GATHER, (base, tok), (("rows", True),), tuple(tok.shape) + base.shape[1:])


def _gather_pairs(base: FExpr, lb: Any, rows: tuple[FExpr, Any],
                  index: tuple[FExpr, Any]) -> FExpr:
    (rng, lr), (lab, ll) = rows, index
    d = rng.param("name")
    if len(base.shape) != 2 or base.shape[0] != d:
        raise SpecError(f"Z[range({d}), labels] picks one element of each of {d} rows, but the "
                        f"tensor has shape {shapes.fmt(base.shape)}", lr,
                        f"index a matrix whose rows run over {d}, e.g. Z: [{d}, C]")
    if tuple(lab.shape) != (d,) or base.shape[1] != lab.param("integer"):
        raise SpecError(f"'{lab.param('name')}' must hold one index 0 .. {base.shape[1]} - 1 per "
                        f"row: shape {shapes.fmt((d,))}, integer: {base.shape[1]}; it has shape "
                        f"{shapes.fmt(lab.shape)} and integer: {lab.param('integer')}", ll,
                        f"declare it {lab.param('name')}: {{shape: [{d}], integer: "
                        f"{base.shape[1]}}}")
    return FExpr(GATHER, (base, lab), (("rows", False),), (d,))


def _gather_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    base, tok = e.args
    if e.param("rows"):
        n = len(tok.shape)
        return ctx.comp(base, (ctx.comp(tok, idx[:n]),) + tuple(idx[n:]))
    return ctx.comp(base, (idx[0], ctx.comp(tok, idx[:1])))


def _gather_code(e: FExpr, c: list[Any], b: Any) -> Any:
    if e.param("rows"):
        return P.Subscript(c[0], (b.as_index(c[1]),))
    return P.Subscript(c[0], (P.call(b.f("arange"), P.call("len", c[1])), b.as_index(c[1])))


# onehot(tokens)ᵀ G without forming the one-hot matrix: the rows of G added into the rows
# tokens names (np.add.at adds a repeated index's rows, as the product does)
SCATTER_ADD = "scatter_add"
_SCATTER_HELPER = ("def scatter_add(index, g, n):\n"
                   "    out = np.zeros((n,) + np.shape(g)[1:])\n"
                   "    np.add.at(out, index, g)\n"
                   "    return out")

OPS[GATHER] = Op(GATHER, _gather, _gather_comp, _gather_code, nargs=(2, 3), needs_ref=True,
                 user=False, signature="E[tokens]", flops=_free_flops, view=True,
                 curvature="linear",
                 doc="rows of E picked by an integer input; adjoint onehot(tokens)ᵀ ∂L/∂X")


# every helper the generated NumPy module may define, and the helpers each one calls
HELPERS = {**{n: o.helper for n, o in AXIS_OPS.items() if o.helper},
           **{n: f.helper for n, f in SCALARS.items() if f.helper},
           SCATTER_ADD: _SCATTER_HELPER}
HELPER_NEEDS = {**{n: o.needs for n, o in AXIS_OPS.items()},
                **{n: f.needs for n, f in SCALARS.items() if f.needs}}
# the names those helpers define, which generated code must not reuse
HELPER_NAMES = frozenset(re.findall(r"^(?:def )?(\w+)", "\n".join(HELPERS.values()), re.M))


# -- elementwise functions as tensor ops ----------------------------------------------


def _number_param(value: FExpr, loc: Any, fn: str, key: str) -> Fraction:
    """A keyword number such as ``alpha=0.2`` (a literal, maybe negated)."""
    if value.op == PseudoOp.NUM:
        return Fraction(value.param("value"))
    if value.op == "neg" and value.args[0].op == PseudoOp.NUM:
        return -Fraction(value.args[0].param("value"))
    raise SpecError(f"{fn}'s '{key}' must be a number", loc, f"e.g. {key}=0.2")


def _broadcast_all(fn: str, args: Args, loc: Any) -> Tup:
    shape = args[0][0].shape
    for x, _ in args[1:]:
        out = shapes.broadcast(shape, x.shape)
        if out is None:
            raise _mismatch(f"cannot broadcast the arguments of {fn}", shape, x.shape, loc,
                            "elementwise functions follow NumPy broadcasting: trailing dims "
                            "must be equal or 1")
        shape = out
    return shape


def _scalar_check(fn: ScalarFn) -> Fn:
    def check(loc: Any, args: Args, kwargs: Kw) -> FExpr:
        tensors, extra = args[:fn.arity], args[fn.arity:]
        values = []
        for n, (key, default) in enumerate(fn.params):
            if n < len(extra) and key in kwargs:
                raise SpecError(f"{fn.name}() got '{key}' twice", kwargs[key][1])
            given = extra[n] if n < len(extra) else kwargs.get(key)
            values.append(default if given is None else
                          _number_param(given[0], given[1], fn.name, key))
        params = (("params", tuple(values)),) if fn.params else ()
        return FExpr(fn.name, tuple(x for x, _ in tensors), params,
                     _broadcast_all(fn.name, tensors, loc))
    return check


def _scalar_comp(name: str) -> Fn:
    jumps = SCALARS[name].jumps

    def comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
        value = float_value(e) if jumps else None
        if value is not None:  # sign(0.1 + 0.2 − 0.3): 1, as the user's floats say
            return sympy_number(Fraction(value))
        args = [ctx.comp(a, shapes.align(idx, a.shape)) for a in e.args]
        return F(name)(*args, *[sympy_number(v) for v in e.param("params", ())])
    return comp


def _scalar_code(name: str) -> Fn:
    return lambda e, c, b: b.fn(name, *c, *[P.num(float(v)) for v in e.param("params", ())])


for _name, _fn in SCALARS.items():
    if _fn.user:
        OPS[_name] = Op(_name, _scalar_check(_fn), _scalar_comp(_name), _scalar_code(_name),
                        signature=_fn.signature, doc=_fn.doc, aliases=_fn.aliases,
                        kwargs=tuple(k for k, _ in _fn.params),
                        nargs=(_fn.arity, _fn.arity + len(_fn.params)),
                        curvature=_fn.curvature)


def _where_check(loc: Any, args: Args, kwargs: Kw) -> FExpr:
    (cond, cloc), a, b = args
    if cond.op != PseudoOp.COMPARE:
        raise SpecError("where's first argument must be a comparison", cloc,
                        "e.g. where(x > 0, x, 0.01 * x); the comparisons are > < >= <=")
    x, y = cond.args
    operands = [(x, cloc), (y, cloc), a, b]
    return FExpr("where", (x, y, a[0], b[0]), (("compare", cond.param("op")),),
                 _broadcast_all("where", operands, loc))


def _where_name(e: FExpr) -> str:
    return WHERE_PREFIX + COMPARISONS[e.param("compare")].name


def _where_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    """where(a cmp b, x, y)'s element; a comparison of numbers decided as the user's Python
    decides it (where(0.1 + 0.2 > 0.3, x, 2 x) is x: 0.30000000000000004 > 0.3)."""
    a, b = (float_value(s) for s in e.args[:2])
    if a is not None and b is not None:
        pick = e.args[2] if COMPARISONS[e.param("compare")].holds(a, b) else e.args[3]
        return ctx.comp(pick, shapes.align(idx, pick.shape))
    return F(_where_name(e))(*[ctx.comp(a, shapes.align(idx, a.shape)) for a in e.args])


WHERE = "where"  # (also the libraries' where, which the code's strong zero calls)
OPS[WHERE] = Op(WHERE, _where_check, _where_comp,
                lambda e, c, b: b.fn(_where_name(e), *c), nargs=(3, 3), condition=True,
                signature="where(x > y, a, b)",
                doc="a where the comparison holds, b elsewhere (> < >= <=, broadcasting)")


# ---------------------------------------------------------------------------
# Structure: reshape.  A reshape renames no element, it re-indexes them: its component is
# its argument's element at an index map (Flat, Digit below), and the derivative of an
# element at an index map is written by the map's inverse (Flat ↔ Digit), so a delta
# never has to be solved for an index.


def index_delta(a: Any, b: Any) -> Any:
    """δ(a, b) of an index and an index map, kept whole (never solved); two positions that
    are numbers are their value: a slice 0:1 of a literal-1 axis read at its one element is
    δ(0, 0) = 1 (left whole, the code generator met it as a constant it cannot compile)."""
    if a.is_Number and b.is_Number:
        return S.One if a == b else S.Zero
    return KroneckerDelta(a, b, evaluate=False)


class IndexMap(Function):  # type: ignore[misc]
    """An index computed from other indices (a reshape's); never evaluated by SymPy."""

    nargs = None


class Flat(IndexMap):
    """The row-major index of the digits i_0 … i_{n−1} over sizes S_0 … S_{n−1}:
    Σ_p i_p Π_{q>p} S_q (h·Dh + d).  Arguments: the n digits, then the n sizes."""

    @classmethod
    def _own_digits(cls, *args: Any) -> Any:
        """The flat index of k's own digits is k (a split undone by a merge); a digit may be
        a slice's read of it, Shift((k mod D) − 2, 2, 2), whose value is the digit itself
        (⌊l/D⌋·D + (l mod D) is l: the range the slice read it in is a factor of its own)."""
        n = len(args) // 2
        digits = [a.value if isinstance(a, Shift) and isinstance(a.value, Digit) else a
                  for a in args[:n]]
        first = digits[0]
        c = next((p for p, d in enumerate(digits) if not d.is_Number), n)
        # (only a last letter digit: a slice's read of a Flat, g_{Shift(i·M + j, …)}, is
        # read by no recognizer nor code generator)
        if c == n - 1 and c > 0 and any(s != 1 for s in args[n:n + c]):
            # a stack's piece read whole: Flat(c, i) over P, N is rows c·N … c·N + N − 1, a
            # slice's read Shift(i, c·N, N) (its inverse states that range); never a reshape
            # of the whole to a leading size 1, which a digit 0 over P is not
            offset = sympy.Add(*[d * sympy.Mul(*args[n + p + 1:])
                                 for p, d in enumerate(digits[:c])])
            return Shift(digits[c], offset, args[-1])
        if isinstance(first, Digit) and first.sizes == tuple(args[n:]) and all(
                isinstance(a, Digit) and a.k == first.k and a.position == p
                and a.sizes == first.sizes for p, a in enumerate(digits)):
            return first.k
        return None

    # SymPy's construction hook (named so by SymPy; it reads SymPy objects, never text)
    eval = _own_digits

    @property
    def digits(self) -> Tup:
        return tuple(self.args[:len(self.args) // 2])

    @property
    def sizes(self) -> Tup:
        return tuple(self.args[len(self.args) // 2:])

    def inverse(self, k: Any) -> Any:
        """δ(Flat(i…), k) written by the inverse map: Π_p δ(i_p, digit p of k)."""
        return sympy.Mul(*[index_delta(i, Digit(k, p, *self.sizes))
                           for p, i in enumerate(self.digits)])


class Digit(IndexMap):
    """Digit ``p`` of ``k`` in the mixed radix S_0 … S_{n−1}: ⌊k / Π_{q>p} S_q⌋ mod S_p (the
    first digit needs no mod, the last no division).  Arguments: k, p, the n sizes."""

    @classmethod
    def _of_flat(cls, k: Any, p: Any, *sizes: Any) -> Any:
        """Digit p of a flat index over the same sizes is its p-th digit (a merge undone)."""
        if isinstance(k, Flat) and k.sizes == tuple(sizes):
            return k.digits[int(p)]
        return None

    eval = _of_flat  # SymPy's construction hook, as Flat's

    @property
    def k(self) -> Any:
        return self.args[0]

    @property
    def position(self) -> int:
        return int(self.args[1])

    @property
    def sizes(self) -> Tup:
        return tuple(self.args[2:])


def index_deltas(a: Tup, b: Tup, delta: Fn) -> Any:
    """∂x[a]/∂x[b] as deltas, position by position (``delta`` for plain indices); an index
    map is paired by its inverse: Flat(h, d) with k gives δ(h, ⌊k/Dh⌋) δ(d, k mod Dh),
    and the n digits of k with j_0 … j_{n−1} give δ(k, Flat(j_0 …)).  A digit that is not
    in such a run (x[⌊k/Dh⌋, j], once a reshape's read is substituted into another read)
    is an index of its own: δ(⌊k/Dh⌋, l); pairing it as a run ate the index after it."""
    out, p = [], 0
    while p < len(a):
        i = a[p]
        if isinstance(i, (Flat, Shift, Window)):
            out.append(i.inverse(b[p]))
            p += 1
        elif isinstance(i, Digit) and _digit_run(a, p):
            n = len(i.sizes)
            out.append(index_delta(i.k, Flat(*b[p:p + n], *i.sizes)))
            p += n
        elif isinstance(i, Digit):
            out.append(index_delta(i, b[p]))
            p += 1
        else:
            out.append(delta(i, b[p]))
            p += 1
    return sympy.Mul(*out)


def _digit_run(a: Tup, p: int) -> bool:
    """Whether ``a[p:]`` starts with all n digits of one index in order (k's split whole)."""
    i = a[p]
    run = a[p:p + len(i.sizes)]
    return len(run) == len(i.sizes) and all(
        isinstance(r, Digit) and r.k == i.k and r.position == q and r.sizes == i.sizes
        for q, r in enumerate(run))


def reshape_view(idx: Tup) -> Tup | None:
    """The indices of the tensor that ``x[idx]`` reads whole when ``idx`` holds index maps:
    ``x[b, Flat(h, d)]`` is reshape(x)[b, h, d], ``x[b, Digit(k, 0), Digit(k, 1)]`` is
    reshape(x)[b, k].  None when ``idx`` is no such view (a digit alone, a map of maps)."""
    out: list[Any] = []
    p = 0
    while p < len(idx):
        i = idx[p]
        if isinstance(i, Flat):
            # a digit that is a number reads one position of its axis: a view only where
            # that axis has size 1 (its callers reshape it to 1); Flat(i, 1) over N, P (a
            # stack's piece merged, read every P-th) is no reshape's read
            if any(d.is_Number and s != 1 for d, s in zip(i.digits, i.sizes)):
                return None
            out.extend(i.digits)
            p += 1
        elif isinstance(i, Digit):
            if not _digit_run(idx, p):
                return None
            out.append(i.k)
            p += len(i.sizes)
        else:
            out.append(i)
            p += 1
    syms = [i for i in out if i != 0]
    if any(isinstance(i, IndexMap) or not i.is_Symbol for i in syms) or \
            len(set(syms)) != len(syms):
        return None
    return tuple(out)


def index_letters(i: Any) -> Tup:
    """The plain indices an index reads, in order (a map's digits, a digit's k)."""
    if isinstance(i, Flat):
        return tuple(s for d in i.digits for s in index_letters(d))
    if isinstance(i, Digit):
        return index_letters(i.k)
    if isinstance(i, (Shift, Window)):
        return index_letters(i.index) + index_letters(i.offset)
    if isinstance(i, sympy.Add):  # s − lo, s − k: its index symbols (a dim's is positive)
        return tuple(t for t in sorted(i.free_symbols, key=str) if not t.is_positive)
    if isinstance(i, sympy.Indexed):  # an integer input's element, tok_{i, ⌊k/D⌋}: its letters
        return tuple(s for j in i.indices for s in index_letters(j))
    return (i,) if i != 0 and not i.is_Number and not i.is_positive else ()


def has_index_map(idx: Tup) -> bool:
    """An index computed from others: a reshape's map, a slice's shift, or a collapsed
    shift (s − lo, a SymPy sum)."""
    for i in idx:  # a loop, not a generator: read for every subscript printed
        if isinstance(i, (IndexMap, sympy.Add)):
            return True
    return False


def _dim_sizes(loc: Any, target: FExpr, fn: str) -> tuple[Any, ...]:
    """The target shape of ``reshape(x, [B, T, H, Dh])``: dims and literal 1s."""
    if target.op != PseudoOp.TUPLE:
        raise SpecError(f"{fn}'s second argument must be a list of dims, e.g. [B, T, H, Dh]",
                        loc, "the new shape lists dim names (and 1s), as a spec's shapes do")
    out: list[Any] = []
    if not target.args:
        raise SpecError(f"{fn}'s new shape is empty", loc, "list its dims, e.g. [B, T, H, Dh]")
    for d in target.args:
        if d.op == PseudoOp.DIM:
            out.append(d.param("name"))
        elif d.op == PseudoOp.NUM and d.param("value") == 1:
            out.append(1)
        else:
            number = d.op == PseudoOp.NUM
            raise SpecError(f"{fn}'s new shape must list dims (or 1), not "
                            f"{'a number' if number else 'an expression'}", loc,
                            f"declare the size as a dim, e.g. dims: {{K: {d.param('value')}}}, "
                            f"and write K" if number
                            else "declare the size as a dim, e.g. dims: {D: H * Dh}")
    return tuple(out)


def _groups(a: Tup, b: Tup, value: Fn) -> list[tuple[Tup, Tup]] | None:
    """Positions of ``a`` and ``b`` (literal-1 axes left out) paired into groups: one dim to
    one equal dim, one dim split into consecutive dims whose product it is, or consecutive
    dims merged into one; None if the shapes do not pair so."""
    pa = [n for n, d in enumerate(a) if d != 1]
    pb = [n for n, d in enumerate(b) if d != 1]
    out: list[tuple[Tup, Tup]] = []
    i = j = 0

    def product(dims: list[Any]) -> Any:
        return sympy.expand(sympy.Mul(*[value(d) for d in dims]))

    while i < len(pa) and j < len(pb):
        x, y = a[pa[i]], b[pb[j]]
        if x == y or sympy.expand(value(x) - value(y)) == 0:
            out.append(((pa[i],), (pb[j],)))
            i, j = i + 1, j + 1
            continue
        for m in range(2, len(pb) - j + 1):  # x split into b[j:j+m]
            if sympy.expand(value(x) - product([b[q] for q in pb[j:j + m]])) == 0:
                out.append(((pa[i],), tuple(pb[j:j + m])))
                i, j = i + 1, j + m
                break
        else:
            for m in range(2, len(pa) - i + 1):  # a[i:i+m] merged into y
                if sympy.expand(value(y) - product([a[q] for q in pa[i:i + m]])) == 0:
                    out.append((tuple(pa[i:i + m]), (pb[j],)))
                    i, j = i + m, j + 1
                    break
            else:
                return None
    return out if i == len(pa) and j == len(pb) else None


def _reshape(loc: Any, args: Args, kwargs: Kw, dims: dict[str, Any],
             declared: dict[Any, int] | None = None) -> FExpr:
    (x, lx), (target, lt) = args
    new = _dim_sizes(lt, target, "reshape")

    def value(d: Any) -> Any:
        return S.One if d == 1 else dims[d]
    old_total = sympy.expand(sympy.Mul(*[value(d) for d in x.shape]))
    new_total = sympy.expand(sympy.Mul(*[value(d) for d in new]))
    if old_total != new_total and declared:
        _reshape_at_sizes(x.shape, new, value, dims, declared, lt)
    if old_total != new_total:
        def count(shape: Tup, total: Any) -> str:
            written = "·".join(shapes.dim_name(d) for d in shape if d != 1) or "1"
            value = dim_text(total, "·")
            return written if written == value else f"{written} = {value}"
        raise SpecError(f"cannot reshape {shapes.fmt(x.shape)} into {shapes.fmt(new)}: "
                        f"{count(x.shape, old_total)} elements are not "
                        f"{count(new, new_total)}", lt,
                        "the sizes must multiply to the same number; define the new dims "
                        "from the old, e.g. dims: {H: 2, Dh: 3, D: H * Dh}")
    if _groups(x.shape, new, value) is None:
        raise SpecError(f"cannot reshape {shapes.fmt(x.shape)} into {shapes.fmt(new)} by "
                        f"splitting one dim into consecutive dims or merging consecutive dims "
                        f"into one", lt, "reshape in two steps, through a dim defined as "
                        "the product of the dims merged, e.g. dims: {D: H * Dh}")
    sizes = tuple(FExpr(PseudoOp.DIM, (), (("name", d),), ()) if d != 1 else
                  FExpr(PseudoOp.NUM, (), (("value", Fraction(1)), ("text", "1")), ())
                  for d in new)
    groups = tuple((g, h) for g, h in _groups(x.shape, new, value) or ())
    return FExpr(RESHAPE, (x,) + sizes, (("groups", groups),), new)


def _reshape_at_sizes(a: Tup, b: Tup, value: Fn, dims: dict[str, Any], sizes: dict[Any, int],
                      loc: Any) -> None:
    """Raise a reshape's mismatch where the shapes pair at the declared sizes (Ho = 4 = Hp·P)
    but not for every size: the sizes as written, and the dim definition that makes them
    equal (H: Hp * P + K - 1, or a merged dim defined from the dims it merges, PN: 2 * N
    where a stack's count is 2 whatever P is)."""
    groups = _groups(a, b, lambda d: _value_at(value(d), sizes))
    if groups is None:
        return
    for g, h in groups:
        x = sympy.Mul(*[value(a[q]) for q in g])
        y = sympy.Mul(*[value(b[q]) for q in h])
        if sympy.expand(x - y) == 0:
            continue
        xs = "·".join(shapes.dim_name(a[q]) for q in g)
        ys = "·".join(shapes.dim_name(b[q]) for q in h)
        named = {str(a[q]) for q in g} | {str(b[q]) for q in h}
        defs = [f"{d} = {dim_text(dims[d])}" for d in dict.fromkeys(map(str, [*a, *b]))
                if d in named and d in dims and not isinstance(dims[d], sympy.Symbol)
                and not dims[d].is_Number]  # a stack's count (n2) is no definition of theirs
        counts = [q for q in g if value(a[q]).is_Number]
        fix = None
        why = ""
        if len(h) == 1 and str(b[h[0]]) in dims and \
                not isinstance(dims[str(b[h[0]])], sympy.Symbol):
            fix = f"{b[h[0]]}: " + " * ".join(shapes.dim_name(a[q]) for q in sorted(
                g, key=lambda q: not value(a[q]).is_Number))  # 2 * N, as a spec writes it
            for q in counts:
                n = value(a[q])
                same = sorted((own for own in dims[str(b[h[0]])].free_symbols
                               if sizes.get(own) == n), key=str)
                if same:
                    why = f"a stack of {n} has {n} pieces whatever {same[0]} is; "
        if fix is None:
            fix = equal_for_every_size(x, y, dims)
        at = _value_at(x, sizes)
        raise SpecError(f"cannot reshape {shapes.fmt(a)} into {shapes.fmt(b)}: {xs} and {ys} "
                        f"are equal ({at}) at the declared sizes but not for every size"
                        + (f" ({'; '.join(defs)})" if defs else ""), loc,
                        why + (f"define dims: {{{fix}}} to make them equal for every size"
                               if fix else "define the new dims from the old, e.g. dims: "
                               "{H: 2, Dh: 3, D: H * Dh}"))


def _reshape_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    """Y[b, t, h, d] = X[b, t, h·Dh + d] (a split), Y[b, t, k] = X[b, t, ⌊k/Dh⌋, k mod Dh]
    (a merge); a literal-1 axis of X is read at 0."""
    x = e.args[0]
    at: list[Any] = [0] * len(x.shape)
    for src, dst in e.param("groups"):
        if len(src) == 1 and len(dst) == 1:
            at[src[0]] = idx[dst[0]]
        elif len(src) == 1:
            at[src[0]] = Flat(*[idx[q] for q in dst], *[ctx.size(e.shape[q]) for q in dst])
        else:
            sizes = [ctx.size(x.shape[q]) for q in src]
            for p, q in enumerate(src):
                at[q] = Digit(idx[dst[0]], p, *sizes)
    return ctx.comp(x, tuple(at))


OPS[RESHAPE] = Op(RESHAPE, _reshape, _reshape_comp,
                    lambda e, c, b: b.reshape_to(c[0], c[1:]), nargs=(2, 2), needs_ref=True,
                    dims=True, declared=True, sizes_last=True, view=True, flops=_free_flops,
                    curvature="linear", gathers="[]", signature="reshape(x, [B, T, H, Dh])", aliases=("view",),
                    doc="the elements of x in a new shape, row-major, as NumPy's reshape: one "
                        "dim split into consecutive dims or consecutive dims merged into one")



# ---------------------------------------------------------------------------
# Structure: slicing.  y = x[:, lo:hi] renames no element either: y_{ij} = x_{i, j + lo}, an
# index shifted by a constant.  Differentiated, δ(j + lo, s) collapses to j = s − lo with the
# range of j kept as an Iverson factor 𝟙[lo ≤ s < hi] (indexed.collapse), never folded away:
# ∂L/∂x_{is} = ∂L/∂y_{i, s − lo} 𝟙[lo ≤ s < hi], the upstream adjoint zero-padded.

SLICE = "slice"  # x[:, lo:hi]: the subscript with a slice, not a callable name
IN_RANGE = "in_range"  # 𝟙[lo ≤ s < hi]: the range condition a shifted index's delta keeps
PAD = "pad"  # the matrix form of a slice's adjoint: the upstream adjoint zero-padded


def _np_in_range(x: P.Py, lo: P.Py, hi: P.Py) -> P.Py:
    """𝟙[lo ≤ x < hi] as floats: heaviside(x − lo, 1) · heaviside(hi − x, 0); the first
    factor left out when lo is 0 and x a plain index (np.arange, never negative)."""
    below = P.call("np.heaviside", P.binop("-", hi, x), P.num(0.0))
    if lo == P.num(0) and isinstance(x, P.Call) and x.func == P.Name("np.arange"):
        return below
    return P.binop("*", P.call("np.heaviside", P.binop("-", x, lo), P.num(1.0)), below)


def _torch_in_range(x: P.Py, lo: P.Py, hi: P.Py) -> P.Py:
    return P.binop("*", P.method(P.Compare(">=", x, lo), "to", P.Name("dtype")),
                   P.method(P.Compare("<", x, hi), "to", P.Name("dtype")))


scalar(IN_RANGE, "𝟙[{1} ≤ {0} < {2}]", r"\mathbf{{1}}\left[{1} \leq {0} < {2}\right]",
       _np_in_range, _torch_in_range, lambda args, out: (S.Zero, S.Zero, S.Zero),
       arity=3, user=False, style="template", indicator=True,
       value=lambda x, lo, hi: _decided_range(x, lo, hi))


def _decided_range(x: Any, lo: Any, hi: Any) -> Any:
    """𝟙[lo ≤ x < hi] where its arguments decide it (0 or 1), else None: numbers, an empty
    range, or a shifted index past its bound (𝟙[0 ≤ j + K < K]: an index is never < 0)."""
    if x.is_Number and lo.is_Number and hi.is_Number:
        return S.One if lo <= x < hi else S.Zero
    if (hi - lo).is_nonpositive:
        return S.Zero
    if isinstance(x, sympy.Add):
        _, c = shift_parts(x, lambda a: not a.is_positive)
        x, hi = x - c, hi - c
    if isinstance(x, sympy.Symbol) and not x.is_positive and hi.is_nonpositive:
        return S.Zero
    return None


def in_range(x: Any, lo: Any, hi: Any) -> Any:
    """𝟙[lo ≤ x < hi] for an index ``x`` (a shifted index's range); 0 or 1 when decided:
    an empty range, or a number inside or outside it."""
    if (hi - lo).is_nonpositive:
        return S.Zero
    if x.is_Number and lo.is_Number and hi.is_Number:
        return S.One if lo <= x < hi else S.Zero
    if (x - lo).is_nonnegative and (hi - x).is_positive:
        return S.One  # a position of the dims' sizes inside (𝟙[D ≤ D < D + 1]: a piece of one
    if (x - lo).is_negative or (hi - x).is_nonpositive:  # column at offset D) or outside
        return S.Zero
    if isinstance(x, sympy.Add):  # 𝟙[N ≤ s + N < N + M] is 𝟙[0 ≤ s < M]
        _, c = shift_parts(x, lambda a: not a.is_positive)
        x, lo, hi = x - c, lo - c, hi - c
    if isinstance(x, sympy.Symbol) and not x.is_positive and lo.is_nonpositive:
        # an index is never negative: 𝟙[−K ≤ n < 0] is empty, 𝟙[−K ≤ n < D] is 𝟙[0 ≤ n < D]
        lo = S.Zero
        if hi.is_nonpositive:
            return S.Zero
    return F(IN_RANGE)(x, lo, hi)


def is_shifted(i: Any) -> bool:
    """An index shifted by a constant or another index (j + lo, t + k): a SymPy sum."""
    return isinstance(i, sympy.Add)


def shift_parts(i: Any, index: Callable[[Any], bool]) -> tuple[Any, Any]:
    """A shifted index ``s + c`` split into its index part and its constant ``c`` (the
    terms no ``index`` symbol is in): j + lo gives (j, lo), s − k − 1 gives (s − k, −1)."""
    parts = sympy.Add.make_args(i)
    const = sympy.Add(*[t for t in parts if not any(index(a) for a in t.free_symbols)])
    return i - const, const


def _bound(e: FExpr, loc: Any, dims: dict[str, Any], axis: tuple[int, str] = (1, "N")) -> Any:
    """A slice bound as a SymPy expression of the dims' sizes: an integer literal, a dim,
    or a sum, difference or product of them (lo + K, 2 * H: an LSTM's third gate is
    G[:, 2 * H:3 * H]).  ``axis`` is the sliced axis and its dim, for a negative bound's
    hint (which wrote ``x[:, 0:N - 1]`` for ``X[:, :-1]`` on an axis of dim M)."""
    literal = int_literal(e) if e.op == PseudoOp.NUM else None
    if literal is not None:
        return sympy.Integer(literal)
    if e.op == PseudoOp.DIM:
        return dims[e.param("name")]
    if e.op in ("+", "-", "*") and len(e.args) == 2:
        a, b = (_bound(x, loc, dims, axis) for x in e.args)
        return a + b if e.op == "+" else a - b if e.op == "-" else a * b
    if e.op == "neg":  # x[:, -2:], NumPy's count from the end
        k = dim_text(_bound(e.args[0], loc, dims, axis))
        k = k if k.isalnum() else f"({k})"
        at, n = ":, " * axis[0], axis[1]
        raise SpecError("a slice bound is negative (NumPy's count from the end)", loc,
                        f"write it with the axis' dim: -{k} is {n} - {k} on this axis of dim "
                        f"{n}, e.g. x[{at}{n} - {k}:{n}] or x[{at}0:{n} - {k}]")
    raise SpecError("a slice bound must be static: an integer, a dim, or a sum, difference or "
                    "product of them", loc, "e.g. x[:, 0:K], x[:, K:N] or x[:, K:2 * K], with K "
                    "a dim")


def dim_text(x: Any, times: str = " * ") -> str:
    """A size of dims as a spec writes it: dims before numbers, added before subtracted
    (N - K + 1, not SymPy's -K + N + 1), products spaced (H * Dh, N * N; ``times`` joins
    the factors)."""
    parts = sympy.Add.make_args(sympy.expand(x))
    added = [t for t in parts if not t.is_Number and not bool(t.as_coeff_Mul()[0] < 0)]
    subtracted = [t for t in parts if not t.is_Number and t not in added]
    number = [t for t in parts if t.is_Number]
    # N - K + 3, but 3 - K (a sum opens with an added term where it has one)
    terms = added + subtracted + number if added or not number or number[0] < 0 \
        else number + subtracted
    out = ""
    for t in terms:
        negative = bool(t.as_coeff_Mul()[0] < 0)
        text = _product_text(-t if negative else t, times)
        out = (f"-{text}" if negative else text) if not out else \
            f"{out} {'-' if negative else '+'} {text}"
    return out


def _product_text(t: Any, times: str) -> str:
    """One term of a size, its factors joined by ``times`` (a power written out, N * N)."""
    if t.is_Number or t.is_Symbol:
        return str(t)
    factors = []
    for f in sympy.Mul.make_args(t):
        base, k = f.as_base_exp()
        if k.is_Integer and 1 < k <= 4:
            factors += [base] * int(k)
        else:
            factors.append(f)
    return times.join(str(f) if f.is_Atom else f"({f})" if f.is_Add else
                      str(f).replace("**", "^") for f in factors)


def fresh_dim_name(name: str, taken: Iterable[str]) -> str:
    """``name``, or ``name1``, ``name2`` … where the spec already has it: a hint's example
    dim must be one the user can add."""
    used = set(taken)
    return next(n for n in (f"{name}{k or ''}" for k in range(len(used) + 1)) if n not in used)


def declare_hint(name: str, length: Any, lead: str = "declare it as a dim",
                 taken: Iterable[str] = ()) -> str:
    """The line that declares a length no dim is.  A whole number must be a dim *defined* as
    it, quoted: a plain ``M: 2`` is a default size, which ``--dims`` may change, so it
    never stands for the number (the hint said ``dims: {M: 2}``, which still failed).  The
    name is one the spec does not use (``taken``, its dims): ``x[:, 1:]`` of an axis of dim
    M hinted ``dims: {M: M - 1}``, a dim defined from itself, itself an error."""
    name = fresh_dim_name(name, taken)
    if length.is_Number:
        return (f'declare a dim defined as the number, e.g. dims: {{{name}: "{length}"}} '
                f"(quoted: a plain {length} is only a default size)")
    return f"{lead}, e.g. dims: {{{name}: {dim_text(length)}}}"


def written_bound(e: FExpr) -> str:
    """A slice bound as the spec wrote it (H, To, 2 * H, lo + K), parenthesised where a
    difference or a product needs it."""
    if e.op == PseudoOp.DIM:
        return str(e.param("name"))
    if e.op == PseudoOp.NUM:
        return str(e.param("text") or e.param("value"))
    if e.op in ("+", "-", "*") and len(e.args) == 2:
        a, b = (written_bound(x) for x in e.args)
        if e.op == "*":
            a, b = (f"({t})" if x.op in ("+", "-") else t for t, x in zip((a, b), e.args))
        elif e.op == "-" and e.args[1].op in ("+", "-"):
            b = f"({b})"
        return f"{a} {e.op} {b}"
    return "…"


def equal_for_every_size(x: Any, y: Any, dims: dict[str, Any]) -> str | None:
    """The dim definition that makes the sizes ``x`` and ``y`` (SymPy expressions of the
    dims with sizes of their own) equal for every size: one of those dims, found once with
    coefficient ±1 in x − y, defined from the others (H: Hp * P + K - 1 for H − K + 1 =
    Hp·P); None where none is."""
    diff = sympy.expand(x - y)
    own = {v: name for name, v in dims.items() if isinstance(v, sympy.Symbol)}
    found = []
    for sym in diff.free_symbols:
        if sym not in own:
            continue
        c = diff.coeff(sym)
        if c in (1, -1) and not sympy.expand(diff - c * sym).has(sym):
            found.append((c != 1, list(dims).index(own[sym]), sym, c))
    if not found:
        return None
    _, _, sym, c = min(found, key=lambda f: (f[0], f[1]))
    value = sympy.expand(-(diff - c * sym) / c)
    if not value.free_symbols or (value.is_Number and value < 1):
        return None
    return f"{own[sym]}: {dim_text(value)}"


def _value_at(x: Any, sizes: dict[Any, int]) -> Any:
    return x.xreplace({k: sympy.Integer(v) for k, v in sizes.items()})


def _slice_misfit(lo: Any, hi: Any, size: Any, k: int, n: Any, sizes: dict[Any, int]
                  ) -> tuple[str, int] | None:
    """Why the slice lo:hi of axis ``k`` (of dim ``n``, ``size`` its size) does not fit at
    ``sizes`` (dim symbols → sizes), and which bound says it (0 lo, 1 hi); None if it fits."""
    for bound, what, value in ((0, "starts before 0", lo), (1, "ends past the dim", size - hi),
                               (1, "is empty", hi - lo - 1)):
        v = _value_at(value, sizes)
        if value.is_negative or (v.is_Number and v < 0):
            return (f"the slice {dim_text(lo)}:{dim_text(hi)} of axis {k} (of size {n} = "
                    f"{_value_at(size, sizes)}) {what}"), bound
    return None


def slice_misfit(e: FExpr, dims: dict[str, Any], sizes: dict[Any, int]) -> str | None:
    """Why the slice node ``e`` does not fit its axis at ``sizes`` (other sizes than those
    it was checked at as the spec was read: ``--dims``); None if it fits."""
    x, lo_e, hi_e = e.args
    k = int(e.param("axis"))
    n = x.shape[k]
    size = S.One if n == 1 else dims[n]
    lo, hi = (_bound(b, None, dims) for b in (lo_e, hi_e))
    misfit = _slice_misfit(lo, hi, size, k, n, sizes)
    return None if misfit is None else misfit[0]


def _slice_check(loc: Any, args: Args, kwargs: Kw, dims: dict[str, Any],
                 sizes: dict[Any, int]) -> FExpr:
    """``x[:, lo:hi]``: arguments x, the axis (a number), lo, hi (None for an open end)."""
    (x, lx), (axis, _), (lo_e, llo), (hi_e, lhi) = args
    k = int(axis.param("value"))
    n = x.shape[k]
    size = S.One if n == 1 else dims[n]
    at = (k, str(n))
    lo = S.Zero if lo_e.op == PseudoOp.NONE else _bound(lo_e, llo, dims, at)
    hi = size if hi_e.op == PseudoOp.NONE else _bound(hi_e, lhi, dims, at)
    misfit = _slice_misfit(lo, hi, size, k, n, sizes)
    if misfit is not None:
        raise SpecError(misfit[0], llo if misfit[1] == 0 else lhi,
                        f"bounds run from 0 to {n}: 0 ≤ lo < hi ≤ {n}")
    length = sympy.expand(hi - lo)
    out = 1 if length == 1 else next((d for d, v in dims.items()
                                      if sympy.expand(v - length) == 0), None)
    if out is None:
        lo_w = "0" if lo_e.op == PseudoOp.NONE else written_bound(lo_e)
        hi_w = str(n) if hi_e.op == PseudoOp.NONE else written_bound(hi_e)
        count = hi_w if lo == 0 else \
            f"{hi_w} - {lo_w}" if lo_e.op not in ("+", "-") else f"{hi_w} - ({lo_w})"
        written = f"the slice {lo_w}:{hi_w} has {count} elements"
        at = _value_at(length, sizes)
        named = set(re.findall(r"\w+", f"{lo_w} {hi_w}"))
        # a dim of this size here that the bounds name or whose size shares a dim with the
        # length (H in H:To); not one of the same size by chance (N = 3 for 1:M at M = 4)
        alike = min((d for d, v in dims.items() if at.is_Number and
                     _value_at(v, sizes) == at and (d in named or v.free_symbols &
                                                    length.free_symbols)),
                    key=lambda d: (d not in named, list(dims).index(d)),
                    default=None) if sizes else None
        declare = declare_hint("M", length, "or declare its length as a dim", dims)
        if alike is None:
            raise SpecError(f"{written}, which no dim is", lhi,
                            declare_hint("M", length, "declare its length as a dim", dims))
        defs = [f"{d} = {dim_text(v)}" for d, v in dims.items()
                if d in (lo_w, hi_w) and not isinstance(v, sympy.Symbol)]
        fix = equal_for_every_size(length, dims[alike], dims)
        raise SpecError(f"{written}{' (' + '; '.join(defs) + ')' if defs else ''}: {at} at the "
                        f"declared sizes, as {alike} is, but not {alike} for every size", lhi,
                        (f"to make it {alike} for every size, define dims: {{{fix}}}; "
                         if fix else "") + declare)
    shape = x.shape[:k] + (out,) + x.shape[k + 1:]
    whole = FExpr(PseudoOp.DIM, (), (("name", n),), ())  # an open end: the dim's size
    bounds = tuple(FExpr(PseudoOp.NUM, (), (("value", Fraction(int(b))), ("text", str(b))), ())
                   if b.is_Number else whole if e.op == PseudoOp.NONE else e
                   for b, e in ((lo, lo_e), (hi, hi_e)))
    return FExpr(SLICE, (x,) + bounds, (("axis", k),), shape)


class OffsetMap(IndexMap):
    """An index ``j`` moved by an offset, over ``n`` values: arguments j, offset, n (a
    slice's Shift, a concatenated piece's Window)."""

    @property
    def index(self) -> Any:
        return self.args[0]

    @property
    def offset(self) -> Any:
        return self.args[1]

    @property
    def count(self) -> Any:
        return self.args[2]

    @property
    def value(self) -> Any:
        """The position it stands for, as a number: where a range condition reads it."""
        raise NotImplementedError


class Shift(OffsetMap):
    """``j + lo`` for an index ``j`` that runs over ``n`` values: a slice's read of its
    argument.  Arguments: j, lo, n.  It keeps ``n`` (as Flat keeps its sizes) so that its
    inverse states the range: δ(j + lo, s) is δ(j, s − lo) 𝟙[lo ≤ s < lo + n]; it never
    evaluates to j + lo, not even for lo = 0, where that range is all there is to say."""

    @property
    def value(self) -> Any:
        return self.index + self.offset

    def inverse(self, s: Any) -> Any:
        lo = self.offset
        if self.index.is_Number:  # a slice of length 1 read at its one element: s = lo
            return index_delta(s, lo + self.index)
        return index_delta(self.index, s - lo) * in_range(s, lo, lo + self.count)


def _slice_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    """y_{…j…} = x_{…, j + lo, …}: the sliced axis read at its index shifted by lo."""
    x, lo = e.args[0], ctx.comp(e.args[1], ())
    k = e.param("axis")
    at = list(idx)
    if x.shape[k] == 1:  # all of a literal-1 axis (0:1): the tensor itself, read at its 0
        return ctx.comp(x, tuple(at))
    # the count as hi − lo, the bounds the user wrote (K:N reads 𝟙[K ≤ s < N], not K + M)
    # a length-1 slice is read at Shift(0, lo, 1), never at the bare lo: a 0 there would
    # read as a kept axis of size 1, which x's axis is not
    at[k] = Shift(idx[k], lo, ctx.comp(e.args[2], ()) - lo)
    return ctx.comp(x, tuple(at))


def _slice_code(e: FExpr, c: list[Any], b: Any) -> Any:
    k = e.param("axis")
    return P.Subscript(c[0], tuple(P.Slice() for _ in range(k)) + (P.Slice(c[1], c[2]),))


OPS[SLICE] = Op(SLICE, _slice_check, _slice_comp, _slice_code, nargs=(4, 4), needs_ref=True,
                user=False, signature="x[:, lo:hi]", flops=_free_flops, view=True,
                sizes_last=True, curvature="linear",
                doc="the elements lo .. hi − 1 of one axis, as NumPy's basic slicing; adjoint "
                    "the upstream adjoint zero-padded")


# ---------------------------------------------------------------------------
# Structure: concatenate.  c = concatenate([a, b], axis=1) reads each piece at the joined
# index less the piece's offset, where that lands in the piece: c_{ij} = 𝟙[0 ≤ j < N] a_{ij}
# + 𝟙[N ≤ j < N + M] b_{i, j − N}.  The read is a Window, whose inverse δ(j, s + off) needs
# no range (s runs over the piece), so a piece's adjoint is a slice of ∂L/∂c.

CONCATENATE = "concatenate"


class Window(OffsetMap):
    """``j − off`` for an index ``j`` of a joined axis, read in a piece of ``n`` elements that
    starts at ``off`` (a range condition of the same term says where it does).  Arguments:
    j, off, n.  Kept whole (never j − off) so that its inverse is written, not solved."""

    @property
    def value(self) -> Any:
        return self.index - self.offset

    def inverse(self, s: Any) -> Any:
        return index_delta(self.index, s + self.offset)


def _concatenate_check(loc: Any, args: Args, kwargs: Kw, dims: dict[str, Any]) -> FExpr:
    pieces = [(x, lx) for x, lx in args]
    rank = len(pieces[0][0].shape)
    axis = 0
    if "axis" in kwargs:
        given, la = kwargs["axis"]
        literal = int_literal(given)
        if literal is None:
            raise SpecError("concatenate's axis must be an integer", la, "e.g. axis=1")
        axis = literal
        if not -rank <= axis < rank:
            raise SpecError(f"axis {axis} is out of range for pieces of rank {rank}", la,
                            f"axis runs from {-rank} to {rank - 1}")
        axis %= rank
    if rank == 0:
        raise SpecError("concatenate joins tensors with at least one axis", pieces[0][1],
                        "scalars have no axis to join along")
    first = pieces[0][0].shape
    for x, lx in pieces[1:]:
        if len(x.shape) != rank or any(a != b for n, (a, b) in enumerate(zip(x.shape, first))
                                       if n != axis):
            raise _mismatch(f"cannot concatenate along axis {axis}", first, x.shape, lx,
                            "the pieces must agree on every axis but the one joined")

    total = sympy.expand(sympy.Add(*[S.One if x.shape[axis] == 1 else dims[x.shape[axis]]
                                     for x, _ in pieces]))
    joined = next((d for d, v in dims.items() if sympy.expand(v - total) == 0), None)
    if joined is None:
        # a dim the spec or a stack defines as a number (a stack's count, n2) by its number,
        # after the named ones: K + 2, never the graph's name for the count
        sizes = [x.shape[axis] for x, _ in pieces]
        written = " + ".join([str(n) for n in sizes if not dims.get(n, S.One).is_Number] +
                             [str(n if n == 1 else dims[n]) for n in sizes
                              if dims.get(n, S.One).is_Number])
        raise SpecError(f"the joined axis has {written} elements, which no dim is", loc,
                        declare_hint("NM", total, taken=dims) if total.is_Number
                        else f"declare it as a dim, e.g. dims: "
                        f"{{{fresh_dim_name('NM', dims)}: {written}}}")
    return FExpr(CONCATENATE, tuple(x for x, _ in pieces), (("axis", axis),),
                 first[:axis] + (joined,) + first[axis + 1:])


def _concatenate_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    """Σ_p 𝟙[off_p ≤ j < off_p + n_p] piece_p at j − off_p (a Window)."""
    k = e.param("axis")
    terms, off = [], S.Zero
    for x in e.args:
        n = ctx.size(x.shape[k])
        at = list(idx)
        at[k] = Window(idx[k], off, n)
        terms.append(in_range(idx[k], off, off + n) * ctx.comp(x, tuple(at)))
        off = off + n
    return sympy.Add(*terms)


OPS[CONCATENATE] = Op(CONCATENATE, _concatenate_check, _concatenate_comp,
                      lambda e, c, b: b.concatenate(c, e.param("axis")), nargs=(1, 1),
                      kwargs=("axis",), dims=True, list_first=True, flops=_free_flops,
                      signature="concatenate([a, b], axis=0)", aliases=("cat", "concat"),
                      doc="the pieces joined along one axis, as NumPy's concatenate; the "
                          "adjoint of each piece a slice of the upstream adjoint")



# ---------------------------------------------------------------------------
# Structure: stack.  S = stack([a, b], axis=1) puts the pieces side by side along a new axis
# of n = 2 elements: S_{i s j} = δ(s, 0) a_ij + δ(s, 1) b_ij.  The adjoint of a piece is the
# upstream adjoint at that piece's position, ∂L/∂S_{i 0 j}: a literal index on an axis of
# more than one element (a position, printed; never the 0 of a size-1 axis), whose matrix
# form is take(∂L/∂S, 0, axis=1).  The new axis' size is a count, not a size of the user's:
# the graph gives it a dim defined as that number (graph.count_dim), which --dims cannot move.

STACK = "stack"
TAKE = "take"  # the matrix form of a stacked piece's adjoint: one position of an axis
PERMUTE = "permute"  # the matrix form of an axis permutation of three or more axes
TRACE = "tr"  # the sum of a diagonal, as the literature writes it: tr(A B)
ONEHOT = "onehot"  # the matrix form of a lookup's rows: onehot(tok) E
# the names a matrix form prints as functions though no spec line calls them so (pad(…),
# take(X, 0, axis=1), onehot(tok), rowsum(X), colsum(X), tr(A B), permute(X, …)): a tensor
# of one of these names would read as the function (a node colsum printed colsum(X) colsumᵀ)
PRINTED_FUNCTIONS = frozenset({PAD, TAKE, PERMUTE, TRACE, ONEHOT, ReduceKind.ROWSUM.value,
                               ReduceKind.COLSUM.value})


def _integer_keyword(loc: Any, fn: str, kwargs: Kw, lo: int, hi: int) -> int:
    """``axis=k`` (negative allowed, NumPy's meaning), in ``lo .. hi``, as 0 .. hi."""
    given, la = kwargs["axis"]
    axis = int_literal(given)
    if axis is None:
        raise SpecError(f"{fn}'s axis must be an integer", la, "e.g. axis=1")
    if not lo <= axis <= hi:
        raise SpecError(f"axis {axis} is out of range for {fn}", la,
                        f"the result has {hi + 1} axes: axis runs from {lo} to {hi}")
    return axis % (hi + 1)


def count_dim(n: int, dims: dict[str, Any]) -> Any:
    """The axis of ``n`` stacked pieces: the literal 1 for one piece, else the first dim
    whose size is the number ``n`` (one the spec defines as "2", or the graph's count dim)."""
    if n == 1:
        return 1
    return next(d for d, v in dims.items() if v == n)


def _stack_check(loc: Any, args: Args, kwargs: Kw, dims: dict[str, Any]) -> FExpr:
    first, rank = args[0][0].shape, len(args[0][0].shape)
    axis = _integer_keyword(loc, STACK, kwargs, -rank - 1, rank) if "axis" in kwargs else 0
    for x, lx in args[1:]:
        if x.shape != first:
            raise _mismatch("cannot stack", first, x.shape, lx,
                            "stack's pieces must all have the same shape (it does not "
                            "broadcast)")
    shape = first[:axis] + (count_dim(len(args), dims),) + first[axis:]
    return FExpr(STACK, tuple(x for x, _ in args), (("axis", axis),), shape)


def _stack_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    """Σ_p δ(s, p) piece_p, the new axis' index s dropped from each piece's read."""
    k = e.param("axis")
    rest = idx[:k] + idx[k + 1:]
    if len(e.args) == 1:  # an axis of one element: the piece itself
        return ctx.comp(e.args[0], rest)
    s = idx[k]
    return sympy.Add(*[position_delta(s, p) * ctx.comp(x, rest) for p, x in enumerate(e.args)])


def position_of(i: Any) -> int | None:
    """The position an index is, or None: a number, or a slice of length 1 read at its one
    element (Shift(0, lo, 1) is lo: S[:, 1:2] of a stack)."""
    if isinstance(i, OffsetMap) and i.index.is_Number:
        i = i.index + i.offset if isinstance(i, Shift) else i.index - i.offset
    return int(i) if isinstance(i, sympy.Integer) else None


def is_map_position(i: Any) -> bool:
    """Whether ``i`` is a position written as an index map (Shift(0, lo, 1)), whose δ with a
    number SymPy cannot decide (a number's it can)."""
    return isinstance(i, OffsetMap) and position_of(i) is not None


def settle_positions(e: Any) -> Any:
    """``e`` with each δ of two positions its value (δ(0, Shift(0, 1, 1)) is 0): a position
    substituted for a summed index (Σ_m δ(m, 0) δ(m, Shift(0, 1, 1))) leaves such deltas,
    which SymPy cannot decide."""
    table = {d: S.One if position_of(d.args[0]) == position_of(d.args[1]) else S.Zero
             for d in e.atoms(KroneckerDelta)
             if position_of(d.args[0]) is not None and position_of(d.args[1]) is not None}
    return e.xreplace(table) if table else e


def position_delta(s: Any, p: int) -> Any:
    """δ(s, p): the index s at position p; 1 or 0 where s is itself a position (a number,
    or a slice of length 1 read at its one element, Shift(0, lo, 1): S[:, 1:2]); an index
    map by its inverse (δ(j + lo, p) is δ(j, p − lo) 𝟙[lo ≤ p < lo + n]), as a read of a
    tensor at it is differentiated."""
    if position_of(s) is not None:
        return S.One if position_of(s) == p else S.Zero
    if isinstance(s, (Flat, Shift, Window)):
        return s.inverse(sympy.Integer(p))
    return index_delta(s, sympy.Integer(p))


OPS[STACK] = Op(STACK, _stack_check, _stack_comp,
                lambda e, c, b: b.stack(c, e.param("axis")), nargs=(1, 1), kwargs=("axis",),
                dims=True, list_first=True, count_axis=True, flops=_free_flops,
                signature="stack([a, b], axis=0)",
                doc="the pieces (all of one shape) side by side along a new axis, as NumPy's "
                    "stack; the adjoint of each piece the upstream adjoint at its position, "
                    "take(∂L/∂S, p, axis=k)")


# ---------------------------------------------------------------------------
# Convolution.  conv1d(X, W) is PyTorch's (a valid cross-correlation, stride 1): Y_{b,o,t} =
# Σ_{c,k} W_{o,c,k} X_{b,c,t+k}.  X is read at a Shift of t by the summed k, so the delta of
# its derivative collapses like a slice's, keeping the range 𝟙[k ≤ s < k + To]: the adjoints
# are a correlation (∂L/∂W = ∂L/∂Y ⋆ X) and a full convolution (∂L/∂X = ∂L/∂Y ∗ W), which
# matrix.Conv states with the forward (its ``kind``: VALID, CORR, FULL).

CONV_VALID, CONV_CORR, CONV_FULL = "valid", "corr", "full"
# einsum letters of conv1d's and conv2d's spatial axes: the signal's, the window's
_SPATIAL = (("t", "k"), ("hw", "ij"))


class ConvOp(Record):
    """A convolution of ``nsp`` spatial axes: its code for each kind of matrix.Conv."""

    name: str
    nsp: int
    torch: str  # PyTorch's function: the forward, and the correlation on swapped axes
    torch_t: str  # PyTorch's transposed convolution: the full convolution

    def _axes(self) -> P.Py:
        return P.Tuple(tuple(P.num(2 + a) for a in range(self.nsp)))

    def _window(self, x: P.Py, like: P.Py) -> P.Py:
        """``x``'s windows of the spatial size of ``like``: axes x's, then the window's."""
        size = P.Subscript(P.Attr(like, "shape"), (P.Slice(P.num(2)),))
        return P.call("np.lib.stride_tricks.sliding_window_view", x, size, axis=self._axes())

    def numpy(self, kind: str, a: P.Py, b: P.Py) -> P.Py:
        """Windows and an einsum: no Python loop over the sizes."""
        t, k = _SPATIAL[self.nsp - 1]
        if kind == CONV_VALID:  # X, W
            return P.call("np.einsum", P.Str(f"bc{t}{k},oc{k}->bo{t}"), self._window(a, b), b)
        if kind == CONV_CORR:  # G, X: windows of X as long as G
            return P.call("np.einsum", P.Str(f"bc{k}{t},bo{t}->oc{k}"), self._window(b, a), a)
        # G, W: G padded by K − 1 each side, its windows against the flipped kernel
        widths = [P.Tuple((P.num(0), P.num(0)))] * 2 + [
            P.Tuple((n, n)) for n in (P.binop("-", P.Subscript(P.Attr(b, "shape"),
                                                             (P.num(2 + q),)), P.num(1))
                                      for q in range(self.nsp))]
        padded = P.call("np.pad", a, P.Tuple(tuple(widths)))
        flipped = P.call("np.flip", b, axis=self._axes())
        return P.call("np.einsum", P.Str(f"bo{t}{k},oc{k}->bc{t}"),
                      self._window(padded, b), flipped)

    def torch_code(self, kind: str, a: P.Py, b: P.Py) -> P.Py:
        if kind == CONV_VALID:
            return P.call(self.torch, a, b)
        if kind == CONV_FULL:
            return P.call(self.torch_t, a, b)
        # Σ_{b,t} G_{b,o,t} X_{b,c,t+k}: the batch as channels, X's channels as its batch

        def swap(x: P.Py) -> P.Py:
            return P.method(x, "transpose", P.num(0), P.num(1))
        return swap(P.call(self.torch, swap(b), swap(a)))


CONV_OPS = {o.name: o for o in (
    ConvOp("conv1d", 1, "torch.nn.functional.conv1d", "torch.nn.functional.conv_transpose1d"),
    ConvOp("conv2d", 2, "torch.nn.functional.conv2d", "torch.nn.functional.conv_transpose2d"),
)}


def _conv_check(name: str) -> Fn:
    row = CONV_OPS[name]
    n = row.nsp
    letters = ("T", "H W_")[n - 1].split()
    usage = f"{name}(X, W) or {name}(X, W, b): X [B, C, {', '.join(letters)}], " \
            f"W [O, C, {', '.join('K' + L[0] for L in letters) if n > 1 else 'K'}], b [O]"

    def check(loc: Any, args: Args, kwargs: Kw, dims: dict[str, Any]) -> FExpr:
        (x, lx), (w, lw) = args[0], args[1]
        for t, at, what in ((x, lx, "input"), (w, lw, "kernel")):
            if len(t.shape) != n + 2:
                raise SpecError(f"{name}'s {what} must have {n + 2} axes, not "
                                f"{len(t.shape)} ({shapes.fmt(t.shape)})", at, usage)
        if x.shape[1] != w.shape[1]:
            raise _mismatch(f"{name}: the input's channels (axis 1) are not the kernel's",
                            x.shape, w.shape, lw, f"the kernel's axis 1 must be "
                            f"{shapes.dim_name(x.shape[1])}, the input's channels: {usage}")
        if len(args) == 3:
            b, lb = args[2]
            if tuple(b.shape) != (w.shape[0],):
                raise SpecError(f"{name}'s bias must have shape [{w.shape[0]}] (the kernel's "
                                f"output channels), not {shapes.fmt(b.shape)}", lb, usage)
        out = []
        for q in range(n):
            size, kern = x.shape[2 + q], w.shape[2 + q]
            value = (S.One if size == 1 else dims[size]) - \
                (S.One if kern == 1 else dims[kern]) + 1
            hit = 1 if value == 1 else next(
                (d for d, v in dims.items() if sympy.expand(v - value) == 0), None)
            if hit is None:
                text = dim_text(value)
                raise SpecError(f"{name}'s output has {text} elements along spatial axis "
                                f"{q} (valid, stride 1), which no dim is", loc,
                                declare_hint(f"{size}o", value, taken=dims))
            out.append(hit)
        return FExpr(name, tuple(t for t, _ in args), (("nsp", n),),
                     (x.shape[0], w.shape[0]) + tuple(out))
    return check


def _conv_comp(e: FExpr, idx: Tup, ctx: Any) -> Any:
    """Σ_{c,k} W_{o,c,k} X_{b,c,t+k} (+ b_o): X read at each output index shifted by a kernel
    index (a Shift over the output's length, whose inverse keeps that range)."""
    x, w = e.args[0], e.args[1]
    c = 0 if x.shape[1] == 1 else ctx.fresh(x.shape[1])
    ks = tuple(0 if d == 1 else ctx.fresh(d) for d in w.shape[2:])
    at = tuple(Shift(t, k, ctx.size(d)) for t, k, d in zip(idx[2:], ks, e.shape[2:]))
    body = ctx.comp(w, (idx[1], c) + ks) * ctx.comp(x, (idx[0], c) + at)
    out = ctx.sum(body, tuple(i for i in (c,) + ks if i != 0))
    if len(e.args) == 3:
        out = out + ctx.comp(e.args[2], (idx[1],))
    return out


def _conv_code(e: FExpr, c: list[Any], b: Any) -> Any:
    out = b.conv(CONV_OPS[e.op], CONV_VALID, c[0], c[1])
    if len(c) < 3:
        return out
    bias = P.Subscript(c[2], (P.Slice(),) + (P.NONE,) * e.param("nsp"))
    return P.binop("+", out, bias)


def _conv_flops(e: FExpr, args: list[FExpr], meter: Any) -> Any:
    # 2·C·K multiply-adds per output element (a matmul's count), the bias one add each
    w = args[1]
    out = meter.matmul(2 * meter.numel(e.shape) * meter.numel(w.shape[1:]))
    return out + meter.other(meter.numel(e.shape)) if len(args) == 3 else out


for _name, _row in CONV_OPS.items():
    OPS[_name] = Op(_name, _conv_check(_name), _conv_comp, _conv_code, nargs=(2, 3),
                    dims=True, all_refs=True, curvature="contract", flops=_conv_flops,
                    signature=f"{_name}(X, W, b)",
                    doc=f"PyTorch's {_name}: a valid cross-correlation, stride 1, no padding "
                        f"(output length T − K + 1, declared as a dim)")


FUNCTIONS = tuple(sorted(name for name, o in OPS.items() if o.user))
# other libraries' names for the ops, from their entries ('swish' -> 'silu')
ALIASES = {alias: name for name in FUNCTIONS for alias in OPS[name].aliases}
# PyTorch's keywords for NumPy's (x.sum(dim=1, keepdim=True) is sum(x, axis=1, keepdims=True))
TORCH_KEYWORDS = {"dim": "axis", "keepdim": "keepdims", "dims": "axes"}
# tensor methods and library functions that are Python's operators in a spec: the operator,
# and how many tensors it takes (x.matmul(y) and np.dot(x, y) are x @ y; x.t() is x.T)
OPERATOR_METHODS = {
    # (not np.inner: it contracts the last axes of both, X @ Y.T for matrices)
    **{name: ("@", 2) for name in ("matmul", "dot", "mm", "bmm", "mv")},
    **{name: ("*", 2) for name in ("mul", "multiply")},
    **{name: ("+", 2) for name in ("add",)},
    **{name: ("-", 2) for name in ("sub", "subtract")},
    **{name: ("/", 2) for name in ("div", "divide", "true_divide")},
    **{name: ("**", 2) for name in ("pow", "power")},
    **{name: ("neg", 1) for name in ("neg", "negative")},
    "t": (".T", 1)}


class AsFunction(Record):
    """A library's call (NumPy's or PyTorch's method ``x.sum(1)``, function
    ``torch.sum(x, dim=1)``) in the spec's spelling, from the op's entry: the function, then
    the call's arguments after its first in order: ``positional`` of them stay positional,
    the next go to ``keywords``, or all of them gather as the entry's ``gathers`` says;
    ``renames`` maps the call's keywords to the function's."""

    name: str
    positional: int = 0
    keywords: Tup = ()
    gathers: str = ""
    renames: Tup = ()  # (the call's keyword, the function's)
    note: str = ""  # where the library's spelling may mean something else


def as_function(name: str, nargs: int, keywords: tuple[str, ...],
                method: bool) -> AsFunction | None:
    """``name`` called with a first argument (a method's tensor) and ``nargs`` more
    positional arguments and ``keywords``, as a call of one of the spec's functions, or
    None where no function takes it so (an unknown name; too many arguments or too few;
    a keyword the function does not take; a method of a tensor whose function takes a
    string, a comparison or a list first)."""
    fn = ALIASES.get(name, name)
    op = OPS.get(fn)
    if op is None or not op.user or (method and (op.string_first or op.condition
                                                 or op.list_first)):
        return None
    renames = tuple((k, TORCH_KEYWORDS[k]) for k in keywords
                    if k not in op.kwargs and TORCH_KEYWORDS.get(k) in op.kwargs)
    given = [dict(renames).get(k, k) for k in keywords]
    if any(k not in op.kwargs for k in given) or len(set(given)) < len(given):
        return None
    lo, hi = op.nargs
    if op.gathers == "[]":  # reshape: the sizes, in a list
        return AsFunction(fn, gathers="[]", renames=renames) if nargs else None
    if op.gathers and nargs:  # transpose: the axes, as one tuple keyword
        note = "" if nargs != 2 else (
            f"NumPy's order of all the {op.gathers}; PyTorch's {name}(1, 2) swaps two: "
            f"list them all, e.g. {op.gathers}=(0, 2, 1)")
        return None if op.gathers in given else AsFunction(fn, gathers=op.gathers,
                                                           renames=renames, note=note)
    slots = nargs if hi is None else min(nargs, hi - 1)
    if nargs > slots and not op.positional_keywords:
        return None
    rest = [k for k in op.kwargs if k not in given][:nargs - slots]
    if 1 + slots < lo or slots + len(rest) < nargs:
        return None
    return AsFunction(fn, slots, tuple(rest), renames=renames)


def sympy_number(value: Fraction) -> Any:
    return sympy.Rational(value.numerator, value.denominator)


# the ops whose writing a reading honours where a line writes them (recognize.written_reading):
# a trace's sums of A ⊙ Bᵀ read as tr(A B), a log-softmax's u − logsumexp(u) as log_softmax(u)
TRACE_OP, LOG_SOFTMAX = "trace", "log_softmax"
AS_WRITTEN = (TRACE_OP, LOG_SOFTMAX)
