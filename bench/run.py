"""einderive's benchmark: prints tables and targets; asserts nothing (tests never time anything).

    python bench/run.py                 # full: N = 8 .. 512, cells capped at 60 s (~40 min)
    python bench/run.py --quick         # N = 8, 16, 32, 64
    python bench/run.py --baseline-python /path/to/venv-bench/bin/python

Sections:
  cold start   ``einderive derive specs/mlp.yaml`` against ``python -c "import sympy"``,
               20 pairs by turns; medians and the paired ratio's quartiles (cold.py);
  scaling      families chain, fanout and wide (families.py) at each N, each through
               text, numpy, check and verify in one warm process, SymPy's cache cleared
               every run (cells.py); t(256)/t(64), or the largest 4x pair measured;
  baselines    the same graphs through PyTensor (grad + canonicalize) and JAX
               (make_jaxpr(grad)), where importable in --baseline-python (baselines.py),
               per layer and as ratios to einderive's text cells of this run;
  dim sizes    each family at N = 8 with every dim of size 3 and of size 10^6;
  whole chain  the 256-layer chain (or the largest N) derived as a whole process;
  memory       peak RSS of ``einderive verify`` of each shipped spec and of
               ``einderive derive -f numpy`` and ``einderive verify`` of each family's
               largest spec (of the scaling table, or of --sizes), against that of
               importing SymPy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baselines  # noqa: E402
import cells  # noqa: E402
import cold  # noqa: E402
import families  # noqa: E402

ROOT = HERE.parent
FULL = (8, 16, 32, 64, 128, 256, 512)
QUICK = (8, 16, 32, 64)
OVER = "over"


def fmt_time(seconds: float | None, cap: float) -> str:
    if seconds is None:
        return f"> {cap:.0f} s"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def verdict(ok: bool) -> str:
    return "PASS" if ok else OVER


# -- rows run in a worker process, stopped at the cap ------------------------------

def used(pid: int, clock: str) -> float:
    """Seconds a running worker has used on ``clock``: its CPU time from /proc, else wall."""
    if clock == "cpu":
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        except (OSError, ValueError, IndexError):
            pass
    return time.perf_counter()


def next_line(lines: queue.Queue, pid: int, clock: str, limit: float):
    """The worker's next line, or TimeoutError once it has used ``limit`` more seconds."""
    start = used(pid, clock)
    while True:
        try:
            return lines.get(timeout=0.25)
        except queue.Empty:
            if used(pid, clock) - start > limit:
                raise TimeoutError from None


def stream(args: list[str], sizes: list[int], timeout_for, clock: str) -> tuple[dict, str]:
    """Run a worker that prints one JSON line per size; {n: median or None (past the cap)}.

    The worker is killed at the first size that uses more than ``timeout_for(n)`` seconds
    of ``clock`` (so that on a busy machine the cap, like the times, is the worker's CPU
    time); it and every larger size are None.  The second value is the worker's error.
    """
    err = tempfile.TemporaryFile(mode="w+")  # a file, so a chatty worker never blocks
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put(None)],
                     daemon=True).start()
    out: dict = {}
    for k, n in enumerate(sizes):
        try:
            line = next_line(lines, proc.pid, clock, timeout_for(n) + (30 if k == 0 else 0))
        except TimeoutError:
            proc.kill()
            break
        if line is None:
            break
        record = json.loads(line)
        out[record["n"]] = record["median"]
    proc.wait()
    error = ""
    if proc.returncode not in (0, -9) and len(out) < len(sizes):
        err.seek(0)
        tail = err.read().strip().splitlines()
        said = [x for x in tail if "error:" in x]  # a usage error's message, not its hint
        error = (said or tail or [f"exit {proc.returncode}"])[-1]
        if proc.returncode == 2:  # refused as a usage error (a Hessian block too large)
            error = "refused: " + error.split("error: ", 1)[-1]
    err.close()
    return {n: out.get(n) for n in sizes}, error


def progress(name: str, row: dict, cap: float) -> None:
    """A row as soon as it is measured, on standard error (the table comes at the end)."""
    cells_text = ", ".join(f"{n}: {fmt_time(t, cap)}" for n, t in row.items())
    print(f"  measured {name}: {cells_text}", file=sys.stderr, flush=True)


