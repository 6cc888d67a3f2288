"""A hint that declares a dim names one the spec does not declare already: ``dims: {M: K − M}``
with M declared would redefine M (the slice's hint always said M, the concatenation's NM)."""

from conftest import assert_spec_error


def test_a_slice_hint_names_a_dim_not_declared():
    assert_spec_error("""
        dims: {M: 2, N: 3, K: 5}
        inputs: {x0: [M, K]}
        forward: ["h1 = x0[:, M:K]", "L = sum(h1)"]
        loss: L
    """, "4:", "the slice M:K has K - M elements", "dims: {M1: K - M}")


def test_a_concatenation_hint_names_a_dim_not_declared():
    assert_spec_error("""
        dims: {NM: 2, N: 3}
        inputs: {a: [N], b: [N]}
        forward: ["h = concatenate([a, b], axis=0)", "L = sum(h)"]
        loss: L
    """, "4:", "the joined axis has N + N elements", "dims: {NM1: N + N}")
