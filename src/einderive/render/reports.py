"""What ``check`` and ``verify`` print: diffs, a one-line summary, tables, and
``verify -f json``'s document (schema ``einderive/verify`` version 1)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

import click

from ..kinds import Status
from rich.table import Table
from rich.text import Text

from ..verify import FORMS, Check, Report

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..errors import SpecError
    from ..golden import CheckResult


def _style_diff_line(line: str) -> str:
    if line.startswith(("+++", "---")):
        return click.style(line, bold=True)
    if line.startswith("@@"):
        return click.style(line, fg="cyan")
    if line.startswith("+"):
        return click.style(line, fg="green")
    if line.startswith("-"):
        return click.style(line, fg="red")
    return line


def check_report(result: CheckResult, out: IO[str] | None, update_command: str) -> None:
    """Diffs and errors per spec, then a summary line, then how to update."""
    def echo(s: str = "") -> None:
        click.echo(s, file=out)
    for e in result.entries:
        spec = e.spec.as_posix()
        if e.status == "changed":
            echo(click.style(f"changed: {spec}", fg="red", bold=True))
            for line in e.diff.splitlines():
                echo(_style_diff_line(line))
        elif e.status == "missing":
            echo(click.style(f"missing: {spec} has no golden {e.golden.as_posix()}", fg="red",
                             bold=True))
        elif e.status == "written":
            echo(click.style(f"written: {e.golden.as_posix()}", fg="green"))
        elif e.status == "error" and e.error is not None:
            click.echo(e.error.format(), err=True)
    for path in result.orphans:
        echo(click.style(f"orphaned: {path.as_posix()} (no spec produces it)", fg="yellow",
                         bold=True))
    for path in result.pruned:
        echo(click.style(f"deleted: {path.as_posix()}", fg="yellow"))
    parts = [f"{result.count(Status.PASSED)} passed"]
    for status in (Status.WRITTEN, Status.CHANGED, Status.MISSING):
        n = result.count(status)
        if n:
            parts.append(f"{n} {status}")
    if result.orphans:
        parts.append(f"{len(result.orphans)} orphaned")
    if result.pruned:
        parts.append(f"{len(result.pruned)} deleted")
    if result.count(Status.ERROR):
        parts.append(f"{result.count(Status.ERROR)} unreadable")
    summary = ", ".join(parts)
    code = result.exit_code
    echo(click.style(summary, fg="green" if code == 0 else "red", bold=True))
    if result.count(Status.CHANGED) or result.count(Status.MISSING):
        echo(f"To accept the new derivations, run: {update_command}")
    elif result.orphans:
        echo(f"To delete orphaned goldens, run: {update_command} --prune")


def _fmt(x: float) -> str:
    return "inf" if x == float("inf") else f"{x:.1e}"


_RESULT = {"pass": Text("pass", style="green"), "fail": Text("FAIL", style="bold red"),
           "none": Text("—", style="dim")}  # '—': that form is not printed


def verify_tables(reports: Sequence[Report],
                  unreadable: Sequence[str] = ()) -> list[RenderableType]:
    """A table per spec, then a summary; ``unreadable`` names specs that could not be read."""
    out: list[RenderableType] = []
    for r in reports:
        sizes = ", ".join(f"{k}={v}" for k, v in r.sizes.items())
        skipped = f"seeds {r.asked}–{r.seed - 1}" if r.asked is not None and \
            r.seed - 1 > r.asked else f"seed {r.asked}"
        seed = f"seed {r.seed}" if r.asked is None else \
            f"seed {r.seed}, the loss not finite at {skipped}"
        title = f"{r.spec}  ({sizes}; {seed}; tol {r.tol:g})"
        if r.error:
            out.append(Text(f"{title}\n  could not check: {r.error}\n  hint: {r.hint}",
                            style="red"))
            continue
        table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
        table.add_column("gradient")
        table.add_column("shape")
        for form in FORMS:
            table.add_column(form)
        table.add_column("max abs err", justify="right")
        table.add_column("max rel err", justify="right")
        adjoints = [c for c in r.checks if c.adjoint]
        for c in r.checks:
            if c.adjoint and c.ok:  # counted in the caption; a failure is a row
                continue
            shape = "×".join(str(n) for n in c.shape) or "scalar"
            table.add_row(c.name, shape, *(_RESULT[getattr(c, f)] for f in FORMS),
                          _fmt(c.max_abs), _fmt(c.max_rel))
        if adjoints:
            table.caption = _adjoints_caption(adjoints)
            table.caption_justify = "left"
        out.append(table)
    out += _verify_summary(reports, unreadable)
    return out


def _adjoints_caption(adjoints: Sequence[Check]) -> str:
    """The other adjoints' closed forms, in one line: how many match the backward pass."""
    ok = sum(c.ok for c in adjoints)
    if ok == len(adjoints):
        return f"{_other_closed(ok)} the backward pass"
    return f"{ok} of {_other_closed(len(adjoints))} the backward pass"


