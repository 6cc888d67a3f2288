"""Numeric proof of every printed form: code compiled from it against finite differences.

The dims get sizes (the spec's, the user's, or small distinct primes so that a
misplaced transpose cannot hide), the inputs random values from a seeded
generator, and modules written from the printed forms are run in float64: one
compiled from the index forms (einsums, :mod:`~einderive.render.einsum`), one
from the matrix forms, and the closed forms ``--expand`` prints.  Each form of
each gradient is compared with central differences of the generated
``forward``; each is its own column of the report.  The closed form printed of
every other adjoint (∂L/∂z) is compared with that adjoint's value in the backward
pass of the matrix module (whose gradients the columns prove), a row per adjoint.
A tensor of at most ``ELEMENTWISE_MAX`` elements is checked element by element (a
misplaced transpose shows per element), a larger one along ``DIRECTIONS`` random directions (the
directional derivative against the inner product with the printed gradient).
The forward evaluations of these per-input checks are capped at ``FD_BUDGET``, so
the cost does not grow with the number of inputs times the graph: the inputs past
the cap are checked together along joint random directions, halving the group
down to the culprit when a check fails.  A spec whose code cannot be
compiled or run is that spec's failure, reported, and never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .errors import SpecError
from .kinds import PseudoOp, Result
from .record import Record, field, replace
from .spec import sizes_with, symmetric_inputs


class Codegen(Protocol):
    """The code and the text verify needs, from the code generator and the printers
    (``einderive.api.CODEGEN``; the engine does not import the renderers)."""

    def module(self, d: Any, form: str, sizes: Sizes) -> Module:
        """The NumPy module of ``d``'s ``forward`` and ``gradients`` from its 'matrix' or
        'index' forms, in parts."""

    def closed_forms(self, d: Any, sizes: Sizes) -> Module | None:
        """The module of ``closed_forms(**inputs)``, the dict of the closed forms ``--expand``
        prints, in parts (None if none)."""

    def closed_adjoints(self, d: Any) -> list[str]:
        """The adjoints other than the gradients whose closed form ``--expand`` prints; the
        'matrix' module's ``gradients`` returns their values too, by name."""

    def formula(self, d: Any, expr: Any) -> str:
        """An index-form expression of ``d`` as the text view prints it."""

if TYPE_CHECKING:  # numpy is imported where used: verify is off the path of derive
    import numpy as np

    from .compiled import Module
    from .derivation import Derivation
    from .graph import Graph
    from .ops import FExpr

Sizes = dict[str, int]  # dim name -> size
Value = Any  # a NumPy array, or a float for a scalar
Inputs = dict[str, Value]  # input name -> value
Forward = Callable[..., float]  # the generated forward(**inputs) -> loss
Printed = dict[str, dict[str, Value]]  # gradient name -> printed form -> its value
Judged = tuple[float, float, bool]  # (max abs error, max rel error, within tolerance)

DEFAULT_SIZES = (2, 3, 5, 7, 11, 13, 17, 19)
STEP = 1e-6
DEFAULT_TOL = 1e-6
ELEMENTWISE_MAX = 64  # a tensor this small is checked per element
DIRECTIONS = 3  # random directions for a larger tensor, or a group of inputs
FD_BUDGET = 512  # forward evaluations for per-input checks; the rest are checked jointly
REDRAWS = 16  # seeds tried, from the one asked, for a point where the loss is finite
MAX_ELEMENTS = 10**7  # values verify may allocate over the graph's tensors


class Check(Record):
    name: str
    shape: tuple[int, ...]
    max_abs: float  # the worst over the forms checked
    max_rel: float
    ok: bool
    index: Result = Result.NONE  # each form's check (NONE: that form is not printed)
    matrix: Result = Result.NONE
    closed: Result = Result.NONE
    second: bool = False  # a check of the Hessian-vector product (``--hvp``), not a gradient
    adjoint: bool = False  # another adjoint's closed form against the backward pass's value
    # each printed form's own (form, max abs error, max rel error), in the order of FORMS
    errors: tuple[tuple[str, float, float], ...] = ()


class Report(Record):
    spec: str  # the spec's name
    sizes: Sizes
    seed: int
    tol: float
    checks: tuple[Check, ...] = ()
    error: str = ""  # set when the check could not run (e.g. a domain error)
    hint: str = ""
    bug: bool = False  # the generated code failed: a bug in einderive, not a wrong formula
    path: str = ""  # the spec's file, when verified from one (``einderive verify``)
    asked: int | None = None  # the seed asked for, where its point's loss was not finite

    @property
    def ok(self) -> bool:
        return not self.error and all(c.ok for c in self.checks)


FORMS = ("index", "matrix", "closed")  # the printed forms, each a column of the report


class _Module(Record):
    forward: Forward
    # form -> gradients(**inputs) -> {name: array}, for 'index' and 'matrix'
    gradients: dict[str, Callable[..., dict[str, Value]]]
    # closed_forms(**inputs) -> {name: array}, the printed closed forms (None: none printed)
    closed: Callable[..., dict[str, Value]] | None = None
    # form -> hvp(**inputs, v_x=...) -> {name: array}, when the Hessian-vector product is derived
    hvp: dict[str, Callable[..., dict[str, Value]]] = field(default_factory=dict)
    # form -> hessian(**inputs) -> {(x, y): array}, when the Hessian is derived
    hessian: dict[str, Callable[..., dict[tuple[str, str], Value]]] = field(
        default_factory=dict)
    # the same for each part of the Gauss-Newton split, when derived: (gnvp, hvp_rest),
    # (gauss_newton, hessian_rest)
    split_hvp: tuple[dict[str, Callable[..., dict[str, Value]]], ...] = ()
    split_hessian: tuple[dict[str, Callable[..., dict[tuple[str, str], Value]]], ...] = ()


