"""Finds of session 35 (helpers' reviews, the lead's measurements): each held by a test that
failed before its fix, on what the user sees."""

from __future__ import annotations

from click.testing import CliRunner

from einderive.cli import main


def test_a_dim_yaml_reads_as_a_boolean_gets_a_hint_to_quote_it(tmp_path):
    """Under `%YAML 1.1` a plain `N` is the boolean false: the error said only that names are
    letters, which N is; the hint now says why and what to write."""
    spec = tmp_path / "y11.yaml"
    spec.write_text("%YAML 1.1\n---\ndims: {N: 3}\ninputs:\n  x: [N]\n"
                    "forward:\n  - L = sum(x * x)\nloss: L\n")
    r = CliRunner().invoke(main, ["derive", str(spec)])
    assert r.exit_code == 2, r.output
    assert f"{spec}:3:8: error: dim must be a name, not the boolean false" in r.output
    assert "quote the name, e.g. 'N'" in r.output
