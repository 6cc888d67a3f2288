"""The library's front door: read a spec, derive, render, verify.

Each function is a thin composition of the pipeline's pure steps; the CLI
only parses arguments and calls these.  :func:`shown` gives a derivation the
behaviour the Python API documents (``einderive.derive``): it shows itself in
a terminal and a notebook, and its gradients and adjoints show their formulas.
The engine's objects hold values only; the showing is composed here, from
the renderers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import derivation as engine
from .errors import Loc, SpecError
from .record import field, replace
from .render.notation import Notation
from .render.styles import Latex, Unicode

if TYPE_CHECKING:
    from .cost import CostTable
    from .graph import Graph
    from .render.pymodule import PyModule
    from .render.sheet import ItemRow
    from .verify import Plan, Report  # verify is imported only by verify(): derive stays light


# -- the Python API's derivation ----------------------------------------------------------


class Derivation(engine.Derivation):
    """A derivation that shows itself: Rich in a terminal, typeset in a notebook; its
    :meth:`gradient` and :meth:`adjoint` show their formulas."""

    def gradient(self, name: str) -> ShownGradient:
        g = super().gradient(name)
        return ShownGradient(g.tensor, g.form, g.closed, derivation=self)

    def adjoint(self, name: str) -> ShownAdjoint:
        a = super().adjoint(name)
        return ShownAdjoint(a.tensor, a.form, a.closed, a.terms, a.edges, derivation=self)

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from .render.terminal import rich_derivation
        yield from rich_derivation(self, console, options)

    def _repr_latex_(self) -> str:
        from .render.latex import document_body
        from .render.sheet import build
        return document_body(build(self, Latex), env="aligned")

    def _repr_markdown_(self) -> str:
        from .render.graph import mermaid
        from .render.markdown import notebook
        from .render.sheet import build
        return notebook(build(self, Latex), mermaid(self))

    def _repr_html_(self) -> str:
        """MathML and SVG, which a notebook shows typeset offline (no MathJax, no CDN)."""
        from .render.html import body
        return body(self)


def shown(d: engine.Derivation) -> Derivation:
    """``d`` as the Python API hands it out (the same values, shown)."""
    return Derivation(d.spec, d.graph, d.index, d.forward, d.adjoints, d.gradients, d.notes,
                      d.anon, d.anon_forms)


class _Shows:
    """How an adjoint or a gradient of the API's derivation shows its formula:
    ``∂L/∂W = ∂L/∂z xᵀ``, then ``= closed form`` when that reads differently."""

    derivation: engine.Derivation

    def _row(self, style: type[Notation] = Unicode) -> ItemRow:
        from .render.sheet import item
        it = self
        assert isinstance(it, (engine.Adjoint, engine.Gradient))
        return item(self.derivation, it, style)

    def formula(self, style: type[Notation] = Unicode) -> str:
        row = self._row(style)
        if row.formula is None:
            return f"{row.lhs} = 0"
        rhs = [f.rhs for f in (row.formula, row.closed) if f is not None]
        return " = ".join([row.formula.lhs, *dict.fromkeys(rhs)])  # closed only if it differs

    def __repr__(self) -> str:
        kind = "Adjoint" if isinstance(self, engine.Adjoint) else "Gradient"
        return f"<{kind} {self._row().name}: {self.formula()}>"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.formula(Latex)}$"

    def _repr_markdown_(self) -> str:
        row = self._row(Latex)
        wheres = dict.fromkeys(w for f in (row.formula, row.closed) if f is not None
                               for w in f.wheres)
        lines = [self.formula(Latex)] + [f"\\text{{where }} {w}" for w in wheres]
        body = " \\\\\n".join(lines)
        if len(lines) > 1:
            body = f"\\begin{{gathered}}\n{body}\n\\end{{gathered}}"
        return f"$$\n{body}\n$$\n"


class ShownAdjoint(_Shows, engine.Adjoint):
    """∂L/∂t that shows its formula (:meth:`Derivation.adjoint`)."""

    derivation: engine.Derivation = field(kw_only=True, compare=False)


class ShownGradient(_Shows, engine.Gradient):
    """grad(x) that shows its formula (:meth:`Derivation.gradient`), with its forms as
    strings."""

    derivation: engine.Derivation = field(kw_only=True, compare=False)

    @property
    def index_form(self) -> str:
        """``∂L/∂z_i x_j``; ``0`` for a zero gradient."""
        f = self._row().formula
        return f.index if f is not None else "0"

    @property
    def matrix_form(self) -> str:
        """``∂L/∂z xᵀ``; ``(no matrix form)`` where there is none, ``0`` for a zero gradient."""
        f = self._row().formula
        if f is None:
            return "0"
        return f.matrix if f.matrix is not None else "(no matrix form)"

    @property
    def latex(self) -> str:
        r"""``\frac{\partial L}{\partial W} = …`` (the matrix form, else the index form)."""
        row = self._row(Latex)
        if row.formula is None:
            return f"{row.lhs} = 0"
        return f"{row.formula.lhs} = {row.formula.rhs}"


# -- the CLI's steps -----------------------------------------------------------------------


def derive_file(path: str | Path, closed: bool = True) -> engine.Derivation:
    """Read, check and derive one spec file (``-`` is standard input)."""
    from .derivation import derive
    from .spec import load
    spec = load(path)
    try:
        return derive(spec, closed)
    except RecursionError:
        raise SpecError("the spec is too deeply nested to derive", None,
                        "split long expressions over several forward items") from None


def render(d: engine.Derivation, fmt: str, *, latex_env: str = "per-node", standalone: bool = False,
           steps: bool = False, expand: bool = False, columns: int = 1,
           cost: CostTable | None = None, only: Sequence[str] = (),
           nodes: Sequence[str] = (), spec_ref: str | None = None) -> str:
    """``d`` in one of the machine formats (the terminal view is Rich's).

    Markdown, JSON and HTML always hold the closed forms, so ``expand`` changes
    only LaTeX; ``steps`` adds the chain rule to LaTeX, Markdown, JSON and HTML.
    LaTeX rows fit a one-column article, or with ``columns=2`` a two-column one.
    ``cost`` (a :func:`cost_table`) adds the cost section to Markdown and JSON.
    ``only`` (sections ``forward``, ``gradients``, ``steps``; forms ``index``, ``matrix``)
    and ``nodes`` select what LaTeX, Markdown and JSON show; an unknown node is a
    :class:`SpecError` whose hint lists the tensors.  ``spec_ref`` names the spec in the
    Markdown golden (its path from the golden's folder, as ``check`` writes it); else
    its file name."""
    from .render.sheet import Selection
    sel = Selection(tuple(only), tuple(nodes)) if only or nodes else None
    if sel is not None and fmt in ("numpy", "torch"):
        raise ValueError("--only and --node select what is printed, not generated code")
    if fmt == "latex":
        from .render import latex
        if standalone:
            env = "align*" if latex_env in ("per-node", "aligned") else latex_env
            return latex.standalone(d, env=env, steps=steps, expand=expand, columns=columns,
                                    selection=sel)
        return latex.fragment(d, env=latex_env, steps=steps, expand=expand, columns=columns,
                              selection=sel)
    if fmt == "markdown":
        from .render.markdown import golden
        ref = spec_ref or (Path(d.spec.path).name if d.spec.path else d.name)
        return golden(d, ref, steps=steps, cost=cost, selection=sel)
    if fmt == "json":
        from .render.json_out import document, dumps
        return dumps([document(d, steps=steps, cost=cost, selection=sel)])
    if fmt == "html":
        from .render.html import page
        return page(d, steps=steps)
    if fmt == "numpy":
        from .render.pymodule import numpy_module
        return numpy_module(d, source=_source(d))
    if fmt == "torch":
        return torch_module(d)
    raise ValueError(f"unknown format {fmt!r}")  # pragma: no cover - the CLI checks


def second_order(d: engine.Derivation, tangent: str | None = None,
                 hvp: str | None = None, hessian: str | None = None,
                 gauss_newton: bool = False) -> engine.Derivation:
    """``d`` with its tangents (``tangent``), its Hessian-vector product (``hvp``) or its
    Hessian (``hessian``, with the product it is read from) along the inputs named in a
    comma-separated list ('' or '*': every ``wrt`` input); ``gauss_newton`` splits the
    product (and the Hessian) into the Gauss-Newton part and the rest."""
    if tangent is None and hvp is None and hessian is None:
        return d
    from .derivation import with_second
    option, given = ("--hessian", hessian) if hessian is not None else \
        ("--hvp", hvp) if hvp is not None else ("--tangent", tangent)
    from .hessian import BLOCK_LIMIT, BlockTooLarge
    along = _inputs_named(d, option, given or "")
    try:
        return with_second(d, along, option != "--tangent", option == "--hessian",
                           gauss_newton and option != "--tangent")
    except BlockTooLarge as e:
        raise SpecError(
            f"{option}: the block of {e.x}, written out in index form, passes "
            f"{BLOCK_LIMIT:,} nodes: too large to print whole (it grows with the paths "
            f"from {e.x} to the loss)", None,
            "--hvp prints the product (∇²L) v node by node, which stays small; or name "
            "inputs nearer the loss after --hessian" if option == "--hessian" else
            "without --gauss-newton, --hvp prints the product node by node, which stays "
            "small") from None


def _inputs_named(d: engine.Derivation, option: str, given: str) -> tuple[str, ...]:
    names = [n.strip() for n in given.split(",") if n.strip()]
    if not names or names == ["*"]:
        return tuple(d.graph.wrt)
    # a Hessian-vector product is the loss's second derivative in the inputs it is derived by
    by_loss = option in ("--hvp", "--hessian")
    inputs = list(d.graph.wrt) if by_loss else \
        [t.name for t in d.graph.inputs if t.integer is None]  # an index does not move
    what = "an input that the loss is derived by (wrt)" if by_loss else \
        "an input with values that can move (not integer)"
    for n in names:
        if n not in inputs:
            raise SpecError(f"{option} names '{n}', which is not {what} of {d.name}", None,
                            f"those are: {', '.join(inputs)}")
    return tuple(dict.fromkeys(names))


def cost_table(d: engine.Derivation, sizes: dict[str, int] | None = None,
               dtype: str = "fp32") -> CostTable:
    """What ``d``'s backward pass costs (FLOPs, saved tensors, recomputation), counted
    symbolically and at ``sizes`` (default: the spec's); a dim ``d`` lacks is an error."""
    from .cost import cost, table
    if sizes:
        _check_dims(sizes, [d.graph])
    return table(cost(d, sizes), dtype)


def render_cost(d: engine.Derivation, t: CostTable, fmt: str) -> str:
    """``d``'s cost table ``t`` alone (``einderive cost``): text, markdown or json."""
    from .render import cost as C
    if fmt == "markdown":
        return C.markdown_document(t, C.anon_labels(d), C.anon_definitions(d))
    if fmt == "json":
        from .render.json_out import dumps
        return dumps([C.json_document(t, C.anon_labels(d), C.anon_definitions(d))])
    return C.text(t, C.anon_labels(d), C.anon_definitions(d))


def torch_module(d: engine.Derivation) -> str:
    """The PyTorch module of ``d``: its ``backward`` returns the gradient of every input
    (autograd may ask for any), so it is written from ``d`` derived with respect to every
    input - derived here, since code generation derives nothing."""
    from .render.pymodule import torch_module as module
    every = d.graph.differentiable
    full = d if tuple(d.graph.wrt) == every else \
        engine.derive(replace(d.graph, wrt=every), closed=False)
    return module(d, full=full, source=_source(d))


def golden_marker() -> str:
    """The first words of every golden (``check`` finds orphaned goldens by them)."""
    from .render.markdown import MARKER
    return MARKER


def golden_document(d: engine.Derivation, spec_ref: str, cost: bool = False) -> str:
    """The golden Markdown of ``d``, naming its spec ``spec_ref`` (``einderive check``);
    ``cost`` holds the cost section too (for a golden that has one)."""
    from .render.markdown import golden
    return golden(d, spec_ref, cost=cost_table(d) if cost else None)


def _source(d: engine.Derivation) -> str | None:
    path = d.spec.path
    if not path or path.startswith("<"):
        return None
    return Path(path).as_posix()


def spec_files(paths: Iterable[str | Path]) -> list[Path]:
    """Spec files named, and those in the folders named (``*.yaml``, ``*.yml``), sorted."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = [f for f in path.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file()
                     and not any(part.startswith(".") for part in f.relative_to(path).parts)]
            out += sorted(found, key=lambda f: f.as_posix())
        else:
            out.append(path)
    return out


def require_spec_files(paths: Iterable[str | Path]) -> list[Path]:
    """``spec_files``, but naming no spec at all is a usage error (exit 2), not an empty pass."""
    files = spec_files(paths)
    if not files:
        raise SpecError("no spec files (*.yaml, *.yml) here", Loc(", ".join(map(str, paths))),
                        "name spec files, or folders that hold some")
    return files


class _Codegen:
    """What ``verify`` compiles and prints, from the renderers (:class:`verify.Codegen`)."""

    def module(self, d: engine.Derivation, form: str, sizes: dict[str, int]) -> PyModule:
        from .render.pymodule import numpy_parts
        return numpy_parts(d, form=form, sizes=sizes, internal=True)

    def closed_forms(self, d: engine.Derivation, sizes: dict[str, int]) -> PyModule | None:
        from .render.pymodule import closed_forms_parts
        return closed_forms_parts(d, sizes, internal=True)

    def closed_adjoints(self, d: engine.Derivation) -> list[str]:
        from .render.pymodule import closed_adjoints
        return closed_adjoints(d)

    def formula(self, d: engine.Derivation, expr: Any) -> str:
        from .render.text import printer
        return printer(d).index(expr, ())


CODEGEN = _Codegen()


def verify(d: engine.Derivation, sizes: dict[str, int] | None = None, seed: int = 0,
           tol: float | None = None) -> Report:
    """Compare each printed form of each gradient of ``d`` with central finite differences
    (see :mod:`einderive.verify`); ``tol`` None is :data:`einderive.verify.DEFAULT_TOL`."""
    from .verify import DEFAULT_TOL
    from .verify import verify as run
    return run(d, sizes, seed, DEFAULT_TOL if tol is None else tol, codegen=CODEGEN)


def verify_files(paths: Sequence[str | Path], sizes: dict[str, int], seed: int,
                 tol: float, hvp: str | None = None, hessian: str | None = None,
                 gauss_newton: bool = False) -> tuple[list[Report], list[SpecError]]:
    """Verify every spec; returns (reports, spec errors, each located at its spec).

    ``sizes`` apply to the specs that have those dims; a name that is a dim of
    none of them is an error (a typo, not a size for some other spec).  ``hvp`` (as
    ``derive --hvp``) also checks the Hessian-vector product, ``hessian`` each block of
    the Hessian too.  Each spec is derived, its checks planned and its derivation let go
    before the next (:func:`einderive.verify.prepare`): the checks run on the plans."""
    from .verify import DEFAULT_TOL, check

    errors: list[SpecError] = []
    planned: list[tuple[Path, Plan | SpecError]] = []
    graphs: list[Graph] = []
    files = require_spec_files(paths) if tuple(paths) != ("-",) else [Path("-")]
    for path in files:
        try:
            plan = _planned(path, sizes, hvp, hessian, gauss_newton)
        except SpecError as exc:
            errors.append(_at(exc, path))
            continue
        graphs.append(plan[0])
        planned.append((path, plan[1]))
    if not errors:  # a dim may belong to a spec that could not be read
        _check_dims(sizes, graphs)
    reports: list[Report] = []
    for path, p in planned:
        if isinstance(p, SpecError):
            errors.append(p)
        else:
            report = check(p, seed, DEFAULT_TOL if tol is None else tol)
            reports.append(replace(report, path=path.as_posix()))
    return reports, errors


def _planned(path: Path, sizes: dict[str, int], hvp: str | None, hessian: str | None,
             gauss_newton: bool) -> tuple[Graph, Plan | SpecError]:
    """(graph, plan) of one spec: its derivation's checks planned, or the usage error
    planning them found (reported after every spec's own errors); the derivation itself
    dies with this call, and the caches that would keep its trees are emptied
    (:mod:`einderive.caches`).  A spec that cannot be derived raises."""
    import gc

    from .caches import release
    from .verify import prepare

    d = second_order(derive_file(path), hvp=hvp, hessian=hessian, gauss_newton=gauss_newton)
    own = {k: v for k, v in sizes.items() if k in {n for n, _ in d.graph.dims}}
    graph = d.graph
    try:
        plan: Plan | SpecError = prepare(d, own, CODEGEN)
    except SpecError as exc:
        plan = _at(exc, d.spec.path)
    del d
    release()
    # the derivation's reference cycles (closures over its trees: some 170k objects on a
    # 512-branch fan-out, derived with the collector slowed) are freed now, not after NumPy
    gc.collect()
    return graph, plan


def _check_dims(sizes: dict[str, int], graphs: list[Graph]) -> None:
    known = {n for g in graphs for n, _ in g.dims}
    unknown = [k for k in sizes if k not in known]
    if not unknown:
        return
    which = f"of {graphs[0].spec.path}" if len(graphs) == 1 else "of any of the specs"
    raise SpecError(f"--dims names '{unknown[0]}', which is not a dim {which}", None,
                    f"the dims are: {', '.join(sorted(known)) or 'none'}")


def _at(exc: SpecError, path: str | Path | None) -> SpecError:
    """A spec's error without a place names the spec, so that one of many can be found."""
    if exc.loc is None:
        exc.loc = Loc(str(path))
    return exc
