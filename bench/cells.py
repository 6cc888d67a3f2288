"""One in-process cell of the scaling table: a family at size n through one mode.

Each mode does what its command does, minus starting Python and printing:

text    ``einderive derive SPEC`` (plain text, as to a pipe): derive without closed forms
numpy   ``einderive derive SPEC -f numpy``: derive with closed forms, generate the module
check   ``einderive check SPEC``: derive, render the golden, compare with the file
verify  ``einderive verify SPEC``: derive, run the generated NumPy, finite differences
hvp     ``einderive derive SPEC --hvp``: derive, tangents and ℛ{∂L/∂t} of every node, as text
hessian ``einderive derive SPEC --hessian``: the hvp, then every block ∂²L/∂x∂y, as text

SymPy's cache is cleared before every run, so no run is helped by the one before.

As a script this is the worker run.py starts for one (family, mode) pair; it prints
one JSON line per size, smallest first, so run.py can stop it at the time cap:

    python bench/cells.py FAMILY MODE 8,16,32 [--reps 5] [--budget 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import families

MODES = ("text", "numpy", "check", "verify", "hvp", "hessian")
# CPU time of this process is the default: other work on a shared machine barely moves it
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def _text(path: Path) -> None:
    from einderive.api import derive_file
    from einderive.render.terminal import plain
    plain(derive_file(path, closed=False), width=80)


def _numpy(path: Path) -> None:
    from einderive.api import derive_file, render
    render(derive_file(path, closed=True), "numpy")


def _check(path: Path) -> None:
    from einderive.golden import run_check
    result = run_check([str(path)], None)
    if result.exit_code != 0:
        raise RuntimeError(f"check of {path.name} did not pass (exit {result.exit_code})")


def _verify(path: Path) -> None:
    from einderive.api import derive_file
    from einderive.api import verify
    report = verify(derive_file(path))
    if not report.ok:
        raise RuntimeError(f"verify of {path.name} failed")


def _hvp(path: Path) -> None:
    from einderive.api import derive_file, second_order
    from einderive.render.terminal import plain
    plain(second_order(derive_file(path, closed=False), hvp=""), width=80)


def _hessian(path: Path) -> None:
    from einderive.api import derive_file, second_order
    from einderive.render.terminal import plain
    plain(second_order(derive_file(path, closed=False), hessian=""), width=80)


RUN = {"text": _text, "numpy": _numpy, "check": _check, "verify": _verify, "hvp": _hvp,
       "hessian": _hessian}


def prepare(folder: Path, family: str, mode: str, n: int, size: int = families.SIZE) -> Path:
    """Write the spec (and, for check, its golden, so the timed run compares)."""
    path = families.write(folder, family, n, size)
    if mode == "check":
        from einderive.golden import run_check
        run_check([str(path)], None, update=True)
    return path


def measure(path: Path, mode: str, reps: int = 1, budget: float = 0.0,
            clock: str = "cpu") -> list[float]:
    """Seconds of each run: at least one, at most ``reps``, more only while within ``budget``."""
    from sympy.core.cache import clear_cache
    times: list[float] = []
    while not times or (len(times) < reps and sum(times) < budget):
        clear_cache()
        start = CLOCKS[clock]()
        RUN[mode](path)
        times.append(CLOCKS[clock]() - start)
    return times


def cell(family: str, mode: str, n: int, reps: int = 1, budget: float = 0.0,
         clock: str = "cpu", size: int = families.SIZE) -> dict:
    """The record of one cell: its median time, and every run's."""
    with tempfile.TemporaryDirectory(prefix="einderive-bench-") as tmp:
        path = prepare(Path(tmp), family, mode, n, size)
        times = measure(path, mode, reps, budget, clock)
    return {"family": family, "mode": mode, "n": n, "median": statistics.median(times),
            "runs": len(times), "times": times}


def main() -> None:
    parser = argparse.ArgumentParser(description="one (family, mode) row of the bench")
    parser.add_argument("family", choices=families.FAMILIES)
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("sizes", help="comma-separated, ascending")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu")
    parser.add_argument("--budget", type=float, default=3.0, help="seconds of repeats per cell")
    args = parser.parse_args()
    cell(args.family, args.mode, 2)  # warm the imports, so the first size pays no import
    from einderive.errors import SpecError
    for n in (int(s) for s in args.sizes.split(",")):
        try:
            record = cell(args.family, args.mode, n, args.reps, args.budget, args.clock)
        except SpecError as e:  # refused as a user would be told (exit 2), not a crash
            print(e.format(), file=sys.stderr)
            sys.exit(2)
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    sys.exit(main())
