"""The library's front door: read a spec, derive, render, verify.

Each function is a thin composition of the pipeline's pure steps; the CLI
only parses arguments and calls these.  :func:`shown` gives a derivation the
behaviour the Python API documents (``einderive.derive``): it shows itself in
a terminal and a notebook, and its gradients and adjoints show their formulas.
The engine's objects hold values only; the showing is composed here, from
the renderers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from . import derivation as engine
from .errors import Loc, SpecError
from .render.notation import Notation
from .render.styles import Latex, Unicode


# -- the Python API's derivation ----------------------------------------------------------


class Derivation(engine.Derivation):
    """A derivation that shows itself: Rich in a terminal, typeset in a notebook; its
    :meth:`gradient` and :meth:`adjoint` show their formulas."""

    def gradient(self, name: str) -> ShownGradient:
        return ShownGradient(self, super().gradient(name))

    def adjoint(self, name: str) -> ShownAdjoint:
        return ShownAdjoint(self, super().adjoint(name))

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


def shown(d: engine.Derivation) -> Derivation:
    """``d`` as the Python API hands it out (the same values, shown)."""
    return Derivation(d.spec, d.graph, d.index, d.forward, d.adjoints, d.gradients, d.notes,
                      d.anon)


class Shown:
    """An adjoint or a gradient of a derivation, showing its formula: ``∂L/∂W = ∂L/∂z xᵀ``,
    then ``= closed form`` when that reads differently."""

    def __init__(self, d: engine.Derivation, item: engine.Adjoint | engine.Gradient):
        self.derivation = d
        self.item = item

    @property
    def name(self) -> str:
        return self.item.name

    @property
    def tensor(self) -> Any:
        return self.item.tensor

    @property
    def form(self) -> engine.Form | None:
        return self.item.form

    @property
    def closed(self) -> engine.Form | None:
        return self.item.closed

    def formula(self, style: type[Notation] = Unicode) -> str:
        from .render.sheet import item
        row = item(self.derivation, self.item, style)
        if row.formula is None:
            return f"{row.lhs} = 0"
        rhs = [f.rhs for f in (row.formula, row.closed) if f is not None]
        return " = ".join([row.formula.lhs, *dict.fromkeys(rhs)])  # closed only if it differs

    def __repr__(self) -> str:
        return f"<{type(self.item).__name__} {self.name}: {self.formula()}>"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.formula(Latex)}$"

    def _repr_markdown_(self) -> str:
        from .render.sheet import item
        row = item(self.derivation, self.item, Latex)
        wheres = _unique(w for f in (row.formula, row.closed) if f is not None for w in f.wheres)
        lines = [self.formula(Latex)] + [f"\\text{{where }} {w}" for w in wheres]
        body = " \\\\\n".join(lines)
        if len(lines) > 1:
            body = f"\\begin{{gathered}}\n{body}\n\\end{{gathered}}"
        return f"$$\n{body}\n$$\n"


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


class ShownAdjoint(Shown):
    """∂L/∂t, shown (:meth:`Derivation.adjoint`)."""

    item: engine.Adjoint

    @property
    def terms(self) -> tuple[Any, ...]:
        return tuple(self.item.terms)

    @property
    def edges(self) -> tuple[Any, ...]:
        return tuple(self.item.edges)


class ShownGradient(Shown):
    """grad(x), shown (:meth:`Derivation.gradient`), with its forms as strings."""

    item: engine.Gradient

    @property
    def zero(self) -> bool:
        return self.item.zero

    @property
    def index_form(self) -> str:
        """``∂L/∂z_i x_j``; ``0`` for a zero gradient."""
        from .render.sheet import item
        f = item(self.derivation, self.item).formula
        return f.index if f is not None else "0"

    @property
    def matrix_form(self) -> str:
        """``∂L/∂z xᵀ``; ``(no matrix form)`` where there is none, ``0`` for a zero gradient."""
        from .render.sheet import item
        f = item(self.derivation, self.item).formula
        if f is None:
            return "0"
        return f.matrix if f.matrix is not None else "(no matrix form)"

    @property
    def latex(self) -> str:
        r"""``\frac{\partial L}{\partial W} = …`` (the matrix form, else the index form)."""
        from .render.sheet import item
        row = item(self.derivation, self.item, Latex)
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


def render(d, fmt: str, *, latex_env: str = "per-node", standalone: bool = False,
           steps: bool = False, expand: bool = False, columns: int = 1) -> str:
    """``d`` in one of the machine formats (the terminal view is Rich's).

    Markdown and JSON always hold the closed forms, so ``expand`` changes
    only LaTeX; ``steps`` adds the chain rule to LaTeX, Markdown and JSON.
    LaTeX rows fit a one-column article, or with ``columns=2`` a two-column one."""
    if fmt == "latex":
        from .render.latex import fragment
        from .render.latex import standalone as document
        if standalone:
            env = "align*" if latex_env in ("per-node", "aligned") else latex_env
            return document(d, env=env, steps=steps, expand=expand, columns=columns)
        return fragment(d, env=latex_env, steps=steps, expand=expand, columns=columns)
    if fmt == "markdown":
        from .render.markdown import golden
        return golden(d, Path(d.spec.path).name if d.spec.path else d.name, steps=steps)
    if fmt == "json":
        from .render.json_out import document, dumps
        return dumps([document(d, steps=steps)])
    if fmt == "numpy":
        from .render.pymodule import numpy_module
        return numpy_module(d, source=_source(d))
    if fmt == "torch":
        return torch_module(d)
    raise ValueError(f"unknown format {fmt!r}")  # pragma: no cover - the CLI checks


def torch_module(d: engine.Derivation) -> str:
    """The PyTorch module of ``d``: its ``backward`` returns the gradient of every input
    (autograd may ask for any), so it is written from ``d`` derived with respect to every
    input - derived here, since code generation derives nothing."""
    from .record import replace
    from .render.pymodule import torch_module as module
    every = tuple(t.name for t in d.graph.inputs)
    full = d if tuple(d.graph.wrt) == every else \
        engine.derive(replace(d.graph, wrt=every), closed=False)
    return module(d, full=full, source=_source(d))


def _source(d) -> str | None:
    path = d.spec.path
    if not path or path.startswith("<"):
        return None
    return Path(path).as_posix()


def spec_files(paths) -> list[Path]:
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


def require_spec_files(paths) -> list[Path]:
    """``spec_files``, but naming no spec at all is a usage error (exit 2), not an empty pass."""
    files = spec_files(paths)
    if not files:
        raise SpecError("no spec files (*.yaml, *.yml) here", Loc(", ".join(map(str, paths))),
                        "name spec files, or folders that hold some")
    return files


def verify_files(paths, sizes: dict, seed: int, tol: float):
    """Verify every spec; returns (reports, spec errors, each located at its spec).

    ``sizes`` apply to the specs that have those dims; a name that is a dim of
    none of them is an error (a typo, not a size for some other spec)."""
    from .verify import verify
    derived, errors = [], []
    files = require_spec_files(paths) if tuple(paths) != ("-",) else ["-"]
    for path in files:
        try:
            derived.append(derive_file(path))
        except SpecError as exc:
            errors.append(_at(exc, path))
    if not errors:  # a dim may belong to a spec that could not be read
        _check_dims(sizes, derived)
    reports = []
    for d in derived:
        own = {k: v for k, v in sizes.items() if k in {n for n, _ in d.graph.dims}}
        try:
            reports.append(verify(d, own, seed, tol))
        except SpecError as exc:
            errors.append(_at(exc, d.spec.path))
    return reports, errors


def _check_dims(sizes: dict, derived: list) -> None:
    known = {n for d in derived for n, _ in d.graph.dims}
    unknown = [k for k in sizes if k not in known]
    if not unknown:
        return
    which = f"of {derived[0].spec.path}" if len(derived) == 1 else "of any of the specs"
    raise SpecError(f"--dims names '{unknown[0]}', which is not a dim {which}", None,
                    f"the dims are: {', '.join(sorted(known)) or 'none'}")


def _at(exc: SpecError, path) -> SpecError:
    """A spec's error without a place names the spec, so that one of many can be found."""
    if exc.loc is None:
        exc.loc = Loc(str(path))
    return exc
