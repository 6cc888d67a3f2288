"""Forward items, ``z = W @ x``, parsed with the ``ast`` module against a whitelist.

Only names, numbers, a string (einsum's subscripts), ``+ - * / @ **``, unary
minus, ``.T``, one comparison (``where``'s condition), calls of a function by
name and tuples (for ``axis``) are
accepted; anything else is a :class:`SpecError` pointing at the offending
character.  Nothing is ever evaluated: the result is a small tree of frozen
dataclasses that :mod:`einderive.graph` turns into nodes.
"""

from __future__ import annotations

import ast
import copy
import math
from collections.abc import Callable
from fractions import Fraction

from .errors import Loc, SpecError
from .record import Record, field
from .spec import Assignment, normalize_name

MAX_DEPTH = 100


class Expr(Record):
    loc: Loc


class Name(Expr):
    id: str


class Number(Expr):
    value: Fraction
    text: str


class String(Expr):
    value: str


class Flag(Expr):
    """``True``, ``False`` or ``None``, only meaningful as keyword values."""

    value: object


class BinOp(Expr):
    op: str  # one of + - * / @ **
    left: Expr
    right: Expr


class Neg(Expr):
    operand: Expr


class DotT(Expr):
    """``operand.T``: the spec's transpose attribute (matrix.Transpose is the matrix form's)."""

    operand: Expr


class Compare(Expr):
    """``a > b`` (also ``<``, ``>=``, ``<=``): only the condition of ``where``."""

    op: str
    left: Expr
    right: Expr


class Keyword(Record):
    name: str
    value: Expr
    loc: Loc


class Call(Expr):
    func: str
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]
    # the call respelled as the op table takes it, where it does not take it as written,
    # and as written (sum(X, 1): 'write sum(X, axis=1), not sum(X, 1)'), graph.py's hint
    respelled: str = field(default="", compare=False, repr=False)


class Subscript(Expr):
    """``E[tokens]`` or ``Z[range(B), labels]``: elements picked by an integer input."""

    value: Expr
    index: tuple[Expr, ...]


class SliceItem(Expr):
    """``lo:hi`` inside a subscript (either bound may be missing): a static range of an axis."""

    lower: Expr | None
    upper: Expr | None


class TupleLit(Expr):
    items: tuple[Expr, ...]


class Statement(Record):
    target: str
    target_loc: Loc
    value: Expr


_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.MatMult: "@",
           ast.Pow: "**"}
_COMPARE = {ast.Gt: ">", ast.Lt: "<", ast.GtE: ">=", ast.LtE: "<="}
_COMPARE_NAMES = {ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not",
                  ast.In: "in", ast.NotIn: "not in"}
_UNSUPPORTED_OPS = {ast.FloorDiv: "//", ast.Mod: "%", ast.LShift: "<<", ast.RShift: ">>",
                    ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^"}


def parse_assignment(item: Assignment) -> Statement:
    """Parse one forward item into a :class:`Statement`."""
    text = item.text
    base = item.text_loc

    def loc_of(node: ast.AST) -> Loc:
        return _loc(base, text, getattr(node, "lineno", 1), getattr(node, "col_offset", 0))

    try:
        tree = _parse(text)
    except SyntaxError as exc:
        col = exc.offset or 1
        msg = (exc.msg or "invalid syntax").replace("'(' was never closed", "'(' is never closed")
        loc = Loc(base.file, base.line, base.col + col - 1) if base.col else base
        hint = "a forward item is 'name = expression' in Python syntax, e.g. 'z = W @ x'"
        if "nested" in msg:
            hint = "split the expression over several forward items"
        raise SpecError(f"syntax error in expression: {msg}", loc, hint) from None
    except (RecursionError, MemoryError):
        raise SpecError("the expression is nested too deeply", base,
                        "split it over several forward items") from None
    if len(tree.body) != 1:
        raise SpecError("a forward item must be exactly one assignment 'name = expression'",
                        base, "put each assignment in its own item")
    stmt = tree.body[0]
    if isinstance(stmt, ast.Expr):
        raise SpecError("a forward item must assign its value to a name", base,
                        f"write 'name = {text.strip()}'")
    if isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) or not isinstance(stmt, ast.Assign):
        raise SpecError("a forward item must be a plain assignment 'name = expression'",
                        loc_of(stmt), "each item defines a new node; '+=' and annotations "
                        "are not supported")
    if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
        raise SpecError("the left-hand side must be a single new name", loc_of(stmt.targets[0]),
                        "write one assignment per item, e.g. 'z = W @ x'")
    _check_depth(stmt.value, loc_of)
    target = stmt.targets[0]
    return Statement(normalize_name(target.id), loc_of(target), _convert(stmt.value, loc_of))


