"""The cost table (``einderive cost``, ``derive --cost``) as plain text, Markdown and JSON.

Reads a :class:`~einderive.cost.CostTable`, in which every quantity is already counted,
symbolically and at the sizes; this module only lays it out.  Symbolic counts are printed
from their SymPy trees: ``2·B·D·H`` in text, ``2*B*D*H`` in JSON (which SymPy reads back).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import sympy

from ..cost import CostTable, PolicyRow, Q, Row, SavedRow
from ..flops import as_expr

CONVENTIONS = (
    "FLOPs as the generated code computes each formula (a forward node from its definition, "
    "an adjoint from its printed form): an m×k by k×n product is 2mkn (a "
    "matrix-vector or dot product likewise; these and einsum contractions are the matmul "
    "FLOPs); an outer product mn; each elementwise op, scalar function or reduction one per "
    "element (softmax 5, logsumexp 4 per element read and 2 per element written, max and "
    "min 1 per element read); a function of an n×n matrix by its LU factorisation, as "
    "LAPACK counts it (inv 2n³, det and logdet 2n³/3 + n, a solve or a product by an inverse "
    "with k columns 2n³/3 + 2n²k); transposes and negations free.")
SAVED = ("Saved for backward: the forward tensors the adjoint formulas read; activations are "
         "the nodes among them (inputs are held by the caller anyway).")
POLICIES = ("Recomputation, in the terms of Korthikanti et al. 2022: 'selective' keeps only "
            "the inputs of matrix products; 'no matmul recomputed' keeps besides them what "
            "only a matrix product makes again; 'full' keeps only the inputs and recomputes "
            "the forward pass.")
SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


# -- quantities ----------------------------------------------------------------------------


def expr_text(e: Any, ascii_: bool = False) -> str:
    """A count in the dims: ``2·B·D·H + B`` (or ``2*B*D*H + B``); a ratio as ``(…)/(…)``."""
    num, den = sympy.fraction(as_expr(e))
    if den != 1:
        return f"{_bracket(_poly(num, ascii_))}/{_bracket(_poly(den, ascii_))}"
    return _poly(num, ascii_)


def _bracket(text: str) -> str:
    return f"({text})" if any(c in text for c in " ·*") else text


def _poly(e: Any, ascii_: bool) -> str:
    if e == 0:
        return "0"
    out = ""
    for n, term in enumerate(e.as_ordered_terms()):
        coeff, factors = term.as_coeff_mul()
        text = _monomial(abs(coeff), factors, ascii_)
        if n == 0:
            out = ("-" if coeff < 0 else "") + text
        else:
            out += (" - " if coeff < 0 else " + ") + text
    return out


def _monomial(coeff: Any, factors: tuple[Any, ...], ascii_: bool) -> str:
    times = "*" if ascii_ else "·"
    parts = [] if coeff == 1 and factors else [str(coeff)]
    for f in sorted(factors, key=sympy.default_sort_key):
        base, exp = f.as_base_exp()
        if exp == 1:
            parts.append(str(base))
        else:
            parts.append(f"{base}**{exp}" if ascii_ else f"{base}{str(exp).translate(SUPERSCRIPT)}")
    return times.join(parts)


def number(n: Any) -> str:
    """A count for a reader: exact below a million, else three digits and a prefix."""
    if n is None:
        return "?"
    if isinstance(n, sympy.Rational) and not n.is_Integer:
        return f"{float(n):.6g}"  # a ratio: 2.00003 is not 2
    n = int(n)
    if abs(n) < 10**6:
        return f"{n:,}"
    for exp, prefix in ((15, "P"), (12, "T"), (9, "G"), (6, "M")):
        if abs(n) >= 10**exp:
            return f"{n / 10**exp:.3g} {prefix}"
    return str(n)  # pragma: no cover


def size(n: Any) -> str:
    """Bytes: exact below a KiB, else in KiB, MiB, GiB or TiB to three digits."""
    if n is None:
        return "?"
    n = int(n)
    for k, unit in ((40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 2**k:
            return f"{n / 2**k:.3g} {unit}"
    return f"{n} B"


def _q(q: Q | None) -> str:
    return "" if q is None else expr_text(q.sym)


def _count(q: Q) -> str:
    """A count's number at the sizes; its formula where a dim has no size."""
    return number(q.num) if q.num is not None else expr_text(q.sym)


