"""Generated Python modules: NumPy ``forward``/``gradients``, a PyTorch Function, closed forms.

Statements come from :class:`~einderive.render.code.Compiler` (forward nodes,
matrix forms) and :class:`~einderive.render.einsum.IndexCompiler` (index
forms) as :mod:`pyexpr` trees; this module lays them out as a reader expects:
helpers, ``forward``, then ``gradients`` with one statement per adjoint in
backward order, each under the printed form it is compiled from.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from ..errors import Loc, SpecError
from ..ops import HELPER_NEEDS, HELPERS, SCALARS
from ..record import Record, fields
from .. import pyexpr as P
from .backends import Backend, Torch
from .code import Compiler, Names
from .einsum import IndexCompiler
from .matrix_printer import element_names
from .text import adjoint_lhs, closed_differs, index_rhs, printer

if TYPE_CHECKING:
    from ..graph import Graph


IND = "    "


class PyFunction(Record):
    """One generated function, ``def name(params): \"\"\"doc\"\"\" body... return result``, kept
    in parts: ``verify`` compiles a long body a piece at a time (CPython's compiler needs
    some 80 bytes per character of the unit it compiles: 20 MiB for a 512-layer chain's
    ``gradients`` at once)."""
    name: str
    params: tuple[str, ...]  # as written: the names, or ("**tensors",)
    doc: str  # the docstring's text ('' for none)
    body: tuple[str, ...]  # the lines of the body, unindented: statements and comments
    result: str  # the returned expression

    def lines(self) -> list[str]:
        doc = [IND + f'"""{self.doc}"""'] if self.doc else []
        return ([f"def {self.name}({', '.join(self.params)}):"] + doc
                + [IND + x for x in self.body] + [IND + "return " + self.result])


class PyModule(Record):
    """A generated module: its head (docstring, imports, helpers), then its functions, two
    blank lines apart."""
    head: tuple[str, ...]
    functions: tuple[PyFunction, ...]

    def text(self) -> str:
        lines = list(self.head)
        for n, f in enumerate(self.functions):
            lines += (["", ""] if n else []) + f.lines()
        return "\n".join(lines) + "\n"


class _Writer:
    """One module's compilers, and every tree it emits (to find the helpers they call).

    ``internal``: a module that only ``verify`` runs, compiled a piece at a time
    (:mod:`einderive.compiled`) and read by no one: no comments (printing the forms took
    a 512-layer chain's verify 3 MiB of the printers' caches, and time), and no statement
    adds more than :data:`~einderive.compiled.TERMS` terms (:func:`pyexpr.split_sums`).
    The same statements compute the same values, bit for bit."""

    def __init__(self, d: Any, backend: Backend, sizes: dict[str, int] | None = None,
                 internal: bool = False) -> None:
        from ..compiled import TERMS

        self.d = d
        self.sizes = sizes or {}
        self.terms = TERMS if internal else None
        self.comments = not internal
        self.names = Names(d.graph)
        self.comp = Compiler(d, backend, self.names)
        self.index: Any = IndexCompiler(self.comp)
        self.b = backend
        self.trees: list[P.Py] = []

    def code(self, py: P.Py) -> str:
        self.trees.append(py)
        return P.unparse(py)

    def assign(self, target: str, py: P.Py, note: str = "", code: str | None = None) -> list[str]:
        """``target = <code>`` (``code``: ``py`` written already) and its ``note``; with
        ``terms``, a long sum in it added up in runs over several statements."""
        if self.terms is not None:
            steps = P.split_sums(py, target, self.terms, self.names.temporary)
            if len(steps) > 1 or steps[0][1] is not py:
                return [f"{name} = {self.code(x)}" for name, x in steps[:-1]] + \
                    [f"{target} = {self.code(steps[-1][1])}{note}"]
        return [f"{target} = {self.code(py) if code is None else code}{note}"]

    def clause_lines(self) -> list[str]:
        """``t1 = <code>`` for each where-clause the forms compiled since the last call read
        that no statement before them assigned (:meth:`Compiler.matrix`): written before the
        statement that first reads it, each once."""
        return [x for var, py in self.comp.drain() for x in self.assign(var, py)]

    def forward_lines(self) -> list[str]:
        lines = []
        for t in self.d.graph.nodes:
            py = self.comp.forward(t.expr).py
            code = self.code(py)
            text = t.text.split("=", 1)[1].strip() if "=" in t.text else ""
            note = f"  # {t.text}" if t.kind == "node" and text and text != code and \
                self.comments else ""
            lines += self.assign(self.names.var[t.name], py, note, code)
        return lines

    def form_lines(self, name: str, f: Any, form: str, target: str,
                   lhs: Callable[[tuple[Any, ...]], str] | None = None) -> list[str]:
        """``target = <code>`` under its comment, compiled from the printed matrix form (or
        from the index form where there is none, or where ``form`` is 'index'); ``lhs``
        prints the comment's left side (by default the adjoint's, ∂L/∂name)."""
        tensor = self.d.graph[name]
        matrix = form == "matrix" and f.matrix is not None
        comment = [self._form_comment(name, f, matrix, lhs)] if self.comments else []
        clauses: list[str] = []
        if matrix:
            v = self.comp.matrix(f.matrix, f.wheres)
            py, shape = v.py, v.shape
            clauses = self.clause_lines()
        else:
            py = self.index.compile(f.index, f.idx)
            shape = tuple(s for s in tensor.shape if s != 1)
        like = P.Name(self.names.var[name])
        if tensor.shape and (not shape or _is_number(py)):  # e.g. 0 where the terms cancel
            py = self.b.broadcast_like(py, like)
        elif tuple(shape) != tuple(tensor.shape):
            py = self.b.reshape(py, like)
        return comment + clauses + self.assign(target, py)

    def _form_comment(self, name: str, f: Any, matrix: bool,
                      lhs: Callable[[tuple[Any, ...]], str] | None) -> str:
        """``# <left side> = <the printed form>`` above the statement compiled from it."""
        d = self.d
        left = lhs or (lambda idx: adjoint_lhs(d, name, idx))
        if not matrix:
            return f"# {left(f.idx)} = {index_rhs(d, f)}"
        p = printer(d)
        text = p.matrix(f.matrix)
        wheres = "; ".join(p.where(f.matrix, w.lhs, w.rhs) for w in f.wheres)
        return f"# {left(element_names(f.matrix))} = {text}" + \
            (f", where {wheres}" if wheres else "")

    def backward_lines(self, d: Any, form: str) -> list[str]:
        lines = []
        for a in d.adjoints:
            if a.name != d.loss:
                lines += self.form_lines(a.name, a.form, form, self.names.adj[a.name])
        return lines

    def dim_lines(self) -> list[str]:
        g = self.d.graph
        order = [n for n, _ in g.dims]
        declared = {d.name: d for d in g.spec.dims}
        lines: list[str] = []
        done: set[str] = set()

        def emit(dim: str) -> None:
            if dim in done:
                return
            done.add(dim)
            t = next((t for t in g.inputs if dim in t.shape), None)
            decl = declared.get(dim)
            if t is not None:
                lines.append(f"{self.names.dim[dim]} = {self.names.var[t.name]}.shape"
                             f"[{t.shape.index(dim)}]")
            elif decl is not None and decl.definition is not None:  # HT: H * T, from H, T
                for ref, _ in decl.refs:
                    emit(ref)
                lines.append(f"{self.names.dim[dim]} = {self._dim_code(decl.definition)}"
                             f"  # {dim} = {decl.text}")
            else:
                lines.append(f"{self.names.dim[dim]} = {self._size(dim)}  # no input has {dim}")
        for dim in sorted(self.comp.dims_used, key=order.index):
            emit(dim)
        return lines + self._fixed_dim_checks(emit, declared)

    def _fixed_dim_checks(self, emit: Callable[[str], None], declared: dict[str, Any]) -> list[str]:
        """A size that no input gives is the spec's (``Hp = 2  # no input has Hp``): where an
        input's axis is a dim defined from such a size (``H: Hp * P`` for ``Img [H, W]``), an
        input of another size would be read at the spec's sizes, a wrong answer without an
        error; so the code checks that axis against its definition and raises instead."""
        g = self.d.graph
        carried = {s for t in g.inputs for s in t.shape if isinstance(s, str)}
        sized = dict(g.dims) | dict(self.sizes)

        def fixed_refs(dim: str) -> list[str] | None:
            """The dims without an input that ``dim``'s definition rests on; None if one of
            them has no size to check against."""
            decl = declared.get(dim)
            if decl is None or decl.definition is None:
                return []
            out: list[str] = []
            for ref, _ in decl.refs:
                if ref in carried:
                    continue
                if declared.get(ref) is not None and declared[ref].definition is not None:
                    sub = fixed_refs(ref)
                    if sub is None:
                        return None
                    out += sub
                elif sized.get(ref):
                    out.append(ref)
                else:
                    return None
            return list(dict.fromkeys(out))

        lines: list[str] = []
        for t in g.inputs:
            for axis, dim in enumerate(t.shape):
                decl = declared.get(dim) if isinstance(dim, str) else None
                fixed = fixed_refs(dim) if decl is not None else None
                if decl is None or decl.definition is None or not fixed:
                    continue
                for ref, _ in decl.refs:
                    emit(ref)
                var, at = self.names.var[t.name], ", ".join(f"{f} = {sized[f]}" for f in fixed)
                message = (f"{t.name} has {dim} = {decl.text} along axis {axis}; this code was "
                           f"generated for {at}, which no input gives")
                lines.append(f"if {var}.shape[{axis}] != {self._dim_code(decl.definition)}: "
                             f"raise ValueError({message!r})")
        return lines

    def _dim_code(self, term: Any, nested: bool = False) -> str:
        """A dim's definition as Python (its dims by their code names)."""
        if isinstance(term, int):
            return str(term)
        if isinstance(term, str):
            return self.names.dim[term]
        out = f"{self._dim_code(term.left, True)} {term.op} {self._dim_code(term.right, True)}"
        return f"({out})" if nested else out

    def _size(self, dim: str) -> int:
        """The size of a dim that no input's shape gives: verify's, else the spec's."""
        size = self.sizes.get(dim) or dict(self.d.graph.dims).get(dim)
        if size is None:
            raise SpecError(f"dim '{dim}' is used as a value, but no input has it and it has "
                            f"no size, so the generated code cannot know it", Loc(self.d.spec.path),
                            f"give it a size under 'dims', e.g. dims: {{{dim}: 4}}")
        return int(size)

    def signature(self) -> tuple[tuple[str, ...], list[str]]:
        """The parameters, and the lines that unpack them where the inputs' names are not
        Python's (``**tensors``)."""
        inputs = self.d.graph.inputs
        if not self.names.renamed:
            return tuple(self.names.var[t.name] for t in inputs), []
        return ("**tensors",), [f"{self.names.var[t.name]} = tensors[{t.name!r}]"
                                for t in inputs]

    def called(self) -> set[str]:
        """Every name the emitted code calls or reads."""
        out: set[str] = set()
        for t in self.trees:
            _names(t, out)
        return out

    def header(self) -> list[str]:
        uses_math = any(n.startswith("math.") for n in self.called()) or \
            any("math." in t for t in self.helper_code())
        return (["import math"] if uses_math else []) + [self.b.imports, "", ""]

    def helper_code(self) -> list[str]:
        """Definitions of the helpers the code calls, each once, dependencies first."""
        order: list[str] = []

        def visit(n: str) -> None:
            if n not in order:
                for m in HELPER_NEEDS.get(n, ()):
                    visit(m)
                order.append(n)
        for n in sorted(n for n in self.called() if n in HELPERS):
            visit(n)
        texts = [HELPERS[n] for n in order]
        return [x for t in dict.fromkeys(texts) for x in (t, "", "")]


    def second_lines(self, form: str, rops: bool = True) -> list[str]:
        """The tangents of the forward nodes, then (with ``rops``) ℛ{∂L/∂t} from the loss
        back."""
        s, p = self.d.second, printer(self.d)

        def tangent(name: str) -> Callable[[tuple[Any, ...]], str]:
            return lambda idx: p.tangent(name, p.index_list(idx))

        def rop(name: str) -> Callable[[tuple[Any, ...]], str]:
            return lambda idx: p.rop(name, p.index_list(idx))
        lines = []
        for t, f in s.tangents:
            lines += self.form_lines(t.name, f, form, self.names.tan[t.name], tangent(t.name))
        for t, f in (s.rops + tuple((t, f) for t, f in s.hvp if f is not None)) * rops:
            lines += self.form_lines(t.name, f, form, self.names.rop[t.name], rop(t.name))
        return lines

    def hessian_lines(self, h: Any, form: str, part: bool | None = None) -> list[str]:
        """``h_x_y = <code>`` for one Hessian block, shaped x's shape + y's, compiled from
        its printed matrix form (the index form where it has none, or with 'index');
        ``part``: the block of that part of the Gauss-Newton split (True: GN), ``gn_x_y``."""
        x, y, f = h.x, h.y, h.form
        nx = len(x.shape)
        target = self.names.hessian(x.name, y.name, _PREFIX[part])
        # a literal 1 axis is kept: the block is shaped x's shape + y's, as documented
        sizes = [P.num(1) if n == 1 else self.comp.dim(n) for n in tuple(x.shape) + tuple(y.shape)]
        if f is None:
            return self.assign(target, P.binop("*", P.num(0), self.b.ones(tuple(sizes))))

        def left(idx: tuple[Any, ...]) -> str:
            p = printer(self.d)
            s = p.hessian(x.name, p.index_list(idx[:nx]), y.name, p.index_list(idx[nx:]))
            return s if part is None else p.split_part(part, s)
        comment: list[str] = []
        if form == "matrix" and f.matrix is not None:
            if self.comments:
                p = printer(self.d)
                wheres = "; ".join(p.where(f.matrix, w.lhs, w.rhs) for w in f.wheres)
                comment = [f"# {left(())} = {p.matrix(f.matrix)}" +
                           (f", where {wheres}" if wheres else "")]
            py = self.comp.matrix(f.matrix, f.wheres).py
            comment += self.clause_lines()
        elif form == "matrix" and h.kron:
            return self._kron_lines(h, target, left)
        else:
            if self.comments:
                comment = [f"# {left(f.idx)} = {index_rhs(self.d, f)}"]
            py = self.index.compile(f.index, f.idx, tuple(x.shape) + tuple(y.shape))
        if _is_number(py):
            py = P.binop("*", py, self.b.ones(tuple(sizes)))
        return comment + self.assign(target, self.b.reshape_to(py, sizes))

    def _kron_lines(self, h: Any, target: str,
                    lhs: Callable[[tuple[Any, ...]], str]) -> list[str]:
        """A block of two matrices from its Kronecker form Σ A ⊗ B on the column-major
        vec: kron(A, B)[j M + i, l M + k] = A_jl B_ik is H[i, j, k, l] once reshaped to
        (N, M, N, M) and its axes swapped in pairs."""
        from .sheet import _compound
        p = printer(self.d) if self.comments else None
        head = lhs(()) if p is not None else ""  # the left side printed first, as ever
        text: list[str] = []
        py: P.Py | None = None
        for a, b in h.kron:
            if p is not None:
                sides = [p.matrix(f.matrix) for f in (a, b)]
                text.append(p.kron(*[p.paren(t) if _compound(f) else t
                                     for t, f in zip(sides, (a, b))]))
            term = self.b.kron(self.comp.matrix(a.matrix, a.wheres).py,
                               self.comp.matrix(b.matrix, b.wheres).py)
            py = term if py is None else P.binop("+", py, term)
        assert py is not None  # a Kronecker form has a term
        rows, cols = h.x.shape
        grid = self.b.reshape_to(py, [self.comp.dim(cols), self.comp.dim(rows),
                                      self.comp.dim(h.y.shape[1]), self.comp.dim(h.y.shape[0])])
        comment = [f"# {head} = {' + '.join(text)} (on vec, columns stacked)"] \
            if p is not None else []
        return comment + self.clause_lines() + \
            self.assign(target, self.b.permute(grid, (1, 0, 3, 2)))


