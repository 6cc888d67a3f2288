"""The forward graph: tensors in definition order, every shape inferred and checked.

Each forward item becomes one node whose definition is a typed expression
(:class:`~einderive.ops.FExpr`).  Elementwise ops, transposes, products and
reductions stay inside the node's own definition; the only intermediate a
line can get is the argument of ``softmax``/``log_softmax``/``logsumexp``
when it is not a plain name, which becomes an anonymous node.
"""

from __future__ import annotations

from fractions import Fraction
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sympy import Integer, Mul, Symbol, expand, fraction, together

from . import expr as X
from . import shapes
from .errors import Loc, ShapeMismatch, SpecError, SpecWarning, did_you_mean
from .kinds import PseudoOp, ReduceKind, TensorKind
from .ops import (ALIASES, AXIS_OPS, DIVIDE, FLOAT_MAX, FUNCTIONS, GATHER, NEG, ONEHOT, OPS, PAD,
                  PERMUTE, POWER, PRINTED_FUNCTIONS, SCALARS, SLICE, TAKE, TRACE, TRANSPOSE,
                  FExpr, as_computed, constant_value, dim_text, float_value, mentions_dim,
                  overflows, past_floats, slice_misfit, writes_decimals)
from .record import Record, replace
from .spec import Assignment, DimDecl, DimTerm, Spec

# what a value may be but no tensor is: an operand of no op (a keyword's value, at most)
NOT_TENSORS = (PseudoOp.STR, PseudoOp.BOOL, PseudoOp.NONE, PseudoOp.TUPLE, PseudoOp.COMPARE)


class Tensor(Record):
    name: str
    shape: tuple[Any, ...]
    kind: TensorKind
    loc: Loc
    expr: FExpr | None = None
    text: str = ""
    positive: bool = False
    spd: bool = False  # declared symmetric positive definite
    integer: str | None = None  # holds indices 0 .. size(dim) - 1 (never differentiated)
    # its line is numbers alone that write a decimal (c = 0.1 + 0.2): its value prints as its
    # decimal where that is exact (c = 0.3, not 3/10), as the line wrote it
    decimals: bool = False

    @property
    def is_input(self) -> bool:
        return self.kind == TensorKind.INPUT


class Graph(Record, slots=False):  # caches its index in __dict__
    spec: Spec
    tensors: tuple[Tensor, ...]  # inputs, then nodes in definition order
    dims: tuple[tuple[str, int | None], ...]
    loss: str
    wrt: tuple[str, ...]
    warnings: tuple[SpecWarning, ...] = ()

    def __getitem__(self, name: str) -> Tensor:
        return self._index[name]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    @property
    def _index(self) -> dict[str, Tensor]:
        cached = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {t.name: t for t in self.tensors}
            object.__setattr__(self, "_index_cache", cached)
        return cached

    @property
    def counts(self) -> dict[str, int]:
        """The dims the graph made for stacks' counts (count_dim's n2), each with its number:
        no name of the user's, so a shape prints the number (B×2)."""
        return {d.name: d.size for d in self.spec.dims if d.counted and d.size is not None}

    @property
    def inputs(self) -> tuple[Tensor, ...]:
        return tuple(t for t in self.tensors if t.is_input)

    @property
    def differentiable(self) -> tuple[str, ...]:
        """The inputs a gradient can be taken of: all but the integer ones (indices)."""
        return tuple(t.name for t in self.inputs if t.integer is None)

    @property
    def nodes(self) -> tuple[Tensor, ...]:
        return tuple(t for t in self.tensors if not t.is_input)

    def operands(self, t: Tensor) -> tuple[str, ...]:
        """Names of the tensors a node's definition reads, in first-use order."""
        seen: list[str] = []

        def walk(e: FExpr) -> None:
            if e.op == PseudoOp.REF:
                if e.param("name") not in seen:
                    seen.append(e.param("name"))
            for a in e.args:
                if isinstance(a, FExpr):
                    walk(a)
        if t.expr is not None:
            walk(t.expr)
        return tuple(seen)

    def written(self, t: Tensor, ops: Iterable[str]) -> frozenset[str]:
        """Which of ``ops`` the line of node ``t`` writes."""
        return frozenset(op for op in ops if self.writes(t, op))

    def writes(self, t: Tensor, op: str) -> bool:
        """Whether the line of node ``t`` writes ``op`` (in its anonymous parts too)."""
        return any(e.op == op for e in self._line(t))

    def _line(self, t: Tensor) -> Iterator[FExpr]:
        """The ops the line of node ``t`` writes, its anonymous parts' too, outermost first
        (a reference to another node ends the walk there)."""
        def walk(e: FExpr) -> Iterator[FExpr]:
            if e.op == PseudoOp.REF:
                part = self._index.get(e.param("name"))
                if part is not None and part.kind == "anon" and part.expr is not None:
                    yield from walk(part.expr)
                return
            yield e
            for a in e.args:
                if isinstance(a, FExpr):
                    yield from walk(a)
        if t.expr is not None:
            yield from walk(t.expr)

    def function_shapes(self, t: Tensor) -> frozenset[tuple[Any, ...]]:
        """The shapes the line of node ``t`` writes its elementwise functions of products in,
        where a product decides them (matrices of two distinct dims): ``sigmoid(X @ W.T)``
        of X: [B, D], W: [H, D] is [B, H], never its transpose [H, B]."""
        out: set[tuple[Any, ...]] = set()

        def products(e: FExpr) -> bool:
            return e.op != PseudoOp.REF and (
                e.op in OPS and OPS[e.op].contracts or
                any(products(a) for a in e.args if isinstance(a, FExpr)))

        for e in self._line(t):
            shape = tuple(e.shape)
            if (e.op in SCALARS or e.op in OPS and OPS[e.op].condition) and \
                    len(shape) == 2 and all(isinstance(d, str) for d in shape) and \
                    shape[0] != shape[1] and products(e):
                out.add(shape)
        return frozenset(out)


