"""Issue 12's einsum leftovers, session 30: forms a textbook writes, each pinned as printed.

- a closed form continues its chain form's left side, so it is written per element of the
  same batch: attention_pool_query's ∂L/∂a_b = X_b ∂L/∂p_b once printed its index form's
  closed form read for each t, ``(1/B) rowsum(X_t ⊙ …)``, under the left side ∂L/∂a_b (and a
  temporary ``t1_t``, the letter t of the dim T beside the temporaries' t1, t2); it is now
  the matrix level's, per b: ``X_b t1_b, where t1 = (1/B) (softmax(p W) − onehot(lab)) Wᵀ``.

Every spec here passes ``einderive verify`` (every printed form, closed ones included).
"""

from __future__ import annotations

from pathlib import Path

import pytest

MODELS = Path(__file__).parent / "models"


def _expanded(run, name: str) -> str:
    out = run("derive", str(MODELS / f"{name}.yaml"), "--expand")
    assert out.exit_code == 0, out.output
    return out.stdout


def test_a_closed_form_is_written_per_element_of_its_chain_forms_batch(run):
    text = _expanded(run, "more7/attention_pool_query")
    assert "  ∂L/∂a_b   = X_b ∂L/∂p_b\n            = X_b t1_b\n" \
        "              where t1 = (1/B) (softmax(p W) − onehot(lab)) Wᵀ\n" in text, text
    assert "X_t" not in text and "t1_t" not in text


@pytest.mark.parametrize("name", ["more7/attention_pool_query"])
def test_the_specs_verify(run, name):
    r = run("verify", str(MODELS / f"{name}.yaml"))
    assert r.exit_code == 0, r.output
    assert "closed forms match the backward pass" in " ".join(r.output.split())