def _other_closed(n: int) -> str:
    """'1 other adjoint's closed form matches', '4 other adjoints' closed forms match'."""
    if n == 1:
        return "1 other adjoint's closed form matches"
    return f"{n} other adjoints' closed forms match"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _verify_summary(reports: Sequence[Report], unreadable: Sequence[str]) -> list[Text]:
    """One line: all match, or which specs failed and which could not be read."""
    failed = [r.spec for r in reports if not r.ok]
    parts = []
    if failed:
        parts.append(f"{len(failed)} of {_plural(len(reports), 'spec')} failed: "
                     f"{', '.join(failed)}")
    if unreadable:
        parts.append(f"{_plural(len(unreadable), 'spec')} could not be checked: "
                     f"{', '.join(unreadable)}")
    if parts:
        return [Text("; ".join(parts), style="bold red")]
    if not reports:
        return []
    n = sum(not c.second and not c.adjoint for r in reports for c in r.checks)
    second = sum(c.second for r in reports for c in r.checks)
    adjoints = sum(c.adjoint for r in reports for c in r.checks)
    also = f" and {_plural(second, 'second-order check')}" if second else ""
    return [Text(f"all {_plural(n, 'gradient')}{also} of {_plural(len(reports), 'spec')} "
                 f"match finite differences in every printed form"
                 + (f"; {_other_closed(adjoints)} the backward pass" if adjoints else ""),
                 style="bold green")]


VERIFY_SCHEMA = "einderive/verify"
VERIFY_SCHEMA_VERSION = 1  # fields are only added within a version


def _number(x: float) -> float | None:
    """An error as JSON: null where it is not finite (a shape mismatch, a NaN)."""
    return x if math.isfinite(x) else None


def _kind(c: Check) -> str:
    return "adjoint" if c.adjoint else "second_order" if c.second else "gradient"


def _check_rows(c: Check, tol: float) -> list[dict[str, Any]]:
    """One row per printed form of ``c``: its own errors and result."""
    return [{"check": c.name, "kind": _kind(c), "form": form,
             "shape": list(c.shape), "max_abs_error": _number(max_abs),
             "max_rel_error": _number(max_rel), "tolerance": tol,
             "result": getattr(c, form).value}
            for form, max_abs, max_rel in c.errors]


def _verify_spec(r: Report) -> dict[str, Any]:
    return {"spec": r.spec, "path": r.path or None,
            "sizes": dict(r.sizes),
            "seed": r.seed, **({"seed_asked": r.asked} if r.asked is not None else {}),
            "tolerance": r.tol, "ok": r.ok,
            "error": {"message": r.error, "hint": r.hint or None, "bug": r.bug}
            if r.error else None,
            "checks": [row for c in r.checks for row in _check_rows(c, r.tol)]}


def _unreadable(e: SpecError) -> dict[str, Any]:
    loc = e.loc
    return {"path": loc.file if loc else None, "line": loc.line if loc and loc.line else None,
            "col": loc.col if loc and loc.col else None, "message": e.message,
            "hint": e.hint}


def verify_document(reports: Sequence[Report], errors: Sequence[SpecError],
                    exit_code: int) -> dict[str, Any]:
    """``verify -f json``: every spec's checks, a row per printed form, and the totals;
    ``errors`` are the specs that could not be read, ``exit_code`` the command's."""
    from .._version import __version__
    rows = [row for r in reports for c in r.checks for row in _check_rows(c, r.tol)]
    checks = [c for r in reports for c in r.checks]
    return {
        "schema": VERIFY_SCHEMA,
        "schema_version": VERIFY_SCHEMA_VERSION,
        "generator": f"einderive {__version__}",
        "ok": exit_code == 0,
        "exit_code": exit_code,
        "totals": {
            "specs": len(reports) + len(errors),
            "passed": sum(r.ok for r in reports),
            "failed": sum(not r.ok for r in reports),
            "unreadable": len(errors),
            "gradients": sum(_kind(c) == "gradient" for c in checks),
            "adjoints": sum(c.adjoint for c in checks),
            "second_order": sum(c.second for c in checks),
            "rows": len(rows),
            "failed_rows": sum(row["result"] == "fail" for row in rows),
        },
        "specs": [_verify_spec(r) for r in reports],
        "unreadable": [_unreadable(e) for e in errors],
    }


def verify_json(reports: Sequence[Report], errors: Sequence[SpecError], exit_code: int) -> str:
    """:func:`verify_document` as text (strict JSON: no NaN, no Infinity)."""
    return json.dumps(verify_document(reports, errors, exit_code), ensure_ascii=False,
                      indent=2, allow_nan=False) + "\n"
