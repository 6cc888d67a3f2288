"""Issue 12: a whole batched tensor's reduction, broadcast back, prints NumPy's keepdims.

A line of the whole tensor in the batched reading (``∂L/∂s = …`` of ``s: [B, H, N]``, no
subscript) reads each element's matrix, and the reduction of each element's rows is the
element's column.  Printed with the whole tensor's axis, ``max(s, axis=2)`` is, to a reader
who takes the notation at its word (README: NumPy's), the B×H tensor, which NumPy aligns with
s's LAST axes: ``s = max(s, axis=2)`` then compares the wrong elements (or does not broadcast
at all).  ``max(s, axis=2, keepdims=True)`` is B×H×1 and broadcasts back as each element's
column does.  Pinned in text, LaTeX, MathML and the code's comments; each printed form read
back numerically by the independent reader (which refuses the old form), and ``verify``
proves each spec.  Forms that are right without it keep their print: the forward's total
``sum(max(s, axis=2))``, the index form ``max(s, axis=2)_ij``, an element's ``max(s_bh)``,
and a plain (not batched) tensor's ``logsumexp(x0, axis=2)ᵀ``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from printed import entries

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))
import test_element_axis as element_axis  # noqa: E402  (its HEADS)

# s: [B, H, N], a column for each element b, h: test_element_axis's HEADS, with max or min
HEADS = (element_axis.HEADS.replace("element_axis_heads", "nt1_heads")
         .replace("{", "{{").replace("}", "}}").replace("sum(max(s", "sum({fn}(s"))
assert "{fn}" in HEADS

# Y: [B, T, N, D], a batch of N×D matrices: the max of each element's rows, axis 3
RANK4 = """\
name: nt1_rank4
dims: {B: 2, T: 3, N: 4, D: 2}
inputs: {X: [B, T, N, D], W: [D, D]}
forward:
  - Y = X @ W
  - L = sum(Y * Y) + sum(max(Y, axis=3)) + sum(logsumexp(Y, axis=2))
