"""A new user's correctness pass (session s27, nu8): each test is a defect found by running
fresh specs of real models through every output and comparing einderive's gradients with
PyTorch autograd of a forward pass written by hand (tests/newuser8_forwards.py), with
finite differences (verify), or an error a user meets and its hint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import assert_spec_error

_PICK = """\
    dims: {B: 3, T: 4, D: 5}
    inputs: {X: [B, T, D]}
    forward:
      - y = INDEX
      - L = sum(y * y)
    loss: L
    """


@pytest.mark.parametrize("index, at, message, hint", [
    ("X[:, 1]", "4:14", "indexing by an integer is not supported", "X[:, 1:2]"),
    ("X[:, :, -1]", "4:17", "indexing by an integer is not supported", "X[:, :, N - 1:N]"),
    ("X[2]", "4:11", "indexing by an integer is not supported", "sum(…, axis=0)"),
    ("tanh(X)[:, 0]", "4:20", "indexing by an integer is not supported", "x[:, 0:1]"),
    ("X[..., 0:2]", "4:11", "'...' is not supported in an index", "one ':' per axis"),
    ("X[None]", "4:11", "None (a new axis) is not supported in an index", "reshape("),
    ("X[:, :, -2:]", "4:17", "a slice bound is negative", "x[:, :, D - 2:D]"),
    ("X[:, 0:-1, :]", "4:16", "a slice bound is negative", "x[:, 0:T - 1]")])
def test_integer_indexing_says_it_is_unsupported_and_what_to_write(index, at, message, hint):
    """``X[:, 1]`` said "a slice ranges over one axis: the others are ':'" (``X[1]``: "indexed
    by an integer input or range(dim)"), neither telling the user that NumPy's integer
    indexing is not in the language; the hint now spells the length-1 slice at that axis, and
    following it builds."""
    assert_spec_error(_PICK.replace("INDEX", index), at, message, hint, exact=True)


def test_the_hinted_length_one_slice_builds_and_verifies(tmp_path):
    from einderive.api import derive_file, verify
    path = tmp_path / "pick.yaml"
    path.write_text(textwrap.dedent(_PICK.replace("INDEX", "sum(X[:, 1:2], axis=1)")))
    report = verify(derive_file(path))
    assert report.ok and report.checks


REGRESSIONS = Path(__file__).parent / "regressions"
MODELS = Path(__file__).parent / "models"


@pytest.mark.parametrize("sizes", [{}, {"B": 2}, {"B": 5, "E": 2}])
def test_a_closed_form_reads_an_adjoint_per_element_of_its_own_axis(sizes):
    """A mixture of experts: ∂L/∂H [B, E, O] is written per sample (∂L/∂H_b = g_b ∂L/∂out_bᵀ)
    and ∂L/∂X reads it per expert (Σ_e (∂L/∂H_e ⊙ …) We_eᵀ).  The closed form put the
    sample's form where the expert's element stands: a wrong ∂L/∂X in verify's closed column
    at B = E (broadcast), exit 3 elsewhere.  Such a ∂L/∂X's closed form names ∂L/∂H's as a
    whole tensor, read per expert (Σ_e (t2_e ⊙ …) We_eᵀ, where t2_b = …): right at every
    size."""
    from einderive.api import derive_file, verify
    d = derive_file(REGRESSIONS / "expert_axis_closed_form.yaml")
    report = verify(d, sizes or None)
    assert report.ok and report.checks, report


def test_forms_that_broadcast_to_a_new_axis_are_no_sum(tmp_path):
    """``w: [K, 1, 1]`` used twice: one contribution read as a K×1 column (an einsum over the
    softmax), the other per element (2 w_k, a 1×1 matrix each); added, the code's arrays
    broadcast to K×K×1 and ``-f numpy`` failed to reshape it (verify: exit 3).  Such forms
    are no sum: ∂L/∂w is printed in index form."""
    import numpy as np
    import torch
    import torch_reference as R
    from einderive.api import derive_file, render, verify
    from test_codegen import load
    d = derive_file(REGRESSIONS / "literal_one_trailing_sum.yaml")
    assert verify(d).ok
    mod = load(tmp_path, render(d, "numpy"))
    for n, sizes in enumerate([{"K": 3, "N": 2, "D": 4}, {"K": 2, "N": 5, "D": 1}]):
        values = R.random_inputs(d.graph, sizes, n)
        X, w = (torch.tensor(values[k], requires_grad=True) for k in ("X", "w"))
        (torch.logsumexp(X + w, 0).sum() + (w ** 2).sum()).backward()
        got = mod.gradients(**values)
        np.testing.assert_allclose(got["w"], w.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(got["X"], X.grad.numpy(), atol=1e-10)


def test_a_reduced_function_read_over_part_of_its_axis_is_gathered(tmp_path):
    """``logsumexp(Z, axis=1)_ik′`` with k′ over the first piece's width D of a joined axis
    D2 = 2·D: the reader made ``einsum('imj,ij,kj->imk', slice(softmax(Z, axis=1), …),
    logsumexp(Z, axis=1), W)`` (the softmax sliced to the piece, the logsumexp whole) and
    the index form's code read the whole [B, D2] at a letter of size D; -f numpy, -f torch
    and verify failed (exit 3), and where the widths broadcast (D = 1) they would have added
    the wrong elements.  A reducing function's indices are checked against its result's
    dims, as a tensor's are: gathered over the piece in code, no matrix form."""
    import numpy as np
    import torch
    import torch_reference as R
    from einderive.api import derive_file, render, verify
    from test_codegen import load
    d = derive_file(REGRESSIONS / "reduced_function_of_joined_axis.yaml")
    assert verify(d).ok
    numpy_mod = load(tmp_path, render(d, "numpy"))
    torch_mod = load(tmp_path, render(d, "torch"))
    fn = next(v for v in vars(torch_mod).values() if isinstance(v, type)
              and issubclass(v, torch.autograd.Function) and v is not torch.autograd.Function)
    for n, sizes in enumerate([{"B": 2, "T": 3, "D": 2, "D2": 4},
                               {"B": 3, "T": 2, "D": 1, "D2": 2}]):
        values = R.random_inputs(d.graph, sizes, n)
        t = {k: torch.tensor(v, requires_grad=True) for k, v in values.items()}
        Z = torch.cat([t["X"] @ t["W"], t["C"]], 2)
        (torch.logsumexp(Z, 1) ** 2).sum().backward()
        got = numpy_mod.gradients(**values)
        args = [torch.tensor(values[k], requires_grad=True) for k in ("X", "C", "W")]
        fn.apply(*args).backward()
        for k, a in zip(("X", "C", "W"), args):
            np.testing.assert_allclose(got[k], t[k].grad.numpy(), atol=1e-10)
            np.testing.assert_allclose(a.grad.numpy(), t[k].grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("command", ["verify", "cost"])
def test_a_slice_past_its_axis_at_the_dims_given_is_an_error_at_its_line(run, command):
    """``x2 = reshape(X[:, 1:2, :], [B, D])`` fits at the spec's T = 3; ``verify --dims T=1``
    ran the generated code, which sliced past the axis ("the generated code failed … this
    is a bug in einderive", exit 3), and ``cost --dims T=1`` counted a slice that is not
    there.  The slices are checked at the sizes --dims gives, as at the spec's."""
    path = REGRESSIONS / "slice_steps_at_dims.yaml"
    r = run(command, "--dims", "T=1", str(path))
    assert r.exit_code == 2, r.output
    assert "slice_steps_at_dims.yaml:7:5: error: at " in r.output, r.output
    assert "the slice 1:2 of axis 1 (of size T = 1) ends past the dim" in r.output, r.output
    assert "bug" not in r.output
    assert run(command, "--dims", "T=2", str(path)).exit_code == 0


def test_a_closed_form_read_per_element_of_another_axis_is_named(run):
    """moe_rank3_weight's ∂L/∂X reads ∂L/∂H per expert while ∂L/∂H's closed form is per
    sample (above): it had no closed form ("it reads ∂L/∂H per element of another axis");
    ∂L/∂H's is named as the whole tensor, defined per sample and read per expert, in the
    text view and in the golden's Markdown."""
    spec = MODELS / "more8" / "moe_rank3_weight.yaml"
    out = " ".join(run("derive", spec, "--expand", "--node", "X").stdout.split())  # unwrapped
    assert "too large" not in out and "no closed form" not in out
    closed = "= (g ⊙ (t1 − rowsum(t1 ⊙ g))) Wgᵀ + Σ_e (t2_e ⊙ (1 − H_e ⊙ H_e)) We_eᵀ"
    assert closed in out, out
    assert "where t2_b = (2/(B O)) g_b (out_b − Y_b)ᵀ" in out, out
    assert "closed form: (g ⊙ (t1 − rowsum(t1 ⊙ g))) Wgᵀ" in \
        run("derive", spec, "-f", "markdown").stdout


def test_expand_says_an_adjoint_read_inside_a_temporary_has_no_closed_form(run):
    """mqa_head_axis's ∂L/∂X = t2 Wqᵀ + …, t2 = reshape(permute(∂L/∂Q, …)) (t1 is ∂L/∂V's
    reshape(Wo, [H, Dh, D]): one name for one definition in the whole derivation), and ∂L/∂Q has
    no closed form but an einsum: no adjoint at the top of its chain form, yet no closed
    form (it was 'too large'); where ∂L/∂Q has one, the temporary takes it
    (heads_torch_layout: t5 Wqᵀ + …, where t5 = reshape(permute((1/√Dh) (P ⊙ …) K, …)));
    an adjoint whose chain form is closed already (orthogonality_reg's ∂L/∂W, in W alone)
    says nothing."""
    spec = MODELS / "more9" / "mqa_head_axis.yaml"
    out = " ".join(run("derive", spec, "--expand", "--node", "X").stdout.split())
    # (s31, ein4: ∂L/∂Q has a closed form now, and the temporary takes it)
    assert "where t3 = reshape(permute((2/√Dh) (A ⊙ (O Wo t1ᵀ Vᵀ − rowsum(O ⊙ (A V t1 Woᵀ))))" \
        in out, out
    assert "too large" not in out and "no closed form" not in out
    spec = REGRESSIONS / "heads_torch_layout.yaml"
    out = " ".join(run("derive", spec, "--expand", "--node", "Wq").stdout.split())
    # t4 before the t5 that reads it
    # (s31, ein4: each head's element read per element, t5_bh)
    # (fx4: t4 permuted to lead with the batch, the heads' forms whole)
    assert "= Σ_b X_bᵀ t5_b where t1 = reshape(permute(∂L/∂Q, (0, 2, 1, 3)), [B, T, D]) " \
        "where t4 = permute(reshape(G, [B, T, H, Dh]), (0, 2, 1, 3)) " \
        "where t5 = reshape(permute((1/√Dh) (P ⊙ (t4 Vᵀ − rowsum(t4 ⊙ O))) K, (0, 2, 1, 3)), " \
        "[B, T, D])" in out, out
    assert "no closed form" not in out
    out = run("derive", MODELS / "more" / "orthogonality_reg.yaml", "--expand").stdout
    assert "closed form" not in out and "too large" not in out