def sizes_for(graph: Graph, override: Sizes | None = None) -> Sizes:
    """Dim sizes: ``override``, else the spec's, else distinct small primes."""
    override = override or {}
    unknown = [k for k in override if k not in {d for d, _ in graph.dims}]
    if unknown:
        raise SpecError(f"--dims names '{unknown[0]}', which is not a dim of this spec", None,
                        f"its dims are: {', '.join(d for d, _ in graph.dims) or 'none'}")
    out: Sizes = {}
    pool = iter(DEFAULT_SIZES)
    defined = {d.name for d in graph.spec.dims if d.definition is not None}
    used = {v for v in override.values()} | {s for d, s in graph.dims if s and d not in defined}
    for d, size in graph.dims:
        if d in defined:
            continue
        if d in override:
            out[d] = override[d]
        elif size:
            out[d] = size
        else:
            n = next(pool)
            while n in used:
                n = next(pool)
            used.add(n)
            out[d] = n
    full = sizes_with(graph.spec.dims, {**out, **override})  # defined dims follow, refuse --dims
    sizes = {d: int(full[d] or 0) for d, _ in graph.dims}
    from .graph import check_slices
    check_slices(graph, sizes)
    return sizes


def positive_inputs(graph: Graph) -> set[str]:
    """Inputs drawn positive: declared so, or read directly by log, sqrt or a fractional power."""
    from .ops import POWER, SCALARS, constant_value

    out = {t.name for t in graph.inputs if t.positive}

    def walk(e: FExpr) -> None:
        exponent = constant_value(e.args[1]) if e.op == POWER else None
        fractional = exponent is not None and exponent.is_Rational and not exponent.is_Integer
        if e.op in SCALARS and SCALARS[e.op].domain == "positive" or fractional:
            if e.args[0].op == PseudoOp.REF and graph[e.args[0].param("name")].is_input:
                out.add(e.args[0].param("name"))
        for a in e.args:
            if hasattr(a, "op"):
                walk(a)
    for t in graph.nodes:
        if t.expr is not None:
            walk(t.expr)
    return out


def kinked_inputs(graph: Graph) -> set[str]:
    """Inputs read directly by a function whose derivative jumps at 0 (relu, abs, where(x > 0,
    ...), maximum(x, 0) ...: ``kink`` in the op table): drawn away from 0, so that neither the
    point nor a finite-difference step crosses the kink.  (A kink between two drawn tensors,
    ``maximum(a, b)`` at a = b, is met with probability zero.)"""
    from .ops import OPS, SCALARS

    out: set[str] = set()

    def walk(e: Any) -> None:
        kinked = e.op in SCALARS and SCALARS[e.op].kink or e.op in OPS and OPS[e.op].condition
        for a in e.args:
            if not hasattr(a, "op"):
                continue
            if kinked and a.op == PseudoOp.REF and graph[a.param("name")].is_input:
                out.add(a.param("name"))
            walk(a)
    for t in graph.nodes:
        walk(t.expr)
    return out


def zero_divisor(d: Derivation, sizes: Sizes) -> tuple[str, Any] | None:
    """(tensor, divisor) of the first definition that divides by an expression in the
    dims' sizes that is zero at ``sizes`` (``sum(X*X) / (D - B)`` at B = D), or None."""
    from sympy import Indexed, Pow, preorder_traversal

    ctx = d.index.ctx
    values = {ctx.sizes[k]: v for k, v in sizes.items() if k in ctx.sizes}
    for t in d.graph.tensors:
        if t.name not in d.index.definitions:
            continue
        expr, _ = d.index.definitions[t.name]
        for e in preorder_traversal(expr):
            if isinstance(e, Pow) and e.exp.is_negative and e.base.free_symbols and \
                    e.base.free_symbols <= set(values) and not e.base.atoms(Indexed) and \
                    e.base.subs(values) == 0:
                return t.name, e.base
    return None


def _other_sizes(sizes: Sizes) -> Sizes:
    """Distinct sizes for the dims: a difference of two dims is then not zero."""
    return {k: DEFAULT_SIZES[n % len(DEFAULT_SIZES)] for n, k in enumerate(sizes)}


def _not_finite_hint(graph: Graph) -> str:
    """Where a non-finite loss at a random point likely comes from: a log or sqrt of an input
    that may be negative, or a matrix function (logdet, inv, solve ...) of an expression,
    which verify cannot draw well conditioned as it does an input it reads directly."""
    from .ops import OPS

    def inverts_an_expression(e: Any) -> bool:
        args = [a for a in e.args if hasattr(a, "op")]
        if e.op in OPS and OPS[e.op].square and args and args[0].op == PseudoOp.REF and \
                not graph[args[0].param("name")].is_input:
            return True
        return any(inverts_an_expression(a) for a in args)
    if any(inverts_an_expression(t.expr) for t in graph.nodes):
        names = ", ".join(sorted(n for n, o in OPS.items() if o.square))
        return (f"a matrix function ({names}) of an expression may meet a singular matrix "
                f"or a negative determinant at random inputs: apply it to an input, or to "
                f"one declared 'S: {{shape: [N, N], spd: true}}'")
    if all(t.positive or t.spd or t.integer is not None for t in graph.tensors if t.is_input):
        return ("every input is drawn as declared (positive, spd or indices) already: an "
                "intermediate leaves its function's domain (a log or sqrt of a difference, a "
                "division by a norm that is zero, as relu's zero rows make it); keep the spec "
                "inside it")
    return "an input may need to be positive: declare it as 'x: {shape: [N], positive: true}'"


def square_inputs(graph: Graph) -> set[str]:
    """Inputs a matrix function inverts (inv, det, logdet, solve's A: ``square`` in the op
    table), read directly: drawn well conditioned with a positive determinant."""
    from .ops import OPS

    out: set[str] = set()

    def walk(e: Any) -> None:
        args = [a for a in e.args if hasattr(a, "op")]
        if e.op in OPS and OPS[e.op].square and args and args[0].op == PseudoOp.REF and \
                graph[args[0].param("name")].is_input:
            out.add(args[0].param("name"))
        for a in args:
            walk(a)
    for t in graph.nodes:
        walk(t.expr)
    return out


