"""Line-split pairs made mechanically from a spec's own lines (tests/test_line_split.py).

For a spec, :func:`made_pairs` gives

- ``inline:N``: the forward node ``N`` that one other line reads once, written inline there
  (its line gone): the spec's lines are the pair's ``split``, the inlined ones its ``one``;
- ``split:N.k``: the ``k``-th compound operand of ``N``'s right-hand side (an argument of
  its call, an operand of its outermost operator) named on a line of its own before ``N``:
  the spec's lines are ``one``, the split ones ``split``.

The lines are read and written as Python syntax trees (``ast``; never evaluated): an
operand is moved as a tree and ``ast.unparse`` puts the parentheses its precedence needs.
Only an operand that reads a tensor is named (``sqrt(D)`` of a dim is no node), and nothing
inside a subscript, a comparison, a keyword argument or a list is moved.
"""

from __future__ import annotations

import ast
from pathlib import Path

from einderive.spec import loads
from split_pairs import Pair

ROOT = Path(__file__).resolve().parent.parent


def header_and_lines(path: Path) -> tuple[str, tuple[str, ...], str] | None:
    """A spec's text before its forward list (name, dims, inputs), its forward lines and
    its loss; None when its forward list is not one item a line."""
    text = path.read_text()
    spec = loads(text, str(path))
    parsed = [_parse(a.text) for a in spec.forward]
    if any(p is None for p in parsed):
        return None
    # as ast writes them (the spec's own lines too: "…" strings as '…')
    lines = tuple(_line(*p) for p in parsed if p is not None)
    if "\nforward:\n" not in text:
        return None
    head = text[:text.index("\nforward:\n") + 1]
    head = "\n".join(x for x in head.splitlines() if not x.startswith(("name:", "wrt:")))
    wrt = "wrt: [" + ", ".join(spec.wrt) + "]\n"
    return head + "\n" + wrt, lines, spec.loss


def _parse(line: str) -> tuple[str, ast.expr] | None:
    try:
        tree = ast.parse(line, mode="exec")
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assign):
        return None
    a = tree.body[0]
    if len(a.targets) != 1 or not isinstance(a.targets[0], ast.Name):
        return None
    return a.targets[0].id, a.value


def _names(e: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(e) if isinstance(n, ast.Name)]


class _Inline(ast.NodeTransformer):
    def __init__(self, name: str, value: ast.expr) -> None:
        self.name, self.value = name, value

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return self.value if node.id == self.name else node


def _line(name: str, value: ast.expr) -> str:
    return f"{name} = {ast.unparse(value)}"


def inlined(lines: tuple[str, ...], loss: str) -> dict[str, tuple[str, ...]]:
    """Each forward node (not the loss) that exactly one reading of all the lines reads,
    written inline there."""
    parsed = [_parse(x) for x in lines]
    if any(p is None for p in parsed):
        return {}
    trees = [p for p in parsed if p is not None]
    out: dict[str, tuple[str, ...]] = {}
    for k, (name, value) in enumerate(trees):
        if name == loss:
            continue
        readers = [(j, n) for j, (_, v) in enumerate(trees) if j != k
                   for n in _names(v) if n == name]
        if len(readers) != 1 or readers[0][0] < k:
            continue
        j = readers[0][0]
        target, body = trees[j]
        new = _Inline(name, value).visit(ast.parse(ast.unparse(body), mode="eval").body)
        rest = [_line(n, v) for i, (n, v) in enumerate(trees) if i not in (k, j)]
        rest.insert(j - 1, _line(target, new))
        out[f"inline:{name}"] = tuple(rest)
    return out


def _operands(value: ast.expr) -> list[tuple[ast.AST, str, int | None]]:
    """The places of the right-hand side's operands: (parent, field, position)."""
    if isinstance(value, ast.Call):
        return [(value, "args", k) for k in range(len(value.args))]
    if isinstance(value, ast.BinOp):
        return [(value, "left", None), (value, "right", None)]
    if isinstance(value, ast.UnaryOp):
        return [(value, "operand", None)]
    return []


def _movable(e: ast.expr, tensors: set[str]) -> bool:
    """A compound operand that reads a tensor and holds nothing a node cannot stand for
    alone (a subscript, a comparison, a list of dims, a starred argument)."""
    if not isinstance(e, (ast.Call, ast.BinOp, ast.UnaryOp)):
        return False
    if isinstance(e, ast.UnaryOp) and isinstance(e.operand, (ast.Name, ast.Constant)):
        return False
    bad = (ast.Subscript, ast.Compare, ast.List, ast.Tuple, ast.Starred, ast.BoolOp,
           ast.Lambda, ast.IfExp)
    return any(n in tensors for n in _names(e)) and not any(isinstance(n, bad)
                                                            for n in ast.walk(e))


def split(lines: tuple[str, ...], names: set[str]) -> dict[str, tuple[str, ...]]:
    """Each compound operand of each line's right-hand side named on a line of its own."""
    parsed = [_parse(x) for x in lines]
    if any(p is None for p in parsed):
        return {}
    trees = [p for p in parsed if p is not None]
    taken = set(names) | {n for t in trees for n in _names(t[1])}
    out: dict[str, tuple[str, ...]] = {}
    for k, (name, value) in enumerate(trees):
        for number, (parent, field, at) in enumerate(_operands(value)):
            copy = ast.parse(ast.unparse(value), mode="eval").body
            cparent, _, _ = _operands(copy)[number]
            operand = getattr(cparent, field)[at] if at is not None else getattr(cparent, field)
            if not _movable(operand, names):
                continue
            new = next(f"{name}_s{n}" for n in range(1, 99) if f"{name}_s{n}" not in taken)
            ref = ast.Name(new, ast.Load())
            if at is not None:
                getattr(cparent, field)[at] = ref
            else:
                setattr(cparent, field, ref)
            rest = [_line(n, v) for n, v in trees]
            rest[k:k + 1] = [_line(new, operand), _line(name, copy)]
            out[f"split:{name}.{number}"] = tuple(rest)
    return out


def made_pairs(path: Path) -> list[Pair]:
    """Every inline and split pair of the spec at ``path``."""
    read = header_and_lines(path)
    if read is None:
        return []
    header, lines, loss = read
    spec = loads(path.read_text(), str(path))
    tensors = {i.name for i in spec.inputs} | {_parse(x)[0] for x in lines if _parse(x)}
    # (a tests/models spec's pairs are named models/<stem>:…: specs/ has specs of its names)
    stem = path.stem if path.parent.name == "specs" else f"{path.parent.name}/{path.stem}"
    pairs = [Pair(f"{stem}:{k}", header, one, lines, loss)
             for k, one in inlined(lines, loss).items()]
    pairs += [Pair(f"{stem}:{k}", header, lines, two, loss)
              for k, two in split(lines, tensors).items()]
    return pairs

