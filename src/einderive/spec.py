"""Reading a spec: YAML text into frozen dataclasses, with line and column marks.

The YAML is read by ruamel.yaml's round-trip loader, which keeps the position
of every key and item, rejects duplicate keys and constructs no Python object
from a tag.  Nothing here knows SymPy; expressions stay text until
:mod:`einderive.expr` parses them.
"""

from __future__ import annotations

import functools
import keyword
import os
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import Loc, SpecError, did_you_mean
from .record import Record, field, replace

if TYPE_CHECKING:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

Dim = str | Literal[1]  # a dim's name, or the literal 1 of a length-1 axis
ValueLoc = Callable[[str], Loc]  # where the value of a top-level key is

TOP_KEYS = ("name", "description", "dims", "inputs", "forward", "loss", "wrt")
REQUIRED_KEYS = ("inputs", "forward", "loss")
MAX_BYTES = 4 * 1024 * 1024
MAX_LINE = 10_000
MAX_ITEMS = 5_000  # forward items: about a minute and a half of derivation


class DimDef(Record):
    """A dim defined from others: ``op`` is ``+``, ``-``, ``*`` or ``//`` of two operands,
    each a dim's name, a whole number, or another ``DimDef``.  ``//`` (also written ``/``)
    is exact division: it must divide at the sizes used (``Dh: D // H``, D = H·Dh), so
    the graph can take D // H as D/H (a reshape of D into H, Dh fits)."""

    op: str
    left: DimTerm
    right: DimTerm
    loc: Loc | None = field(default=None, repr=False, compare=False)  # where the op is


DimTerm = DimDef | str | int


class DimDecl(Record):
    name: str
    size: int | None  # a defined dim's size is computed from its definition's
    loc: Loc
    definition: DimTerm | None = None  # D: H * Dh; None for a dim with a size of its own
    text: str = ""  # the definition as written
    refs: tuple[tuple[str, Loc], ...] = field(default=(), repr=False, compare=False)
    # the graph's own dim for a stack's count (graph.count_dim, n2): printed as its number
    counted: bool = False


class InputDecl(Record):
    name: str
    shape: tuple[Dim, ...]
    positive: bool
    loc: Loc
    shape_loc: Loc
    symmetric: bool = False  # a square matrix equal to its transpose (A: {symmetric: true})
    spd: bool = False  # symmetric positive definite: verify draws it so, well conditioned
    integer: str | None = None  # integer-valued, 0 .. size(dim) - 1: token ids, class labels


class Assignment(Record):
    """One forward item: ``text`` as written; ``text_loc`` is where its first character is."""

    text: str
    text_loc: Loc


class Spec(Record):
    name: str
    path: str
    dims: tuple[DimDecl, ...]
    inputs: tuple[InputDecl, ...]
    forward: tuple[Assignment, ...]
    loss: str
    loss_loc: Loc
    wrt: tuple[str, ...]
    wrt_locs: tuple[Loc, ...]
    description: str = ""
    source_lines: tuple[str, ...] = field(default=(), repr=False, compare=False)



def normalize_name(name: str) -> str:
    """Names compare as Python compares identifiers: after NFKC normalisation."""
    return unicodedata.normalize("NFKC", name)


def check_identifier(name: object, loc: Loc, what: str) -> str:
    if isinstance(name, bool):  # under %YAML 1.1 a plain N, y, no, off is a boolean too
        raise SpecError(f"{what} must be a name, not {_describe(name)}", loc,
                        "YAML reads a plain true or false (and, under a %YAML 1.1 directive, "
                        "y, n, yes, no, on, off) as a boolean: quote the name, e.g. 'N'")
    if not isinstance(name, str):
        raise SpecError(f"{what} must be a name, not {_describe(name)}", loc,
                        "names are letters, digits and underscores, starting with a letter")
    name = normalize_name(name)
    if keyword.iskeyword(name):
        article = "an" if what[:1] in "aeiou" else "a"
        raise SpecError(f"'{name}' is a Python keyword and cannot name {article} {what}", loc,
                        f"choose another name, e.g. '{name}_'")
    if not name.isidentifier():
        raise SpecError(f"'{name}' is not a valid {what} name", loc,
                        "names are letters, digits and underscores, starting with a letter")
    return name