def check_slices(graph: Graph, sizes: Mapping[str, int]) -> None:
    """Every slice fits its axis at ``sizes`` (``--dims``): the spec's sizes were checked as
    it was read, and the generated code cannot slice past an axis (x[:, 1:2] at T = 1)."""
    dims = dim_values(graph.spec.dims)
    at = {Symbol(d.name, integer=True, positive=True): sizes[d.name]
          for d in graph.spec.dims if d.definition is None and sizes.get(d.name)}

    def walk(e: FExpr, t: Tensor) -> None:
        if e.op == SLICE:
            misfit = slice_misfit(e, dims, at)
            if misfit is not None:
                given = ", ".join(f"{k}={v}" for k, v in sizes.items())
                raise SpecError(f"at {given}, {misfit}", _written_at(graph, t),
                                "give sizes at which every slice fits its axis")
        for a in e.args:
            if isinstance(a, FExpr):
                walk(a, t)
    for t in graph.nodes:
        if t.expr is not None:
            walk(t.expr, t)


def _written_at(graph: Graph, t: Tensor) -> Loc:
    """Where ``t`` is written: its line, or an anonymous part's (``_x2_1``, the slice inside
    ``x2 = reshape(X[:, 1:2, :], …)``) the line of the node that reads it."""
    while t.kind == TensorKind.ANON:
        t = next(u for u in graph.nodes if t.name in graph.operands(u))
    return t.loc


def build(spec: Spec) -> Graph:
    """Check every name and shape in ``spec`` and return its graph.  Its messages write a
    dim the graph made for a stack's count (n2) as its number: the user wrote no name."""
    dims = {d.name: d for d in spec.dims}  # and the count dims, as the builders make them

    def name(d: Any) -> str:
        decl = dims.get(d) if isinstance(d, str) else None
        return str(decl.size) if decl is not None and decl.counted else str(d)
    try:
        with shapes.naming(name):
            return _build(spec, dims)
    except SpecError as exc:
        raise exc.with_source(list(spec.source_lines)) from None


def _reserved(name: str) -> bool:
    """A function's name, which no tensor may take: the spec's functions and those the
    matrix form prints (``slice(X, :, 0:K)``, ``colsum(X)``, ``onehot(tok)``); the internal
    ``neg`` and ``getitem`` print as ``−x`` and ``X[…]``, so a node of negatives may be
    ``neg``."""
    return name in FUNCTIONS or name in PRINTED_FUNCTIONS or name in OPS and (
        OPS[name].user or name == SLICE)


# the words the printed notation writes as functions no spec calls: what each says there, and
# how a spec says it (a node named tr is refused, and a call tr(A) is pointed to trace(A))
NOTATION_WORDS = {
    TRACE: ("a trace", "trace(A)"), ReduceKind.ROWSUM.value: ("a row sum", "sum(X, axis=1)"),
    ReduceKind.COLSUM.value: ("a column sum", "sum(X, axis=0)"),
    SLICE: ("a slice", "X[:, lo:hi]"),
    PAD: ("a slice's adjoint", "concatenate([...], axis=k)"),
    TAKE: ("one position of an axis", "X[k:k + 1] or stack([...])"),
    PERMUTE: ("an axis permutation", "transpose(X, axes=[...])"),
    ONEHOT: ("a lookup's rows", "E[tok]"),
}


def _reserved_error(what: str, name: str, loc: Loc) -> SpecError:
    """The error for a tensor named as a function: the spec's own, or a word of the printed
    notation (tr(A) is how the output writes a trace: no spec calls tr)."""
    word = NOTATION_WORDS.get(name)
    if word is not None and name not in FUNCTIONS:
        return SpecError(f"the {what} name '{name}' is a word of the printed notation "
                         f"({name}(…) is how the output writes {word[0]})", loc,
                         f"choose another name, e.g. '{name}_'")
    return SpecError(f"the {what} name '{name}' shadows the function {name}()", loc,
                     f"choose another name, e.g. '{name}_'")