def scaling(sizes, cap, reps, budget, modes, clock, names) -> tuple[dict, dict]:
    """{(family, mode): {n: seconds or None}} and {(family, mode): error}."""
    table, errors = {}, {}
    for family in names:
        for mode in modes:
            args = [sys.executable, str(HERE / "cells.py"), family, mode,
                    ",".join(map(str, sizes)), "--reps", str(reps), "--budget", str(budget),
                    "--clock", clock]
            # check also writes the golden first (one more derivation, untimed)
            factor = 2 if mode == "check" else 1
            table[family, mode], errors[family, mode] = stream(
                args, list(sizes), lambda n: factor * cap + budget, clock)
            progress(f"{family} {mode}", table[family, mode], cap)
    return table, errors


def baseline_rows(python, sizes, cap, reps, budget, clock, names) -> dict:
    """{(tool, family): {n: seconds or None}}, for the tools importable in ``python``."""
    rows = {}
    for tool in baselines.TOOLS:
        for family in names:
            args = [python, str(HERE / "baselines.py"), tool, family,
                    ",".join(map(str, sizes)), "--reps", str(reps), "--budget", str(budget),
                    "--clock", clock]
            row, _ = stream(args, list(sizes), lambda n: cap + budget, clock)
            if any(v is not None for v in row.values()):
                rows[tool, family] = row
            progress(f"{tool} {family}", row, cap)
    return rows


# -- ratios ------------------------------------------------------------------------