def read_text(path: str | os.PathLike[str]) -> tuple[str, str]:
    """Read a spec file (or ``-`` for standard input); returns (display path, text)."""
    import sys

    if str(path) == "-":
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
        shown = "<stdin>"
    else:
        p = Path(path)
        shown = str(path)
        try:
            if p.is_dir():
                raise SpecError("is a directory, not a spec file", Loc(shown),
                                "name a .yaml file, or use 'einderive check DIR' for a folder")
            with open(p, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
        except FileNotFoundError:
            raise SpecError("no such file", Loc(shown), "check the path") from None
        except IsADirectoryError:
            raise SpecError("is a directory, not a spec file", Loc(shown),
                            "name a .yaml file") from None
        except PermissionError:
            raise SpecError("cannot read the file: permission denied", Loc(shown),
                            "check the file's permissions") from None
        except OSError as exc:
            raise SpecError(f"cannot read the file: {exc.strerror or exc}", Loc(shown)) from None
    if len(data) > MAX_BYTES:
        raise SpecError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB", Loc(shown),
                        "a spec is a short YAML file; is this the right file?")
    if b"\x00" in data:
        raise SpecError("this is a binary file, not a YAML spec", Loc(shown),
                        "name a .yaml spec file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError("the file is not valid UTF-8", Loc(shown, line, col),
                        "save the spec as UTF-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return shown, text


def load(path: str | os.PathLike[str]) -> Spec:
    """Read and check a spec file."""
    shown, text = read_text(path)
    stem = "stdin" if shown == "<stdin>" else Path(shown).stem
    return loads(text, shown, default_name=stem)


def loads(text: str, path: str = "<string>", default_name: str = "spec") -> Spec:
    """Read and check a spec from text; ``path`` is only used in messages."""
    lines = text.splitlines()
    try:
        return _parse(text, path, default_name, lines)
    except SpecError as exc:
        raise exc.with_source(lines) from None


def _parse(text: str, path: str, default_name: str, lines: list[str]) -> Spec:
    for n, line in enumerate(lines, 1):
        if len(line) > MAX_LINE:
            raise SpecError(f"line {n} is {len(line)} characters long (the limit is {MAX_LINE})",
                            Loc(path, n, 1), "split long expressions over several forward items")
    doc = _load_yaml(text, path)
    if doc is None:
        raise SpecError("the spec is empty", Loc(path, 1, 1),
                        "a spec needs at least 'inputs', 'forward' and 'loss'; see the README")
    from ruamel.yaml.comments import CommentedMap

    if not isinstance(doc, CommentedMap):
        raise SpecError(f"a spec must be a mapping of keys to values, not {_describe(doc)}",
                        Loc(path, 1, 1), "start with 'inputs:', 'forward:' and 'loss:'")

    def key_loc(key: object) -> Loc:
        line, col = doc.lc.key(key)
        return Loc(path, line + 1, col + 1)

    def value_loc(key: str) -> Loc:
        line, col = doc.lc.value(key)
        return Loc(path, line + 1, col + 1)

    for key in doc:
        if key not in TOP_KEYS:
            hint = did_you_mean(str(key), TOP_KEYS, "keys") if isinstance(key, str) else None
            raise SpecError(f"unknown key {key!r}", key_loc(key),
                            hint or f"a spec's keys are: {', '.join(TOP_KEYS)}")
    for key in REQUIRED_KEYS:
        if key not in doc:
            raise SpecError(f"the spec has no '{key}'", Loc(path, 1, 1), _REQUIRED_HINTS[key])

    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise SpecError("'name' must be a non-empty string", value_loc("name"))
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise SpecError("'description' must be a string", value_loc("description"))

    dims = _parse_dims(doc, path, value_loc, lines)
    inputs = _parse_inputs(doc, path, value_loc, dims)
    forward = _parse_forward(doc, path, value_loc, lines)

    loss = doc["loss"]
    loss_loc = value_loc("loss")
    loss = check_identifier(loss, loss_loc, "loss")

    wrt, wrt_locs = _parse_wrt(doc, path, value_loc, inputs)
    return Spec(name=name.strip(), path=path, dims=dims, inputs=inputs, forward=forward,
                loss=loss, loss_loc=loss_loc, wrt=wrt, wrt_locs=wrt_locs,
                description=description.strip(), source_lines=tuple(lines))


_REQUIRED_HINTS = {
    "inputs": "add 'inputs:', a mapping of leaf tensor names to shapes, e.g. 'x: [N]'",
    "forward": "add 'forward:', a list of assignments such as '- z = W @ x'",
    "loss": "add 'loss: L' naming the scalar node to differentiate",
}


def _load_yaml(text: str, path: str) -> object:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    # the round-trip loader keeps line/column marks and builds no Python object from a tag;
    # its scanner and parser are the plain ones: the round-trip ones gather every comment
    # (a third of the load), and a spec's comments are never read
    reader = YAML(typ="rt")
    reader.allow_duplicate_keys = False
    reader.Reader = _printable_reader()
    reader.Scanner, reader.Parser, reader.Composer = _direct_stages()
    try:
        return reader.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Loc(path, mark.line + 1, mark.column + 1) if mark else Loc(path)
        problem = exc.problem or exc.context or "invalid YAML"
        if "duplicate key" in problem:
            key = problem.split('"')[1] if '"' in problem else "?"
            raise SpecError(f"duplicate key '{key}'", loc,
                            "each key may appear once; remove or rename one of them") from None
        hint = "check the indentation and the brackets around this place"
        if exc.context and exc.context_mark and exc.problem_mark and \
                exc.context_mark.line != exc.problem_mark.line:
            hint = f"{exc.context}, which starts on line {exc.context_mark.line + 1}"
        if "\\t" in problem:
            hint = "YAML does not allow tabs for indentation; use spaces"
        raise SpecError(f"invalid YAML: {problem}", loc, hint) from None
    except RecursionError:
        raise SpecError("the YAML is nested too deeply", Loc(path, 1, 1),
                        "a spec needs at most three levels of nesting") from None
    except YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", Loc(path, 1, 1)) from None


# The characters YAML forbids: ruamel's Reader finds them with the complement of the
# allowed ranges, a class up to U+10FFFF whose compilation costs ~25 ms, paid by every
# spec with one non-ASCII character (a σ in a comment).  The same set, listed directly,
# compiles in microseconds (tests/test_imports.py compares the two on every code point).
NOT_PRINTABLE = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]"