def _build(spec: Spec, dims: dict[str, DimDecl]) -> Graph:
    env: dict[str, Tensor] = {}
    for inp in spec.inputs:
        if _reserved(inp.name):
            raise _reserved_error("input", inp.name, inp.loc)
        env[inp.name] = Tensor(inp.name, inp.shape, TensorKind.INPUT, inp.loc,
                               positive=inp.positive, spd=inp.spd, integer=inp.integer)
    later: dict[str, Loc] = {}
    statements = []
    reshaping: X.ReshapeCall | None = None
    for item in spec.forward:
        try:
            st = X.parse_assignment(item)
        except X.ReshapeCall as exc:  # its hint is written once the lines before it are built
            reshaping = exc
            break
        statements.append((item, st))
        later.setdefault(st.target, st.target_loc)
    tensors = list(env.values())
    # anonymous parts of a line that is one function of that part alone (Pm = inv(A * v)),
    # by value: a later line's same part is that one (logdet(A * v) reads the part Pm
    # inverts, so its derivative's (A ⊙ vᵀ)⁻ᵀ is met as Pmᵀ); parts inside a larger line
    # stay its own (inv(X @ A) @ X @ A keeps its cancellation)
    held: dict[FExpr, str] = {}
    for item, st in statements:
        name = st.target
        if name in env:
            prev = env[name]
            what = "an input" if prev.is_input else "a node"
            raise SpecError(f"'{name}' is already defined as {what} (at {prev.loc})",
                            st.target_loc, "each forward item defines a new name; choose another")
        if _reserved(name):
            raise _reserved_error("node", name, st.target_loc)
        if name in dims:
            raise SpecError(f"'{name}' names both a dim and a node", st.target_loc,
                            "choose another name")
        builder = _Builder(env, dims, later, name, tensors, held)
        value = builder.tensor(st.value)
        if builder.anon and value.is_ref and tensors[-1].name == value.param("name") and \
                tensors[-1].kind == TensorKind.ANON:
            # the whole line is one op that names its result (conv1d): the line names it
            del env[tensors[-1].name]
            value = tensors.pop().expr or value
        if len(value.args) == 1 and value.args[0].is_ref and not value.is_ref:
            part = env.get(value.args[0].param("name"))
            if part is not None and part.kind == TensorKind.ANON and part.expr is not None:
                held.setdefault(part.expr, part.name)
        text = " ".join(item.text.split())  # one line, as comments and labels need it
        node = Tensor(name, value.shape, TensorKind.NODE, st.target_loc, value, text,
                      decimals=writes_decimals(value))
        env[name] = node
        tensors.append(node)
    if reshaping is not None:
        raise _reshape_hint(reshaping, _Builder(env, dims, later, "_", list(tensors)))
    loss = _check_loss(spec, env)
    wrt = _check_wrt(spec, env)
    if len(dims) > len(spec.dims):  # the count dims stack made (_Builder.count_dim)
        spec = replace(spec, dims=tuple(dims.values()))
    graph = Graph(spec, tuple(tensors), tuple((d.name, d.size) for d in spec.dims), loss, wrt)
    return _with_warnings(graph)


def _reshape_hint(exc: X.ReshapeCall, builder: _Builder) -> SpecError:
    """A reshaping call (``x.unsqueeze(1)``, ``x.flatten(1)``, ``x.squeeze()``) with the hint
    that writes the shape, read off its tensor's (every line before it built): ``write
    reshape(x, [N, 1]), not x.unsqueeze(1)``; a merge no dim is defined as names the dim to
    declare. Where the shape cannot be read (the tensor does not build, an axis out of range,
    squeeze of an axis that is not 1) the error keeps its hint, which names reshape."""
    try:
        place = exc.loc or Loc("", 0, 0)
        value = builder.tensor(X.parse_assignment(Assignment(f"_ = {exc.receiver}", place)).value)
    except SpecError:
        return exc
    shape, axes, n = list(value.shape), exc.axes, len(value.shape)
    if exc.method in ("unsqueeze", "expand_dims") and len(axes) == 1 and -n - 1 <= axes[0] <= n:
        at = axes[0] % (n + 1)
        new: list[Any] = [*shape[:at], 1, *shape[at:]]
    elif exc.method == "squeeze" and len(axes) <= 1:
        if axes and not -n <= axes[0] < n:
            return exc
        drop = {axes[0] % n} if axes else {i for i, d in enumerate(shape) if d == 1}
        if any(shape[i] != 1 for i in drop):
            return exc
        new = [d for i, d in enumerate(shape) if i not in drop]
    elif exc.method == "reshape":
        inferred = _inferred_size(exc, shape, builder)
        if inferred is None or isinstance(inferred, SpecError):
            return inferred or exc
        new = [inferred if d == -1 else d for d in exc.sizes]
    elif exc.method in ("flatten", "ravel") and len(axes) <= (2 if exc.method == "flatten" else 0):
        lo, hi = (list(axes) + [0, -1][len(axes):])[:2]
        if not (-n <= lo < n and -n <= hi < n) or lo % n > hi % n:
            return exc
        lo, hi = lo % n, hi % n
        merged = [d for d in shape[lo:hi + 1] if d != 1] or [1]
        if len(merged) == 1:
            name = merged[0]
        else:
            size = expand(Mul(*(builder.dim_values[d] for d in merged)))
            name = next((d for d in builder.dims if expand(builder.dim_values[d] - size) == 0),
                        None)
            if name is None:
                product = " * ".join(str(d) for d in merged)
                name = "".join(str(d) for d in merged)
                while name in builder.dims or name in builder.env:
                    name += "_"
                written = ", ".join(str(d) for d in [*shape[:lo], name, *shape[hi + 1:]])
                return SpecError(exc.message, exc.loc, f"declare the merged axis as a dim, dims: "
                                 f"{{{name}: {product}}}, and write reshape({exc.receiver}, "
                                 f"[{written}]), not {exc.call}", exc.source_line)
        new = [*shape[:lo], name, *shape[hi + 1:]]
    else:
        return exc
    if not new:
        return exc
    written = ", ".join(str(d) for d in new)
    return SpecError(exc.message, exc.loc, f"write reshape({exc.receiver}, [{written}]), not "
                     f"{exc.call}", exc.source_line)


