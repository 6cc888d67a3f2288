"""Whole processes: cold start paired with the SymPy import, wall time capped, peak memory.

A cold start is compared with ``python -c "import sympy"`` run by turns with it (pairs in
alternating order, so drift of the machine hits both sides alike); the ratio is taken per
pair and summarised by its median and interquartile range.  Peak memory is the child's
``ru_maxrss`` from ``os.wait4``, which is that one process's and no other's.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYMPY = [sys.executable, "-c", "import sympy"]


def einderive_command() -> list[str]:
    """The installed ``einderive`` script beside this Python, as a user runs it."""
    script = Path(sys.executable).parent / "einderive"
    if script.exists():
        return [str(script)]
    found = shutil.which("einderive")
    return [found] if found else [sys.executable, "-m", "einderive.cli"]


class Run:
    """One finished run of a command: wall and CPU seconds, peak resident KiB."""

    def __init__(self, wall: float, cpu: float, kib: int):
        self.wall, self.cpu, self.kib = wall, cpu, kib

    def time(self, clock: str) -> float:
        return self.cpu if clock == "cpu" else self.wall


def run(args: list[str], timeout: float | None = None) -> Run | None:
    """Run a command in a new process; None if it ran past ``timeout`` (then it is killed).

    ``os.wait4`` gives this child's own resource use: CPU time (user + system), which
    other work on the machine barely disturbs, and ``ru_maxrss`` (KiB on Linux).
    """
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = None if timeout is None else start + timeout
    while True:
        pid, _, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = 0  # reaped here; Popen must not wait for it again
            return Run(time.perf_counter() - start, usage.ru_utime + usage.ru_stime,
                       usage.ru_maxrss)
        if deadline is not None and time.perf_counter() > deadline:
            proc.kill()
            proc.wait()
            return None
        time.sleep(0.002)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def paired(args: list[str], base: list[str], pairs: int, clock: str = "cpu") -> dict:
    """``pairs`` runs of each command by turns (A B, B A, A B, ...); medians and ratio quartiles."""
    a_runs, b_runs = [], []
    for k in range(pairs):
        if k % 2:
            b_runs.append(run(base))
            a_runs.append(run(args))
        else:
            a_runs.append(run(args))
            b_runs.append(run(base))
    out = {"pairs": pairs}
    for c in ("cpu", "wall"):
        a = [r.time(c) for r in a_runs]
        b = [r.time(c) for r in b_runs]
        out[c] = {"median": statistics.median(a), "base": statistics.median(b),
                  "ratio": quartiles([x / y for x, y in zip(a, b)])}
    return out