loss: L
"""

TRANSPOSED = TESTS / "regressions" / "logsumexp_rank3_transposed.yaml"


def _spec(tmp_path, text: str, name: str = "spec.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _out(run, *args) -> str:
    r = run("derive", *[str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.output


def _lines(run, spec) -> list[str]:
    return [line for _, line in entries(_out(run, "--expand", spec))]


def _reads_back_and_verifies(run, spec):
    import test_printed_forms as T
    assert T.failures(spec, run) == []
    r = run("verify", spec)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("fn", ["max", "min"])
def test_batched_line_keeps_the_reduced_axis(run, tmp_path, fn):
    spec = _spec(tmp_path, HEADS.format(fn=fn))
    text = "\n".join(_lines(run, spec))
    assert f"∂L/∂s = p ⊙ (∂L/∂p − rowsum(∂L/∂p ⊙ p)) + 𝟙[s = {fn}(s, axis=2, keepdims=True)]" \
        in text
    assert f"= 𝟙[s = {fn}(s, axis=2, keepdims=True)] + p ⊙ (m − rowsum(m ⊙ p))" in text
    assert f"{fn}(s, axis=2)]" not in text
    # right as they were: the forward's total (of the B×H tensor), the index form, an element
    assert f"L = sum({fn}(s, axis=2)) + sum(m ⊙ p)" in text
    assert f"𝟙[s_ijk = {fn}(s, axis=2)_ij]" in text
    assert f"𝟙[s_bh = {fn}(s_bh)]" in text
    _reads_back_and_verifies(run, spec)


def test_latex_mathml_and_code_comments(run, tmp_path):
    spec = _spec(tmp_path, HEADS.format(fn="max"))
    latex = _out(run, "--expand", "--latex", spec)
    assert (r"\left[s = \operatorname{max}(s, \mathrm{axis}{=}2, "
            r"\mathrm{keepdims}{=}\mathrm{True})\right]") in latex
    assert r"\operatorname{max}_{2}(s)\right]" not in latex
    html = _out(run, "--format", "html", spec)
    assert ("<mi>max</mi><mo>&#x2061;</mo><mrow><mo stretchy=\"false\">(</mo><mi>s</mi>"
            "<mo>,</mo><mi>axis</mi><mo>=</mo><mn>2</mn><mo>,</mo><mi>keepdims</mi><mo>=</mo>"
            "<mi>True</mi>") in html
    code = _out(run, "--format", "numpy", spec)
    assert "# ∂L/∂s = p ⊙ (∂L/∂p − rowsum(∂L/∂p ⊙ p)) + 𝟙[s = max(s, axis=2, keepdims=True)]" \
        in code
    assert "np.max(s, axis=2, keepdims=True)" in code  # the code computes what it says


def test_rank4_batch_of_matrices(run, tmp_path):
    spec = _spec(tmp_path, RANK4)
    text = "\n".join(_lines(run, spec))
    assert "∂L/∂Y = 2 Y + softmax(Y, axis=2) + 𝟙[Y = max(Y, axis=3, keepdims=True)]" in text
    assert "max(Y, axis=3)]" not in text
    # each element's line names the element's own axis, without keepdims (its column)
    assert "𝟙[Y_bt = max(Y_bt, axis=1)]" in text
    _reads_back_and_verifies(run, spec)


def test_plain_tensor_keeps_numpys_reduction(run):
    """x0: [M, N, K] read whole, not as a batch: logsumexp(x0, axis=2) is the M×N tensor,
    transposed the N×M h1, as NumPy says without keepdims."""
    text = "\n".join(_lines(run, TRANSPOSED))
    assert "h1 = logsumexp(x0, axis=2)ᵀ" in text
    assert "keepdims" not in text


def _env():
    from notation_reader import Env
    rng = np.random.default_rng(0)
    s = rng.standard_normal((2, 3, 4))
    return s, Env({"s": ("B", "H", "N")}, {"B": 2, "H": 3, "N": 4}, {"s": s}, {}, "L", {})


def test_reader_reads_keepdims_as_numpy():
    from notation_reader import MatrixEval, read
    s, env = _env()
    ev = MatrixEval(env)
    got = np.asarray(ev.ev(read("t = 𝟙[s = max(s, axis=2, keepdims=True)]")[1]).v)
    assert np.array_equal(got, (s == s.max(axis=2, keepdims=True)).astype(float))
    got = np.asarray(ev.ev(read("t = min(s, axis=1, keepdims=True)")[1]).v)
    assert np.allclose(got, s.min(axis=1, keepdims=True))
    got = np.asarray(ev.ev(read("t = logsumexp(s, axis=2, keepdims=True)")[1]).v)
    assert np.allclose(got, np.log(np.exp(s).sum(axis=2, keepdims=True)))
    # of a computed value too: NumPy's keepdims on its axis
    got = np.asarray(ev.ev(read("t = max(2 s, axis=2, keepdims=True)")[1]).v)
    assert np.allclose(got, 2 * s.max(axis=2, keepdims=True))


def test_reader_refuses_the_old_form_and_keepdims_of_an_element():
    from notation_reader import MatrixEval, ReaderError, read
    s, env = _env()
    ev = MatrixEval(env)
    with pytest.raises(ReaderError):  # B×H×N against B×H: NumPy does not broadcast them
        ev.ev(read("t = 𝟙[s = max(s, axis=2)]")[1])
    ev.batch = ("b",)
    with pytest.raises(ReaderError):  # an element's reduction is its column already
        ev.ev(read("t_b = max(s_b, axis=1, keepdims=True)")[1])
    ev.batch = ()
    with pytest.raises(ReaderError):  # softmax keeps every axis: no keepdims to say
        ev.ev(read("t = softmax(s, axis=1, keepdims=True)")[1])


# a reduction alone, or in elementwise company of its own shape, is NumPy's as it is
ALONE = """\
name: nt1_alone
dims: {B: 2, T: 3, N: 4}
inputs: {X: [B, T, N], W: [N, N]}
forward:
  - Y = X @ W
  - M = exp(max(Y, axis=2))
  - L = sum(M * M) + sum(Y * Y)
loss: L
"""


def test_reduction_alone_keeps_numpys_shape(run, tmp_path):
    spec = _spec(tmp_path, ALONE)
    text = "\n".join(_lines(run, spec))
    assert "M = exp(max(Y, axis=2))" in text  # M: [B, T], NumPy's B×T
    assert "keepdims" not in text
    _reads_back_and_verifies(run, spec)


# |a|/a is sign(a) wherever it is defined: its derivative is 0 (a ≠ 0)
ABS_OVER_SELF = """\
name: nt1_abs_over_self
dims: {N: 3}
inputs: {a: [N], x: [N]}
forward:
  - y = abs(a) / (a * a) + abs(a) * x / a
  - z = abs(a) / a
  - L = sum(y * x) + sum(z * x)
loss: L
"""


def test_abs_over_its_argument_differentiates_through_sign(run, tmp_path):
    spec = _spec(tmp_path, ABS_OVER_SELF)
    found = entries(_out(run, "--expand", spec))
    text = "\n".join(line for _, line in found)
    # d(|a|/a²)/da = sign(a)/a² − 2 |a|/a³ = −sign(a)/a²; d(|a|/a)/da = 0: no term of z
    assert "∂L/∂a = −∂L/∂y ⊙ sign(a) ⊘ (a ⊙ a)" in text
    assert "∂L/∂x = ∂L/∂y ⊙ sign(a) + y + z" in text
    assert not [line for section, line in found if section != "Forward" and "|a" in line]
    _reads_back_and_verifies(run, spec)
