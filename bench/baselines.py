"""The bench's families built in PyTensor and JAX, differentiated side by side with einderive.

PyTensor  build the graph, ``pytensor.grad`` of the loss with respect to every input,
          and ``rewrite_graph(..., include=("canonicalize",))`` of the gradients (no compile).
JAX       ``jax.make_jaxpr(jax.grad(f, argnums=every input))`` at arrays of the same shapes.

Both are timed as einderive's cells are (graph building included, since einderive's time
includes reading the spec), with fresh functions each run so that no trace is reused.
As a script this is run.py's worker (in whichever Python has the library; nothing is
printed for a tool that is not importable there):

    python bench/baselines.py TOOL FAMILY 8,16,32 [--reps 5] [--budget 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from cells import CLOCKS

SIZE = 4  # families.SIZE, the size of every dim
TOOLS = ("pytensor", "jax")


def _gather(branches):
    s = branches[0]
    for b in branches[1:]:
        s = s + b
    return s


def _forward(family: str, n: int, sigmoid, tanh, args):
    """The family's loss from its inputs, in any library with ``@`` (as families.py builds it)."""
    if family == "chain":
        h = args[0]
        for w in args[1:]:
            h = sigmoid(w @ h)
        return (h * h).sum()
    if family == "fanout":
        x = args[0]
        s = _gather([sigmoid(w @ x) for w in args[1:]])
        return (s * s).sum()
    x, w = args[0], args[1]
    h = sigmoid(w @ x)
    s = _gather([tanh(v @ h) for v in args[2:]])
    return (s * s).sum()


def _shapes(family: str, n: int) -> list[tuple]:
    vectors = 1
    matrices = n + (family == "wide")
    return [(SIZE,)] * vectors + [(SIZE, SIZE)] * matrices


def pytensor_run(family: str, n: int) -> None:
    import pytensor
    import pytensor.tensor as pt
    from pytensor.graph.rewriting.utils import rewrite_graph
    args = [pt.vector(f"a{k}") if len(s) == 1 else pt.matrix(f"a{k}")
            for k, s in enumerate(_shapes(family, n))]
    loss = _forward(family, n, pt.sigmoid, pt.tanh, args)
    grads = pytensor.grad(loss, args)
    rewrite_graph(grads, include=("canonicalize",))


def jax_run(family: str, n: int) -> None:
    import jax
    import jax.numpy as jnp
    arrays = [jnp.ones(s) for s in _shapes(family, n)]

    def loss(*args):  # a new function each run: make_jaxpr reuses nothing
        return _forward(family, n, jax.nn.sigmoid, jnp.tanh, args)
    jax.make_jaxpr(jax.grad(loss, argnums=tuple(range(len(arrays)))))(*arrays)


RUN = {"pytensor": pytensor_run, "jax": jax_run}


def available(tool: str) -> bool:
    try:
        __import__(tool)
    except ImportError:
        return False
    return True


def measure(tool: str, family: str, n: int, reps: int = 1, budget: float = 0.0,
            clock: str = "cpu") -> list[float]:
    times: list[float] = []
    while not times or (len(times) < reps and sum(times) < budget):
        start = CLOCKS[clock]()
        RUN[tool](family, n)
        times.append(CLOCKS[clock]() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description="one (tool, family) row of the baselines")
    parser.add_argument("tool", choices=TOOLS)
    parser.add_argument("family", choices=("chain", "fanout", "wide"))
    parser.add_argument("sizes", help="comma-separated, ascending")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu")
    parser.add_argument("--budget", type=float, default=3.0)
    args = parser.parse_args()
    if not available(args.tool):
        return
    import logging
    import warnings
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)  # PyTensor warns once when no C compiler is found
    measure(args.tool, args.family, 2)  # warm the imports
    for n in (int(s) for s in args.sizes.split(",")):
        times = measure(args.tool, args.family, n, args.reps, args.budget, args.clock)
        print(json.dumps({"tool": args.tool, "family": args.family, "n": n,
                          "median": statistics.median(times), "runs": len(times),
                          "times": times}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
