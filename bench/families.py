"""The bench's graph families, each of size n, as einderive specs (YAML text).

chain   h_k = sigmoid(W_k @ h_{k-1}), k = 1..n: a graph n layers deep.
fanout  one input x into n branches b_k = sigmoid(W_k @ x): x's adjoint sums n terms.
wide    one node h = sigmoid(W @ x) with n consumers b_k = tanh(V_k @ h): an interior
        node's adjoint sums n terms and is then carried on to W and x.

The branches of fanout and wide are gathered by a running sum s_k = s_{k-1} + b_k (each
node has at most two operands, so no single expression grows with n) into the loss
L = sum(s_n * s_n).  Every dim has size D = 4 unless asked; the cost must not depend on it
(run.py measures chain 8 at D = 3 and D = 10^6 to show it does not).
The same graphs, built in PyTensor and JAX, are in baselines.py.
"""

from __future__ import annotations

from pathlib import Path

FAMILIES = ("chain", "fanout", "wide")
SIZE = 4


def _spec(name: str, inputs: list[str], forward: list[str], size: int) -> str:
    return (f"name: {name}\ndims: {{D: {size}}}\ninputs:\n"
            + "".join(f"  {line}\n" for line in inputs)
            + "forward:\n" + "".join(f"  - {line}\n" for line in forward)
            + "loss: L\n")


def _gather(n: int) -> list[str]:
    """s_1 = b_1, s_k = s_{k-1} + b_k, L = sum(s_n * s_n)."""
    lines = ["s1 = b1"] + [f"s{k} = s{k - 1} + b{k}" for k in range(2, n + 1)]
    return lines + [f"L = sum(s{n} * s{n})"]


def chain(n: int, size: int = SIZE) -> str:
    inputs = ["h0: [D]"] + [f"W{k}: [D, D]" for k in range(1, n + 1)]
    forward = [f"h{k} = sigmoid(W{k} @ h{k - 1})" for k in range(1, n + 1)]
    return _spec(f"chain{n}", inputs, forward + [f"L = sum(h{n} * h{n})"], size)


def fanout(n: int, size: int = SIZE) -> str:
    inputs = ["x: [D]"] + [f"W{k}: [D, D]" for k in range(1, n + 1)]
    branches = [f"b{k} = sigmoid(W{k} @ x)" for k in range(1, n + 1)]
    return _spec(f"fanout{n}", inputs, branches + _gather(n), size)


def wide(n: int, size: int = SIZE) -> str:
    inputs = ["x: [D]", "W: [D, D]"] + [f"V{k}: [D, D]" for k in range(1, n + 1)]
    branches = [f"b{k} = tanh(V{k} @ h)" for k in range(1, n + 1)]
    return _spec(f"wide{n}", inputs, ["h = sigmoid(W @ x)"] + branches + _gather(n), size)


GENERATORS = {"chain": chain, "fanout": fanout, "wide": wide}


def write(folder: Path, family: str, n: int, size: int = SIZE) -> Path:
    """Write the spec of ``family`` at size ``n`` (dims of ``size``) into ``folder``."""
    path = Path(folder) / f"{family}{n}.yaml"
    path.write_text(GENERATORS[family](n, size), encoding="utf-8")
    return path