def _square_draw(rng: Any, shape: tuple[int, ...], spd: bool) -> Any:
    """A well-conditioned N×N matrix: I + G/(2‖G‖₂) (eigenvalues within 1/2 of 1, so its
    determinant is positive and its condition number at most 3), or for an spd input
    I + G Gᵀ/N (symmetric, eigenvalues at least 1)."""
    import numpy as np

    n = shape[0]
    g = rng.standard_normal(size=shape)
    if spd:
        return np.eye(n) + g @ g.T / n
    return np.eye(n) + 0.5 * g / np.linalg.norm(g, 2)


def generator(seed: int | list[int]) -> np.random.Generator:
    """NumPy's ``default_rng(seed)``, its module imported without OpenSSL's libcrypto.

    ``numpy.random`` imports :mod:`secrets` for one function, ``randbits`` (entropy for an
    unseeded generator, such as the global one it seeds on import), and ``secrets`` imports
    ``hmac`` and ``hashlib``, which map libcrypto: 4 MiB of resident memory (a 512-branch
    fan-out's ``verify`` peaked at 2.10× the SymPy import with it, 2.01× without).  While
    ``numpy.random`` is imported, a stand-in module named ``secrets`` gives it ``randbits``
    as ``secrets`` defines it (``SystemRandom().getrandbits``: the operating system's
    randomness), then leaves ``sys.modules``, so a later ``import secrets`` gets the real
    one.  Seeded values are NumPy's own, unchanged."""
    import sys

    if "numpy.random" not in sys.modules and "secrets" not in sys.modules:
        import types
        from random import SystemRandom

        stand_in = types.ModuleType("secrets", "randbits only, while numpy.random loads")
        setattr(stand_in, "randbits", SystemRandom().getrandbits)
        sys.modules["secrets"] = stand_in
        try:
            import numpy.random
        finally:
            if sys.modules.get("secrets") is stand_in:
                del sys.modules["secrets"]
    import numpy as np

    return np.random.default_rng(seed)


def draw_inputs(graph: Graph, sizes: Sizes, seed: int) -> Inputs:
    import numpy as np

    rng = generator(seed)
    positive = positive_inputs(graph)
    kinked = kinked_inputs(graph)
    square = square_inputs(graph)
    values: Inputs = {}
    for t in graph.inputs:
        shape = tuple(1 if d == 1 else sizes[d] for d in t.shape)
        if t.integer is not None:  # indices: every value in range, each draw its own
            values[t.name] = rng.integers(0, sizes[t.integer], size=shape)
            continue
        if t.spd or t.name in square and len(shape) == 2 and shape[0] == shape[1]:
            values[t.name] = _square_draw(rng, shape, t.spd)
        elif t.name in positive:
            values[t.name] = rng.uniform(0.5, 1.5, size=shape)
        else:
            values[t.name] = rng.standard_normal(size=shape)
        if t.name in symmetric_inputs(graph.spec):  # A: {symmetric: true} is drawn so
            values[t.name] = (values[t.name] + values[t.name].T) / 2
        if t.name in kinked and t.name not in positive:  # at least 0.25 from the kink at 0,
            x = values[t.name]  # either side; after the symmetrizing, which could undo it
            values[t.name] = np.where(x < 0, x - 0.25, x + 0.25)
        if shape == ():
            values[t.name] = float(values[t.name])
    return values


class Plan(Record):
    """What the checks need of a derivation, taken from it first: its generated code (in
    parts, not yet compiled) and a few names.  The derivation can then be let go before
    NumPy is imported and the code compiled (its SymPy trees are most of verify's memory:
    a 512-branch fan-out's 29 MiB)."""
    name: str
    graph: Graph
    sizes: Sizes
    modules: tuple[Module | None, ...] = ()  # matrix, index, closed forms (None: none)
    gradients: tuple[tuple[str, bool], ...] = ()  # (name, whether its matrix form prints)
    adjoints: tuple[str, ...] = ()  # the other adjoints whose closed form prints
    hvp: tuple[str, ...] = ()  # the inputs with a direction, when (∇²L) v is derived
    hessian: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (x, y, the forms printed)
    along: tuple[str, ...] = ()  # the Hessian's inputs, in order
    targets: tuple[str, ...] = ()  # with the Gauss-Newton split: the loss's targets
    zero: tuple[str, str] = ("", "")  # (error, hint) where a definition divides by zero
    bug: str = ""  # the code could not be generated: this spec's failure
    # (name, form, the printed form's shape) of each gradient's matrix or closed form not of a
    # shape its tensor reads as (:func:`misread_shape`): that form's column fails
    misshapen: tuple[tuple[str, str, tuple[Any, ...]], ...] = ()

    @property
    def shown_sizes(self) -> Sizes:
        """The sizes a report states: not a stack's count dim (n2), which no one named."""
        return {k: v for k, v in self.sizes.items() if k not in self.graph.counts}


def prepare(d: Derivation, sizes: Sizes | None, codegen: Codegen) -> Plan:
    """The plan of ``d``'s checks: usage errors (sizes, too large) raise here; a failure to
    generate the code is the plan's ``bug``."""
    given = sizes_for(d.graph, sizes)
    _refuse_too_large(d.graph, given)
    plan = Plan(d.name, d.graph, given)
    try:
        return _prepare(d, plan, codegen)
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - the code generator failed: this spec's failure
        return replace(plan, bug=f"{type(exc).__name__}: {exc}")


