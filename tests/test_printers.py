"""Two printers, one style, one precedence table (issue 14, item 2).

The index-form printer prints SymPy trees and the matrix-form printer the
``matrix`` module's tree; each takes its tokens from the style and its brackets
from ``einderive.precedence``.  Their output is fixed by the goldens and the
read-back tests (test_roundtrip); these tests hold the structure in place.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from sympy import Integer, Rational, Symbol

from einderive import matrix as mx
from einderive import pyexpr as P
from einderive.ops import SCALARS, F
from einderive.precedence import Prec
from einderive.render import names
from einderive.render.index_printer import IndexPrinter, index_precedence
from einderive.render.matrix_printer import MatrixPrinter, matrix_precedence
from einderive.render.notation import Notation
from einderive.render.readable import exposed_names, index_names, is_dim
from einderive.render.styles import Latex, LatexStyle, Unicode, UnicodeStyle

RENDER = Path(__file__).resolve().parents[1] / "src" / "einderive" / "render"


def test_every_print_method_is_defined_in_its_printer_class():
    # a method assigned after the class (the old _dispatch patch) has another __qualname__
    for cls in (IndexPrinter, MatrixPrinter):
        methods = {n: f for n, f in vars(cls).items() if n.startswith("_print_")}
        assert methods
        for name, f in methods.items():
            assert f.__qualname__ == f"{cls.__name__}.{name}", f.__qualname__


def test_add_and_pow_print_each_tree_in_its_own_printer():
    x = Symbol("x")
    a = mx.Ref("a", "tensor", (3,))
    p = Unicode()
    assert p.index(x ** 2 + 1) == "1 + x²"
    assert p.matrix(mx.add(mx.power(a, Integer(3)), mx.Ones((3,)))) == "a^∘3 + 𝟏"
    with pytest.raises(TypeError):
        MatrixPrinter(p).doprint(x + 1)  # a SymPy tree is no matrix form: never some text
    with pytest.raises(TypeError):
        IndexPrinter(p).doprint(mx.add(a, a))


@pytest.mark.parametrize("name", sorted(SCALARS))
def test_each_elementwise_function_reaches_its_method(name):
    # SymPy's own dispatch skips Function subclasses: each op's class must still be printed
    # by _print_ElementwiseFunction, in the style's tokens
    spec = SCALARS[name]
    args = [Symbol(n) for n in "xyzuvw"[:spec.arity + len(spec.params)]]
    for style in (Unicode, Latex):
        p = style()
        assert p.index(F(name)(*args)) == p.function(spec, [str(a) for a in args], False)


def test_styles_supply_tokens_only():
    for style in (UnicodeStyle, LatexStyle):
        own = set(vars(style))
        assert not {n for n in own if n.startswith("_print")}, style
        assert not own & {"index", "matrix", "product", "scalar_product", "coefficient"}
    assert issubclass(Unicode, UnicodeStyle) and issubclass(Unicode, Notation)
    assert issubclass(Latex, LatexStyle) and issubclass(Latex, Notation)


def test_one_precedence_scale_for_every_printer():
    assert all(isinstance(level, Prec) for level in P.PREC.values())
    assert P.PREC["+"] < P.PREC["*"] < P.PREC["unary"] < P.PREC["**"] < P.PREC["primary"]
    x = Symbol("x")
    a = mx.Ref("a", "tensor", (3,))
    assert index_precedence(x + 1) is Prec.ADD and index_precedence(2 * x) is Prec.MUL
    assert index_precedence(x ** 2) is Prec.POW and index_precedence(x) is Prec.ATOM
    assert matrix_precedence(mx.add(a, a)) is Prec.ADD
    assert matrix_precedence(mx.Const(Rational(-1, 2))) is Prec.ADD


def test_no_second_precedence_scale_in_the_printers():
    # levels are named: no PREC_* constants and no bare level numbers beside the table
    for path in [*RENDER.glob("*.py"), RENDER.parent / "pyexpr.py"]:
        text = path.read_text(encoding="utf8")
        assert not re.search(r"\bPREC_[A-Z]+\b", text), path.name
        assert not re.search(r"PREC\s*=\s*\{[^}]*\b1[1-7]\b", text), path.name


def test_one_rule_for_a_dim_and_an_index():
    n = Symbol("N", integer=True, positive=True)
    i = Symbol("i")
    assert is_dim(n) and not is_dim(i) and not is_dim(Integer(3))
    assert index_names(n * i) == frozenset({"i"})
    assert exposed_names(n * i) == frozenset({"i"})


def test_lookalikes_read_index_letters_as_the_printers_write_them():
    # x_i′ is the element x_i′ of a vector x; y_true beside y is a name (four letters, one axis)
    assert names.text_lookalikes({"x": 1, "x_i′": 1, "y": 1, "y_true": 1, "W": 2,
                                  "W_ij": 2, "W_i": 2}) == {"x_i′", "W_ij"}


def test_printers_in_the_sources_take_tokens_from_the_style():
    # the printers never spell a Unicode or LaTeX token themselves
    for module in ("index_printer", "matrix_printer"):
        source = inspect.getsource(__import__(f"einderive.render.{module}",
                                              fromlist=["_"]))
        code = "\n".join(line.split("#")[0] for line in source.splitlines()
                         if not line.strip().startswith(('"', "'")))
        for token in ("\\frac", "\\left", "⊙", "⊘", "Σ", "∂", "√", "−", "·"):
            assert f'"{token}' not in code and f"'{token}" not in code, (module, token)


def test_name_tables_are_kept_off_the_graph_and_go_with_it():
    import gc

    from conftest import derive_text
    from einderive.render import styles
    from einderive.render import text as T
    d = derive_text("""
        name: t
        dims: {M: 3, N: 4}
        inputs: {W: [M, N], x: [N]}
        forward: [z = W @ x, L = sum(z * z)]
        loss: L
        wrt: [W]
        """)
    assert T.matrix_rhs(d, d.adjoint("W").form, Latex) == \
        r"\frac{\partial L}{\partial z} x^{\top}"
    assert not any(k.startswith("_names") for k in vars(d.graph))  # engine objects: no view state
    key = id(d.graph)
    assert key in styles._TABLES
    del d
    gc.collect()
    assert key not in styles._TABLES