def _bytes(q: Q) -> str:
    return size(q.num) if q.num is not None else f"{expr_text(q.sym)} B"


def _both(q: Q, shown: Any = None) -> str:
    """``formula (number)``; the formula alone where a dim has no size."""
    if q.num is None:
        return expr_text(q.sym)
    return f"{expr_text(q.sym)} ({(shown or number)(q.num)})"


def _shape(shape: tuple[Any, ...]) -> str:
    return "×".join(str(s) for s in shape) or "scalar"


def _sizes(t: CostTable) -> str:
    return ", ".join(f"{d}={s}" for d, s in t.sizes if s is not None)


Names = Mapping[str, str]  # how a tensor is shown: an anonymous one by its definition


def anon_labels(d: Any) -> dict[str, str]:
    """Each anonymous intermediate of ``d`` by the short name its chain rule gives it
    (``derive --steps``: ``u``), else as the derivation prints it: ``(S − x)``."""
    from .text import Pen, printer
    pen, p = Pen.of(d), printer(d)
    out = {}
    for name, m in d.anon.items():
        step = pen.step_definition(name)
        if step:  # (the name alone: u, not its index form's u_ijkl, read in other rows)
            out[name] = pen.step_printer(name).tensor(name, "")
        elif m is not None:
            out[name] = f"({p.matrix(m)})"
    return out


def anon_definitions(d: Any) -> dict[str, str]:
    """The forward row of each anonymous intermediate that goes by a short name defines it
    there, before any row reads it: ``u = tanh(Y)``."""
    from .text import Pen
    pen = Pen.of(d)
    return {name: " = ".join(step) for name in d.anon if (step := pen.step_definition(name))}


def _label(t: CostTable, row: Row, names: Names, defined: Names | None = None) -> str:
    if row.phase == "forward" and defined and row.tensor in defined:
        return defined[row.tensor]
    name = names.get(row.tensor, row.tensor)
    return name if row.phase == "forward" else f"∂{t.loss}/∂{name}"


def _list(items: Any, names: Names) -> str:
    return ", ".join(names.get(n, n) for n in items)


# -- the rows, shared by text and Markdown --------------------------------------------------


def flop_rows(t: CostTable, names: Names, defined: Names | None = None) -> list[list[str]]:
    known = t.forward_total.total.num is not None
    head = ["formula", "matmul FLOPs", "other FLOPs", f"total at {_sizes(t)}" if known and _sizes(t) else "total",
            "reads"]
    rows = [head]
    for total, part in ((t.forward_total, t.forward), (t.backward_total, t.backward)):
        for r in part:
            note = " (index form)" if r.form == "index" else ""
            rows.append([_label(t, r, names, defined) + note, _q(r.matmul), _q(r.other),
                         _count(r.total), _list(r.reads, names)])
        rows.append([f"{total.tensor} total", _q(total.matmul), _q(total.other),
                     _count(total.total), ""])
    return rows


def ratio_lines(t: CostTable) -> list[str]:
    out = []
    if t.matmul_ratio is not None:
        r = t.matmul_ratio
        at = f" = {number(r.num)}" if r.num is not None and as_expr(r.sym).free_symbols \
            else ""
        out.append(f"backward/forward, matmul FLOPs: {expr_text(r.sym)}{at}")
    if t.leading_ratio is not None:
        out.append(f"backward/forward, all FLOPs, highest-degree terms: "
                   f"{expr_text(t.leading_ratio.sym)}")
    if t.total_ratio is not None and t.total_ratio.num is not None:
        at = f" at {_sizes(t)}" if _sizes(t) else ""  # no dims: every count is a number
        out.append(f"backward/forward, all FLOPs{at}: {number(t.total_ratio.num)}")
    return out


def saved_rows(t: CostTable, names: Names) -> list[list[str]]:
    rows = [["tensor", "kind", "shape", "elements", f"bytes ({t.dtype})", "read by",
             "freed after", "FLOPs to recompute"]]
    for s in t.saved:
        rows.append([names.get(s.name, s.name), _kind(s), _shape(s.shape), _q(s.elements),
                     _bytes(s.bytes), ", ".join(f"∂{t.loss}/∂{r}" for r in s.readers),
                     f"∂{t.loss}/∂{s.freed_after}", _recompute(s)])
    return rows


