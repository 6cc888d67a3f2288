"""The renderers skip two walks of every index form when the class they look for was never
made (ops.CLASSES: exp, sqrt), and the cycle collector paces its middle generation while a
command runs.  A process starting cold has neither class until its spec makes one: each
form is printed here by a new interpreter, as a user runs it, and must read as before."""

from __future__ import annotations

import gc
import textwrap

from conftest import fresh_python
from printed import entries

from einderive.caches import MIDDLE_THRESHOLD, YOUNG_THRESHOLD, collector_paced


def _printed(tmp_path, text: str) -> list[tuple[str, str]]:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    done = fresh_python("-m", "einderive", "derive", str(path))
    assert done.returncode == 0, done.stderr
    return entries(done.stdout)


def test_a_logistic_made_of_exp_still_prints_as_sigma_in_a_cold_process(tmp_path):
    # the exp class is made by the spec's own line: the check for exp still walks the form
    shown = _printed(tmp_path, """\
        dims: {N: 3}
        inputs:
          z: [N]
        forward:
          - L = sum(log1p(exp(-z)))
        loss: L
        """)
    assert ("Backward", "∂L/∂z_i = −σ(−z_i)") in shown
    assert ("Gradients", "grad(z) = −σ(−z)") in shown


def test_a_root_squared_still_prints_as_its_argument_in_a_cold_process(tmp_path):
    # (√(Σ v²))² in the derivative of v / √(Σ v²) is written Σ v²: the sqrt class is made
    shown = _printed(tmp_path, """\
        dims: {N: 3}
        inputs:
          v: [N]
          w: [N]
        forward:
          - u = v / sqrt(sum(v * v))
          - L = sum(u * w)
        loss: L
        """)
    (line,) = [b for s, b in shown if s == "Backward" and b.startswith("∂L/∂v_i =")]
    assert line == ("∂L/∂v_i = (∂L/∂u_i − v_i (Σ_i′ v_i′ ∂L/∂u_i′) / (Σ_i′′ v_i′′²)) / "
                    "√(Σ_i′ v_i′²)")


def test_a_spec_with_neither_class_prints_its_forms_unchanged(tmp_path):
    shown = _printed(tmp_path, """\
        dims: {N: 3}
        inputs:
          h0: [N]
          W1: [N, N]
        forward:
          - h1 = sigmoid(W1 @ h0)
          - L = sum(h1 * h1)
        loss: L
        """)
    assert ("Backward", "∂L/∂h0_i = Σ_i′ W1_i′i ∂L/∂h1_i′ σ'(Σ_i′′ W1_i′i′′ h0_i′′)") in shown
    assert ("where", "σ'(W1 h0) = h1 ⊙ (1 − h1)") in shown


def test_the_collector_is_paced_in_both_young_generations_and_given_back():
    before = gc.get_threshold()
    with collector_paced():
        young, middle, old = gc.get_threshold()
        assert young >= YOUNG_THRESHOLD and middle >= MIDDLE_THRESHOLD and old == before[2]
    assert gc.get_threshold() == before