# the variables' prefix of a Hessian block, and of the parts of its Gauss-Newton split
_PREFIX = {None: "h", True: "gn", False: "rest"}


def _is_number(py: P.Py) -> bool:
    return isinstance(py, P.Num) or isinstance(py, P.Unary) and isinstance(py.x, P.Num)


def _names(py: P.Py, out: set[str]) -> None:
    if isinstance(py, P.Name):
        out.add(py.id)
    for f in fields(py):
        v = getattr(py, f)
        for x in (v if isinstance(v, tuple) else (v,)):
            if isinstance(x, tuple):  # a keyword argument
                x = x[1]
            if isinstance(x, P.Py):
                _names(x, out)


def _doc(text: str) -> str:
    """User text (a spec's name or path) made safe inside a triple-quoted docstring."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def numpy_module(d: Any, *, source: str | None = None, form: str = "matrix",
                 sizes: dict[str, int] | None = None) -> str:
    """A self-contained module (NumPy only) with ``forward`` and ``gradients``.

    Each adjoint is compiled from its printed matrix form (from its index form where it has
    none), or with ``form='index'`` from its printed index form."""
    return numpy_parts(d, source=source, form=form, sizes=sizes).text()


def numpy_parts(d: Any, *, source: str | None = None, form: str = "matrix",
                sizes: dict[str, int] | None = None, internal: bool = False) -> PyModule:
    """:func:`numpy_module` in parts; ``internal``: the module ``verify`` compiles, without
    comments and with long sums added up in runs (``_Writer``)."""
    from .._version import __version__

    w = _Writer(d, Backend(), sizes, internal)
    fwd = w.forward_lines()
    bwd = w.backward_lines(d, form)
    dims = w.dim_lines()
    sig, unpack = w.signature()
    wrt = [t for t in d.graph.inputs if t.name in d.graph.wrt]
    which = "the matrix form (else the index form)" if form == "matrix" else "the index form"
    doc = [f'"""Backward pass of {_doc(d.name)}, generated by einderive {__version__}'
           f"{' from ' + _doc(source) if source else ''}.",
           "",
           f"Vectors are 1-d arrays; each adjoint is computed from {which} in its comment.",
           '"""', ""]
    forward = PyFunction("forward", sig, f"The loss {d.loss}, a float.",
                         tuple(unpack + dims + fwd), f"float({w.names.var[d.loss]})")
    shown = {a.name for a in d.adjoints}
    items = []
    for t in wrt:
        var = P.Name(w.names.var[t.name])
        grad = P.Name(w.names.adj[t.name]) if t.name in shown else w.b.zeros_like(var)
        items.append(f"{t.name!r}: {w.code(grad)}")
    if internal and form == "matrix":  # verify's reference for the adjoints' closed forms
        items += [f"{n!r}: {w.names.adj[n]}" for n in closed_adjoints(d)]
    gradients = PyFunction("gradients", sig,
                           f"The gradient of {d.loss} with respect to "
                           f"{', '.join(t.name for t in wrt)}, shaped like each input.",
                           tuple(unpack + dims + fwd + bwd), "{" + ", ".join(items) + "}")
    second = _second_functions(d, w, sig, unpack, fwd + bwd, form)
    # made last, written first: the imports and helpers that the code above calls
    return PyModule(tuple(doc + w.header() + w.helper_code()),
                    (forward, gradients, *second))


