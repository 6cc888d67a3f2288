"""Numeric proof of every printed gradient: generated code against finite differences.

The dims get sizes (the spec's, the user's, or small distinct primes so that a
misplaced transpose cannot hide), the inputs random values from a seeded
generator, and the module :func:`~einderive.render.pymodule.numpy_module` writes
from the printed matrix forms is run in float64.  Each gradient, and each
closed form ``--expand`` prints, is compared with central differences of the
generated ``forward``.
"""

from __future__ import annotations

from .errors import SpecError
from .record import Record, field

DEFAULT_SIZES = (2, 3, 5, 7, 11, 13, 17, 19)
STEP = 1e-6
DEFAULT_TOL = 1e-6


class Check(Record):
    name: str
    shape: tuple
    max_abs: float  # of the printed (chain) form, or of the closed form if that is worse
    max_rel: float
    ok: bool
    closed: str = "none"  # the closed form's result: 'pass', 'fail' or 'none' (not printed)


class Report(Record):
    spec: str
    sizes: dict
    seed: int
    tol: float
    checks: tuple = ()
    error: str = ""  # set when the check could not run (e.g. a domain error)
    hint: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and all(c.ok for c in self.checks)


class _Module(Record):
    forward: object
    gradients: object
    closed: dict = field(default_factory=dict)


def sizes_for(graph, override: dict | None = None) -> dict:
    """Dim sizes: ``override``, else the spec's, else distinct small primes."""
    override = override or {}
    unknown = [k for k in override if k not in {d for d, _ in graph.dims}]
    if unknown:
        raise SpecError(f"--dims names '{unknown[0]}', which is not a dim of this spec", None,
                        f"its dims are: {', '.join(d for d, _ in graph.dims) or 'none'}")
    out, pool = {}, iter(DEFAULT_SIZES)
    used = {v for v in override.values()} | {s for _, s in graph.dims if s}
    for d, size in graph.dims:
        if d in override:
            out[d] = override[d]
        elif size:
            out[d] = size
        else:
            n = next(pool)
            while n in used:
                n = next(pool)
            used.add(n)
            out[d] = n
    return out


def positive_inputs(graph) -> set:
    """Inputs drawn positive: declared so, or read directly by log, sqrt or a fractional power."""
    out = {t.name for t in graph.inputs if t.positive}

    def walk(e):
        from .ops import SCALARS
        fractional = e.op == "**" and e.args[1].op == "num" and \
            e.args[1].param("value").denominator != 1
        if e.op in SCALARS and SCALARS[e.op].domain == "positive" or fractional:
            if e.args[0].op == "ref" and graph[e.args[0].param("name")].is_input:
                out.add(e.args[0].param("name"))
        for a in e.args:
            if hasattr(a, "op"):
                walk(a)
    for t in graph.nodes:
        walk(t.expr)
    return out


def draw_inputs(graph, sizes: dict, seed: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    positive = positive_inputs(graph)
    values = {}
    for t in graph.inputs:
        shape = tuple(1 if d == 1 else sizes[d] for d in t.shape)
        if t.name in positive:
            values[t.name] = rng.uniform(0.5, 1.5, size=shape)
        else:
            values[t.name] = rng.standard_normal(size=shape)
        if shape == ():
            values[t.name] = float(values[t.name])
    return values


def _load(d) -> _Module:
    """Import the generated modules, written to a temporary folder, as a user would.

    Nothing from the spec reaches this code but checked identifiers and numbers."""
    import importlib.util
    import tempfile
    from pathlib import Path

    from .render.pymodule import closed_form_functions, numpy_module

    def load(folder: Path, name: str, code: str):
        path = folder / f"{name}.py"
        path.write_text(code, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(f"einderive_generated_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    with tempfile.TemporaryDirectory(prefix="einderive-verify-") as tmp:
        main = load(Path(tmp), "gradients", numpy_module(d))
        closed_code = closed_form_functions(d)
        closed = load(Path(tmp), "closed", closed_code) if closed_code else None
    closed_fns = {k[len("closed_"):]: v for k, v in vars(closed).items()
                  if k.startswith("closed_")} if closed else {}
    return _Module(main.forward, main.gradients, closed_fns)


def verify(d, sizes: dict | None = None, seed: int = 0, tol: float = DEFAULT_TOL) -> Report:
    """Compare each gradient of ``d`` with central finite differences."""
    import numpy as np

    sizes = sizes_for(d.graph, sizes)
    module = _load(d)
    inputs = draw_inputs(d.graph, sizes, seed)
    with np.errstate(all="ignore"):
        loss = module.forward(**inputs)
    if not np.isfinite(loss):
        return Report(d.name, sizes, seed, tol, (),
                      f"the loss is not finite ({loss}) at the random point",
                      "an input may need to be positive: declare it as "
                      "'x: {shape: [N], positive: true}'")
    grads = module.gradients(**inputs)
    checks = []
    for name in d.graph.wrt:
        numeric = _finite_difference(module.forward, inputs, name)
        check = _compare(name, grads[name], numeric, tol)
        if name in module.closed:
            closed = _compare(name, module.closed[name](**inputs), numeric, tol)
            check = Check(name, check.shape, max(check.max_abs, closed.max_abs),
                          max(check.max_rel, closed.max_rel), check.ok and closed.ok,
                          "pass" if closed.ok else "fail")
        checks.append(check)
    return Report(d.name, sizes, seed, tol, tuple(checks))


def _finite_difference(forward, inputs: dict, name: str):
    import numpy as np

    x = np.array(inputs[name], dtype=float)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        h = STEP * max(1.0, abs(float(x[idx])))
        values = []
        for sign in (1, -1):
            y = x.copy()
            y[idx] += sign * h
            args = dict(inputs)
            args[name] = y if y.shape else float(y)
            values.append(forward(**args))
        out[idx] = (values[0] - values[1]) / (2 * h)
    return out


def _compare(name: str, got, want, tol: float) -> Check:
    import numpy as np

    got = np.asarray(got, dtype=float)
    if got.shape != want.shape:
        return Check(name, want.shape, float("inf"), float("inf"), False)
    err = np.abs(got - want)
    max_abs = float(err.max()) if err.size else 0.0
    scale = float(np.abs(want).max()) if want.size else 0.0
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    ok = bool(np.isfinite(max_abs)) and max_abs <= tol * max(1.0, scale)
    return Check(name, want.shape, max_abs, max_rel, ok)