def _inferred_size(exc: X.ReshapeCall, shape: list[Any],
                   builder: _Builder) -> str | int | SpecError | None:
    """The size a reshape's -1 stands for: the dim (or 1) whose size is the tensor's over the
    other sizes', or the error whose hint declares it (a product of dims no dim is); None
    where the sizes are not the spec's dims or the quotient is no product of dims."""
    values = builder.dim_values
    if any(isinstance(d, str) and d not in values for d in [*shape, *exc.sizes]):
        return None
    total = Mul(*(values[d] for d in shape if isinstance(d, str)))
    known = Mul(*(values[d] if isinstance(d, str) else Integer(d) for d in exc.sizes if d != -1))
    size = expand(total / known)
    if size == 1:
        return 1
    name = next((d for d in builder.dims if expand(values[d] - size) == 0), None)
    if name is not None:
        return name
    order = [d for d in shape if isinstance(d, str)]  # the factors in the tensor's order: T, D
    factors = sorted(Mul.make_args(size), key=lambda f: order.index(str(f))
                     if str(f) in order else len(order))
    if not all(isinstance(f, Symbol) for f in factors):
        return None
    name = "".join(str(f) for f in factors)
    while name in builder.dims or name in builder.env:
        name += "_"
    written = ", ".join(name if d == -1 else str(d) for d in exc.sizes)
    product = " * ".join(str(f) for f in factors)
    return SpecError(exc.message, exc.loc, f"declare the size -1 stands for as a dim, dims: "
                     f"{{{name}: {product}}}, and write reshape({exc.receiver}, [{written}]), "
                     f"not {exc.call}", exc.source_line)


def _check_loss(spec: Spec, env: dict[str, Tensor]) -> str:
    loss = spec.loss
    if loss not in env:
        raise SpecError(f"the loss '{loss}' is not defined", spec.loss_loc,
                        did_you_mean(loss, env) or "name a scalar forward node")
    t = env[loss]
    if t.is_input:
        raise SpecError(f"the loss '{loss}' is an input; it must be a forward node",
                        spec.loss_loc, "compute the loss in 'forward', e.g. L = sum(...)")
    if t.shape != ():
        raise SpecError(f"the loss '{loss}' has shape {shapes.fmt(t.shape)}; it must be a scalar",
                        spec.loss_loc, f"reduce it, e.g. {loss}2 = sum({loss}) or mean({loss})")
    return loss


def _check_wrt(spec: Spec, env: dict[str, Tensor]) -> tuple[str, ...]:
    for name, loc in zip(spec.wrt, spec.wrt_locs):
        if name not in env:
            raise SpecError(f"'wrt' names '{name}', which is not an input", loc,
                            did_you_mean(name, [t.name for t in env.values() if t.is_input])
                            or "list input names")
        if not env[name].is_input:
            raise SpecError(f"'wrt' names '{name}', a forward node; 'wrt' lists inputs", loc,
                            "the adjoint of every node is printed anyway; list inputs here")
    return spec.wrt


def _with_warnings(graph: Graph) -> Graph:
    reach = {graph.loss}
    for t in reversed(graph.tensors):
        if t.name in reach:
            reach.update(graph.operands(t))
    warnings = []
    for name, loc in zip(graph.spec.wrt, graph.spec.wrt_locs):
        if name not in reach:
            warnings.append(SpecWarning(f"the loss '{graph.loss}' does not depend on '{name}'; "
                                        f"its gradient is zero", loc))
    return Graph(graph.spec, graph.tensors, graph.dims, graph.loss, graph.wrt, tuple(warnings))