def _second_functions(d: Any, w: _Writer, sig: tuple[str, ...], unpack: list[str],
                      body: list[str], form: str) -> list[PyFunction]:
    """``hvp`` and ``hessian`` where derived and, with the Gauss-Newton split, each part:
    ``gnvp`` and ``hvp_rest``, ``gauss_newton`` and ``hessian_rest``."""
    s, out = d.second, []
    if s is None:
        return []
    gn = s.gauss_newton

    def add(make: Callable[..., PyFunction], *args: Any) -> None:
        with w.comp.scope():  # its where-clauses' variables are its own (``body``'s shared)
            out.append(make(d, w, sig, unpack, body, form, *args))
    if s.hvp:
        add(_hvp_function)
        if gn is not None:
            for name, part, blocks in (("gnvp", True, gn.hvp), ("hvp_rest", False, gn.rest_hvp)):
                add(_hvp_function, name, part, blocks)
    if s.hessian:
        add(_hessian_function)
        if gn is not None:
            for name, part, hs in (("gauss_newton", True, gn.hessian),
                                   ("hessian_rest", False, gn.rest_hessian)):
                add(_hessian_function, name, part, hs)
    return out


_WHAT = {None: "The Hessian", True: "The Gauss-Newton part J_fᵀ H_ℓ J_f of the Hessian",
         False: "The rest Σ_k ∂ℓ/∂f_k ∇²f_k of the Hessian (its part beside Gauss-Newton's)"}