def _prepare(d: Derivation, plan: Plan, codegen: Codegen) -> Plan:
    from .convex import Split, targets

    sizes = plan.sizes
    modules = (codegen.module(d, "matrix", sizes), codegen.module(d, "index", sizes),
               codegen.closed_forms(d, sizes))
    printed = tuple((g.name, g.form is None or g.form.matrix is not None) for g in d.gradients)
    misshapen = tuple((g.name, kind, tuple(f.matrix.shape)) for g in d.gradients
                      for kind, f in (("matrix", g.form), ("closed", g.closed))
                      if f is not None and f.matrix is not None and
                      misread_shape(f.matrix.shape, d.graph[g.name].shape))
    adjoints = tuple(codegen.closed_adjoints(d))
    s = d.second
    hvp = tuple(t.name for t, _ in s.hvp) if s is not None else ()
    # a block of four indices has its Kronecker form printed, or no other form than its own
    hessian = tuple((h.x.name, h.y.name, ("index", "matrix")
                     if h.form is None or h.form.matrix is not None or h.kron else ("index",))
                    for h in (s.hessian if s is not None else ()))
    gn = s.gauss_newton if s is not None else None
    drawn = tuple(targets(d.graph, Split(gn.output, gn.loss_part))) if gn is not None else ()
    return replace(plan, modules=modules, gradients=printed, misshapen=misshapen,
                   adjoints=adjoints, hvp=hvp,
                   hessian=hessian,
                   along=tuple(s.along) if s is not None else (), targets=drawn,
                   zero=_zero_message(d, sizes, codegen))


def misread_shape(form: tuple[Any, ...], tensor: tuple[Any, ...]) -> bool:
    """Whether a printed matrix form of shape ``form`` says another shape than its tensor's,
    where the generated code's reshape to the tensor's shape would hide it: a form of one
    axis of more than 1 (a column or a row) for a tensor of three or more axes of one such
    axis, that is none of the README's readings of the tensor (the tensor of its other
    axes, the matrix of its last two after leading 1s, each element's column).  c of
    c: [1, M, 1] is a batch of one M×1 column: a row 1×M has its numbers but not its shape."""
    f, t = tuple(form), tuple(tensor)
    if f == t or len(t) < 3 or not f:
        return False
    if sum(n != 1 for n in f) != 1 or sum(n != 1 for n in t) != 1:
        return False
    readings = {tuple(n for n in t if n != 1), t + (1,)}
    if set(t[:-2]) == {1}:
        readings.add(t[-2:])
    return f not in readings


def _zero_message(d: Derivation, sizes: Sizes, codegen: Codegen) -> tuple[str, str]:
    """(error, hint) when a definition divides by an expression in the dims that is zero at
    ``sizes``, else ('', ''): said only if the loss is not finite, found while the
    derivation is at hand."""
    zero = zero_divisor(d, sizes)
    if zero is None:
        return "", ""
    at = ", ".join(f"{k}={v}" for k, v in sizes.items())
    other = _other_sizes(sizes)
    example = f", e.g. --dims {','.join(f'{k}={v}' for k, v in other.items())}" \
        if zero_divisor(d, other) is None else ""
    return (f"{zero[0]} divides by {codegen.formula(d, zero[1])}, which is zero at {at}",
            f"the spec divides by zero at these dim sizes: give other sizes with --dims"
            f"{example}")


def _load(plan: Plan) -> _Module:
    """The generated modules' functions, each compiled a piece at a time
    (:mod:`einderive.compiled`).  Nothing from the spec reaches this code but checked
    identifiers and numbers."""
    from .compiled import load

    matrix_parts, index_parts, closed_parts = plan.modules
    assert matrix_parts is not None and index_parts is not None  # always written
    matrix, index = load(matrix_parts, "matrix"), load(index_parts, "index")
    closed = load(closed_parts, "closed") if closed_parts is not None else None

    def functions(name: str) -> dict[str, Callable[..., Any]]:
        return {form: m[name] for form, m in (("index", index), ("matrix", matrix))
                if name in m}
    split_hvp = tuple(functions(n) for n in ("gnvp", "hvp_rest") if functions(n))
    split_hessian = tuple(functions(n) for n in ("gauss_newton", "hessian_rest")
                          if functions(n))
    return _Module(matrix["forward"], {"index": index["gradients"],
                                       "matrix": matrix["gradients"]},
                   closed["closed_forms"] if closed else None, functions("hvp"),
                   functions("hessian"), split_hvp, split_hessian)


def verify(d: Derivation, sizes: Sizes | None = None, seed: int = 0, tol: float = DEFAULT_TOL, *,
           codegen: Codegen) -> Report:
    """Compare each printed form of each gradient of ``d`` with central finite differences
    (``einderive.api.verify`` supplies the code generator)."""
    return check(prepare(d, sizes, codegen), seed, tol)


def check(plan: Plan, seed: int = 0, tol: float = DEFAULT_TOL) -> Report:
    """Run the checks of a :func:`prepare`\\ d plan (the derivation not needed)."""
    failed = "the generated code failed: {}"
    hint = "this is a bug in einderive; please report it with the spec"
    if plan.bug:
        return Report(plan.name, plan.shown_sizes, seed, tol, (), failed.format(plan.bug), hint,
                      bug=True)
    try:
        return _verify(plan, seed, tol)
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - the generated code failed: this spec's failure
        return Report(plan.name, plan.shown_sizes, seed, tol, (),
                      failed.format(f"{type(exc).__name__}: {exc}"), hint, bug=True)


def _refuse_too_large(graph: Graph, sizes: Sizes) -> None:
    """A usage error, before anything is allocated, when the tensors would not fit."""
    import math

    total = sum(math.prod(1 if d == 1 else sizes[d] for d in t.shape) for t in graph.tensors)
    if total > MAX_ELEMENTS:
        dim = max(sizes, key=lambda k: sizes[k])
        raise SpecError(f"verify would allocate {total:,} values (more than {MAX_ELEMENTS:,}): "
                        f"dim '{dim}' has size {sizes[dim]:,}", None,
                        f"pass smaller sizes, e.g. --dims {dim}=8")