# the recursion limit ast.parse may need: CPython builds a left-nested run of one operator
# (a + b + c ...) one C call per term, counted against the recursion limit (three calls a
# level, 3.11); 20000 lets a flat sum of 60000 terms through, and the C stack holds 10^5
PARSE_LIMIT = 20_000


def _parse(text: str) -> ast.Module:
    """``ast.parse`` of a forward item, the recursion limit raised for its length (a long
    flat sum), up to ``PARSE_LIMIT``: a deeper one is a RecursionError."""
    import sys

    old = sys.getrecursionlimit()
    need = min(PARSE_LIMIT, len(text) // 3 + old)
    if need > old:
        sys.setrecursionlimit(need)
    try:
        return ast.parse(text, mode="exec")
    finally:
        sys.setrecursionlimit(old)


def _loc(base: Loc, text: str, lineno: int, col_offset: int) -> Loc:
    """Map an ast position (UTF-8 byte offset) to a character column in the file."""
    if not base.col or lineno != 1:
        return Loc(base.file, base.line, 0) if base.line else base
    first = text.split("\n", 1)[0].encode("utf-8")
    chars = len(first[:col_offset].decode("utf-8", errors="ignore"))
    return Loc(base.file, base.line, base.col + chars)


def _check_depth(root: ast.AST, loc_of: Callable[[ast.AST], Loc]) -> None:
    """Refuse an expression nested more than ``MAX_DEPTH`` levels deep, at the node past
    the limit.  A run of one operator as written (``a + b - c + ...``, ``A @ B @ C``),
    which Python's parser nests to the left, is one level, not one per term: such a
    chain is flat to the reader, however long."""
    stack: list[tuple[ast.AST, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SpecError(f"the expression is nested more than {MAX_DEPTH} levels deep",
                            loc_of(node), "split it over several forward items")
        for child in ast.iter_child_nodes(node):
            flat = isinstance(node, ast.BinOp) and child is node.left and \
                isinstance(child, ast.BinOp) and _family(child.op) == _family(node.op)
            stack.append((child, depth if flat else depth + 1))


def _family(op: ast.operator) -> int:
    """Operators that chain at one precedence left to right: + and -, * and /, @."""
    return {ast.Add: 0, ast.Sub: 0, ast.Mult: 1, ast.Div: 1, ast.MatMult: 2}.get(type(op), -1)


# names a spec copied from NumPy, PyTorch or JAX calls functions under (np.exp, F.softmax)
_MODULES = frozenset({"np", "numpy", "torch", "F", "nn", "jnp", "jax", "math", "scipy", "sp",
                      "special", "linalg", "tf"})


# a library's reshaping calls, which name no shape (x.unsqueeze(1), x.flatten(1), np.squeeze(x)):
# a spec writes reshape(x, [...]) with the shape, which graph.py reads off x's (ReshapeCall)
SHAPE_METHODS = frozenset({"unsqueeze", "expand_dims", "squeeze", "flatten", "ravel"})


class ReshapeCall(SpecError):
    """A reshaping call refused: ``receiver`` is its tensor respelled as a spec writes it,
    ``method`` the call's name and ``axes`` its whole-number arguments, so that where the
    receiver's shape is known (graph.py, the lines before it built) the hint can write the
    shape; ``call`` is the call as written, ``sizes`` a reshape's with a -1 (``x.view(-1)``).
    Its own hint names reshape without the shape."""

    def __init__(self, message: str, loc: Loc, hint: str, receiver: str, method: str,
                 axes: tuple[int, ...], call: str, sizes: tuple[int | str, ...] = ()) -> None:
        super().__init__(message, loc, hint)
        self.receiver, self.method, self.axes, self.call = receiver, method, axes, call
        self.sizes = sizes  # reshape's, one of them -1 (x.view(B, -1))


def _whole(node: ast.expr) -> int | None:
    """A whole-number argument (``1``, ``-1``) as an int, else None."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1, node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and \
            not isinstance(node.value, bool):
        return sign * node.value
    return None


def _reshape_call(node: ast.Call, loc: Loc, message: str) -> SpecError | None:
    """``x.unsqueeze(1)``, ``torch.flatten(x, 1)``, ``np.squeeze(x)`` and the like, whose
    tensor respells and whose other arguments are whole numbers (an ``axis=``/``dim=``
    keyword too): the error that names reshape, else None (the general hint)."""
    func = node.func
    assert isinstance(func, ast.Attribute)
    method = _module_of(func) is None
    args = ([func.value] if method else []) + list(node.args)
    if func.attr in ("reshape", "view") and len(args) > 1 and not node.keywords:
        return _inferred_reshape(node, loc, message, args)
    if func.attr not in SHAPE_METHODS:
        return None
    if not args or any(kw.arg not in ("axis", "dim") for kw in node.keywords):
        return None
    axes = [_whole(a) for a in [*args[1:], *(kw.value for kw in node.keywords)]]
    respell = _Respell()
    receiver = respell.visit(copy.deepcopy(args[0]))
    if respell.failed is not None or any(a is None for a in axes):
        return None
    text, name = ast.unparse(receiver), func.attr
    what = {"unsqueeze": "a 1 inserted at that axis", "expand_dims": "a 1 inserted at that axis",
            "squeeze": "its axes of size 1 left out"}.get(
        name, "the merged axes as one dim defined as their product, e.g. dims: {BT: B * T}")
    hint = f"a reshape names its shape: write reshape({text}, [...]) with {text}'s dims and {what}"
    return ReshapeCall(message, loc, hint, text, name, tuple(a for a in axes if a is not None),
                       ast.unparse(node))


def _inferred_reshape(node: ast.Call, loc: Loc, message: str,
                      args: list[ast.expr]) -> SpecError | None:
    """``x.view(-1)``, ``x.reshape(B, -1)``: a size NumPy infers, which a spec names (a dim
    or 1); the sizes whole numbers or dims' names, one of them -1. Sizes a spec's reshape
    refuses (-1 twice, another negative number, a product N * D) get the hint that says what
    it takes, not a reshape(x, [-1, -1]) that is no spec's. Else None: the general hint
    writes ``reshape(x, [...])`` from the sizes given."""
    sizes = args[1:]
    if len(sizes) == 1 and isinstance(sizes[0], (ast.Tuple, ast.List)):
        sizes = list(sizes[0].elts)
    given: list[int | str | None] = [
        a.id if isinstance(a, ast.Name) else _whole(a) for a in sizes]
    respell = _Respell()
    receiver = respell.visit(copy.deepcopy(args[0]))
    if respell.failed is not None:
        return None
    text = ast.unparse(receiver)
    if given.count(-1) > 1 or any(n is None or isinstance(n, int) and n < 1 and n != -1
                                  for n in given):
        return SpecError(message, loc, f"a reshape names its shape: write reshape({text}, [...]) "
                         "with a dim or 1 for each size (NumPy's -1 stands for one size at "
                         "most; declare a product of dims as a dim, e.g. dims: {BT: B * T})")
    if given.count(-1) != 1:
        return None
    hint = (f"a reshape names its shape: write reshape({text}, [...]) with a dim or 1 for "
            "the size -1 stands for")
    return ReshapeCall(message, loc, hint, text, "reshape", (), ast.unparse(node),
                       tuple(n for n in given if n is not None))


def _qualified_call(node: ast.Call, loc: Loc,
                    loc_of: Callable[[ast.AST], Loc]) -> SpecError:
    """A call of anything but a plain name, with a hint written from its tree: a module's
    function (``np.exp(x)``: write ``exp(x)``), or a method of a tensor (``X.sum()``, which
    a spec writes as the function ``sum(X)``), in the spelling the op table's entry takes
    (``x.transpose(0, 2, 1)``: ``transpose(x, axes=(0, 2, 1))``); every such call inside it
    is respelled too, and the hint is given only where the respelled tree parses."""
    func = node.func
    if not isinstance(func, ast.Attribute):
        return SpecError("call functions by their plain name", loc,
                         "e.g. exp(x), not np.exp(x)")
    message = "call functions by their plain name" if _module_of(func) is not None else \
        f"'.{func.attr}()' is a method call; a spec calls functions"
    reshaping = _reshape_call(node, loc, message)
    if reshaping is not None:
        return reshaping
    outer = _outer_hint(func.attr, ([] if _module_of(func) else [func.value]) + node.args,
                        node)
    if outer:
        return SpecError(message, loc, outer)
    respell = _Respell()
    copied = copy.deepcopy(node)
    tree = respell.visit(copied)
    if respell.failed is None:
        try:
            _convert(tree, loc_of)
        except SpecError:
            respell.failed = copied
    if respell.failed is None:
        hint = f"write {ast.unparse(tree)}, not {ast.unparse(node)}"
        hint += f" ({respell.notes[0]})" if respell.notes else ""
    else:
        hint = _usage(respell.failed)
        if respell.failed is not copied:  # a call inside it: say which
            hint = f"{ast.unparse(respell.failed)}: {hint}"
    return SpecError(message, loc, hint)


def _plain_respelling(node: ast.Call, loc_of: Callable[[ast.AST], Loc]) -> str:
    """A call of a plain name that the op table does not take as written but takes as
    NumPy's function of that name (``sum(X, 1)``, ``np.sum``'s positional axis, as
    ``sum(X, axis=1)``; ``transpose(X, (1, 0))`` as ``transpose(X, axes=(1, 0))``;
    ``matmul(X, W)`` as ``X @ W``; a library's loss written out, ``mse_loss(X, Y)``):
    ``'write sum(X, axis=1), not sum(X, 1)'``, both written from their trees
    (:class:`_Respell`), else ''."""
    from .ops import OPS

    assert isinstance(node.func, ast.Name)
    outer = _outer_hint(node.func.id, list(node.args), node) or _norm_hint(node)
    if outer:
        return outer
    loss = _loss_hint(node.func.id, node)
    if loss:
        return loss
    op = OPS.get(node.func.id)
    if op is not None and op.user and (op.nargs[1] is None or len(node.args) <= op.nargs[1]):
        return ""  # taken as written (or refused for another reason, with its own hint)
    qualified = ast.Call(ast.Attribute(ast.Name("np", ast.Load()), node.func.id, ast.Load()),
                         copy.deepcopy(node.args), copy.deepcopy(node.keywords))
    respell = _Respell()
    tree = respell.visit(qualified)
    if respell.failed is not None or isinstance(tree, ast.Call) and \
            isinstance(tree.func, ast.Attribute):
        return ""
    try:
        _convert(tree, loc_of)
    except SpecError:
        return ""
    text, written = ast.unparse(tree), ast.unparse(node)
    return "" if text == written else f"write {text}, not {written}"


def _outer_hint(name: str, args: list[ast.expr], node: ast.Call) -> str:
    """NumPy's and PyTorch's outer product of two vectors (``outer(a, b)``, ``np.outer``,
    ``a.outer(b)``, ``ger``) as the spec's einsum, which prints a bᵀ; '' for any other call."""
    if name not in ("outer", "ger") or len(args) != 2 or node.keywords:
        return ""
    return f"write {ast.unparse(_outer_einsum(copy.deepcopy(args)))}, not {ast.unparse(node)} (the outer product of two " \
           "vectors; x[:, None] is not a spec's index)"


def _norm_hint(node: ast.Call) -> str:
    """NumPy's order of a norm (``norm(X, 'fro')``, ``norm(x, 2)``, ``norm(x, ord=1)``), which
    the spec's norm does not take: the spelling it takes, else ''."""
    assert isinstance(node.func, ast.Name)
    orders = [kw.value for kw in node.keywords if kw.arg == "ord"] + list(node.args[1:2])
    if node.func.id != "norm" or len(orders) != 1 or len(node.args) > 2:
        return ""
    order = orders[0]
    constant = isinstance(order, ast.Constant)
    value = order.value if isinstance(order, ast.Constant) else None
    x = ast.unparse(node.args[0]) if node.args else "x"
    if constant and value == 1:
        return f"write sum(abs({x})) for the 1-norm of a vector; norm({x}) is its 2-norm"
    if constant and value in ("fro", 2, None):
        return f"write norm({x}): the 2-norm of a vector, the Frobenius norm of a matrix " \
            "(NumPy's ord=2 of a matrix, its largest singular value, is not a spec function)"
    return f"norm({x}) is the 2-norm of a vector and the Frobenius norm of a matrix; " \
        f"write other norms out, e.g. sum(abs({x})) for the 1-norm"


def _outer_einsum(args: list[ast.expr]) -> ast.Call:
    """``einsum('i,j->ij', a, b)``, the spec's outer product of the vectors ``args``."""
    return ast.Call(ast.Name("einsum", ast.Load()), [ast.Constant("i,j->ij"), *args], [])


def _loss_respelling(name: str, args: list[ast.expr]) -> ast.expr | None:
    """A library's loss function of two tensors (PyTorch's ``mse_loss(x, y)``,
    ``cross_entropy(z, labels)``, their default mean reduction) written out in the spec's
    functions, a tree made of the call's own argument trees; None for any other call.
    (``l2_loss`` is a sum: the nearest name would silently drop the mean.)"""
    if len(args) != 2:
        return None
    a, b = (copy.deepcopy(x) for x in args)

    def call(fn: str, *xs: ast.expr, **kw: ast.expr) -> ast.expr:
        return ast.Call(ast.Name(fn, ast.Load()), list(xs),
                        [ast.keyword(k, v) for k, v in kw.items()])

    def neg_mean(x: ast.expr) -> ast.expr:
        return ast.UnaryOp(ast.USub(), call("mean", x))

    diff = ast.BinOp(a, ast.Sub(), b)
    one = ast.Constant(1)
    minus_one = ast.UnaryOp(ast.USub(), ast.Constant(1))
    pick = ast.Tuple([call("range", ast.Name("N", ast.Load())), b], ast.Load())
    if name == "mse_loss":
        return call("mean", ast.BinOp(diff, ast.Pow(), ast.Constant(2)))
    if name == "l1_loss":
        return call("mean", call("abs", diff))
    if name == "binary_cross_entropy_with_logits":
        return call("mean", ast.BinOp(call("softplus", a), ast.Sub(),
                                      ast.BinOp(b, ast.Mult(), copy.deepcopy(a))))
    if name == "binary_cross_entropy":
        return neg_mean(ast.BinOp(
            ast.BinOp(b, ast.Mult(), call("log", a)), ast.Add(),
            ast.BinOp(ast.BinOp(one, ast.Sub(), copy.deepcopy(b)), ast.Mult(),
                      call("log", ast.BinOp(one, ast.Sub(), copy.deepcopy(a))))))
    if name == "cross_entropy":
        return neg_mean(ast.Subscript(call("log_softmax", a, axis=minus_one), pick, ast.Load()))
    if name == "nll_loss":
        return neg_mean(ast.Subscript(a, pick, ast.Load()))
    return None


def _loss_hint(name: str, node: ast.Call) -> str:
    """The hint for a library loss (see :func:`_loss_respelling`), or ''."""
    tree = _loss_respelling(name, list(node.args)) if not node.keywords else None
    if tree is None:
        return ""
    labels = "; N is the labels' dim" if name in ("cross_entropy", "nll_loss") else ""
    return f"write {ast.unparse(tree)}, not {ast.unparse(node)} (the loss written out{labels})"


def _module_of(func: ast.Attribute) -> str | None:
    """``np`` of ``np.linalg.inv``: the library a dotted name is a function of, if any."""
    root = func.value
    while isinstance(root, ast.Attribute):
        root = root.value
    return root.id if isinstance(root, ast.Name) and root.id in _MODULES else None


def _usage(node: ast.Call) -> str:
    """The hint for a library call with no spelling of the spec's: the function's usage, or
    the function nearest its name."""
    from .errors import did_you_mean
    from .ops import ALIASES, FUNCTIONS, OPS, OPERATOR_METHODS

    assert isinstance(node.func, ast.Attribute)
    name = node.func.attr
    loss = _loss_hint(name, node) if _module_of(node.func) is not None else ""
    if loss:
        return loss
    if name == "T" and not node.args and not node.keywords:  # X.T(): an attribute called
        return f"write {ast.unparse(node.func)}, not {ast.unparse(node)}"
    if name in SHAPE_METHODS:
        return "a reshape names its shape: write reshape(x, [...]) with the shape it makes"
    if name in OPERATOR_METHODS:
        return f"use the operator {OPERATOR_METHODS[name][0]} ({OPERATOR_METHODS[name][1]} operands)"
    fn = ALIASES.get(name, name)
    if fn in OPS and OPS[fn].user:
        return f"usage: {OPS[fn].signature}"
    return (did_you_mean(name, FUNCTIONS, "functions", ALIASES) or
            "a spec calls functions by name, e.g. sum(x, axis=1)")


_OPERATORS: dict[str, ast.operator] = {"@": ast.MatMult(), "*": ast.Mult(), "+": ast.Add(),
                                       "-": ast.Sub(), "/": ast.Div(), "**": ast.Pow()}


class _Respell(ast.NodeTransformer):
    """Every library call (``x.sum(1)``, ``np.exp(x)``, ``x.matmul(y)``) in a tree as the
    spec writes it (``sum(x, axis=1)``, ``exp(x)``, ``x @ y``), by the op table
    (:func:`einderive.ops.as_function`); ``failed`` is the first call it cannot respell."""

    def __init__(self) -> None:
        self.failed: ast.Call | None = None
        self.notes: list[str] = []

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        """``self.W`` of a module's forward as the spec's tensor ``W``."""
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr != "T":
            return ast.Name(node.attr, ast.Load())
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        from .ops import OPERATOR_METHODS, as_function

        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Name) and _outer_hint(func.id, list(node.args), node):
            # (outer(x, a) inside x.sum(): the einsum its own hint writes)
            return _outer_einsum(list(node.args))
        if not isinstance(func, ast.Attribute) or self.failed is not None:
            return node
        method = _module_of(func) is None
        args = ([func.value] if method else []) + list(node.args)
        if not args or any(isinstance(a, ast.Starred) for a in args) or \
                any(kw.arg is None for kw in node.keywords):
            self.failed = node
            return node
        if func.attr in OPERATOR_METHODS:
            sym, arity = OPERATOR_METHODS[func.attr]
            if len(args) != arity or node.keywords:
                self.failed = node
                return node
            if sym == ".T":
                return ast.Attribute(args[0], "T", ast.Load())
            if sym == "neg":
                return ast.UnaryOp(ast.USub(), args[0])
            return ast.BinOp(args[0], _OPERATORS[sym], args[1])
        plan = as_function(func.attr, len(args) - 1,
                           tuple(str(kw.arg) for kw in node.keywords), method)
        if plan is None:
            self.failed = node
            return node
        first, rest = args[0], args[1:]
        renames = dict(plan.renames)
        keywords = [ast.keyword(renames.get(kw.arg, kw.arg), kw.value) for kw in node.keywords]
        if plan.gathers:
            seq = rest[0] if len(rest) == 1 and isinstance(rest[0], (ast.Tuple, ast.List)) \
                else None
            items = seq.elts if seq is not None else rest
            if plan.gathers == "[]":
                return ast.Call(ast.Name(plan.name), [first, ast.List(items)], keywords)
            if plan.note:
                self.notes.append(plan.note)
            return ast.Call(ast.Name(plan.name), [first],
                            [ast.keyword(plan.gathers, ast.Tuple(items))] + keywords)
        positional = rest[:plan.positional]
        named = [ast.keyword(k, v) for k, v in zip(plan.keywords, rest[plan.positional:])]
        return ast.Call(ast.Name(plan.name), [first, *positional], named + keywords)


# terms of a flat sum or product (a + b + c ...) past which it is converted as a balanced
# tree: Python's parser nests such a chain to the left, one level per term, and every
# recursive pass after it (the graph, SymPy) would go as deep; a chain this short is kept
# as written
CHAIN = 64


def _chain(node: ast.BinOp) -> list[ast.expr]:
    """The operands of the left-nested run of ``node``'s operator, left to right."""
    out: list[ast.expr] = []
    left: ast.expr = node
    while isinstance(left, ast.BinOp) and type(left.op) is type(node.op):
        out.append(left.right)
        left = left.left
    out.append(left)
    return out[::-1]


def _balanced(loc: Loc, op: str, terms: list[Expr]) -> Expr:
    """``terms`` joined by the associative ``op`` as a tree of depth log2 of their number."""
    while len(terms) > 1:
        pairs = [BinOp(loc, op, a, b) for a, b in zip(terms[::2], terms[1::2])]
        terms = pairs + terms[len(terms) - len(terms) % 2:]
    return terms[0]


def _convert(node: ast.AST, loc_of: Callable[[ast.AST], Loc]) -> Expr:
    loc = loc_of(node)
    if isinstance(node, ast.Name):
        return Name(loc, normalize_name(node.id))
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or value is None:
            return Flag(loc, value)
        if isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                raise SpecError(f"'{value!r}' is not a finite number", loc)
            return Number(loc, Fraction(repr(value)) if isinstance(value, float)
                          else Fraction(value), repr(value))
        if isinstance(value, str):
            return String(loc, value)
        raise SpecError(f"unsupported constant {value!r}", loc, "use real numbers")
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        terms = _chain(node)
        if len(terms) > CHAIN:  # a flat sum or product, as balanced: no deep recursion
            return _balanced(loc, _BINOPS[type(node.op)],
                             [_convert(t, loc_of) for t in terms])
    if isinstance(node, ast.BinOp):
        op = _BINOPS.get(type(node.op))
        if op is None:
            sym = _UNSUPPORTED_OPS.get(type(node.op), type(node.op).__name__)
            power = ast.unparse(ast.BinOp(node.left, ast.Pow(), node.right))
            hint = f"a power is '**': write {power}, not {ast.unparse(node)}"
            left = node.left  # x - y ^ 2 is (x - y) ^ 2 in Python: say so where unbracketed
            if isinstance(left, ast.BinOp) and type(left.op) in _BINOPS and \
                    not isinstance(left.op, ast.Pow) and left.col_offset == node.col_offset:
                last = ast.BinOp(left.left, left.op, ast.BinOp(left.right, ast.Pow(), node.right))
                hint += f" ('{sym}' binds looser than arithmetic; for the last operand's " \
                        f"power write {ast.unparse(last)})"
            raise SpecError(f"the operator '{sym}' is not supported", loc, hint
                            if isinstance(node.op, ast.BitXor) else
                            "supported operators: + - * / @ ** and unary -")
        return BinOp(loc, op, _convert(node.left, loc_of), _convert(node.right, loc_of))
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return Neg(loc, _convert(node.operand, loc_of))
        if isinstance(node.op, ast.UAdd):
            return _convert(node.operand, loc_of)
        raise SpecError("only unary '-' and '+' are supported", loc)
    if isinstance(node, ast.Attribute):
        if node.attr != "T":
            hint = f"write {node.attr}, not self.{node.attr}" if isinstance(node.value, ast.Name) \
                and node.value.id == "self" else "only '.T' (transpose) is supported"
            raise SpecError(f"unsupported attribute '.{node.attr}'", loc_of(node), hint)
        return DotT(loc, _convert(node.value, loc_of))
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _qualified_call(node, loc, loc_of)
        args = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise SpecError("'*' arguments are not supported", loc_of(a),
                                f"pass the tensor itself: {normalize_name(node.func.id)}(…) takes "
                                "its arguments one by one")
            args.append(_convert(a, loc_of))
        kwargs = []
        for kw in node.keywords:
            if kw.arg is None:
                raise SpecError("'**' arguments are not supported", loc_of(kw.value),
                                "write each keyword out, e.g. axis=1")
            kwargs.append(Keyword(kw.arg, _convert(kw.value, loc_of), loc_of(kw)))
        return Call(loc, normalize_name(node.func.id), tuple(args), tuple(kwargs),
                    _plain_respelling(node, loc_of))
    if isinstance(node, ast.Compare):
        ops = [_COMPARE.get(type(o)) for o in node.ops]
        if len(ops) != 1:
            raise SpecError("only one comparison > < >= <= is supported", loc,
                            "e.g. where(x > 0, x, 0.01 * x)")
        if ops[0] is None:  # x == 0 is one comparison, of a kind where() does not take
            raise SpecError(f"'{_COMPARE_NAMES.get(type(node.ops[0]), '?')}' is not supported "
                            "in a comparison; use > < >= <=", loc,
                            "e.g. where(x > 0, x, 0.01 * x)")
        return Compare(loc, ops[0], _convert(node.left, loc_of),
                       _convert(node.comparators[0], loc_of))
    if isinstance(node, (ast.Tuple, ast.List)):  # [B, T, H, Dh]: a list is a tuple here
        return TupleLit(loc, tuple(_convert(e, loc_of) for e in node.elts))
    if isinstance(node, ast.Subscript):
        return _subscript(node, loc, loc_of)
    what = {ast.BoolOp: "'and'/'or'", ast.IfExp: "conditional expressions",
            ast.Lambda: "lambda", ast.Dict: "dicts",
            ast.ListComp: "comprehensions", ast.GeneratorExp: "generators",
            ast.JoinedStr: "f-strings", ast.NamedExpr: "':='"}.get(type(node))
    raise SpecError(f"{what or type(node).__name__} not supported in expressions", loc,
                    "expressions use names, numbers, + - * / @ **, .T and function calls")


def _subscript(node: ast.Subscript, loc: Loc, loc_of: Callable[[ast.AST], Loc]) -> Expr:
    """``E[tokens]``, ``Z[range(B), labels]``, ``x[:, 0:K]``: indices are expressions or
    slices without a step (graph checks them)."""
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    out: list[Expr] = []
    for n, item in enumerate(items):
        if isinstance(item, ast.Slice):
            if item.step is not None:
                raise SpecError("a slice takes no step", loc_of(item.step),
                                "slice a contiguous range, e.g. x[:, 0:K]")
            out.append(SliceItem(loc_of(item), *[None if b is None else _convert(b, loc_of)
                                                  for b in (item.lower, item.upper)]))
        else:
            _refuse_literal_index(item, n, node.value, loc_of(item))
            out.append(_convert(item, loc_of))
    return Subscript(loc, _convert(node.value, loc_of), tuple(out))


def _refuse_literal_index(item: ast.expr, axis: int, value: ast.expr, loc: Loc) -> None:
    """``x[:, 1]``, ``x[-1]``, ``x[..., 0:K]``, ``x[None]``: NumPy's integer indexing drops
    an axis and ``...``/``None`` change the rank; none of them is in the language, and a user
    who writes them needs the spelling that is (a length-1 slice keeps the axis)."""
    number = item.operand if isinstance(item, ast.UnaryOp) and \
        isinstance(item.op, (ast.USub, ast.UAdd)) else item
    if not isinstance(number, ast.Constant):
        return
    if isinstance(number.value, int) and not isinstance(number.value, bool):
        k = -number.value if isinstance(item, ast.UnaryOp) and isinstance(item.op, ast.USub) \
            else number.value
        name = value.id if isinstance(value, ast.Name) else "x"
        at = f"{name}[{':, ' * axis}{f'{k}:{k + 1}' if k >= 0 else f'N - {-k}:N - {-k - 1}'}]"
        at = at.replace(":N - 0]", ":N]")
        raise SpecError("indexing by an integer is not supported (it would drop the axis)",
                        loc, f"take a slice of length 1, which keeps the axis as size 1: {at}"
                        f"{' (N the axis dim)' if k < 0 else ''}; sum(…, axis={axis}) drops it")
    if number.value is Ellipsis or number.value is None:
        what = "'...'" if number.value is Ellipsis else "None (a new axis)"
        raise SpecError(f"{what} is not supported in an index", loc,
                        "write one ':' per axis, e.g. x[:, :, 0:K]; add an axis with "
                        "reshape(x, [B, 1, D])")