@functools.cache
def _printable_reader() -> type:
    """ruamel's Reader with the forbidden characters found by :data:`NOT_PRINTABLE`."""
    import re

    from ruamel.yaml.reader import Reader

    return type("Reader", (Reader,), {"NON_PRINTABLE": re.compile(NOT_PRINTABLE)})


@functools.cache
def _direct_stages() -> tuple[Any, Any, Any]:
    """ruamel's plain Scanner, Parser and Composer, each holding the stage before it (and
    the resolver) as an attribute, set once: ruamel finds them through properties that ask
    the loader on every use (``hasattr(loader, 'typ')``, a frame lookup), 8·10⁴ calls for
    a chain of 256 layers and a fifth of its load."""
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.parser import Parser
    from ruamel.yaml.scanner import Scanner

    def scanner_init(self: Any, loader: Any = None) -> None:
        self.reader, self.resolver = loader.reader, loader.resolver
        Scanner.__init__(self, loader)

    def processing_version(self: Any) -> Any:
        # the YAML version in force (a %YAML directive's, read from this scanner), as
        # ruamel's property finds it through the loader's resolver property once per
        # plain scalar: the resolver is the one the loader holds for the whole load
        return self.resolver.processing_version

    def parser_init(self: Any, loader: Any) -> None:
        self.scanner, self.resolver = loader.scanner, loader.resolver
        Parser.__init__(self, loader)

    def composer_init(self: Any, loader: Any = None) -> None:
        self.parser, self.resolver = loader.parser, loader.resolver
        Composer.__init__(self, loader)

    # a class attribute of the same name hides the base class's property, so that the
    # instance's own attribute is read
    return (type("Scanner", (Scanner,), {"reader": None, "__init__": scanner_init,
                                         "scanner_processing_version":
                                             property(processing_version)}),
            type("Parser", (Parser,), {"scanner": None, "resolver": None,
                                       "__init__": parser_init}),
            type("Composer", (Composer,), {"parser": None, "resolver": None,
                                           "__init__": composer_init}))