def _verify(plan: Plan, seed: int, tol: float) -> Report:
    import numpy as np

    module = _load(plan)
    sizes, name = plan.sizes, plan.name
    asked = seed
    # a loss not finite at the point drawn (logdet(A X B) of a negative determinant, about
    # every other draw) is checked at the next seeds' points, the report naming the one used
    for seed in range(asked, asked + REDRAWS):
        inputs = draw_inputs(plan.graph, sizes, seed)
        if plan.targets:
            inputs = _targets_drawn(plan.targets, inputs, seed)
        with np.errstate(all="ignore"):
            loss = module.forward(**inputs)
        if np.isfinite(loss) or plan.zero[0]:
            break
    if not np.isfinite(loss):
        if plan.zero[0]:
            return Report(name, plan.shown_sizes, asked, tol, (), *plan.zero)
        return Report(name, plan.shown_sizes, asked, tol, (),
                      f"the loss is not finite ({loss}) at the random point, nor at the "
                      f"next {REDRAWS - 1} seeds' points", _not_finite_hint(plan.graph))
    grads = {form: f(**inputs) for form, f in module.gradients.items()}
    closed = module.closed(**inputs) if module.closed else {}
    printed = {g: _printed(g, matrix, grads, closed) for g, matrix in plan.gradients}
    for g, kind, shape in plan.misshapen:  # its value in the printed form's shape: no match
        if kind in printed[g]:
            printed[g][kind] = np.reshape(printed[g][kind],
                                          tuple(1 if n == 1 else -1 for n in shape))
    rng = generator([seed, 1])  # directions: a stream apart from the inputs'
    checks: dict[str, Check] = {}
    joint: list[str] = []
    budget = FD_BUDGET
    for g, _ in plan.gradients:
        cost = _cost(inputs[g])
        if cost > budget:
            joint.append(g)
            continue
        budget -= cost
        if np.size(inputs[g]) <= ELEMENTWISE_MAX:
            numeric, noise = _finite_difference(module.forward, inputs, g, tol)
            checks[g] = _check(g, printed[g], numeric, tol, noise)
        else:
            checks.update(_check_along(module.forward, inputs, [g], printed, tol, rng))
    checks.update(_check_along(module.forward, inputs, joint, printed, tol, rng))
    rows = tuple(checks[g] for g, _ in plan.gradients)
    rows += _check_adjoints(plan, grads["matrix"], closed, tol)
    if module.hvp:
        rows += _check_hvp(plan, module, inputs, tol, rng)
    if module.hessian:
        rows += _check_hessian(plan, module, inputs, tol, rng)
    if module.split_hvp:
        rows += _check_split(plan, module, inputs, tol, rng)
    return Report(name, plan.shown_sizes, seed, tol, rows,
                  asked=asked if seed != asked else None)


def _check_adjoints(plan: Plan, backward: dict[str, Value], closed: dict[str, Value],
                    tol: float) -> tuple[Check, ...]:
    """Each other adjoint's printed closed form against its value in the backward pass
    (the matrix module's, whose gradients the rows above prove): a row per adjoint, its
    closed column only, judged as a gradient's closed column is."""
    import numpy as np

    return tuple(replace(_check(f"∂{plan.graph.spec.loss}/∂{n}", {"closed": closed[n]},
                                np.asarray(backward[n], dtype=float), tol), adjoint=True)
                 for n in plan.adjoints)


def _targets_drawn(drawn: tuple[str, ...], inputs: Inputs, seed: int) -> Inputs:
    """``inputs`` with the loss's targets ``drawn`` in [0, 1], where the Gauss-Newton split
    takes them to be (:mod:`einderive.convex`): a label or a probability."""
    import numpy as np

    rng = generator([seed, 2])
    out = dict(inputs)
    for t in drawn:
        value = rng.uniform(0.0, 1.0, size=np.shape(inputs[t]))
        out[t] = value if np.shape(value) else float(value)
    return out


def _check_split(plan: Plan, module: _Module, inputs: Inputs, tol: float,
                 rng: np.random.Generator) -> tuple[Check, ...]:
    """The Gauss-Newton split: G v + (the rest) v against central differences of the
    generated gradient along a random v, block by block (each printed form of each part);
    ⟨v, G v⟩ ≥ 0 along random directions; and with the Hessian, G + rest against the
    printed Hessian and G's smallest eigenvalue ≥ 0, the blocks assembled."""
    import numpy as np

    chosen = list(plan.hvp)
    symmetric = symmetric_inputs(plan.graph.spec)
    gn, rest = module.split_hvp
    rows = []
    for n in range(DIRECTIONS):
        v = {x: rng.standard_normal(np.shape(inputs[x])) for x in chosen}
        v = {x: (a + a.T) / 2 if x in symmetric else a
             for x, a in v.items()}
        args = {**inputs, **{f"v_{x}": v[x] for x in chosen}}
        got_g = {form: f(**args) for form, f in gn.items()}
        got_r = {form: f(**args) for form, f in rest.items()}
        if n == 0:
            step = STEP * max(1.0, *(float(np.abs(inputs[x]).max(initial=0)) for x in chosen))
            plus = module.gradients["matrix"](**{**inputs, **{
                x: inputs[x] + step * v[x] for x in chosen}})
            minus = module.gradients["matrix"](**{**inputs, **{
                x: inputs[x] - step * v[x] for x in chosen}})
            for x in chosen:
                numeric = np.asarray((plus[x] - minus[x]) / (2 * step), dtype=float)
                both = {f"{fg}": np.asarray(got_g[fg][x], dtype=float) +
                        np.asarray(got_r[fr][x], dtype=float)
                        for fg, fr in zip(got_g, got_r)}
                rows.append(_check(f"G v + rest v ({x})", both, numeric, tol))
        vgv = {form: np.asarray(min(0.0, sum(_inner(g[x], v[x]) for x in chosen)))
               for form, g in got_g.items()}
        rows.append(_check(f"vᵀ G v ≥ 0 ({n + 1})", vgv, np.asarray(0.0), tol))
    if module.split_hessian:
        rows += _check_split_blocks(plan, module, inputs, tol)
    return tuple(replace(r, second=True) for r in rows)


