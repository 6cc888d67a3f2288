"""Finds of the thorough fuzz (seed 41, stop 37), each with its spec in tests/regressions."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from einderive.cli import main

REGRESSIONS = Path(__file__).parent / "regressions"


def test_a_pad_of_each_element_prints_and_runs_the_whole_tensors_axis():
    """x0: [M, N, K] sliced x0[:, :, 0:M] and read per element (h1: each element N×M): the
    adjoint pads each element's columns, its axis 1, which is the tensor's axis 2.  It
    printed axis=1 (under NumPy's reading another axis) and the code padded axis 1 of the
    whole array, so verify stopped with an internal error (exit 3)."""
    spec = str(REGRESSIONS / "pad_of_each_element.yaml")
    r = CliRunner().invoke(main, ["derive", spec])
    assert r.exit_code == 0, r.output
    assert "pad(1 − tanh(h1)^∘2, 0:M, axis=2)" in r.output, r.output
    assert "axis=1)" not in r.output, r.output
    code = CliRunner().invoke(main, ["derive", "-f", "numpy", spec])
    assert "np.pad(1 - np.tanh(h1) ** 2, ((0, 0), (0, 0), (0, K - M)))" in code.output
    v = CliRunner().invoke(main, ["verify", spec])
    assert v.exit_code == 0, v.output


def test_verify_allows_the_finite_differences_own_rounding():
    """A loss of about 10⁴ (a squared l2_loss): its central differences are exact to about
    10⁻⁵ only, and verify failed the correct gradients of x0 and x1 (0.3 in size) at 2.6e-6
    (exit 1).  The tolerance now adds the differences' rounding, ROUNDING ulps of |L|/h."""
    v = CliRunner().invoke(main, ["verify", str(REGRESSIONS / "large_loss_finite_differences.yaml")])
    assert v.exit_code == 0, v.output
    assert "x0       │ 1×3   │ pass  │ pass" in v.output, v.output


MODELS = Path(__file__).parent / "models"


def test_a_softmax_with_its_max_subtracted_has_the_max_adjoint_zero():
    """P = e ⊘ rowsum(e), e = exp(X − m), m = max(X): the loss does not depend on m, and
    ∂L/∂m is 0; ∂L/∂X is softmax cross-entropy's P ⊙ rowsum(Y) − Y.  With the row-sum pull
    at every equal cost (stop 35) they printed −rowsum(P ⊙ rowsum(Y) − Y) and
    −𝟙[X = m] ⊙ rowsum(t1 − Y) + t1 − Y: right, but the cancellation hidden.  Read back."""
    import numpy as np

    spec = str(MODELS / "more" / "softmax_normaliser_keepdims.yaml")
    r = CliRunner().invoke(main, ["derive", "--expand", spec])
    assert r.exit_code == 0, r.output
    assert "∂L/∂m    = −rowsum(∂L/∂e ⊙ e)\n           = 0\n" in r.output, r.output
    assert "∂L/∂X    = ∂L/∂m ⊙ 𝟙[X = m] + ∂L/∂e ⊙ e\n           = P ⊙ rowsum(Y) − Y\n" \
        in r.output, r.output
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(3, 4)), rng.uniform(size=(3, 4))

    def loss(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return -np.sum(Y * np.log(e / e.sum(axis=1, keepdims=True)))
    e = np.exp(X - X.max(axis=1, keepdims=True))
    P = e / e.sum(axis=1, keepdims=True)
    printed = P * Y.sum(axis=1, keepdims=True) - Y  # P ⊙ rowsum(Y) − Y, as printed
    h = 1e-6
    numeric = np.array([[(loss(X + h * d) - loss(X - h * d)) / (2 * h)
                         for d in np.eye(12)[k:k + 4].reshape(4, 3, 4)]
                        for k in range(0, 12, 4)])
    np.testing.assert_allclose(printed, numeric, atol=1e-6)
    assert CliRunner().invoke(main, ["verify", spec]).exit_code == 0


def test_the_rounding_allowance_never_passes_a_gradient_off_by_a_tenth_percent():
    """However large the loss (the rounding bound grows with it), an error above a thousand
    times the tolerance of the gradient's scale fails: a check that cannot fail is none."""
    import numpy as np

    from einderive.verify import _compare

    want = np.array([0.3, -0.2, 0.1])
    assert _compare(want + 2e-6, want, 1e-6, 1e-5)[2]  # within the differences' rounding
    assert not _compare(want + 2e-3, want, 1e-6, 1e9)[2]  # past the cap, whatever the noise
    assert not _compare(want + 2e-6, want, 1e-6)[2]  # no rounding: the plain tolerance