def _describe(value: object) -> str:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (CommentedMap, dict)):
        return "a mapping"
    if isinstance(value, (CommentedSeq, list)):
        return "a list"
    if isinstance(value, int):
        return f"the number {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    return type(value).__name__


def _item_loc(seq: CommentedSeq, index: int, path: str, fallback: Loc) -> Loc:
    try:
        line, col = seq.lc.item(index)
        return Loc(path, line + 1, col + 1)
    except (AttributeError, KeyError, TypeError):
        return fallback


def _map_locs(mapping: CommentedMap, key: object, path: str, fallback: Loc) -> tuple[Loc, Loc]:
    try:
        kl, kc = mapping.lc.key(key)
        vl, vc = mapping.lc.value(key)
        return Loc(path, kl + 1, kc + 1), Loc(path, vl + 1, vc + 1)
    except (AttributeError, KeyError, TypeError):
        return fallback, fallback


def _parse_dims(doc: CommentedMap, path: str, value_loc: ValueLoc,
                lines: list[str]) -> tuple[DimDecl, ...]:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if "dims" not in doc:
        return ()
    raw = doc["dims"]
    where = value_loc("dims")
    dims: list[DimDecl] = []
    if isinstance(raw, CommentedMap):
        for key, size in raw.items():
            kloc, vloc = _map_locs(raw, key, path, where)
            name = check_identifier(key, kloc, "dim")
            if isinstance(size, str):
                start = _text_start(vloc, lines, size)
                term, refs = _parse_dim_def(size, start, name)
                dims.append(DimDecl(name, None, kloc, term, " ".join(size.split()), refs))
                continue
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                raise SpecError(f"dim '{name}' must have a positive integer size, not "
                                f"{_describe(size)}", vloc,
                                "give a size such as 3 (used for numeric checks), a definition "
                                "from other dims such as 'H * Dh', or list dims without "
                                "sizes: dims: [M, N]")
            dims.append(DimDecl(name, int(size), kloc))
    elif isinstance(raw, CommentedSeq):
        for n, key in enumerate(raw):
            loc = _item_loc(raw, n, path, where)
            dims.append(DimDecl(check_identifier(key, loc, "dim"), None, loc))
    elif raw is None:
        return ()
    else:
        raise SpecError(f"'dims' must be a mapping of names to sizes or a list of names, not "
                        f"{_describe(raw)}", where, "e.g. dims: {M: 3, N: 4}")
    seen: dict[str, DimDecl] = {}
    for d in dims:
        if d.name in seen:
            raise SpecError(f"dim '{d.name}' is declared twice", d.loc,
                            "declare each dim once (names compare after Unicode NFKC "
                            "normalisation, as Python's do)")
        seen[d.name] = d
    _check_dim_defs(dims)
    given = {d.name: d.size for d in dims}
    sized = dim_sizes(tuple(dims), given)
    return tuple(replace(d, size=sized[d.name]) if d.definition is not None else d
                 for d in dims)


# -- dims defined from other dims ----------------------------------------------------

def _dim_ops() -> dict[type, str]:
    import ast

    # '/' is '//': a dim's division is exact, either way it is written
    return {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Div: "//"}