def _check_split_blocks(plan: Plan, module: _Module, inputs: Inputs,
                        tol: float) -> list[Check]:
    """Each block's G + rest against the printed Hessian's (index form, checked above),
    and the smallest eigenvalue of G, its blocks assembled in the order of the inputs."""
    import numpy as np

    gn_f, rest_f = module.split_hessian
    h = module.hessian["index"](**inputs)
    g = {form: f(**inputs) for form, f in gn_f.items()}
    r = {form: f(**inputs) for form, f in rest_f.items()}
    rows = []
    for key in h:
        both = {form: np.asarray(g[form][key], dtype=float) + np.asarray(r[form][key], dtype=float)
                for form in g}
        rows.append(_check(f"G + rest ({key[0]}, {key[1]})", both,
                           np.asarray(h[key], dtype=float), tol))
    along = list(plan.along)
    sizes = [int(np.size(inputs[x])) for x in along]
    for form, blocks in g.items():
        full = np.block([[np.reshape(np.asarray(blocks[(x, y)], dtype=float), (nx, ny))
                          for y, ny in zip(along, sizes)] for x, nx in zip(along, sizes)])
        low = float(np.linalg.eigvalsh((full + full.T) / 2).min())
        scale = max(1.0, float(np.abs(full).max(initial=0)))
        # 1 + λ_min / scale against 1: the error is how far below zero λ_min is, relative
        rows.append(_check(f"G ⪰ 0 ({form})", {form: np.asarray(1.0 + min(0.0, low) / scale)},
                           np.asarray(1.0), tol))
    return rows


def _check_hvp(plan: Plan, module: _Module, inputs: Inputs, tol: float,
               rng: np.random.Generator) -> tuple[Check, ...]:
    """The printed blocks of (∇²L) v against central differences of the generated (and
    checked) gradient along a random v, one row per block; then the Hessian's symmetry,
    ⟨u, H v⟩ = ⟨v, H u⟩ for a second random u, from the printed blocks alone."""
    import numpy as np

    chosen = list(plan.hvp)
    symmetric = symmetric_inputs(plan.graph.spec)

    def direction() -> dict[str, Value]:
        # A symmetric input's direction is symmetric: the central differences below move the
        # input along it, and the generated gradient holds only where the input is symmetric
        # (S x for ½(S + Sᵀ) x); off it, the reference, not the printed block, would be wrong.
        v = {x: rng.standard_normal(np.shape(inputs[x])) for x in chosen}
        return {x: (a + a.T) / 2 if x in symmetric else a for x, a in v.items()}

    def printed(v: dict[str, Value]) -> dict[str, dict[str, Value]]:
        args = {**inputs, **{f"v_{x}": v[x] for x in chosen}}
        return {form: f(**args) for form, f in module.hvp.items()}

    v, u = direction(), direction()
    got_v, got_u = printed(v), printed(u)
    step = STEP * max(1.0, *(float(np.abs(inputs[x]).max(initial=0)) for x in chosen))

    def shifted(sign: int) -> dict[str, Value]:
        moved = {**inputs, **{x: inputs[x] + sign * step * v[x] for x in chosen}}
        return module.gradients["matrix"](**moved)
    plus, minus = shifted(1), shifted(-1)
    rows = []
    for x in chosen:
        numeric = np.asarray((plus[x] - minus[x]) / (2 * step), dtype=float)
        rows.append(_check(f"H v ({x})", {f: g[x] for f, g in got_v.items()}, numeric, tol))
    for form in got_v:
        uhv = sum(_inner(got_v[form][x], u[x]) for x in chosen)
        vhu = sum(_inner(got_u[form][x], v[x]) for x in chosen)
        rows.append(_check(f"symmetry ({form})", {form: np.asarray(uhv)}, np.asarray(vhu), tol))
    return tuple(replace(r, second=True) for r in rows)


def _check_hessian(plan: Plan, module: _Module, inputs: Inputs, tol: float,
                   rng: np.random.Generator) -> tuple[Check, ...]:
    """Each printed block ∂²L/∂x∂y (index form; matrix or Kronecker form where printed)
    against central differences of the generated (and checked) gradient of x: column by
    column in y for a small y, else along random directions (H v); then its symmetry,
    ∂²L/∂x∂y against ∂²L/∂y∂x with the axes of x and y swapped."""
    import numpy as np

    symmetric = symmetric_inputs(plan.graph.spec)
    got = {form: f(**inputs) for form, f in module.hessian.items()}
    printed = {(x, y): forms for x, y, forms in plan.hessian}

    def gradient_along(y: str, v: Value) -> dict[str, Value]:
        step = STEP * max(1.0, float(np.abs(inputs[y]).max(initial=0)))
        plus = module.gradients["matrix"](**{**inputs, y: inputs[y] + step * v})
        minus = module.gradients["matrix"](**{**inputs, y: inputs[y] - step * v})
        return {x: np.asarray((plus[x] - minus[x]) / (2 * step), dtype=float)
                for x in plan.along}

    rows = []
    for (x, y), forms in printed.items():
        ny = np.ndim(inputs[y])
        blocks = {f: np.asarray(got[f][(x, y)], dtype=float) for f in forms}
        if np.size(inputs[y]) <= ELEMENTWISE_MAX and y not in symmetric:
            columns = {}
            for k in np.ndindex(np.shape(inputs[y])):
                e = np.zeros(np.shape(inputs[y]))
                e[k] = 1.0
                columns[k] = gradient_along(y, e)[x]
            numeric = np.zeros(np.shape(inputs[x]) + np.shape(inputs[y]))
            for k, col in columns.items():
                numeric[(...,) + k] = col
            rows.append(_check(f"H ({x}, {y})", blocks, numeric, tol))
            continue
        vs = [rng.standard_normal(np.shape(inputs[y])) for _ in range(DIRECTIONS)]
        vs = [(v + v.T) / 2 if y in symmetric else v for v in vs]
        axes = (tuple(range(-ny, 0)), tuple(range(ny)))
        hv = {f: np.stack([np.tensordot(b, v, axes) for v in vs]) for f, b in blocks.items()}
        numeric = np.stack([gradient_along(y, v)[x] for v in vs])
        rows.append(_check(f"H v ({x}, {y})", hv, numeric, tol))
    order = list(plan.along)
    for (x, y), forms in printed.items():
        if order.index(x) > order.index(y):
            continue  # each pair once: ∂²L/∂x∂y against the mirror of ∂²L/∂y∂x
        nx, ny = np.ndim(inputs[x]), np.ndim(inputs[y])
        swap = tuple(range(ny, ny + nx)) + tuple(range(ny))
        mirror = np.transpose(np.asarray(got["index"][(y, x)], dtype=float), swap)
        rows.append(_check(f"H = Hᵀ ({x}, {y})",
                           {f: np.asarray(got[f][(x, y)], dtype=float) for f in forms},
                           mirror, tol))
    return tuple(replace(r, second=True) for r in rows)


