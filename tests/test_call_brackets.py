"""An anonymous part printed as its definition is bracketed only where it needs it: a call
standing alone (an einsum, a reshape, a slice, a row sum, diagonal) is one, so a function of
it reads ``softmax(einsum(…))``, not ``softmax((einsum(…)))``.  Each form still verifies."""

from __future__ import annotations

from pathlib import Path

import pytest

from einderive.api import derive_file, verify
from einderive.render.terminal import Options, plain

MODELS = Path(__file__).parent / "models"


@pytest.mark.parametrize("spec, line", [
    ("more8/gqa_grouped.yaml", "A        = softmax(einsum('ijkln,imkn->ikljm', Q, K))"),
    ("more8/spatial_softmax_coords.yaml", "A      = softmax(reshape(Y, [B, O, P]))"),
    ("reshape_token_mixer.yaml", "Y     = softmax(reshape(tanh(R), [B, T, E]), axis=1)"),
    ("more14/vit_patch_embed.yaml", "Pt       = reshape(reshape(T4, [Np, P, P]), [Np, PP])"),
])
def test_a_call_inside_a_call_is_not_bracketed_twice(spec, line):
    d = derive_file(str(MODELS / spec))
    text = plain(d, Options(expand=True))
    assert line in [x.strip() for x in text.splitlines()], text
    assert "((einsum" not in text and "((reshape" not in text
    assert verify(d).ok
