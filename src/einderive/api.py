"""The library's front door for the CLI: read a spec, derive, render, verify.

Each function is a thin composition of the pipeline's pure steps; the CLI
only parses arguments and calls these.
"""

from __future__ import annotations

from pathlib import Path

from .errors import SpecError


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


def render(d, fmt: str, *, latex_env: str = "aligned", standalone: bool = False,
           steps: bool = False, expand: bool = False) -> str:
    """``d`` in one of the machine formats (the terminal view is Rich's)."""
    if fmt == "latex":
        from .render.latex import fragment
        from .render.latex import standalone as document
        if standalone:
            env = "align*" if latex_env == "aligned" else latex_env
            return document(d, env=env, steps=steps, expand=expand)
        return fragment(d, env=latex_env, steps=steps, expand=expand)
    if fmt == "markdown":
        from .render.markdown import golden
        return golden(d, Path(d.spec.path).name if d.spec.path else d.name)
    if fmt == "json":
        from .render.json_out import document, dumps
        return dumps([document(d)])
    if fmt == "numpy":
        from .render.pymodule import numpy_module
        return numpy_module(d, source=_source(d))
    if fmt == "torch":
        from .render.pymodule import torch_module
        return torch_module(d, source=_source(d))
    raise ValueError(f"unknown format {fmt!r}")  # pragma: no cover - the CLI checks


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


def verify_files(paths, sizes: dict, seed: int, tol: float):
    """Verify every spec; returns (reports, spec errors)."""
    from .verify import verify
    reports, errors = [], []
    for path in spec_files(paths) if paths != ("-",) else ["-"]:
        try:
            d = derive_file(path)
            reports.append(verify(d, sizes, seed, tol))
        except SpecError as exc:
            errors.append(exc)
    return reports, errors