def _printed(name: str, matrix: bool, grads: dict[str, dict[str, Value]],
             closed: dict[str, Value]) -> dict[str, Value]:
    """Each printed form's value of the gradient of ``name`` (``matrix``: whether its
    matrix form prints, as a zero's does; ``closed``: the printed closed forms' values, by
    gradient): form -> array."""
    got = {"index": grads["index"][name]}
    if matrix:
        got["matrix"] = grads["matrix"][name]
    if name in closed:
        got["closed"] = closed[name]
    return got


def _cost(x: Value) -> int:
    """Forward evaluations of one input's own check."""
    import numpy as np

    n = int(np.size(x))
    return 2 * (n if n <= ELEMENTWISE_MAX else DIRECTIONS)


def _check_along(forward: Forward, inputs: Inputs, names: list[str], printed: Printed, tol: float,
                 rng: np.random.Generator) -> dict[str, Check]:
    """Rows for ``names``, checked together along random directions: name -> Check.

    A random Gaussian direction v makes ⟨g - g*, v⟩ nonzero almost surely for a wrong
    g, transposed or not.  A failing group is halved until each culprit stands alone;
    a row's numbers are those of the smallest group that covered it."""
    if not names:
        return {}
    results = _directional(forward, inputs, names, printed, tol, rng)
    if len(names) > 1 and not all(r[2] for r in results.values()):
        half = len(names) // 2
        return {**_check_along(forward, inputs, names[:half], printed, tol, rng),
                **_check_along(forward, inputs, names[half:], printed, tol, rng)}
    rows = {}
    for name in names:
        mine = {form: r for form, r in results.items() if form in printed[name]}
        rows[name] = _row(name, _shape(inputs[name]), mine)
    return rows


def _shape(x: Value) -> tuple[int, ...]:
    import numpy as np

    return tuple(np.shape(x))


def _directional(forward: Forward, inputs: Inputs, names: list[str], printed: Printed,
                 tol: float, rng: np.random.Generator) -> dict[str, Judged]:
    """Each form's (max abs error, max rel error, ok) over ``DIRECTIONS`` random directions.

    A form a gradient does not print (a zero's matrix form, a closed form not
    written) stands in by its index form, which its own column checks."""
    import numpy as np

    forms = sorted({f for n in names for f in printed[n]}, key=FORMS.index)
    vs = [{n: rng.standard_normal(_shape(inputs[n])) for n in names} for _ in range(DIRECTIONS)]
    along = [_derivative_along(forward, inputs, v) for v in vs]
    noise = max(r for _, r in along)
    if any(noise > NOISE_CAP * tol * max(1.0, abs(d)) for d, _ in along):  # as _judge caps
        # the loss too large for the standard step: each direction again at a grown one
        along = [_derivative_along(forward, inputs, v, tol) for v in vs]
        noise = max(r for _, r in along)
    errs: dict[str, list[tuple[float, float, float]]] = {f: [] for f in forms}
    for v, (numeric, _) in zip(vs, along):
        for f in forms:
            inner = sum(_inner(printed[n].get(f, printed[n]["index"]), v[n]) for n in names)
            errs[f].append((abs(inner - numeric), numeric, inner))
    return {f: _judge(errs[f], tol, noise) for f in forms}


def _inner(g: Value, v: Value) -> float:
    """⟨g, v⟩, or inf when g does not have v's shape."""
    import numpy as np

    g = np.asarray(g, dtype=float)
    return float(np.sum(g * v)) if g.shape == np.shape(v) else float("inf")


def _derivative_along(forward: Forward, inputs: Inputs, v: dict[str, Value],
                      tol: float | None = None) -> tuple[float, float]:
    """(f(x + t v) - f(x - t v)) / 2t, the step scaled as the element-wise one's, and how
    far its rounding alone can take it (as :func:`_finite_difference`'s); with ``tol``, at
    the step grown for a large loss (:func:`_grown`)."""
    import numpy as np

    biggest = max(float(np.max(np.abs(inputs[n]), initial=0.0)) for n in v)
    longest = max(float(np.max(np.abs(v[n]), initial=0.0)) for n in v)
    t = STEP * max(1.0, biggest) / max(1.0, longest)

    def at(s: float) -> float:
        args = dict(inputs)
        for n, vn in v.items():
            y = np.asarray(inputs[n], dtype=float) + s * vn
            args[n] = y if y.shape else float(y)
        return forward(**args)
    numeric, size = _central(at, t)
    if tol is None:
        return numeric, _rounding(size, t)
    return _grown(at, size, t, WIDEST * max(1.0, biggest) / max(1.0, longest), tol) or \
        (numeric, _rounding(size, t))


def _judge(errs: list[tuple[float, float, float]], tol: float, noise: float = 0.0) -> Judged:
    """(max abs error, max rel error, ok) of (error, numeric, printed) triples, within ``tol``
    and the differences' own rounding ``noise`` (capped as :func:`_compare` caps it)."""
    import math

    max_abs = max(e for e, _, _ in errs)
    scale = max(abs(n) for _, n, _ in errs)
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    ok = all(math.isfinite(e) and e <= tol * max(1.0, abs(n), abs(p)) +
             min(noise, NOISE_CAP * tol * max(1.0, abs(n))) for e, n, p in errs)
    return max_abs, max_rel, ok