def _hvp_function(d: Any, w: _Writer, sig: tuple[str, ...], unpack: list[str],
                  body: list[str], form: str, name: str = "hvp", part: bool | None = None,
                  blocks: Any = None) -> PyFunction:
    """``hvp(inputs..., v_x, ...)``: the blocks of (∇²L) v for the inputs ``x`` with a
    direction ``v_x``, forward over reverse (tangents, then ℛ{∂L/∂t} from the loss back);
    with ``part``, its part of the Gauss-Newton split, the ``blocks`` given."""
    # first: the dims it reads join those of the lines above; a part of the split reads
    # the tangents alone (its blocks are written back to them)
    second = w.second_lines(form, rops=part is None)
    p = printer(d)
    targets: dict[str, str] = {}

    def lhs(n: str, part: bool) -> Callable[[tuple[Any, ...]], str]:
        return lambda idx: p.split_part(part, p.rop(n, p.index_list(idx)))
    if part is not None:
        for t, f in blocks:
            if f is not None:
                targets[t.name] = w.names.block(t.name, _PREFIX[part])
                second += w.form_lines(t.name, f, form, targets[t.name], lhs(t.name, part))
    body = w.dim_lines() + body + second
    chosen = [t for t, _ in d.second.hvp]
    directions = [w.names.tan[t.name] for t in chosen]
    params: tuple[str, ...] = sig
    if sig == ("**tensors",):
        unpack = unpack + [f"{v} = tensors[{v!r}]" for v in directions]
    else:
        params += tuple(directions)
    doc = (f"{_WHAT[part]} of {d.loss} times the direction ({', '.join(directions)}), "
           f"in blocks shaped like {', '.join(t.name for t in chosen)}.")
    items = []
    for t, f in d.second.hvp if part is None else blocks:
        var = P.Name(w.names.var[t.name])
        target = w.names.rop[t.name] if part is None else targets.get(t.name, "")
        block = P.Name(target) if f is not None else w.b.zeros_like(var)
        items.append(f"{t.name!r}: {w.code(block)}")
    return PyFunction(name, params, doc, tuple(unpack + body), "{" + ", ".join(items) + "}")