def _kind(s: SavedRow) -> str:
    return "input" if s.kind == "input" else "activation"


def _recompute(s: SavedRow) -> str:
    if s.recompute is None:
        return "-"
    return _both(s.recompute)


def memory_lines(t: CostTable) -> list[str]:
    return [f"activations kept: {_q(t.activation_elements)} elements, "
            f"{_bytes(t.activation_bytes)}; inputs read: {_q(t.input_elements)} elements, "
            f"{_bytes(t.input_bytes)}"]


def timeline_rows(t: CostTable, names: Names) -> list[list[str]]:
    rows = [["after", "last use of", "activations still held"]]
    for r in t.backward:
        if r.freed:
            held = "" if r.live is None or r.live_bytes is None else \
                _both(Q(r.live.sym, r.live_bytes.num), size)  # elements, and their bytes
            rows.append([_label(t, r, names), _list(r.freed, names), held])
    return rows


def policy_rows(t: CostTable, names: Names) -> list[list[str]]:
    rows = [["policy", "keeps", "recomputes", "activation memory", "memory saved",
             "FLOPs added"]]
    for p in t.policies:
        rows.append([p.name, _list(p.kept, names) or "-", _list(p.recomputed, names) or "-",
                     _both(Q(p.elements.sym, p.bytes.num), size), _bytes(p.saved_bytes),
                     _both(p.added)])
    return rows


# -- text ----------------------------------------------------------------------------------


def text(t: CostTable, names: Names | None = None, defined: Names | None = None) -> str:
    """The table for a terminal; ``names`` shows anonymous intermediates (:func:`anon_labels`),
    ``defined`` their forward rows (:func:`anon_definitions`)."""
    names = names or {}
    at = f" at {_sizes(t)}" if _sizes(t) else ""
    out = [f"Cost of {t.name}{at} ({t.dtype}, {t.bytes_per_element} bytes an element)", "",
           "FLOPs", *_grid(flop_rows(t, names, defined)), *ratio_lines(t), "",
           "Saved for backward", *_grid(saved_rows(t, names)), *memory_lines(t)]
    freed = timeline_rows(t, names)
    if len(freed) > 1:
        out += ["", "Freed during the backward pass", *_grid(freed)]
    out += ["", "Recomputation", *_grid(policy_rows(t, names)), ""]
    out += [line for p in (CONVENTIONS, SAVED, POLICIES) for line in textwrap.wrap(p, 88)]
    return "\n".join(out) + "\n"


