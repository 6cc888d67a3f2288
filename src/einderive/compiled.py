"""Generated functions run a piece at a time: how ``verify`` runs the code it generates.

CPython's compiler needs some 80 bytes per character of the unit it compiles (the parse
tree and the compiler's blocks of a whole function at once): the ``gradients`` of a
512-layer chain, 260 kB of index-form einsums, took 20 MiB for a moment, more than the
derivation itself.  So each generated function's body, a straight run of assignments, is
compiled in pieces of at most ``PIECE`` characters, each the body of a function whose
names are all global, and the pieces are called in turn with one namespace per call as
their globals: the same statements in the same order, the module's imports and helpers
beside them, and the returned expression read there at the end.

The code run here is einderive's own, generated from its trees (checked identifiers and
numbers only); nothing a user wrote is compiled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import CodeType, FunctionType
from typing import Any, Protocol

PIECE = 8_000  # characters compiled at once: ~0.7 MiB of the compiler's memory
# terms added in one statement: a piece is cut between statements, and one that adds up a
# 512-branch fan-out (64 kB of einsums) took the compiler 8 MiB; the module's writer adds a
# longer sum up in runs (render.pymodule, pyexpr.split_sums)
TERMS = 32


class Function(Protocol):
    """One generated function in parts (``render.pymodule.PyFunction``)."""

    @property
    def name(self) -> str: ...
    @property
    def params(self) -> tuple[str, ...]: ...  # names, and '**tensors' for the rest
    @property
    def body(self) -> tuple[str, ...]: ...  # whole statements and comments, unindented
    @property
    def result(self) -> str: ...  # the returned expression


class Module(Protocol):
    """A generated module in parts (``render.pymodule.PyModule``)."""

    @property
    def head(self) -> tuple[str, ...]: ...  # docstring, imports, helpers
    @property
    def functions(self) -> tuple[Function, ...]: ...


def load(module: Module, label: str) -> dict[str, Callable[..., Any]]:
    """Each function of ``module``, by name, ready to be called with keyword arguments.

    The head (imports, helpers) is imported from a temporary file, as a user would."""
    import importlib.util
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="einderive-verify-") as tmp:
        path = Path(tmp) / f"{label}.py"
        path.write_text("\n".join(module.head) + "\n", encoding="utf-8")
        spec = importlib.util.spec_from_file_location(f"einderive_generated_{label}", path)
        assert spec is not None and spec.loader is not None  # a .py file always has both
        head = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(head)
    namespace = dict(vars(head))
    return {f.name: Pieces(f, namespace, f"<einderive {label}.{f.name}>")
            for f in module.functions}


def pieces(lines: Sequence[str], size: int | None = None) -> list[str]:
    """The lines joined into texts of at most ``size`` characters (``PIECE``), split
    between lines; a longer line is a text of its own."""
    size = PIECE if size is None else size
    out: list[str] = []
    current: list[str] = []
    length = 0
    for line in lines:
        if current and length + len(line) > size:
            out.append("\n".join(current) + "\n")
            current, length = [], 0
        current.append(line)
        length += len(line) + 1
    if current:
        out.append("\n".join(current) + "\n")
    return out


def _function(lines: list[str], filename: str, result: str = "") -> CodeType:
    """The code of a function without parameters whose body is ``lines`` (or ``return
    result``), every name it reads or writes global: run with a call's namespace as its
    globals, it reads what the pieces before it wrote and writes what the pieces after
    it read."""
    text, mode = (result, "eval") if result else ("\n".join(lines) + "\n", "exec")
    names = compile(text, filename, mode).co_names
    lines = [f"return {result}"] if result else lines
    body = ([f"    global {', '.join(names)}"] if names else []) + ["    " + x for x in lines]
    module = compile("def piece():\n" + "\n".join(body + ["    pass"]) + "\n", filename,
                     "exec")
    return next(c for c in module.co_consts if isinstance(c, CodeType))


class Pieces:
    """A generated function compiled in pieces; called as the function would be."""

    def __init__(self, f: Function, namespace: dict[str, Any], filename: str) -> None:
        self.name = f.name
        self.names = tuple(p for p in f.params if not p.startswith("**"))
        self.rest = next((p[2:] for p in f.params if p.startswith("**")), None)
        self.namespace = namespace
        self.pieces = tuple(_function(text.splitlines(), filename) for text in pieces(f.body))
        self.result = _function([], filename, f.result)

    def __call__(self, /, **kwargs: Any) -> Any:
        scope = dict(self.namespace)
        scope.update(self._bind(kwargs))
        for piece in self.pieces:
            FunctionType(piece, scope)()
        return FunctionType(self.result, scope)()

    def _bind(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The parameters' values, refused as Python refuses a call that does not fit."""
        missing = [p for p in self.names if p not in kwargs]
        if missing:
            raise TypeError(f"{self.name}() missing argument {missing[0]!r}")
        bound = {p: kwargs[p] for p in self.names}
        rest = {k: v for k, v in kwargs.items() if k not in bound}
        if self.rest is not None:
            bound[self.rest] = rest
        elif rest:
            raise TypeError(f"{self.name}() got an unexpected argument {next(iter(rest))!r}")
        return bound