def _hessian_function(d: Any, w: _Writer, sig: tuple[str, ...], unpack: list[str],
                      body: list[str], form: str, name: str = "hessian",
                      part: bool | None = None, hessians: Any = None) -> PyFunction:
    """``hessian(inputs...)``: every block ∂²L/∂x∂y, keyed (x, y), each shaped x's shape +
    y's (a block of two matrices is H[i, j, k, l] = ∂²L/∂W_ij∂W_kl); with ``part``, its
    part of the Gauss-Newton split, the blocks ``hessians``."""
    hs = d.second.hessian if part is None else hessians
    blocks = [line for h in hs for line in w.hessian_lines(h, form, part)]
    what = _WHAT[part][0].lower() + _WHAT[part][1:]
    doc = (f"Every block of {what} of {d.loss} in {', '.join(d.second.along)}, keyed (x, y), "
           f"shaped like x then y.")
    lines = unpack + w.dim_lines() + body + blocks
    items = [f"({h.x.name!r}, {h.y.name!r}): "
             f"{w.names.hessian(h.x.name, h.y.name, _PREFIX[part])}" for h in hs]
    return PyFunction(name, sig, doc, tuple(lines), "{" + ", ".join(items) + "}")


def torch_module(d: Any, *, full: Any = None, source: str | None = None) -> str:
    """A ``torch.autograd.Function`` whose backward is the derived one (generated text;
    einderive itself does not need PyTorch).  Its ``backward`` returns the derived gradient
    of every input, ``wrt`` or not (autograd may ask for any), so the module is written from
    ``full``, ``d`` derived with respect to every input (``api.torch_module`` derives it:
    code generation derives nothing); ``d`` itself when its ``wrt`` is every input."""
    from .._version import __version__

    full = d if full is None else full
    every = d.graph.differentiable
    if tuple(full.graph.wrt) != every:
        raise ValueError("torch_module needs a derivation with respect to every input "
                         "(einderive.api.torch_module makes one)")
    w = _Writer(full, Torch())
    fwd = w.forward_lines()
    bwd = w.backward_lines(full, "matrix")
    dims = w.dim_lines()
    inputs = full.graph.inputs
    args = ", ".join(w.names.var[t.name] for t in inputs)
    comma = "," if len(inputs) == 1 else ""
    cls = "".join(p.capitalize() for p in re.split(r"[^0-9A-Za-z]+", d.name) if p) or "Spec"
    cls = (cls if cls[0].isalpha() else "Spec" + cls) + "Function"
    ind, ind2 = "    ", "        "
    real = next(t for t in inputs if t.integer is None)  # an integer input's dtype is int64
    dtype = f"dtype = {w.names.var[real.name]}.dtype"
    shown = {a.name for a in full.adjoints}
    grads = []
    for k, t in enumerate(inputs):
        var = P.Name(w.names.var[t.name])
        g = P.binop("*", P.Name("grad_output"), P.Name(w.names.adj[t.name])) \
            if t.name in shown else w.b.zeros_like(var)
        grads.append(f"{w.code(g)} if ctx.needs_input_grad[{k}] else None,")
    second, w2 = _torch_second(d)
    out = [f'"""Backward pass of {_doc(d.name)} as a torch.autograd.Function, generated by '
           f"einderive {__version__}{' from ' + _doc(source) if source else ''}.",
           "",
           f"Use {cls}.apply({args}); the inputs are tensors (0-d for scalars).",
           "Each adjoint is computed from the matrix form (else the index form) in its comment;",
           "backward returns the gradient of every input that requires one."]
    if second:
        out.append("hvp (the Hessian times a direction) and hessian (its blocks), when "
                   "derived, are plain functions of tensors.")
    out += ['"""', ""]
    out += w.header() if w2 is None else _merged_header(w, w2)
    out.append(f"class {cls}(torch.autograd.Function):")
    out += [ind + "@staticmethod", ind + f"def forward(ctx, {args}):"]
    out += [ind2 + x for x in [dtype] + dims + fwd]
    out += [ind2 + f"ctx.save_for_backward({args}{comma})",
            ind2 + f"return {w.names.var[d.loss]}", ""]
    out += [ind + "@staticmethod", ind + "def backward(ctx, grad_output):"]
    out += [ind2 + f"{args}{comma} = ctx.saved_tensors", ind2 + dtype]
    out += [ind2 + x for x in dims + fwd + bwd]
    out += [ind2 + "return ("] + [ind2 + ind + g for g in grads] + [ind2 + ")"]
    return "\n".join(out + second) + "\n"