def _grid(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


# -- Markdown ------------------------------------------------------------------------------


def markdown(t: CostTable, names: Names | None = None, level: int = 2,
             defined: Names | None = None) -> list[str]:
    """The cost section of a Markdown document (``level`` is its heading's)."""
    names = names or {}
    h = "#" * level
    at = f" and at {_sizes(t)}" if _sizes(t) else ""
    out = [f"{h} Cost", "", f"Counted symbolically{at}, {t.dtype} ({t.bytes_per_element} "
           f"bytes an element). {CONVENTIONS}", "", f"{h}# FLOPs", "", *_table(flop_rows(t, names, defined)),
           "", *[f"- {line}" for line in ratio_lines(t)], "", f"{h}# Saved for backward", "",
           SAVED, "", *_table(saved_rows(t, names)), "", *[f"- {line}" for line in memory_lines(t)]]
    freed = timeline_rows(t, names)
    if len(freed) > 1:
        out += ["", *_table(freed)]
    out += ["", f"{h}# Recomputation", "", POLICIES, "", *_table(policy_rows(t, names)), ""]
    return out


def _table(rows: list[list[str]]) -> list[str]:
    def line(r: list[str]) -> str:
        return "| " + " | ".join(_cell(c) for c in r) + " |"
    return [line(rows[0]), "|" + "|".join(" --- " for _ in rows[0]) + "|"] + \
        [line(r) for r in rows[1:]]


def _cell(c: str) -> str:
    return c.replace("|", "\\|") if c else " "


def markdown_document(t: CostTable, names: Names | None = None,
                      defined: Names | None = None) -> str:
    return "\n".join([f"# {t.name}", "", *markdown(t, names, defined=defined)]).rstrip("\n") + "\n"


# -- JSON ----------------------------------------------------------------------------------


def _jq(q: Q | None) -> dict[str, Any] | None:
    if q is None:
        return None
    num = q.num
    if isinstance(num, sympy.Rational) and not num.is_Integer:
        num = float(num)
    return {"symbolic": expr_text(q.sym, ascii_=True), "value": num}


def _jrow(r: Row, names: Names, defined: Names | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"tensor": names.get(r.tensor, r.tensor), "form": r.form,
                           "reads": [names.get(n, n) for n in r.reads],
                           "matmul": _jq(r.matmul), "other": _jq(r.other),
                           "total": _jq(r.total)}
    if r.phase == "forward" and defined and r.tensor in defined:
        out["definition"] = defined[r.tensor]  # an anonymous intermediate's: u = X + S
    if r.phase == "backward":
        out.update({"frees": [names.get(n, n) for n in r.freed],
                    "activations_held": {"elements": _jq(r.live), "bytes": _jq(r.live_bytes)}})
    return out


def json_section(t: CostTable, names: Names | None = None,
                 defined: Names | None = None) -> dict[str, Any]:
    """The ``cost`` object of a JSON document (README, "JSON output"); ``names`` shows
    anonymous intermediates (:func:`anon_labels`) as the text table does, and a forward row
    of one that goes by a short name says what it stands for (``defined``,
    :func:`anon_definitions`)."""
    names = names or {}
    return {
        "dtype": t.dtype,
        "bytes_per_element": t.bytes_per_element,
        "sizes": {d: s for d, s in t.sizes},
        "conventions": CONVENTIONS,
        "forward": [_jrow(r, names, defined) for r in t.forward],
        "backward": [_jrow(r, names) for r in t.backward],
        "totals": {"forward": _jrow(t.forward_total, names) | {"tensor": None},
                   "backward": {k: v for k, v in _jrow(t.backward_total, names).items()
                                if k not in ("frees", "activations_held")} | {"tensor": None}},
        "ratio": {"matmul": _jq(t.matmul_ratio), "leading": _jq(t.leading_ratio)},
        "saved": [_jsaved(s, names) for s in t.saved],
        "activations": {"elements": _jq(t.activation_elements),
                        "bytes": _jq(t.activation_bytes)},
        "inputs_read": {"elements": _jq(t.input_elements), "bytes": _jq(t.input_bytes)},
        "recomputation": [_jpolicy(p, names) for p in t.policies],
    }


def _jsaved(s: SavedRow, names: Names) -> dict[str, Any]:
    return {"tensor": names.get(s.name, s.name), "kind": s.kind,
            "shape": [x if x == 1 else str(x) for x in s.shape],
            "elements": _jq(s.elements), "bytes": _jq(s.bytes),
            "read_by": [names.get(n, n) for n in s.readers],
            "freed_after": names.get(s.freed_after, s.freed_after),
            "matmul_input": s.matmul_input,
            "recompute": {"total": _jq(s.recompute), "matmul": _jq(s.recompute_matmul)}
            if s.recompute is not None else None}


def _jpolicy(p: PolicyRow, names: Names) -> dict[str, Any]:
    return {"policy": p.name, "keeps": [names.get(n, n) for n in p.kept],
            "recomputes": [names.get(n, n) for n in p.recomputed],
            "elements": _jq(p.elements), "bytes": _jq(p.bytes), "bytes_saved": _jq(p.saved_bytes),
            "flops_added": _jq(p.added), "matmul_flops_added": _jq(p.added_matmul)}


def json_document(t: CostTable, names: Names | None = None,
                  defined: Names | None = None) -> dict[str, Any]:
    """``einderive cost -f json``: schema ``einderive/cost`` version 1 (fields only added);
    ``names`` and ``defined`` as :func:`json_section` takes them."""
    from .._version import __version__
    return {"schema": "einderive/cost", "schema_version": 1,
            "generator": f"einderive {__version__}", "spec": t.name, "loss": t.loss,
            "cost": json_section(t, names, defined)}
