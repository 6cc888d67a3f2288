"""The library's front door for the CLI: read a spec, derive, render, verify.

Each function is a thin composition of the pipeline's pure steps; the CLI
only parses arguments and calls these.
"""

from __future__ import annotations

from pathlib import Path

from .errors import Loc, SpecError


def derive_file(path, closed: bool = True):
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
           steps: bool = False, expand: bool = False, columns: int = 1, cost=None) -> str:
    """``d`` in one of the machine formats (the terminal view is Rich's).

    Markdown and JSON always hold the closed forms, so ``expand`` changes
    only LaTeX; ``steps`` adds the chain rule to LaTeX, Markdown and JSON.
    LaTeX rows fit a one-column article, or with ``columns=2`` a two-column one.
    ``cost`` (a :func:`cost_table`) adds the cost section to Markdown and JSON."""
    if fmt == "latex":
        from .render.latex import fragment
        from .render.latex import standalone as document
        if standalone:
            env = "align*" if latex_env in ("per-node", "aligned") else latex_env
            return document(d, env=env, steps=steps, expand=expand, columns=columns)
        return fragment(d, env=latex_env, steps=steps, expand=expand, columns=columns)
    if fmt == "markdown":
        from .render.markdown import golden
        return golden(d, Path(d.spec.path).name if d.spec.path else d.name, steps=steps,
                      cost=cost)
    if fmt == "json":
        from .render.json_out import document, dumps
        return dumps([document(d, steps=steps, cost=cost)])
    if fmt == "numpy":
        from .render.pymodule import numpy_module
        return numpy_module(d, source=_source(d))
    if fmt == "torch":
        from .render.pymodule import torch_module
        return torch_module(d, source=_source(d))
    raise ValueError(f"unknown format {fmt!r}")  # pragma: no cover - the CLI checks


def cost_table(d, sizes: dict | None = None, dtype: str = "fp32"):
    """What ``d``'s backward pass costs (FLOPs, saved tensors, recomputation), counted
    symbolically and at ``sizes`` (default: the spec's); a dim ``d`` lacks is an error."""
    from .cost import cost, table
    if sizes:
        _check_dims(sizes, [d])
    return table(cost(d, sizes), dtype)


def render_cost(d, t, fmt: str) -> str:
    """``d``'s cost table ``t`` alone (``einderive cost``): text, markdown or json."""
    from .render import cost as C
    if fmt == "markdown":
        return C.markdown_document(t, C.anon_labels(d))
    if fmt == "json":
        from .render.json_out import dumps
        return dumps([C.json_document(t)])
    return C.text(t, C.anon_labels(d))


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