def _torch_second(d: Any) -> tuple[list[str], _Writer | None]:
    """``hvp`` and ``hessian`` as plain functions of torch tensors, written like NumPy's
    from ``d`` itself (its ``wrt``, not every input: the blocks are those derived)."""
    s = d.second
    if s is None or not (s.hvp or s.hessian):
        return [], None
    w = _Writer(d, Torch())
    fwd, bwd = w.forward_lines(), w.backward_lines(d, "matrix")
    sig, unpack = w.signature()
    real = next(t for t in d.graph.inputs if t.integer is None)  # eye() takes its dtype
    unpack = unpack + [f"dtype = {w.names.var[real.name]}.dtype"]
    functions = _second_functions(d, w, sig, unpack, fwd + bwd, "matrix")
    return [x for f in functions for x in ["", ""] + f.lines()], w


def _merged_header(a: _Writer, b: _Writer) -> list[str]:
    """The imports (and helpers) both writers' code calls, each once."""
    lines = [x for x in dict.fromkeys(a.header() + b.header()) if x]
    helpers = [x for x in dict.fromkeys(a.helper_code() + b.helper_code()) if x]
    return lines + ["", ""] + [x for t in helpers for x in (t, "", "")]


def printed_closed_forms(d: Any) -> list[tuple[str, Any]]:
    """(name, closed form) of every closed form ``--expand`` and the goldens print (one
    that differs from the chain form, as the renderers decide): each gradient's, then each
    other adjoint's (:func:`closed_adjoints`)."""
    gradients = [(g.name, g.closed) for g in d.gradients
                 if g.closed is not None and closed_differs(g)]
    others = set(closed_adjoints(d))
    return gradients + [(a.name, a.closed) for a in d.adjoints if a.name in others]