def growth(row: dict, cap: float):
    """(hi, lo, ratio, capped): t(256)/t(64), else the largest 4x pair with t(lo) measured.

    When t(hi) ran past the cap the ratio is only bounded below, by cap / t(lo).
    """
    pairs = [(hi, hi // 4) for hi in sorted(row, reverse=True) if row.get(hi // 4)]
    if not pairs:
        return None
    hi, lo = (256, 64) if (256, 64) in pairs else pairs[0]
    if row[hi] is None:
        return hi, lo, cap / row[lo], True
    return hi, lo, row[hi] / row[lo], False


def growth_text(g) -> str:
    if g is None:
        return "-"
    hi, lo, ratio, bound = g
    power = math.log(ratio) / math.log(hi / lo)
    sign = ">" if bound else ""
    ok = not bound and ratio <= 5
    return f"t({hi})/t({lo}) = {sign}{ratio:.1f} (n^{sign}{power:.2f}) {verdict(ok)}"


# -- printing ----------------------------------------------------------------------

def print_grid(title: str, rows: dict, sizes, cap: float, ratio: bool = True,
               errors: dict | None = None) -> None:
    print(f"\n{title}")
    names = {key: " ".join(key) for key in rows}
    width = max(len(s) for s in names.values())
    print(" " * width + "".join(f"{'N=' + str(n):>10}" for n in sizes)
          + ("   target t(256)/t(64) <= 5" if ratio else ""))
    for key, row in rows.items():
        error = (errors or {}).get(key)
        # a worker that failed measured nothing from that size on: not "> cap"
        failed = "refused" if error and error.startswith("refused") else "error"
        shown = [failed if error and row[n] is None else fmt_time(row[n], cap) for n in sizes]
        cells_text = "".join(f"{text:>10}" for text in shown)
        tail = f"   {growth_text(growth(row, cap)) if not error else failed}" if ratio else ""
        print(names[key].ljust(width) + cells_text + tail)
        if error:
            print(" " * width + f"   {error if failed == 'refused' else 'error: ' + error}")


def print_baselines(table: dict, base: dict, sizes, cap: float) -> None:
    print("\nper layer (time / N), einderive text against the baselines")
    for family in families.FAMILIES:
        ours = table.get((family, "text"), {})
        for tool in baselines.TOOLS:
            theirs = base.get((tool, family))
            if theirs is None:
                continue
            parts = []
            for n in sizes:
                a, b = ours.get(n), theirs.get(n)
                if a is None or b is None:
                    continue
                parts.append(f"N={n}: {a / n * 1000:.1f} vs {b / n * 1000:.2f} ms "
                             f"(x{a / b:.2f})")
            if parts:
                print(f"  {family}, einderive vs {tool}: " + "; ".join(parts))
    chain = base.get(("pytensor", "chain"))
    ours = table.get(("chain", "text"), {})
    if chain:
        common = [n for n in sizes if chain.get(n) and ours.get(n)]
        if common:
            n = max(common)
            ratio = ours[n] / chain[n]
            print(f"  target: chain per layer at least as fast as PyTensor's grad: "
                  f"N={n} einderive/PyTensor = {ratio:.2f} {verdict(ratio <= 1)}")


def machine_line(args) -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import sympy
    which = f"--sizes {args.sizes}" if args.sizes else "--quick" if args.quick else "full"
    load = ", load average %.1f %.1f %.1f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    return (f"einderive benchmark: Python {platform.python_version()}, SymPy {sympy.__version__}, "
            f"{platform.machine()}, {cores} cores, {platform.processor() or platform.system()}"
            f"{load}; {which}, cells capped at {args.cap:.0f} s, "
            f"medians of up to {args.reps} runs, {args.clock} time")


def cold_section(args) -> float:
    """Print the paired cold start; returns the SymPy import's median (on args.clock)."""
    exe = cold.einderive_command()
    result = cold.paired(exe + ["derive", "specs/mlp.yaml"], cold.SYMPY, args.pairs)
    print(f"\ncold start, {result['pairs']} pairs by turns (CPU time of the child, and wall)")
    for clock in ("cpu", "wall"):
        r = result[clock]
        q1, q2, q3 = r["ratio"]
        print(f"  {clock:4}  import sympy {r['base']:.3f} s, einderive derive specs/mlp.yaml "
              f"{r['median']:.3f} s; paired ratio {q2:.2f} (IQR {q1:.2f} .. {q3:.2f})   "
              f"target <= 1.3 {verdict(q2 <= 1.3)}")
    helped = cold.paired(exe + ["--help"], [sys.executable, "-c", "import click, rich"],
                         max(5, args.pairs // 4))[args.clock]
    print(f"  {args.clock}  python -c 'import click, rich' {helped['base']:.3f} s, "
          f"einderive --help {helped['median']:.3f} s; paired ratio {helped['ratio'][1]:.2f}")
    return result[args.clock]["base"]


def dims_section(args) -> None:
    """The cost must not depend on the size of a dim (no sum is ever expanded)."""
    print("\ndim sizes: each family at N = 8 in text mode, every dim of size 3 and of size 10^6")
    cells.cell("chain", "text", 2)  # warm the imports
    for family in families.FAMILIES:
        small, large = (cells.cell(family, "text", 8, args.reps, args.budget, args.clock,
                                   size)["median"] for size in (3, 10**6))
        print(f"  {family:6}  {fmt_time(small, args.cap):>8}  {fmt_time(large, args.cap):>8}"
              f"  ratio {large / small:.2f}   target about 1 {verdict(large / small <= 1.2)}")


def whole_chain(args, sizes, sympy_s: float) -> None:
    """The largest chain derived as a whole process, by turns with the SymPy import (as
    the cold start is: one run against the cold section's median moved with the load of
    the moment, 2.96 to 3.9 x for one tree on one day), at most 5 pairs: the paired
    ratio's median against the target."""
    n = 256 if 256 in sizes else max(sizes)
    pairs = max(1, min(args.pairs, 5))
    times, ratios = [], []
    with tempfile.TemporaryDirectory(prefix="einderive-bench-") as tmp:
        path = families.write(Path(tmp), "chain", n)
        command = cold.einderive_command() + ["derive", str(path)]
        for k in range(pairs):
            got = {}
            for which in (("chain", "sympy") if k % 2 == 0 else ("sympy", "chain")):
                got[which] = cold.run(command, timeout=3 * args.cap) if which == "chain" \
                    else cold.run(cold.SYMPY)
            done, base = got["chain"], got["sympy"]
            if done is None:
                times = []
                break
            times.append(done.time(args.clock))
            if base is not None:
                ratios.append(done.time(args.clock) / base.time(args.clock))
    t = statistics.median(times) if times else None
    ratio = statistics.median(ratios) if times and ratios else None
    shown = "-" if ratio is None else f"{ratio:.2f}"
    ok = ratio is not None and ratio < 3
    print(f"\nwhole process: einderive derive chain{n}.yaml  {fmt_time(t, 3 * args.cap)}, "
          f"{shown} x the SymPy import ({len(ratios)} pairs by turns; against the cold "
          f"section's median: {'-' if t is None else f'{t / sympy_s:.2f}'})   "
          f"target < 3 {verdict(ok)}")


def memory_sizes(table: dict, families_: tuple[str, ...], sizes) -> dict[str, int]:
    """Each family's size for the memory rows: the largest it derived with closed forms
    (numpy) in this run's scaling table, else in any mode; without a scaling table (the
    section skipped), the largest size asked for."""
    out = {}
    for family in families_:
        done = ([n for n, t in table.get((family, "numpy"), {}).items() if t is not None]
                or [n for (f, _), row in table.items() if f == family
                    for n, t in row.items() if t is not None])
        if done or not table:
            out[family] = max(done or sizes)
    return out


def memory_section(args, table: dict, sizes, names) -> None:
    exe = cold.einderive_command()
    # the median of five: one run of the import alone has been seen 35 % above the rest
    base = statistics.median(cold.run(cold.SYMPY).kib for _ in range(5))
    print(f"\npeak memory (max RSS), target <= 2 x import sympy ({base / 1024:.0f} MiB)")
    rows = [(f"verify {p.name}", exe + ["verify", str(p.relative_to(ROOT))])
            for p in sorted((ROOT / "specs").glob("*.yaml"))]
    with tempfile.TemporaryDirectory(prefix="einderive-bench-") as tmp:
        for family, n in memory_sizes(table, names, sizes).items():
            path = str(families.write(Path(tmp), family, n))
            rows += [(f"{command} {family}{n}.yaml", exe + command.split() + [path])
                     for command in ("derive -f numpy", "verify")]
        width = max(len(r[0]) for r in rows)
        worst = 0.0
        for name, command in rows:
            done = cold.run(command, timeout=3 * args.cap)
            if done is None:
                print(f"  {name.ljust(width)}  > cap")
                continue
            kib = done.kib
            worst = max(worst, kib / base)
            print(f"  {name.ljust(width)}  {kib / 1024:6.0f} MiB  {kib / base:.2f} x"
                  f"{'' if kib <= 2 * base else '   over'}", flush=True)
    print(f"  largest: {worst:.2f} x   target <= 2 {verdict(worst <= 2)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 8, 16, 32, 64")
    parser.add_argument("--sizes", help="comma-separated N (overrides --quick)")
    parser.add_argument("--modes", default=",".join(cells.MODES))
    parser.add_argument("--families", default=",".join(families.FAMILIES))
    parser.add_argument("--cap", type=float, default=60.0,
                        help="seconds (on --clock) for one run of a cell; past it, '> cap'")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--budget", type=float, default=3.0,
                        help="seconds of repeated runs per cell")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="CPU time of the measured process (default; steady on a busy "
                        "machine) or wall time")
    parser.add_argument("--pairs", type=int, default=20, help="cold-start pairs")
    parser.add_argument("--baseline-python", default=sys.executable,
                        help="a Python with pytensor and/or jax (default: this one)")
    parser.add_argument("--skip", default="",
                        help="sections to skip: cold,scaling,dims,baselines,memory")
    parser.add_argument("--json", help="also write the measured times to this file")
    args = parser.parse_args()
    sizes = (tuple(int(s) for s in args.sizes.split(",")) if args.sizes
             else QUICK if args.quick else FULL)
    skip = set(filter(None, args.skip.split(",")))
    modes = tuple(args.modes.split(","))
    names = tuple(args.families.split(","))
    # pip compiles a package's bytecode when it installs it; an editable checkout
    # may not have it, so compile it as pip would before timing cold starts
    import compileall

    import einderive
    compileall.compile_dir(str(Path(einderive.__file__).parent), quiet=1)
    print(machine_line(args), flush=True)
    sympy_s = cold_section(args) if "cold" not in skip else None
    table, errors = {}, {}
    if "scaling" not in skip:
        table, errors = scaling(sizes, args.cap, args.reps, args.budget, modes, args.clock,
                                names)
        print_grid("scaling, in one process (SymPy cache cleared each run)", table, sizes,
                   args.cap, errors=errors)
    if "dims" not in skip:
        dims_section(args)
    base = {}
    if "baselines" not in skip:
        base = baseline_rows(args.baseline_python, sizes, args.cap, args.reps, args.budget,
                             args.clock, names)
        if base:
            print_grid("baselines (graph + gradient, no compile)", base, sizes, args.cap,
                       ratio=False)
            print_baselines(table, base, sizes, args.cap)
        else:
            print(f"\nbaselines: neither PyTensor nor JAX importable in {args.baseline_python}")
    if sympy_s is not None:
        whole_chain(args, sizes, sympy_s)
    if "memory" not in skip:
        memory_section(args, table, sizes, names)
    if args.json:
        rows = {" ".join(k): v for k, v in table.items()}
        rows.update({" ".join(k): v for k, v in base.items()})
        Path(args.json).write_text(json.dumps({"machine": machine_line(args), "cap": args.cap,
                                               "rows": rows}, indent=1), encoding="utf-8")
    sys.stdout.flush()


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    load = "; load average %.1f %.1f %.1f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    print(f"\n(bench took {time.perf_counter() - started:.0f} s{load})")