def _parse_dim_def(text: str, start: Loc,
                   name: str) -> tuple[DimTerm, tuple[tuple[str, Loc], ...]]:
    """``H * Dh``, ``T - K + 1``, ``D // H``: whole numbers and dims under ``+ - * //``
    (``/`` is ``//``, exact division either way), read by the
    ``ast`` module against that whitelist (nothing is evaluated).  Returns the definition
    and the names it reads with their places; whether they are dims is checked once every
    dim is read."""
    import ast

    source = text.strip()
    lead = len(text) - len(text.lstrip())
    hint = (f"define a dim from others with + - * // and whole numbers, e.g. "
            f"{name}: H * Dh or {name}: T - K + 1")
    if "\n" in source:
        raise SpecError(f"the definition of dim '{name}' must be on one line", start, hint)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        col = max((exc.offset or 1) - 1, 0)
        raise SpecError(f"dim '{name}' has an invalid definition {source!r}",
                        start.shifted(lead + col), hint) from None
    ops = _dim_ops()
    names: list[tuple[str, Loc]] = []

    def at(node: ast.expr) -> Loc:
        return start.shifted(lead + node.col_offset)

    def walk(node: ast.expr, depth: int) -> DimTerm:
        if depth > 50:
            raise SpecError(f"the definition of dim '{name}' is nested too deeply", at(node))
        if isinstance(node, ast.Name):
            names.append((normalize_name(node.id), at(node)))
            return normalize_name(node.id)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return int(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            left, right = walk(node.left, depth + 1), walk(node.right, depth + 1)
            if ops[type(node.op)] == "//" and right == 0:
                raise SpecError("division by zero", at(node.right), hint)
            return DimDef(ops[type(node.op)], left, right, at(node))
        raise SpecError(f"in the definition of dim '{name}': {ast.unparse(node)!r} is not a "
                        f"dim, a whole number or + - * // of them", at(node), hint)

    return walk(tree.body, 0), tuple(names)


def _check_dim_defs(dims: list[DimDecl]) -> None:
    """Every name a definition reads is a dim, and no dim is defined from itself."""
    known = {d.name: d for d in dims}
    for d in dims:
        for ref, loc in d.refs:
            if ref not in known:
                raise SpecError(f"unknown dim '{ref}' in the definition of dim '{d.name}'",
                                loc, did_you_mean(ref, known)
                                or f"declare it under 'dims', e.g. {ref}: 3")
    done: set[str] = set()
    for d in dims:
        path: list[str] = []

        def visit(name: str) -> None:
            if name in done:
                return
            if name in path:
                cycle = path[path.index(name):] + [name]
                raise SpecError(f"dim '{name}' is defined from itself: "
                                f"{' -> '.join(cycle)}", known[name].loc,
                                "give one of these dims a size of its own")
            path.append(name)
            for ref, _ in known[name].refs:
                visit(ref)
            path.pop()
            done.add(name)
        visit(d.name)


def dim_sizes(dims: tuple[DimDecl, ...], given: Mapping[str, int | None]) -> dict[str, int | None]:
    """Every dim's size from ``given`` (the sizes of the dims that have their own), the
    defined dims' computed from their definitions (None when one they read has none).
    A defined dim whose size comes out below 1 is an error at its declaration."""
    by_name = {d.name: d for d in dims}
    out: dict[str, int | None] = {}

    def size(name: str) -> int | None:
        if name in out:
            return out[name]
        d = by_name[name]
        if d.definition is None:
            out[name] = given.get(name)
            return out[name]
        _check_exact(d, d.definition, size)
        value = evaluate_dim(d.definition, size)
        if value is not None and value < 1:
            at = ", ".join(f"{k}={v}" for k, v in out.items() if k in dict(d.refs))
            raise SpecError(f"dim '{name}' = {d.text} is {value} at {at}; a dim's size must "
                            f"be at least 1", d.loc,
                            "give the dims it is defined from sizes that make it positive")
        out[name] = value
        return value
    for d in dims:
        size(d.name)
    return out


def _check_exact(d: DimDecl, term: DimTerm, size: Callable[[str], int | None]) -> None:
    """Each division in ``d``'s definition divides at these sizes: the graph reads
    ``D // H`` as D/H (a reshape of D into H, Dh then fits), so a remainder is an error
    at the division, with the sizes that leave it."""
    if not isinstance(term, DimDef):
        return
    _check_exact(d, term.left, size)
    _check_exact(d, term.right, size)
    if term.op != "//":
        return
    a, b = evaluate_dim(term.left, size), evaluate_dim(term.right, size)
    if a is None or b is None or (b != 0 and a % b == 0):
        return
    reads = dict.fromkeys(r for r, _ in d.refs)
    at = ", ".join(f"{r}={size(r)}" for r in reads)
    loc = term.loc or d.loc
    if b == 0:
        raise SpecError(f"dim '{d.name}' = {d.text} divides by zero at {at}", loc,
                        "give the dims it is defined from sizes that make the divisor positive")
    left, right = (_term_text(t) for t in (term.left, term.right))
    raise SpecError(f"dim '{d.name}' = {d.text} is not a whole number at {at}: "
                    f"{left} = {a} is not a multiple of {right} = {b}", loc,
                    f"a dim's division ('//' or '/') must be exact: make {left} a multiple "
                    f"of {right}")


def _term_text(term: DimTerm) -> str:
    """A part of a dim's definition as written (brackets where it is not a name or number)."""
    if not isinstance(term, DimDef):
        return str(term)
    return f"({_term_text(term.left)} {term.op} {_term_text(term.right)})"


def sizes_with(dims: tuple[DimDecl, ...], override: Mapping[str, int]) -> dict[str, int | None]:
    """Every dim's size with ``override`` given (by ``--dims``): a defined dim follows the
    dims it is defined from; a size given to it must be the one it follows."""
    given = {d.name: override.get(d.name, d.size) for d in dims if d.definition is None}
    out = dim_sizes(dims, given)
    for d in dims:
        if d.definition is not None and d.name in override and override[d.name] != out[d.name]:
            if isinstance(d.definition, int):  # P: "2", or the axis of two stacked pieces
                raise SpecError(f"--dims gives dim '{d.name}' the size {override[d.name]}, but "
                                f"it is the constant {d.definition}", None,
                                "a dim defined as a number keeps it (a stack's new axis is "
                                "as long as it has pieces); leave it out of --dims")
            refs = list(dict.fromkeys(r for r, _ in d.refs))
            raise SpecError(f"--dims gives dim '{d.name}' the size {override[d.name]}, but it "
                            f"is defined as {d.name} = {d.text} = {out[d.name]}", None,
                            f"give the dims it is defined from instead: "
                            f"{', '.join(refs) or 'none'}")
    return out


def evaluate_dim(term: DimTerm, leaf: Callable[[str], int | None]) -> int | None:
    """The whole number ``term`` is, each dim read by ``leaf`` (None if one is unknown)."""
    if isinstance(term, int):
        return term
    if isinstance(term, str):
        return leaf(term)
    a, b = evaluate_dim(term.left, leaf), evaluate_dim(term.right, leaf)
    if a is None or b is None:
        return None
    return a + b if term.op == "+" else a - b if term.op == "-" else \
        a * b if term.op == "*" else a // b


def _parse_shape(raw: object, loc: Loc, path: str, dims: tuple[DimDecl, ...],
                 owner: str) -> tuple[Dim, ...]:
    from ruamel.yaml.comments import CommentedSeq

    if not isinstance(raw, CommentedSeq):
        raise SpecError(f"the shape of '{owner}' must be a list of dims, not {_describe(raw)}",
                        loc, "e.g. [M, N] for a matrix, [N] for a vector, [] for a scalar")
    names = {d.name for d in dims}
    shape: list[Dim] = []
    for n, item in enumerate(raw):
        iloc = _item_loc(raw, n, path, loc)
        if item == 1 and not isinstance(item, bool):
            shape.append(1)
            continue
        if not isinstance(item, str):
            raise SpecError(f"the shape of '{owner}' must list dim names, not {_describe(item)}",
                            iloc, "declare sizes under 'dims' and use their names here")
        dim = normalize_name(item)
        if dim not in names:
            hint = did_you_mean(dim, names)
            raise SpecError(f"unknown dim '{dim}' in the shape of '{owner}'", iloc,
                            hint or f"declare it under 'dims', e.g. dims: {{{dim}: 3}}")
        shape.append(dim)
    return tuple(shape)


def _parse_inputs(doc: CommentedMap, path: str, value_loc: ValueLoc,
                  dims: tuple[DimDecl, ...]) -> tuple[InputDecl, ...]:
    from ruamel.yaml.comments import CommentedMap

    raw = doc["inputs"]
    where = value_loc("inputs")
    if not isinstance(raw, CommentedMap) or not raw:
        raise SpecError(f"'inputs' must be a non-empty mapping of names to shapes, not "
                        f"{_describe(raw)}", where, "e.g. inputs: {W: [M, N], x: [N]}")
    dim_names = {d.name for d in dims}
    out: list[InputDecl] = []
    seen: set[str] = set()
    for key, value in raw.items():
        kloc, vloc = _map_locs(raw, key, path, where)
        name = check_identifier(key, kloc, "input")
        if name in seen:
            raise SpecError(f"input '{name}' is declared twice", kloc,
                            f"'{key}' is read as '{name}' (names compare after Unicode NFKC "
                            "normalisation, as Python's do): give it another name"
                            if isinstance(key, str) and key != name
                            else "declare each input once")
        if name in dim_names:
            raise SpecError(f"'{name}' names both a dim and an input", kloc,
                            "give the tensor another name")
        seen.add(name)
        positive = symmetric = spd = False
        integer: str | None = None
        if isinstance(value, CommentedMap):
            for k in value:
                if k not in INPUT_KEYS:
                    kl, _ = _map_locs(value, k, path, vloc)
                    raise SpecError(f"unknown key {k!r} in input '{name}'", kl,
                                    did_you_mean(str(k), INPUT_KEYS)
                                    or "an input takes 'shape', 'positive', 'symmetric', "
                                       "'spd' and 'integer'")
            if "shape" not in value:
                raise SpecError(f"input '{name}' has no 'shape'", vloc,
                                f"e.g. {name}: {{shape: [N], positive: true}}")
            _, sloc = _map_locs(value, "shape", path, vloc)
            pos = value.get("positive", False)
            if not isinstance(pos, bool):
                _, ploc = _map_locs(value, "positive", path, vloc)
                raise SpecError(f"'positive' of input '{name}' must be true or false", ploc)
            positive = pos
            shape = _parse_shape(value["shape"], sloc, path, dims, name)
            symmetric = _square_flag(value, "symmetric", name, shape, path, vloc)
            spd = _square_flag(value, "spd", name, shape, path, vloc)
            integer = _integer_dim(value, name, path, vloc, dims)
            vloc = sloc
        else:
            shape = _parse_shape(value, vloc, path, dims, name)
        out.append(InputDecl(name, shape, positive, kloc, vloc, symmetric, spd, integer))
    return tuple(out)


INPUT_KEYS = ("shape", "positive", "symmetric", "spd", "integer")


def _integer_dim(value: CommentedMap, name: str, path: str, vloc: Loc,
                 dims: tuple[DimDecl, ...]) -> str | None:
    """``integer: V``: the input holds integers 0 .. V - 1 (token ids, class labels), V a dim."""
    if "integer" not in value:
        return None
    _, loc = _map_locs(value, "integer", path, vloc)
    raw = value["integer"]
    hint = (f"name the dim its values index, e.g. {name}: {{shape: [T], integer: V}} "
            "for values 0 .. V - 1")
    if not isinstance(raw, str):
        raise SpecError(f"'integer' of input '{name}' must name a dim, not {_describe(raw)}",
                        loc, hint)
    dim = normalize_name(raw)
    names = [d.name for d in dims]
    if dim not in names:
        raise SpecError(f"unknown dim '{dim}' in 'integer' of input '{name}'", loc,
                        did_you_mean(dim, names) or hint)
    for flag in ("positive", "symmetric", "spd"):
        if value.get(flag, False) is True:
            _, floc = _map_locs(value, flag, path, vloc)
            raise SpecError(f"an integer input cannot be '{flag}'", floc,
                            f"'{name}' holds indices 0 .. {dim} - 1; drop '{flag}'")
    return dim


# a flag an input may carry that only a square matrix can: what it means, for the hint
SQUARE_FLAGS = {"symmetric": "symmetric", "spd": "symmetric positive definite"}


def _square_flag(value: Any, key: str, name: str, shape: tuple[Any, ...], path: str,
                 vloc: Loc) -> bool:
    """``symmetric: true`` or ``spd: true``: a boolean, and only on a square matrix."""
    if key not in value:
        return False
    _, floc = _map_locs(value, key, path, vloc)
    flag = value[key]
    if not isinstance(flag, bool):
        raise SpecError(f"'{key}' of input '{name}' must be true or false", floc)
    if flag and (len(shape) != 2 or shape[0] != shape[1] or shape[0] == 1):
        what = (f"its shape has {len(shape)} ax{'is' if len(shape) == 1 else 'es'}"
                if len(shape) != 2 else f"not {shape[0]}×{shape[1]}")
        raise SpecError(f"'{key}' of input '{name}' needs a square matrix, {what}", floc,
                        f"a {SQUARE_FLAGS[key]} input is a square matrix, e.g. "
                        f"{name}: {{shape: [N, N], {key}: true}}")
    return flag


def symmetric_inputs(spec: Spec) -> frozenset[str]:
    """The names of the inputs declared symmetric (an spd input is symmetric too)."""
    return frozenset(i.name for i in spec.inputs if i.symmetric or i.spd)




def _parse_forward(doc: CommentedMap, path: str, value_loc: ValueLoc,
                   lines: list[str]) -> tuple[Assignment, ...]:
    from ruamel.yaml.comments import CommentedSeq

    raw = doc["forward"]
    where = value_loc("forward")
    if not isinstance(raw, CommentedSeq) or not raw:
        raise SpecError(f"'forward' must be a non-empty list of assignments, not "
                        f"{_describe(raw)}", where, "e.g. forward: ['z = W @ x', 'L = sum(z)']")
    if len(raw) > MAX_ITEMS:
        raise SpecError(f"'forward' has {len(raw)} items; einderive derives at most {MAX_ITEMS}",
                        where, "split the model into several specs")
    out: list[Assignment] = []
    for n, item in enumerate(raw):
        loc = _item_loc(raw, n, path, where)
        if not isinstance(item, str):
            raise SpecError(f"a forward item must be an assignment 'name = expression', not "
                            f"{_describe(item)}", loc,
                            "quote the item if YAML reads it as something else")
        out.append(Assignment(str(item), _text_start(loc, lines, str(item))))
    return tuple(out)


def _text_start(loc: Loc, lines: list[str], text: str) -> Loc:
    """Where the scalar's first character is: past an opening quote, and 0 for block scalars."""
    if not (0 < loc.line <= len(lines)):
        return loc
    line = lines[loc.line - 1]
    ch = line[loc.col - 1: loc.col]
    if ch in ("'", '"'):
        return loc.shifted(1)
    if ch in ("|", ">") or "\n" in text.strip():
        return Loc(loc.file, loc.line, 0)
    return loc


def _parse_wrt(doc: CommentedMap, path: str, value_loc: ValueLoc,
               inputs: tuple[InputDecl, ...]) -> tuple[tuple[str, ...], tuple[Loc, ...]]:
    from ruamel.yaml.comments import CommentedSeq

    integers = {i.name: i.integer for i in inputs if i.integer is not None}
    if "wrt" not in doc or doc["wrt"] is None:
        real = [i for i in inputs if i.integer is None]
        if not real:  # only integer inputs: nothing is differentiable
            first = inputs[0]
            raise SpecError(f"every input is an integer input ('{first.name}' holds indices "
                            f"0 .. {first.integer} - 1); there is nothing to differentiate",
                            first.loc, "declare a real-valued input, e.g. E: [V, D]")
        return tuple(i.name for i in real), tuple(i.loc for i in real)
    raw = doc["wrt"]
    where = value_loc("wrt")
    if isinstance(raw, str):
        raise SpecError("'wrt' must be a list of input names", where, f"write wrt: [{raw}]")
    if not isinstance(raw, CommentedSeq) or not raw:
        raise SpecError("'wrt' must be a non-empty list of input names, not "
                        + ("an empty list" if isinstance(raw, CommentedSeq) else _describe(raw)),
                        where, "e.g. wrt: [W, x]; leave it out to differentiate every input")
    names: list[str] = []
    locs: list[Loc] = []
    for n, item in enumerate(raw):
        loc = _item_loc(raw, n, path, where)
        name = check_identifier(item, loc, "wrt entry")
        if name in names:
            raise SpecError(f"'{name}' is listed twice in 'wrt'", loc)
        if name in integers:
            raise SpecError(f"'{name}' is an integer input (indices 0 .. {integers[name]} - 1); "
                            "it has no gradient", loc,
                            f"remove '{name}' from 'wrt'; differentiate the tensor it indexes")
        names.append(name)
        locs.append(loc)
    return tuple(names), tuple(locs)