def closed_adjoints(d: Any) -> list[str]:
    """The adjoints, other than the gradients and the loss's, whose closed form prints: no
    finite difference checks them, so verify compares each with the backward pass's value
    of that adjoint (a wrong one reached a golden: multi-head attention's ∂L/∂V)."""
    skip = {d.loss} | {g.name for g in d.gradients}
    return [a.name for a in d.adjoints
            if a.name not in skip and a.closed is not None and closed_differs(a)]


def closed_forms_module(d: Any, sizes: dict[str, int] | None = None) -> str:
    """``closed_forms(**inputs)``, the dict of each adjoint whose closed form ``--expand``
    prints (one that differs from the chain form), for ``verify``: compiled from its matrix
    form, or from its index form where it has none.  One function runs the forward pass once
    for them all (a function per gradient would repeat it: code and time quadratic in the
    graph's size).  '' if there is none."""
    parts = closed_forms_parts(d, sizes)
    return parts.text() if parts is not None else ""


def closed_forms_parts(d: Any, sizes: dict[str, int] | None = None,
                       internal: bool = False) -> PyModule | None:
    """:func:`closed_forms_module` in parts; None for none.  ``internal`` as for
    :func:`numpy_parts`."""
    w = _Writer(d, Backend(), sizes, internal)
    shown = printed_closed_forms(d)
    if not shown:  # none printed: nothing more to prove
        return None
    lines = [x for name, f in shown
             for x in w.form_lines(name, f, "matrix", w.names.adj[name])]
    fwd = w.forward_lines()
    dims = w.dim_lines()
    sig, unpack = w.signature()
    result = "{" + ", ".join(f"{name!r}: {w.names.adj[name]}" for name, _ in shown) + "}"
    return PyModule(tuple(w.header() + w.helper_code()),
                    (PyFunction("closed_forms", sig, "", tuple(unpack + dims + fwd + lines),
                                result),))
