"""einderive's benchmark: prints a table; asserts nothing (tests never time anything).

    python bench/run.py            # the full table (about a minute)
    python bench/run.py --quick    # fewer repetitions

Rows:
  cold derive       `einderive derive specs/mlp.yaml` in a new interpreter, beside
                    `python -c "import sympy"` on the same machine, and their ratio;
  chain k           derive (in-process) of a chain of k sigmoid layers, k = 1 .. 64,
                    and t(64)/t(8) (the cost must grow linearly with the graph);
  chain k --expand  the same with closed forms (may cost more, must stay polynomial);
  dims 3 / 10^6     the same spec with every dim of size 3 and of size 10^6;
  check, verify     `einderive check specs/` and `einderive verify specs/`, cold.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def cold(args: list[str], runs: int) -> float:
    """Median wall time of a command in a new process."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def chain_spec(k: int, size: int = 4) -> str:
    lines = [f"  - h{n} = sigmoid(W{n} @ h{n - 1})" for n in range(1, k + 1)]
    weights = "".join(f"  W{n}: [N, N]\n" for n in range(1, k + 1))
    return (f"dims: {{N: {size}}}\ninputs:\n  h0: [N]\n{weights}forward:\n" + "\n".join(lines)
            + f"\n  - L = sum(h{k} * h{k})\nloss: L\n")


def in_process(text: str, runs: int, closed: bool = False) -> float:
    """Median time to read and derive a spec, with SymPy's cache cleared each run."""
    from sympy.core.cache import clear_cache

    from einderive.derivation import derive
    from einderive.spec import loads
    times = []
    for _ in range(runs):
        clear_cache()
        start = time.perf_counter()
        derive(loads(text, "bench.yaml"), closed=closed)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    runs = 3 if args.quick else 7
    exe = [sys.executable, "-m", "einderive.cli"]
    # pip writes bytecode when it installs a package; an editable checkout (or
    # PYTHONDONTWRITEBYTECODE) may not have it, so compile it as pip would
    import compileall

    import einderive
    compileall.compile_dir(str(Path(einderive.__file__).parent), quiet=1)
    rows: list[tuple[str, str]] = []

    sympy_t = cold([sys.executable, "-c", "import sympy"], runs)
    derive_t = cold(exe + ["derive", "specs/mlp.yaml"], runs)
    help_t = cold(exe + ["--help"], runs)
    python_t = cold([sys.executable, "-c", "import click, rich"], runs)
    rows += [("python -c 'import sympy'", f"{sympy_t:.3f} s"),
             ("einderive derive specs/mlp.yaml (cold)", f"{derive_t:.3f} s"),
             ("  ratio to the SymPy import (target <= 1.5)", f"{derive_t / sympy_t:.2f}"),
             ("einderive --help (cold)", f"{help_t:.3f} s"),
             ("python -c 'import click, rich'", f"{python_t:.3f} s")]

    in_process(chain_spec(2), 1)  # warm the imports
    chain = {}
    for k in (1, 2, 4, 8, 16, 32, 64):
        chain[k] = in_process(chain_spec(k), max(1, runs // 2))
        rows.append((f"derive, chain of {k} sigmoid layers", f"{chain[k] * 1000:.0f} ms"))
    rows.append(("  t(64)/t(8) (target <= 10; 8 = linear)", f"{chain[64] / chain[8]:.1f}"))
    expand = {}
    for k in (8, 16, 32, 64):
        expand[k] = in_process(chain_spec(k), 1, closed=True)
        rows.append((f"derive --expand, chain of {k}", f"{expand[k] * 1000:.0f} ms"))
    rows.append(("  t(64)/t(8) with --expand", f"{expand[64] / expand[8]:.1f}"))

    small = in_process(chain_spec(8, 3), runs)
    large = in_process(chain_spec(8, 10**6), runs)
    rows += [("derive, chain of 8, dims of size 3", f"{small * 1000:.0f} ms"),
             ("derive, chain of 8, dims of size 10^6", f"{large * 1000:.0f} ms"),
             ("  ratio (target about 1, <= 1.2)", f"{large / small:.2f}")]

    n = len(list(SPECS.glob("*.yaml")))
    rows += [(f"einderive check specs/ ({n} specs, one process)",
              f"{cold(exe + ['check', 'specs/'], max(1, runs // 2)):.2f} s"),
             (f"einderive verify specs/ ({n} specs)",
              f"{cold(exe + ['verify', 'specs/'], max(1, runs // 2)):.2f} s")]

    width = max(len(r[0]) for r in rows)
    import platform
    print(f"einderive benchmark: Python {platform.python_version()}, "
          f"{platform.machine()}, {_cores()} cores; medians of {runs} runs")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value.rjust(9)}")


def _cores() -> int:
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


if __name__ == "__main__":
    main()
