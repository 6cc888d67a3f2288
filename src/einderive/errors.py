"""One error type for everything a spec can get wrong.

A :class:`SpecError` carries where the problem is (file, line, column, all
1-based, as editors and compilers print them), what is wrong, and a hint that
says what to do.  The CLI prints it as ``file:line:col: error: message`` and
exits with code 2; nothing else in einderive formats an error for a user.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .record import Record


class Loc(Record):
    """A place in a spec file; ``line`` and ``col`` are 1-based (0 = unknown)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        if self.col <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.col}"

    def shifted(self, col: int) -> Loc:
        """The same line, ``col`` characters further right."""
        return Loc(self.file, self.line, self.col + col) if self.line else self


class EinderiveError(Exception):
    """Base class of every error einderive reports to a user."""


class SpecError(EinderiveError):
    """A problem in a spec, with its location and a hint."""

    def __init__(self, message: str, loc: Loc | None = None, hint: str | None = None,
                 source_line: str | None = None):
        super().__init__(message)
        self.message = message
        self.loc = loc
        self.hint = hint
        self.source_line = source_line

    def with_source(self, source_lines: list[str]) -> SpecError:
        """Attach the offending line of the file (for the caret display)."""
        if self.source_line is None and self.loc and 0 < self.loc.line <= len(source_lines):
            self.source_line = source_lines[self.loc.line - 1]
        return self

    def format(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        lines = [f"{where}error: {self.message}"]
        if self.source_line is not None and self.loc and self.loc.col > 0:
            text, col = _window(self.source_line.rstrip("\n"), self.loc.col - 1)
            lines.append(f"  | {text}")
            lines.append("  | " + " " * col + "^")
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


WIDE = 200  # longest source line shown whole under an error; a longer one is cut round
BEFORE = 100  # the column, with this many characters before it


def _window(text: str, col: int) -> tuple[str, int]:
    """``text`` as shown above a caret at ``col`` (0-based), and the caret's column: a line
    longer than ``WIDE`` cut to ``WIDE`` characters round it, '…' where it was cut."""
    if len(text) <= WIDE:
        return text, col
    start = min(max(0, col - BEFORE), max(0, len(text) - WIDE))
    end = start + WIDE
    head = "…" if start > 0 else ""
    return head + text[start:end] + ("…" if end < len(text) else ""), len(head) + col - start


class ShapeMismatch(SpecError):
    """Two shapes an op cannot combine (``shapes``: the two, as the message prints them):
    the graph builder, which knows the dims' definitions, adds why when two of their dims
    are defined alike."""

    def __init__(self, message: str, loc: Loc | None, hint: str,
                 shapes: tuple[tuple[Any, ...], tuple[Any, ...]]):
        super().__init__(message, loc, hint)
        self.shapes = shapes


class SpecWarning:
    """Something worth saying that does not stop the derivation."""

    def __init__(self, message: str, loc: Loc | None = None):
        self.message = message
        self.loc = loc

    def format(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        return f"{where}warning: {self.message}"

    def __repr__(self) -> str:
        return f"SpecWarning({self.format()!r})"


# what users of PyTorch and NumPy write for einderive's keyword names (an op's own aliases
# are in its op-table entry: ops.ALIASES)
ALIASES = {"dim": "axis", "keepdim": "keepdims", "axes": "axis"}


def did_you_mean(name: str, candidates: Iterable[str], what: str = "",
                 aliases: dict[str, str] | None = None) -> str | None:
    """A hint naming the closest candidate, in the manner of rustc and mypy; ``aliases`` maps
    other libraries' names to candidates (keyword aliases are always known)."""
    import difflib

    pool = sorted(set(candidates))
    known = {**ALIASES, **(aliases or {})}
    close = [known[name]] if known.get(name) in pool else []
    close = close or difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    if not close:  # 'Loss' for 'L', 'xx' for 'x': the longest name it starts with
        prefixes = [c for c in pool if name.lower().startswith(c.lower()) and c != name]
        close = sorted(prefixes, key=len)[-1:]
    if close:
        return f"did you mean '{close[0]}'?"
    if pool and what:
        shown = ", ".join(pool[:12]) + (", ..." if len(pool) > 12 else "")
        return f"known {what}: {shown}"
    return None
