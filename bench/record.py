"""Does the hand-rolled ``Record`` pay for itself against ``dataclass(frozen=True, slots=True)``?

The engine's value objects derive from :class:`einderive.record.Record`.  This bench
copies the package twice into a temporary folder: once as it is, once with
``record.py`` replaced by a shim that turns every ``Record`` subclass into a
``dataclass(frozen=True, slots=True)`` at its definition (through a metaclass, so
no other file changes).  Each copy then runs, in its own fresh processes:

import    ``import einderive.derivation, einderive.render.terminal`` (class definitions:
          where ``dataclass`` pays for generating its methods);
derive    a full derive of each bench family (bench/families.py) at size n, printed as
          text and generated as NumPy code, SymPy's cache cleared before every run
          (where ``Record``'s one generic ``__init__``/``__eq__``/``__hash__`` pay per object).

CPU seconds, median of the runs, side by side.  Prints a table; asserts nothing.

    python bench/record.py            # n = 8, 32; 5 runs each
    python bench/record.py --sizes 8,32,64 --reps 7
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "src" / "einderive"

# The dataclass variant of record.py: same names, same behaviour, standard machinery.
SHIM = '''"""record.py for the bench: every Record subclass becomes dataclass(frozen=True, slots=True)."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any

_MISSING: Any = dataclasses.MISSING


def field(default: Any = _MISSING, *, default_factory: Any = _MISSING, compare: bool = True,
          repr: bool = True) -> Any:
    return dataclasses.field(default=default, default_factory=default_factory,
                             compare=compare, repr=repr)


_CACHES = {"Graph", "Derivation"}  # they cache into __dict__ (grep __dict__ in src)


class _Frozen(type):
    def __new__(mcls, name: str, bases: tuple, ns: dict, **kw: Any) -> Any:
        cls = super().__new__(mcls, name, bases, ns, **kw)
        if "__slots__" in ns:  # Record itself, or the class dataclass(slots=True) remakes
            return cls
        # a class that caches into its instance (cached_property, Graph's index) keeps a __dict__
        cache = name in _CACHES or any(isinstance(v, cached_property) for v in ns.values())
        return dataclasses.dataclass(frozen=True, slots=not cache)(cls)


class Record(metaclass=_Frozen):
    __slots__ = ()


def replace(obj: Any, **changes: Any) -> Any:
    return dataclasses.replace(obj, **changes)


def fields(obj: Any) -> tuple:
    return tuple(f.name for f in dataclasses.fields(obj))
'''

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
    for name in ("Record", "dataclass"):
        dest = root / name / "einderive"
        shutil.copytree(PACKAGE, dest, ignore=shutil.ignore_patterns("__pycache__"))
        if name == "dataclass":
            (dest / "record.py").write_text(SHIM, encoding="utf-8")
        out[name] = dest.parent
    return out


def _run(variant: Path, mode: str, args: list[str]) -> object:
    env = dict(os.environ, PYTHONPATH=str(variant), PYTHONHASHSEED="0")
    done = subprocess.run([sys.executable, "-c", WORKER, mode, str(variant), *args],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


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
                col = rows.setdefault("import", {}).setdefault(name, [])
                col.append(float(_run(folder, "import", [])))  # type: ignore[arg-type]
                times = _run(folder, "derive", specs)
                assert isinstance(times, dict)
                for path, t in times.items():
                    rows.setdefault(Path(path).stem, {}).setdefault(name, []).append(t)
    _print(rows, args.reps)


def _print(rows: dict[str, dict[str, list[float]]], reps: int) -> None:
    print(f"CPU seconds, median of {reps} fresh processes each (lower is better)")
    print(f"{'':12} {'Record':>10} {'dataclass':>10} {'dataclass/Record':>17}")
    total = {"Record": 0.0, "dataclass": 0.0}
    for label, cols in rows.items():
        r, d = (statistics.median(cols[k]) for k in ("Record", "dataclass"))
        if label != "import":
            total["Record"] += r
            total["dataclass"] += d
        print(f"{label:12} {r:10.3f} {d:10.3f} {d / r:17.2f}")
    r, d = total["Record"], total["dataclass"]
    print(f"{'all derives':12} {r:10.3f} {d:10.3f} {d / r:17.2f}")


if __name__ == "__main__":
    main()