def _check(name: str, got: dict[str, Value], numeric: Value, tol: float,
           noise: float = 0.0) -> Check:
    """One gradient's row: each printed form's result, the worst errors over them (within
    ``tol`` and the finite differences' own rounding, ``noise``)."""
    results = {form: _compare(value, numeric, tol, noise) for form, value in got.items()}
    return _row(name, numeric.shape, results)


def _row(name: str, shape: tuple[int, ...], results: dict[str, Judged]) -> Check:
    """A row from each printed form's (max abs error, max rel error, ok): each form's
    result and errors, the worst over them."""
    status: dict[str, Any] = {form: Result.PASS if r[2] else Result.FAIL
                              for form, r in results.items()}
    errors = tuple((form, results[form][0], results[form][1])
                   for form in sorted(results, key=FORMS.index))
    return Check(name, shape, max(r[0] for r in results.values()),
                 max(r[1] for r in results.values()), all(r[2] for r in results.values()),
                 **status, errors=errors)


# rounding of a central difference: each value of the loss is exact to a few ulps of its size
# (a sum of many terms rounds each), so their difference over 2h is to ROUNDING ulps of |L|/h
# (a loss of 10⁴ differentiates to no better than 10⁻⁵ at h = 10⁻⁶: a correct gradient's check
# must not fail there, tests/test_lead37_finds.py)
ROUNDING = 16
NOISE_CAP = 1e3
# Past the cap (a loss of 10⁷ rounds to 10⁻² at h = 10⁻⁶) the differences are taken again at
# a step grown until their rounding is SETTLED times the tolerance, as a Richardson pair: the
# step at most WIDEST of max(1, |x|) (a positive input is drawn at least 0.5, a kinked one
# 0.25 from its kink), tests/test_vf1_verify_steps.py
SETTLED = 10
WIDEST = 1e-2


def _central(at: Callable[[float], float], h: float) -> tuple[float, float]:
    """(at(h) - at(-h)) / 2h, ``at(s)`` the loss with the input moved by s, and the larger
    size of the two values."""
    values = [at(sign * h) for sign in (1, -1)]
    return (values[0] - values[1]) / (2 * h), max(abs(float(x)) for x in values)


def _rounding(size: float, h: float) -> float:
    """How far rounding alone takes a central difference at step h of a loss of ``size``."""
    import numpy as np

    return ROUNDING * float(np.finfo(float).eps) * size / (2 * h)


def _grown(at: Callable[[float], float], size: float, h: float, widest: float,
           tol: float) -> tuple[float, float] | None:
    """The derivative of ``at`` at 0 for a loss of ``size`` whose differences at the standard
    step h round past the cap, and how far it may be off; None where not finite.

    The step grows until the rounding is SETTLED times ``tol`` (at most ``widest``), and
    (4 D(h/2) - D(h)) / 3 of the differences D at it and its half cancels their h² error; it
    may be off by its rounding, three times D(h)'s, and by |D(h) - D(h/2)| / 3, D(h/2)'s
    own h² error (more than the pair's, whose error is of order h⁴)."""
    import math

    settled = 3 * _rounding(size, 1.0) / (SETTLED * tol) if tol > 0 else widest
    step = min(widest, max(h, settled))
    wide, big = _central(at, step)
    narrow, small = _central(at, step / 2)
    numeric = (4 * narrow - wide) / 3
    noise = 3 * _rounding(max(big, small), step) + abs(narrow - wide) / 3
    return (float(numeric), noise) if math.isfinite(numeric) and math.isfinite(noise) else None


def _finite_difference(forward: Forward, inputs: Inputs, name: str,
                       tol: float | None = None) -> tuple[Value, float]:
    """The central differences of the loss by each element of ``name``, and how far their
    rounding alone can take them from the gradient; with ``tol``, where that rounding is
    past the cap (NOISE_CAP times ``tol``), again at the step grown for a large loss
    (:func:`_grown`)."""
    import numpy as np

    x = np.array(inputs[name], dtype=float)
    out = np.zeros_like(x)
    noise = 0.0
    points = []
    for idx in np.ndindex(x.shape):
        h = STEP * max(1.0, abs(float(x[idx])))

        def at(s: float, idx: tuple[int, ...] = idx) -> float:
            y = x.copy()
            y[idx] += s
            args = dict(inputs)
            args[name] = y if y.shape else float(y)
            return forward(**args)
        out[idx], size = _central(at, h)
        noise = max(noise, _rounding(size, h))
        points.append((idx, at, size, h))
    if tol is None or noise <= NOISE_CAP * tol * max(1.0, float(np.abs(out).max(initial=0))):
        return out, noise
    grown, noise = out.copy(), 0.0
    for idx, at, size, h in points:
        again = _grown(at, size, h, WIDEST * max(1.0, abs(float(x[idx]))), tol)
        grown[idx], rounding = again or (out[idx], _rounding(size, h))
        noise = max(noise, rounding)
    return grown, noise


def _compare(got: Value, want: Value, tol: float, noise: float = 0.0) -> Judged:
    """(max abs error, max rel error, within tolerance and ``noise``, the reference's own
    rounding)."""
    import numpy as np

    got = np.asarray(got, dtype=float)
    if got.shape != want.shape:
        return float("inf"), float("inf"), False
    err = np.abs(got - want)
    max_abs = float(err.max()) if err.size else 0.0
    scale = float(np.abs(want).max()) if want.size else 0.0
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    # (the rounding allowed at most a thousand times the tolerance: past it the differences
    # cannot judge the gradient, and a check that cannot fail is no check)
    slack = min(noise, NOISE_CAP * tol * max(1.0, scale))
    ok = bool(np.isfinite(max_abs)) and max_abs <= tol * max(1.0, scale) + slack
    return max_abs, max_rel, ok
