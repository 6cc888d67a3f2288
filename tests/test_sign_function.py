"""``sign`` is a spec function (it was printed as abs's derivative, which a user could not
write back into a spec): its derivative is 0, and each notation prints and computes it."""

from __future__ import annotations

import textwrap

from conftest import derive_text
from einderive.api import render, verify
from einderive.render.terminal import Options, plain

SPEC = """\
    name: sign_spec
    dims: {N: 4}
    inputs: {x: [N], w: [N]}
    forward:
      - y = sign(w) * x + abs(x)
      - L = sum(y * y)
    loss: L
    """


def test_sign_is_a_spec_function_with_derivative_zero():
    d = derive_text(textwrap.dedent(SPEC))
    text = plain(d, Options(expand=True))
    assert "∂L/∂x   = ∂L/∂y ⊙ (sign(x) + sign(w))" in text, text
    assert "grad(w) = 0" in text, text
    assert "np.sign(w)" in render(d, "numpy")
    assert "torch.sign(w)" in render(d, "torch")
    assert r"\operatorname{sign}(w)" in render(d, "latex")
    assert verify(d).ok
