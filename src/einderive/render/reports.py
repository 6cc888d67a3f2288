"""What ``check`` and ``verify`` print: diffs, a one-line summary, tables."""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from ..verify import FORMS


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


def check_report(result, out, update_command: str) -> None:
    """Diffs and errors per spec, then a summary line, then how to update."""
    def echo(s="", **kw):
        click.echo(s, file=out, **kw)
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
        elif e.status == "error":
            click.echo(e.error.format(), err=True)
    for path in result.orphans:
        echo(click.style(f"orphaned: {path.as_posix()} (no spec produces it)", fg="yellow",
                         bold=True))
    for path in result.pruned:
        echo(click.style(f"deleted: {path.as_posix()}", fg="yellow"))
    parts = [f"{result.count('passed')} passed"]
    for status in ("written", "changed", "missing"):
        n = result.count(status)
        if n:
            parts.append(f"{n} {status}")
    if result.orphans:
        parts.append(f"{len(result.orphans)} orphaned")
    if result.pruned:
        parts.append(f"{len(result.pruned)} deleted")
    if result.count("error"):
        parts.append(f"{result.count('error')} unreadable")
    summary = ", ".join(parts)
    code = result.exit_code
    echo(click.style(summary, fg="green" if code == 0 else "red", bold=True))
    if result.count("changed") or result.count("missing"):
        echo(f"To accept the new derivations, run: {update_command}")
    elif result.orphans:
        echo(f"To delete orphaned goldens, run: {update_command} --prune")


def _fmt(x: float) -> str:
    return "inf" if x == float("inf") else f"{x:.1e}"


_RESULT = {"pass": Text("pass", style="green"), "fail": Text("FAIL", style="bold red"),
           "none": Text("—", style="dim")}  # '—': that form is not printed


def verify_tables(reports) -> list:
    out = []
    for r in reports:
        sizes = ", ".join(f"{k}={v}" for k, v in r.sizes.items())
        title = f"{r.spec}  ({sizes}; seed {r.seed}; tol {r.tol:g})"
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
        for c in r.checks:
            shape = "×".join(str(n) for n in c.shape) or "scalar"
            table.add_row(c.name, shape, *(_RESULT[getattr(c, f)] for f in FORMS),
                          _fmt(c.max_abs), _fmt(c.max_rel))
        out.append(table)
    if reports:
        failed = [r.spec for r in reports if not r.ok]
        n = sum(len(r.checks) for r in reports)
        specs = f"{len(reports)} spec{'s' if len(reports) != 1 else ''}"
        if failed:
            out.append(Text(f"{len(failed)} of {specs} failed: {', '.join(failed)}",
                            style="bold red"))
        else:
            out.append(Text(f"all {n} gradient{'s' if n != 1 else ''} of {specs} match "
                            f"finite differences in every printed form", style="bold green"))
    return out