class _Builder:
    """Turns one forward expression into an FExpr, checking names and shapes."""

    def __init__(self, env: dict[str, Tensor], dims: dict[str, Any], later: dict[str, Loc],
                 target: str, tensors: list[Tensor],
                 held: dict[FExpr, str] | None = None) -> None:
        self.env, self.dims, self.later, self.target = env, dims, later, target
        self.tensors = tensors
        self.held = {} if held is None else held  # (see _build)
        self.anon = 0
        self.dim_values = dim_values(tuple(dims.values()))

    def tensor(self, e: X.Expr) -> FExpr:
        out = self.value(e)
        if out.op in NOT_TENSORS:
            what = {PseudoOp.STR: "a string", PseudoOp.BOOL: "True/False", PseudoOp.NONE: "None",
                    PseudoOp.TUPLE: "a tuple", PseudoOp.COMPARE: "a comparison"}[PseudoOp(out.op)]
            hint = ("a string is only used as einsum's subscripts" if out.op == PseudoOp.STR else
                    "a comparison is the condition of where(cond, a, b), e.g. "
                    "where(x > 0, x, 0.01 * x)" if out.op == PseudoOp.COMPARE
                    else "use it as a keyword value, e.g. axis=(0, 1) or keepdims=True")
            raise SpecError(f"{what} is not a tensor", e.loc, hint)
        return out

    def value(self, e: X.Expr) -> FExpr:
        if isinstance(e, X.Name):
            return self.name(e)
        if isinstance(e, X.Number):
            return FExpr(PseudoOp.NUM, (), (("value", e.value), ("text", e.text)), ())
        if isinstance(e, X.String):
            return FExpr(PseudoOp.STR, (), (("value", e.value),), ())
        if isinstance(e, X.Flag):
            return FExpr(PseudoOp.BOOL if isinstance(e.value, bool) else PseudoOp.NONE, (),
                         (("value", e.value),), ())
        if isinstance(e, X.TupleLit):
            return FExpr(PseudoOp.TUPLE, tuple(self.value(i) for i in e.items), (), ())
        if isinstance(e, X.Neg):
            return self.apply(NEG, e.loc, [(self.tensor(e.operand), e.operand.loc)], {})
        if isinstance(e, X.DotT):
            return self.apply(TRANSPOSE, e.loc, [(self.tensor(e.operand), e.operand.loc)], {})
        if isinstance(e, X.BinOp):
            args = [(self.tensor(e.left), e.left.loc), (self.tensor(e.right), e.right.loc)]
            if e.op == DIVIDE and _is_zero(args[1][0]):
                raise SpecError("division by zero", e.right.loc,
                                f"the divisor {_zero_hint(e.right, args[1][0])}")
            if e.op == POWER and _is_zero(args[0][0]) and _is_negative(args[1][0]):
                raise SpecError("division by zero: 0 to a negative power", e.left.loc,
                                f"the base {_zero_hint(e.left, args[0][0])}")
            return self.apply(e.op, e.loc, args, {})
        if isinstance(e, X.Call):
            return self.call(e)
        if isinstance(e, X.Subscript):
            return self.subscript(e)
        if isinstance(e, X.Compare):
            left, right = self.tensor(e.left), self.tensor(e.right)
            return FExpr(PseudoOp.COMPARE, (left, right), (("op", e.op),), ())
        raise SpecError("unsupported expression", e.loc)  # pragma: no cover - parser whitelists

    def name(self, e: X.Name) -> FExpr:
        n = e.id
        if n in self.env:
            t = self.env[n]
            if t.integer is not None:  # an index is not a value: it has no derivative
                raise SpecError(f"'{n}' is an integer input (indices 0 .. {t.integer} - 1); it "
                                "can only index a tensor", e.loc,
                                f"pick rows with E[{n}], or one element per row with "
                                f"Z[range(B), {n}]")
            return FExpr(PseudoOp.REF, (), (("name", n),), t.shape)
        if n in self.dims:
            return FExpr(PseudoOp.DIM, (), (("name", n),), ())
        if n in OPS or n in FUNCTIONS:
            raise SpecError(f"'{n}' is a function; call it with arguments", e.loc,
                            f"e.g. {OPS[n].signature or n + '(x)'}")
        if n == self.target:
            raise SpecError(f"'{n}' is used in its own definition", e.loc,
                            "a forward item defines a new name from earlier ones")
        if n in self.later:
            raise SpecError(f"'{n}' is used before it is defined (at {self.later[n]})", e.loc,
                            "move its definition above this item")
        hint = did_you_mean(n, list(self.env) + list(self.dims))
        new = f"declare '{n}' under 'inputs' or define it in an earlier item"
        raise SpecError(f"undefined name '{n}'", e.loc,
                        f"{hint} For a new tensor, {new}" if hint else new)

    def call(self, e: X.Call) -> FExpr:
        fn = e.func
        if fn not in OPS or not OPS[fn].user:
            if fn in self.env:
                raise SpecError(f"'{fn}' is a tensor, not a function", e.loc,
                                "use '@' or '*' to multiply tensors")
            word = NOTATION_WORDS.get(fn)
            raise SpecError(f"unknown function '{fn}'", e.loc,
                            e.respelled or (f"{fn}(…) is how the output writes {word[0]}; a "
                                            f"spec writes {word[1]}" if word else
                                            did_you_mean(fn, FUNCTIONS, "functions", ALIASES)))
        op = OPS[fn]
        # a keyword it does not take first: clip(x, min=0, max=1) is a misspelt keyword, not
        # a call short of positional arguments
        kwargs = {}
        for kw in e.kwargs:
            if kw.name not in op.kwargs:
                hint = did_you_mean(kw.name, op.kwargs) if op.kwargs else None
                raise SpecError(f"{fn}() takes no keyword argument '{kw.name}'", kw.loc,
                                hint or e.respelled or f"usage: {op.signature}")
            if kw.name in kwargs:
                raise SpecError(f"keyword argument '{kw.name}' is repeated", kw.loc)
            kwargs[kw.name] = (self.value(kw.value), kw.value.loc)
        lo, hi = op.nargs
        n = len(e.args)
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            raise SpecError(f"{fn}() takes {want} positional argument{'s' if want != '1' else ''}"
                            f" but {n} {'was' if n == 1 else 'were'} given", e.loc,
                            e.respelled or f"usage: {op.signature}")
        if op.string_first or op.condition:  # einsum's subscripts, where's comparison
            args = [(self.value(e.args[0]), e.args[0].loc)] + \
                   [(self.tensor(a), a.loc) for a in e.args[1:]]
        elif op.list_first:  # concatenate([a, b], axis=1): the pieces, each a named tensor
            if not isinstance(e.args[0], X.TupleLit) or not e.args[0].items:
                raise SpecError(f"{fn}'s first argument must be a list of tensors",
                                e.args[0].loc, f"usage: {op.signature}")
            args = []
            for item in e.args[0].items:
                x = self.tensor(item)
                args.append((x if x.is_ref else self.split(x), item.loc))
        elif op.sizes_last:  # reshape(x, [B, T, H, Dh]): a tensor, then sizes
            args = [(self.tensor(e.args[0]), e.args[0].loc)] + \
                   [(self.value(a), a.loc) for a in e.args[1:]]
        else:
            args = [(self.tensor(a), a.loc) for a in e.args]
        return self.apply(fn, e.loc, args, kwargs)

    def subscript(self, e: X.Subscript) -> FExpr:
        """``E[tokens]``, ``Z[range(B), labels]``: the op table's GATHER checks the rest."""
        if any(isinstance(item, X.SliceItem) for item in e.index):
            return self.sliced(e)
        args = [(self.tensor(e.value), e.value.loc)]
        for item in e.index:
            if isinstance(item, X.Name) and item.id in self.env and \
                    self.env[item.id].integer is not None:
                t = self.env[item.id]
                args.append((FExpr(PseudoOp.REF, (), (("name", t.name), ("integer", t.integer)),
                                   t.shape), item.loc))
            elif isinstance(item, X.Call) and item.func == "range" and len(item.args) == 1 \
                    and not item.kwargs and isinstance(item.args[0], X.Name) \
                    and item.args[0].id in self.dims:
                args.append((FExpr(PseudoOp.DIM, (), (("name", item.args[0].id),), ()),
                             item.loc))
            else:
                raise SpecError("a tensor is indexed by an integer input or range(dim)",
                                item.loc, "declare the indices as an input, e.g. tokens: "
                                "{shape: [T], integer: V}, and write E[tokens]; or pick one "
                                "element per row with Z[range(B), labels]")
        return self.apply(GATHER, e.loc, args, {})

    def sliced(self, e: X.Subscript) -> FExpr:
        """``x[:, lo:hi]``: full slices ``:`` and one bounded slice; the op table's SLICE
        checks the bounds (statically, by the dims' definitions and the spec's sizes)."""
        x = self.tensor(e.value)
        if len(e.index) > len(x.shape):
            raise SpecError(f"{len(e.index)} indices for a tensor of shape "
                            f"{shapes.fmt(x.shape)}", e.loc, "index at most one per axis")
        bounded = [n for n, item in enumerate(e.index)
                   if not (isinstance(item, X.SliceItem) and item.lower is None
                           and item.upper is None)]
        picked = e.index[bounded[0]] if len(bounded) == 1 else None
        if isinstance(picked, X.Name) and picked.id in self.env and \
                self.env[picked.id].integer and bounded[0] == 1 and len(x.shape) == 2:
            # Z[:, labels]: NumPy picks every row's columns labels (a B×B matrix); one
            # element per row is what a label picks
            row = e.value.id if isinstance(e.value, X.Name) else "Z"
            raise SpecError(f"an integer input indexes the leading axes (E[tokens]) or picks "
                            f"one element per row, not all of {picked.id}'s columns of every "
                            "row", picked.loc,
                            f"pick one element per row with {row}[range({x.shape[0]}), "
                            f"{picked.id}]")
        if len(bounded) != 1 or not isinstance(e.index[bounded[0]], X.SliceItem):
            at = e.index[bounded[1]].loc if len(bounded) > 1 else e.loc
            raise SpecError("a slice ranges over one axis: the others are ':'", at,
                            "slice one axis at a time, e.g. x[:, 0:K], then slice that")
        item = e.index[bounded[0]]
        assert isinstance(item, X.SliceItem)
        none = FExpr(PseudoOp.NONE, (), (), ())
        args = [(x if x.is_ref else self.split(x), e.value.loc),
                (FExpr(PseudoOp.NUM, (), (("value", Fraction(bounded[0])),), ()), item.loc)]
        for b in (item.lower, item.upper):
            args.append((none, item.loc) if b is None else (self.value(b), b.loc))
        with self.explained():
            out: FExpr = OPS[SLICE].check(e.loc, args, {}, dims=self.dim_values,
                                          sizes=self.own_sizes())
        return out

    def own_sizes(self) -> dict[Any, int]:
        """The declared sizes of the dims with sizes of their own, by their symbols."""
        return {Symbol(d.name, integer=True, positive=True): d.size
                for d in self.dims.values() if d.definition is None and d.size is not None}

    def apply(self, fn: str, loc: Loc, args: list[tuple[FExpr, Loc]],
              kwargs: dict[str, tuple[FExpr, Loc]]) -> FExpr:
        op = OPS[fn]
        first = args[0][0] if args else None
        # det(Xᵀ) is det(X), in index form too (of a matrix: ops.AxisOp.same_at_transpose)
        if first is not None and first.op == TRANSPOSE and fn in AXIS_OPS and \
                AXIS_OPS[fn].same_at_transpose(first.shape):
            args = [(first.args[0], args[0][1])] + list(args[1:])
        if op.needs_ref and not args[0][0].is_ref:
            args = [(self.split(args[0][0]), args[0][1])] + list(args[1:])
        if op.count_axis and len(args) > 1:
            self.count_dim(len(args), loc)
        if op.all_refs:  # each argument read at its own indices (a convolution's X and W)
            args = [(a if a.is_ref else self.split(a), at) for a, at in args]
        with self.explained():
            out: FExpr = op.check(loc, args, kwargs, dims=self.dim_values,
                                  declared=self.own_sizes()) if op.declared else \
                op.check(loc, args, kwargs, dims=self.dim_values) if op.dims else \
                op.check(loc, args, kwargs)
        if op.all_refs:  # and its result a node: its sum never inside another's derivative
            out = self.split(out)
        _check_range(out, loc, args)
        return as_computed(out)  # an arithmetic of numbers: what the user's floats compute

    @contextmanager
    def explained(self) -> Iterator[None]:
        """An op's shape mismatch, with why when the two shapes hold two dims defined alike
        (D: G * R * Dh and GRD: G * R * Dh): always the same size, but a dim names an axis,
        and two names are two axes, as M: 3 and N: 3 are."""
        try:
            yield
        except ShapeMismatch as exc:
            a, b = exc.shapes
            alike = next(((x, y) for x in dict.fromkeys(a) for y in dict.fromkeys(b)
                           if isinstance(x, str) and isinstance(y, str) and x != y
                           and x in self.dims and y in self.dims
                           and expand(self.dim_values[x] - self.dim_values[y]) == 0), None)
            if alike is None:
                counted = self._counted(a, b) or self._counted(b, a)
                if counted is None:
                    two_dims = self._two_dims(a, b)
                    if two_dims is None:
                        raise
                    raise ShapeMismatch(exc.message, exc.loc, f"{exc.hint}; {two_dims}",
                                        exc.shapes) from None
                c, d, n = counted
                two = f"the stack's axis has {n} pieces and '{d}: {n}' is a size of its own" \
                    if self.dims[c].counted else \
                    f"'{c}' is the stack's axis of {n} pieces and '{d}: {n}' a size of its own"
                raise ShapeMismatch(
                    exc.message, exc.loc,
                    f"{two}, so they are two axes: define '{d}' as the number, dims: "
                    f"{{{d}: \"{n}\"}}, and the stack's axis is '{d}'", exc.shapes) from None
            x, y = alike
            named = [f"'{d}' = {self.dims[d].text}" if self.dims[d].definition is not None
                     else f"'{d}'" for d in alike]
            raise SpecError(f"{exc.message}: dims {named[0]} and {named[1]} are always the "
                            f"same size, but two dims name two axes", exc.loc,
                            f"use one of them for both axes: write '{x}' where '{y}' is "
                            f"(and drop '{y}'), or the other way round") from None

    def _two_dims(self, a: tuple[Any, ...], b: tuple[Any, ...]) -> str | None:
        """The hint for two shapes that differ by two dims at one place (K and M in (B, K) and
        (B, M)): two dims name two axes, whatever their sizes (N − K and K are both 2 at N: 4,
        K: 2); one axis is one dim, used for both (a dim defined so that it is the other, as
        N: 2 * K makes N − K be K).  None where no place holds two dims."""
        pair = next(((x, y) for x, y in zip(reversed(a), reversed(b))
                     if isinstance(x, str) and isinstance(y, str) and x != y
                     and x in self.dims and y in self.dims), None)
        if pair is None:
            return None
        x, y = pair
        sx, sy = self.dims[x].size, self.dims[y].size
        if sx is not None and sy is not None and sx != sy:
            return f"here '{x}' ({sx}) and '{y}' ({sy}) are two different dims"
        text = f"here '{x}' and '{y}' are two different dims, so two axes" + \
            (f", even though both have size {sx}" if sx is not None and sx == sy else "") + \
            f": a dim names an axis, not a size; for one axis, declare one dim and use it " \
            f"for both (write '{x}' where '{y}' is)"
        made = self._one_from_other(x, y) or self._one_from_other(y, x)
        if made is not None:
            z, value, d, other = made
            text += f", or define '{z}' so that '{d}' is '{other}': dims: {{{z}: {value}}}"
        return text

    def _one_from_other(self, x: str, y: str) -> tuple[str, str, str, str] | None:
        """For ``y`` defined from other dims (M: N − K) and ``x`` a dim (K): a dim z of y's
        definition, not x, solved so that y is x (N = 2 K), as (z, its value, y, x)."""
        if self.dims[y].definition is None:
            return None
        diff = expand(self.dim_values[y] - self.dim_values[x])
        for z in sorted(self.dims):
            sym = self.dim_values[z]
            if z in (x, y) or self.dims[z].definition is not None or \
                    not isinstance(sym, Symbol) or sym not in diff.free_symbols:
                continue
            if diff.diff(sym).free_symbols or diff.diff(sym) == 0:
                continue  # (linear in z only: one value)
            value = expand(sym - diff / diff.diff(sym))
            # as a definition writes it: K * K + K (not K**2 + K), K // 2 (not 1/2 * K)
            top, bottom = fraction(together(value))
            text = dim_text(top) if bottom == 1 else \
                f"{dim_text(top) if top.is_Symbol else f'({dim_text(top)})'} // {bottom}"
            if value.free_symbols and value.free_symbols <= {
                    self.dim_values[d] for d in self.dims if self.dims[d].definition is None} \
                    and "^" not in text and bottom.is_Integer:  # (no K^5: a definition has no power)
                return z, text, y, x
        return None

    def _counted(self, a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[str, str, int] | None:
        """A dim of ``a`` defined as a number n (a stack's count, n3) and one of ``b`` with a
        size n of its own (R: 3): (the count dim, the other, n), or None."""
        for c in dict.fromkeys(a):
            decl = self.dims.get(c) if isinstance(c, str) else None
            if decl is None or not isinstance(decl.definition, int):
                continue
            for d in dict.fromkeys(b):
                other = self.dims.get(d) if isinstance(d, str) else None
                if other is not None and other.definition is None and \
                        other.size == decl.definition:
                    return c, d, decl.definition
        return None

    def count_dim(self, n: int, loc: Loc) -> None:
        """A dim of size ``n`` for an axis of ``n`` stacked pieces, unless one is there (the
        spec's P: "2", or an earlier stack's).  It is defined as the number, so that --dims
        cannot give it another size, and named n2, n3 … (n2_ if the spec uses n2 for a
        tensor or a dim of another size): one dim per count, so that two stacks of as many
        pieces have the same shape."""
        if any(v == n for v in self.dim_values.values()):
            return
        name = f"n{n}"
        while name in self.dims or name in self.env or name in self.later:
            name += "_"
        self.dims[name] = DimDecl(name, n, loc, n, str(n), counted=True)
        self.dim_values = dim_values(tuple(self.dims.values()))

    def split(self, value: FExpr) -> FExpr:
        """Make ``value`` an anonymous node, so that an axis function can read it whole; the
        one an earlier line is a function of alone where it made the same (``_build``)."""
        made = self.held.get(value)
        if made is not None and made in self.env and self.env[made].kind == TensorKind.ANON:
            return FExpr(PseudoOp.REF, (), (("name", made),), value.shape)
        self.anon += 1
        name = f"_{self.target}_{self.anon}"
        while name in self.env:
            name += "_"
        t = Tensor(name, value.shape, TensorKind.ANON, Loc(""), value)
        self.env[name] = t
        self.tensors.append(t)
        return FExpr(PseudoOp.REF, (), (("name", name),), value.shape)


_ZERO_HINT = "is 0 whatever the sizes of the dims"  # (after "the divisor", "the base")


_RANGE_HINT = (f"a float is at most {repr(FLOAT_MAX).replace('e+', 'e')} in size: write the "
               "number the line means, "
               "or order the operations so that none passes it (1e308 / 10 * 10, not "
               "1e308 * 10 / 10)")


def _check_range(out: FExpr, loc: Loc, args: list[tuple[FExpr, Loc]]) -> None:
    """A constant the user's Python cannot hold in a float is a mistake, said where it is
    made: an operation of numbers that overflows (1e308 * 10 / 1e308 is inf in floats, not
    10), or one of Python's ints past a float's range that meets a tensor (x * 10 ** 400,
    which NumPy and PyTorch refuse)."""
    if overflows(out):
        raise SpecError("these numbers overflow a float as Python computes them (inf)", loc,
                        _RANGE_HINT)
    if float_value(out) is None:
        for a, at in args:
            if past_floats(a):
                raise SpecError("this number is past a float's range: NumPy and PyTorch "
                                "cannot make it a float beside a tensor", at, _RANGE_HINT)


def _zero_hint(written: X.Expr, e: FExpr) -> str:
    """Why a divisor or a base is 0: its dims cancel, or the user's floats round an
    arithmetic of numbers to 0 (1e16 + 1 - 1e16: 1e16 + 1 is 1e16 in floats)."""
    if not isinstance(written, X.Number) and not mentions_dim(e):
        # (no dim in it: -(1e16 + 1 - 1e16) and (1e16 + 1 - 1e16) * 2 as well)
        return "is 0.0 as Python's floats compute it (each operation rounds to a double)"
    return _ZERO_HINT


def _is_zero(e: FExpr) -> bool:
    """Whether ``e`` is a number or a dim expression that is 0 for every size (``N - N``)."""
    value = constant_value(e)
    return value is not None and value == 0


def _is_negative(e: FExpr) -> bool:
    value = constant_value(e)
    return value is not None and bool(value.is_negative)


def dim_values(dims: tuple[DimDecl, ...]) -> dict[str, Any]:
    """Each dim's size as a SymPy expression of the dims that have sizes of their own
    (positive integer symbols): D: H * Dh is H·Dh, To: T - K + 1 is T − K + 1."""
    by_name = {d.name: d for d in dims}
    out: dict[str, Any] = {}

    def value(term: DimTerm) -> Any:
        if isinstance(term, int):
            return Integer(term)
        if isinstance(term, str):
            if term not in out:
                d = by_name[term]
                out[term] = Symbol(term, integer=True, positive=True) if d.definition is None \
                    else value(d.definition)
            return out[term]
        a, b = value(term.left), value(term.right)
        # a division divides (spec.py checks it at every size used): D // H is D/H
        return a + b if term.op == "+" else a - b if term.op == "-" else \
            a * b if term.op == "*" else a / b
    for d in dims:
        value(d.name)
    return out


def outside_axis(dims: tuple[DimDecl, ...], sizes: Mapping[str, Any], lo: Any, hi: Any,
                 size: Any) -> bool:
    """Whether the window lo .. hi − 1 leaves an axis of ``size`` (in the dims' size
    symbols ``sizes``): starts before 0 or ends past the axis, as H:D + H does on D, by the
    dims' definitions or else at the sizes the spec gives them (a read of h3: [N, M] over
    0:N of M: 2, N: 3, which the spec's own slice h0[:, 0:M] says is past M's end)."""
    return at_most(dims, sizes, hi, size) is False or at_most(dims, sizes, Integer(0), lo) is False


def at_most(dims: tuple[DimDecl, ...], sizes: Mapping[str, Any], a: Any, b: Any) -> bool | None:
    """Whether ``a`` ≤ ``b`` (sizes in the dims' size symbols ``sizes``): by the dims'
    definitions (N − K ≤ N), else at the sizes the spec gives (M ≤ N of M: 2, N: 3, as the
    spec's own slice h0[:, 0:M] of h0: [N, N] needs); None where neither decides (unsized)."""
    given = {Symbol(d.name, integer=True, positive=True): Integer(d.size) for d in dims
             if d.definition is None and d.size is not None}
    gap = _by_definitions(dims, sizes, Integer(0) + b - a)
    for g in (gap, gap.xreplace(given)):
        if g.is_nonnegative:
            return True
        if g.is_negative:
            return False
    return None


def same_size(dims: tuple[DimDecl, ...], sizes: Mapping[str, Any], a: Any, b: Any) -> bool:
    """Whether two sizes, in the dims' size symbols ``sizes``, are equal by the dims'
    definitions (M: N − K is N − K; an index map over H, Dh covers D: H * Dh)."""
    return bool(_by_definitions(dims, sizes, a - b) == 0)


def _by_definitions(dims: tuple[DimDecl, ...], sizes: Mapping[str, Any], e: Any) -> Any:
    """``e`` (in the dims' size symbols ``sizes``) in the sizes of the dims that have their
    own, each defined dim written out (twice over: a definition may name another), expanded."""
    table = {sizes[d]: v for d, v in dim_values(dims).items() if d in sizes}
    return expand(e.xreplace(table).xreplace(table))
