"""Does the hand-rolled ``Record`` pay for itself against ``dataclass(frozen=True, slots=True)``?

The engine's value objects derive from :class:`einderive.record.Record`, a hand-rolled
base (one generic ``__init__``/``__eq__``/``__hash__``/``__repr__`` shared by all); for a
day it made each subclass a ``dataclass(frozen=True, slots=True)`` (that version is kept
in bench/dataclass_record.py).  The bench copies the package twice into a temporary
folder, once as it is and once with the dataclass record.py, and runs each copy in its
own fresh processes:

cold      ``einderive derive specs/mlp.yaml``, the whole process (CPU time of the child):
          the cold start bench/run.py holds to 1.3 x ``import sympy``;
import    ``import einderive.derivation, einderive.render.terminal`` (class definitions:
          where ``dataclass`` pays for generating its methods);
derive    a full derive of each bench family (bench/families.py) at size n, printed as
          text and generated as NumPy code, SymPy's cache cleared before every run
          (where ``Record``'s one generic ``__init__``/``__eq__``/``__hash__`` pay per object).

CPU seconds, median of the runs, side by side.  Prints a table; asserts nothing.
Measured 2026-11-26 on a shared, loaded 2-core machine (ratio dataclass / hand-rolled):
  cold start, 20 pairs by turns: 0.701 s vs 0.673 s, paired ratio 1.047 (IQR 1.006 .. 1.096)
  two runs of this script, n = 8, 32, 7 runs each: cold 0.98 and 1.04, import 1.00 and 1.18,
  chain32 0.89 and 0.89, fanout32 1.00 and 0.96, wide32 0.97 and 0.98, all derives 0.97 and 0.97
The hand-rolled base starts ~5 % (~30 ms CPU) faster; dataclasses derive large specs 3-11 %
faster.  Later that day (87 dataclasses on the path of every command, the plain derive no
longer importing the LaTeX width machinery nor verify), 30 pairs by turns of the cold start
alone (CPU, loaded machine): hand-rolled 0.782 s, dataclass 0.826 s, paired ratio
hand-rolled / dataclass 0.922 (IQR 0.869 .. 0.996); ``import sympy`` 0.527 s.  The cold
start is held to a target and every command pays it, so record.py is hand-rolled again.

    python bench/record.py            # n = 8, 32; 5 runs each
    python bench/record.py --sizes 8,32,64 --reps 7
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "src" / "einderive"

WORKER = r'''
import json, sys, time
mode, folder = sys.argv[1], sys.argv[2]
if mode == "import":
    start = time.process_time()
    import einderive.derivation, einderive.render.terminal  # noqa: E401,F401
    print(json.dumps(time.process_time() - start))
    raise SystemExit
from sympy.core.cache import clear_cache
from einderive.api import derive_file, render
from einderive.render.terminal import plain
times = {}
for path in sys.argv[3:]:
    clear_cache()
    start = time.process_time()
    plain(derive_file(path, closed=False), width=80)
    render(derive_file(path, closed=True), "numpy")
    times[path] = time.process_time() - start
print(json.dumps(times))
'''


def _variants(root: Path) -> dict[str, Path]:
    out = {}
    for name in ("hand-rolled", "dataclass"):
        dest = root / name / "einderive"
        shutil.copytree(PACKAGE, dest, ignore=shutil.ignore_patterns("__pycache__"))
        if name == "dataclass":
            shutil.copy(HERE / "dataclass_record.py", dest / "record.py")
        out[name] = dest.parent
    return out


def _run(variant: Path, mode: str, args: list[str]) -> object:
    env = dict(os.environ, PYTHONPATH=str(variant), PYTHONHASHSEED="0")
    done = subprocess.run([sys.executable, "-c", WORKER, mode, str(variant), *args],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _cold(variant: Path) -> float:
    """CPU seconds of one whole ``einderive derive specs/mlp.yaml`` process."""
    env = dict(os.environ, PYTHONPATH=str(variant), PYTHONHASHSEED="0")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "einderive", "derive", str(HERE.parent / "specs" /
                    "mlp.yaml")], env=env, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8,32")
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    import families

    sizes = [int(n) for n in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        variants = _variants(root)
        specs = [str(families.write(root, f, n)) for f in families.FAMILIES for n in sizes]
        rows: dict[str, dict[str, list[float]]] = {}
        for _ in range(args.reps):  # the two variants by turns: load drifts hit both alike
            for name, folder in variants.items():
                rows.setdefault("cold", {}).setdefault(name, []).append(_cold(folder))
                col = rows.setdefault("import", {}).setdefault(name, [])
                col.append(float(_run(folder, "import", [])))  # type: ignore[arg-type]
                times = _run(folder, "derive", specs)
                assert isinstance(times, dict)
                for path, t in times.items():
                    rows.setdefault(Path(path).stem, {}).setdefault(name, []).append(t)
    _print(rows, args.reps)


def _print(rows: dict[str, dict[str, list[float]]], reps: int) -> None:
    print(f"CPU seconds, median of {reps} fresh processes each (lower is better)")
    print(f"{'':12} {'hand-rolled':>11} {'dataclass':>10} {'dataclass/hand-rolled':>22}")
    total = {"hand-rolled": 0.0, "dataclass": 0.0}
    for label, cols in rows.items():
        r, d = (statistics.median(cols[k]) for k in ("hand-rolled", "dataclass"))
        if label not in ("cold", "import"):
            total["hand-rolled"] += r
            total["dataclass"] += d
        print(f"{label:12} {r:11.3f} {d:10.3f} {d / r:22.2f}")
    r, d = total["hand-rolled"], total["dataclass"]
    print(f"{'all derives':12} {r:11.3f} {d:10.3f} {d / r:22.2f}")


if __name__ == "__main__":
    main()
