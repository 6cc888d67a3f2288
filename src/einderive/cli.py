"""The command line: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 success; 1 a check or verification failed; 2 a spec could not
be read, or bad usage; 3 an internal error (a bug in einderive).  SymPy and
NumPy are imported only inside commands, so ``--help`` and ``--version``
stay fast.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import click

from ._version import __version__

if TYPE_CHECKING:
    from .derivation import Derivation

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., object])

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 88}
ISSUES = "https://github.com/einderive/einderive/issues"
EXIT_FAILED, EXIT_SPEC, EXIT_BUG = 1, 2, 3
EXIT_PIPE = 128 + 13  # killed by SIGPIPE, as a shell reports `cat big | head -1`
DEBUG = "einderive.debug"  # key in ctx.meta, which every command's context shares


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[DEBUG] = True


def debug_option(fn: F) -> F:
    """``--debug``, before or after the command's name (the crash message asks for it)."""
    return click.option("--debug", is_flag=True, expose_value=False, is_eager=True,
                        callback=_set_debug, help="Show tracebacks (for bug reports).")(fn)


def _given(name: str) -> bool:
    """Whether the user wrote option ``name`` (rather than getting its default)."""
    from click.core import ParameterSource
    source = click.get_current_context().get_parameter_source(name)
    return source not in (None, ParameterSource.DEFAULT)


def _positive(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    """A tolerance must be a positive finite number (NaN compares false with everything)."""
    if not 0 < value < float("inf"):
        raise click.BadParameter(f"{value} is not a positive number")
    return value


def _refuse(message: str) -> NoReturn:
    raise click.UsageError(message)


def _guard(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn library errors into messages and exit codes; tracebacks only with --debug."""
    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx = click.get_current_context()
        debug = ctx.meta.get(DEBUG, False)
        from .errors import EinderiveError
        from .lazy_tensor import deferred
        _import_sympy()
        _frozen_at_exit()
        try:
            with deferred(), _frozen_heap():  # SymPy's modules frozen with the rest
                return fn(*args, **kwargs)
        except EinderiveError as exc:
            if debug:
                _print_traceback()
            click.echo(exc.format() if hasattr(exc, "format") else str(exc), err=True)
            sys.exit(EXIT_SPEC)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            _quiet_closed_stdout()
        except Exception as exc:  # noqa: BLE001 - the one place a bug is reported
            if debug:
                _print_traceback()
            click.echo(f"einderive: internal error: {type(exc).__name__}: {exc}\n"
                       f"This is a bug in einderive, not in your spec. Please report it at "
                       f"{ISSUES} with the spec and the output of the same command with "
                       f"--debug.", err=True)
            sys.exit(EXIT_BUG)
    return wrapper


def _import_sympy() -> None:
    """Import SymPy, and the engine every command runs on it (:mod:`einderive.api`), with
    the cycle collector off.  The imports make some 10⁵ objects that live as long as the
    process, and at the default pace the collector scans them over and over to find 161
    cyclic ones (180 kB, frozen with the rest by the command): 5 % of the import's
    instructions (callgrind, ``import sympy`` alone: 1187 M vs 1124 M).  They are frozen
    before the collector is back: its first collection would otherwise scan the 8·10⁴
    objects SymPy's import left young (chain256: 30 ms of a 1.1 s process), and the
    engine's would be scanned by every young collection of the command and once more on
    their way to the old generation."""
    if "sympy" in sys.modules:
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        import sympy  # noqa: F401

        from . import api  # noqa: F401
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _frozen_at_exit() -> None:
    """Have the interpreter's exit find every object frozen.  Finalization collects cycles
    over the whole heap, SymPy's 10⁵ lifelong objects with it, to find none worth finding:
    8 % of ``import sympy``'s instructions, paid again by every command (callgrind: the
    import 1187 M, with its heap frozen at exit 1103 M).  Frozen objects are still freed
    with their modules; only the scan is skipped (Python promises no finalizer for
    what is alive at exit)."""
    global _FREEZE_AT_EXIT
    if not _FREEZE_AT_EXIT:  # once, however many commands run in this process
        import atexit
        atexit.register(gc.freeze)
        _FREEZE_AT_EXIT = True


_FREEZE_AT_EXIT = False


def _print_traceback() -> None:
    """The exception being handled, with its traceback (``--debug``): the module is loaded
    here, not by every command (SymPy does not load it)."""
    import traceback
    traceback.print_exc()


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Run a command with every object alive now (SymPy's and click's modules, 10⁵ of them,
    none ever garbage) out of the cycle collector's sight.  Each full collection rescans
    every tracked object: with these frozen it scans only what the command made
    (chain256 text: 3.8 s → 3.5 s of CPU, the same peak memory; pausing the collector
    for the whole command saved a little more but kept every cycle to the end)."""
    from .caches import collector_paced

    gc.freeze()
    try:
        with collector_paced():
            yield
    finally:
        gc.unfreeze()  # run in-process (tests, a caller of main()): back to collectable


def _quiet_closed_stdout() -> NoReturn:
    """The reader of stdout went away (``| head``): end quietly, as other CLI tools do.

    Pointing stdout at /dev/null keeps the interpreter's final flush of the
    buffered rest from raising again at exit."""
    import os
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_PIPE)


def _console(**kwargs: Any) -> Any:
    """A Rich console whose closed stdout ends as every command's does (Rich's own
    handler exits 1, which here means a failed check)."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _Console(**kwargs)


class _SpecAfterNames(click.Command):
    """A command whose ``--hvp``, ``--tangent`` and ``--hessian`` take names optionally:
    ``--hvp spec.yaml`` gave the spec to --hvp as its names ("Missing argument 'SPEC'"); a spec file's name (it
    ends in .yaml or .yml, which no tensor's does) is left to be the spec."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out: list[str] = []
        for arg in args:
            if out and out[-1] in NAMES_OPTIONS and arg.endswith((".yaml", ".yml")):
                out[-1] += "="  # --hvp= : every wrt input, and the spec stays an argument
            out.append(arg)
        return super().parse_args(ctx, out)


NAMES_OPTIONS = ("--hvp", "--tangent", "--hessian")


class _Main(click.Group):
    """The command group: a closed stdout ends quietly (141) also where click writes,
    ``--help``, ``--version`` and a command's ``--help`` (click's own handler exits 1,
    which here means a failed check)."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            _quiet_closed_stdout()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _quiet_closed_stdout()


@click.group(context_settings=CONTEXT, cls=_Main)
@click.version_option(__version__, "-V", "--version", prog_name="einderive")
@debug_option
def main() -> None:
    """Derive backpropagation with Einstein notation.

    Write a model's forward pass in a small YAML spec; einderive writes every
    tensor componentwise, differentiates each node with SymPy, walks the
    graph back from the loss and reads each adjoint back in matrix form.

    \b
    Example:
      einderive derive specs/mlp.yaml
      einderive derive specs/mlp.yaml --latex --standalone -o mlp.tex
      einderive verify specs/*.yaml
      einderive check specs/
    """


FORMATS = ("text", "latex", "markdown", "json", "html", "numpy", "torch")  # api.render's, and text
GRAPH_FORMATS = ("mermaid", "dot", "tikz", "svg")  # render.graph's (unimported: fast --help)


@main.command(context_settings=CONTEXT, cls=_SpecAfterNames)
@click.argument("spec", type=click.Path(dir_okay=True, allow_dash=True))
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="text",
              show_default=True, help="Output format.")
@click.option("--latex", "latex", is_flag=True, help="Same as --format latex.")
@click.option("--latex-env", type=click.Choice(["per-node", "aligned", "align*", "align"]),
              default="per-node", show_default=True,
              help="LaTeX environment: 'aligned' inside \\[ \\] for each node (pages may "
                   "break between them) or for all, or a top-level one.")
@click.option("--standalone", is_flag=True, help="With --latex: a whole document for pdflatex.")
@click.option("--columns", type=click.Choice(["1", "2"]), default="1", show_default=True,
              help="With --latex: break rows to fit a one- or two-column article.")
@click.option("--steps", is_flag=True,
              help="Show each local derivative with its deltas and the sum it collapses "
                   "(text, latex, markdown, json, html).")
@click.option("--expand", is_flag=True,
              help="Also write each adjoint in closed form (inputs and forward nodes only); "
                   "markdown, json and html always include it.")
@click.option("--only", "only", multiple=True,
              type=click.Choice(("forward", "index", "matrix", "gradients", "steps")),
              help="Show only these sections (forward, gradients, steps: the backward pass "
                   "with its chain rule) and forms (index, matrix); repeatable.")
@click.option("--node", "nodes", multiple=True, metavar="NAME",
              help="Show only the rows of tensor NAME; repeatable.")
@click.option("--tree", is_flag=True,
              help="Show the graph as a tree after the derivation (text only; see also "
                   "'einderive graph').")
@click.option("--cost", "with_cost", is_flag=True,
              help="Add the cost table (FLOPs, saved tensors, recomputation) at the spec's "
                   "sizes, fp32 (text, markdown, json); see 'einderive cost'.")
@click.option("--tangent", metavar="[X,W,...]", is_flag=False, flag_value="",
              default=None, help="Also the tangent of every node along tangents of these "
              "inputs (forward mode; alone: every wrt input).")
@click.option("--hvp", metavar="[X,W,...]", is_flag=False, flag_value="", default=None,
              help="Also the Hessian-vector product for these inputs, forward over reverse "
              "(alone: every wrt input); -f numpy and -f torch add hvp(..., v_x, ...).")
@click.option("--hessian", metavar="[X,W,...]", is_flag=False, flag_value="", default=None,
              help="Also the full Hessian in these inputs, block by block, read off the "
              "Hessian-vector product (alone: every wrt input).")
@click.option("--gauss-newton", "gauss_newton", is_flag=True,
              help="With --hvp or --hessian: split it into the Gauss-Newton part J_fᵀ H_ℓ J_f "
                   "(f the argument of the final convex loss) and the rest; -f numpy and "
                   "-f torch add gnvp(...) or gauss_newton(...).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write to FILE (atomically; through a symlink; - is standard output).")
@debug_option
@_guard
def derive(spec: str, fmt: str, latex: bool, latex_env: str, standalone: bool, columns: str,
           steps: bool, expand: bool, only: tuple[str, ...], nodes: tuple[str, ...], tree: bool,
           with_cost: bool, tangent: str | None, hvp: str | None, hessian: str | None,
           gauss_newton: bool, output: str | None) -> None:
    """Derive the backward pass of SPEC (a YAML file, or - for standard input).

    \b
    Example:
      einderive derive specs/mlp.yaml --steps
      einderive derive specs/attention.yaml --format numpy -o attention_grad.py
      einderive derive specs/mlp.yaml --hvp W,x
      einderive derive specs/logistic_regression.yaml --gauss-newton --hessian=w
    """
    from . import api
    fmt = _derive_format(fmt, latex, standalone, steps, expand, tree)
    if gauss_newton and hvp is None and hessian is None:
        _refuse("--gauss-newton splits a Hessian or its product: give it with --hessian or --hvp")
    if with_cost and fmt not in ("text", "markdown", "json"):
        _refuse(f"--cost applies to text, markdown and json, not to --format {fmt}")
    if sum(o is not None for o in (tangent, hvp, hessian)) > 1:
        _refuse("--hvp derives the tangents too, and --hessian the Hessian-vector product: "
                "give one of --tangent, --hvp, --hessian")
    if (only or nodes) and fmt in ("numpy", "torch"):
        _refuse(f"--only and --node select what is printed, not generated code (--format {fmt})")
    _not_the_spec(output, spec)
    d = api.derive_file(spec, closed=expand or fmt not in ("text", "latex"))
    d = api.second_order(d, tangent, hvp, hessian, gauss_newton)
    _warn(d)
    table = api.cost_table(d) if with_cost else None
    if fmt == "text":
        after = "\n" + api.render_cost(d, table, "text") if table is not None else ""
        _emit_rich(d, output, after, steps=steps, expand=expand, tree=tree, only=only,
                   nodes=nodes)
        return
    ref = None
    if fmt == "markdown" and output and output != "-" and spec != "-":
        # a golden written to a file names its spec as check does: from the golden's folder
        from pathlib import Path

        from .golden import spec_ref
        ref = spec_ref(Path(spec), Path(output))
    text = api.render(d, fmt, latex_env=latex_env, standalone=standalone, steps=steps,
                      expand=expand, columns=int(columns), cost=table, only=only, nodes=nodes,
                      spec_ref=ref)
    _emit(text, output)


def _derive_format(fmt: str, latex: bool, standalone: bool, steps: bool, expand: bool,
                   tree: bool) -> str:
    """The format asked for; a usage error for an option that would be silently ignored."""
    if latex and _given("fmt") and fmt != "latex":
        _refuse(f"--latex and --format {fmt} ask for different formats; give one of them")
    fmt = "latex" if latex else fmt
    if fmt != "latex":
        for flag, name in ((standalone, "--standalone"), (_given("latex_env"), "--latex-env"),
                           (_given("columns"), "--columns")):
            if flag:
                _refuse(f"{name} applies only to LaTeX output (--latex), not to --format {fmt}")
    if tree and fmt != "text":
        _refuse(f"--tree applies only to the text view, not to --format {fmt}; "
                f"'einderive graph' draws the graph for other formats")
    if fmt in ("numpy", "torch"):
        for flag, name in ((steps, "--steps"), (expand, "--expand")):
            if flag:
                _refuse(f"{name} has no place in generated code (--format {fmt}); "
                        f"use it with text, latex, markdown or json")
    return fmt


@main.command(context_settings=CONTEXT)
@click.argument("spec", type=click.Path(dir_okay=True, allow_dash=True))
@click.option("-f", "--format", "fmt", type=click.Choice(GRAPH_FORMATS),
              default="mermaid", show_default=True, help="Picture format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write to FILE (atomically; through a symlink; - is standard output).")
@click.option("--standalone", is_flag=True,
              help="With tikz: a whole document, not a tikzpicture to \\input.")
@debug_option
@_guard
def graph(spec: str, fmt: str, output: str | None, standalone: bool) -> None:
    """Draw SPEC's compute graph, each backward edge labelled with its gradient.

    Mermaid renders on code hosts, DOT feeds Graphviz, SVG opens anywhere;
    TikZ is a tikzpicture for pdflatex or lualatex (tikz, amsmath, amssymb).

    \b
    Example:
      einderive graph specs/mlp.yaml --format svg -o mlp.svg
      einderive graph specs/mlp.yaml --format tikz --standalone -o mlp-graph.tex
    """
    if standalone and fmt != "tikz":
        _refuse("--standalone applies to --format tikz only.")
    from . import api
    from .render.graph import render
    _not_the_spec(output, spec)
    _emit(render(api.derive_file(spec, closed=False), fmt, standalone), output)


DTYPES = ("bf16", "fp16", "fp32", "fp64")  # cost.DTYPE_BYTES's (unimported: fast --help)


@main.command(context_settings=CONTEXT)
@click.argument("spec", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dims", "dims", default="", metavar="B=8,T=2048",
              help="Dim sizes for the numbers (default: the spec's).")
@click.option("--dtype", type=click.Choice(DTYPES), default="fp32", show_default=True,
              help="Element type, for the bytes of what is saved.")
@click.option("-f", "--format", "fmt", type=click.Choice(("text", "markdown", "json")),
              default="text", show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write to FILE (atomically; through a symlink; - is standard output).")
@debug_option
@_guard
def cost(spec: str, dims: str, dtype: str, fmt: str, output: str | None) -> None:
    """What the backward pass of SPEC costs: FLOPs per formula, tensors saved, recomputation.

    Counted from the printed formulas, symbolically in the dims and at the
    sizes given: matrix products 2mkn, elementwise work per element (the
    conventions are printed with the table).

    \b
    Example:
      einderive cost specs/llama_mlp.yaml --dims B=8192,D=4096,H=11008 --dtype bf16
      einderive cost specs/attention.yaml -f json
    """
    from . import api
    sizes = _parse_dims(dims)
    _not_the_spec(output, spec)
    d = api.derive_file(spec, closed=False)
    _warn(d)
    _emit(api.render_cost(d, api.cost_table(d, sizes, dtype), fmt), output)


@main.command(context_settings=CONTEXT, cls=_SpecAfterNames)
@click.argument("specs", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--dims", "dims", default="", metavar="M=3,N=4",
              help="Dim sizes (default: the spec's, else distinct primes 2, 3, 5, 7 ...).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="Seed of the random inputs.")
@click.option("--tol", default=1e-6, show_default=True,
              callback=_positive,
              help="Largest error allowed, relative to the gradient's scale (at least 1).")
@click.option("--hvp", metavar="[X,W,...]", is_flag=False, flag_value="", default=None,
              help="Also check the Hessian-vector product (as derive --hvp) against finite "
                   "differences of the gradient, and the Hessian's symmetry.")
@click.option("--hessian", metavar="[X,W,...]", is_flag=False, flag_value="", default=None,
              help="Also check every block of the Hessian (as derive --hessian) against "
                   "finite differences of the gradient, and its symmetry.")
@click.option("--gauss-newton", "gauss_newton", is_flag=True,
              help="With --hvp or --hessian: also check the Gauss-Newton split (the parts add "
                   "up to the whole, the Gauss-Newton part is positive semidefinite).")
@click.option("-f", "--format", "fmt", type=click.Choice(("text", "json")), default="text",
              show_default=True, help="Output format (json: a row per printed form of "
              "each check, and the totals).")
@debug_option
@_guard
def verify(specs: tuple[str, ...], dims: str, seed: int, tol: float, hvp: str | None,
           hessian: str | None, gauss_newton: bool, fmt: str) -> None:
    """Prove each printed gradient of SPECS numerically.

    The NumPy code generated from the printed matrix forms runs at a random
    point and is compared with central finite differences of the forward
    pass; every other adjoint's printed closed form is compared with its value
    in the backward pass; exit code 1 if any is off.

    \b
    Example:
      einderive verify specs/*.yaml
      einderive verify specs/attention.yaml --dims N=5,M=7 --seed 3
      einderive verify specs/mlp.yaml --hvp
      einderive verify specs/mlp.yaml --hessian=
      einderive verify specs/*.yaml -f json
    """
    from . import api
    if hvp is not None and hessian is not None:
        _refuse("--hessian checks the Hessian-vector product too: give --hessian alone")
    if gauss_newton and hvp is None and hessian is None:
        _refuse("--gauss-newton splits a Hessian or its product: give it with --hessian or --hvp")
    sizes = _parse_dims(dims)
    reports, errors = api.verify_files(specs, sizes, seed, tol, hvp, hessian, gauss_newton)
    code = (EXIT_BUG if any(r.bug for r in reports) else EXIT_SPEC if errors
            else 0 if all(r.ok for r in reports) else EXIT_FAILED)
    for err in errors:
        click.echo(err.format(), err=True)
    if fmt == "json":
        from .render.reports import verify_json
        click.echo(verify_json(reports, errors, code), nl=False)
    else:
        from .render.reports import verify_tables
        console = _console(highlight=False)
        for renderable in verify_tables(reports,
                                        unreadable=[e.loc.file for e in errors if e.loc]):
            console.print(renderable)
    if code:
        sys.exit(code)


@main.command(context_settings=CONTEXT)
@click.argument("paths", nargs=-1, type=click.Path(allow_dash=False))
@click.option("--golden-dir", type=click.Path(file_okay=False),
              help="Folder of the golden files (default: golden/ beside each spec).")
@click.option("--update", is_flag=True, help="Write new and changed goldens.")
@click.option("--prune", is_flag=True, help="With --update: delete orphaned goldens.")
@debug_option
@_guard
def check(paths: tuple[str, ...], golden_dir: str | None, update: bool, prune: bool) -> None:
    """Compare each spec's derivation with its golden file.

    PATHS are spec files or folders searched for *.yaml and *.yml (default:
    specs/).  Nothing is written without --update.  Exit code 0 if all
    match, 1 if any changed, is missing or is orphaned, 2 if a spec cannot
    be read.

    \b
    Example:
      einderive check specs/
      einderive check --update specs/
    """
    if prune and not update:
        _refuse("--prune deletes orphaned goldens only with --update; "
                "add --update, or leave --prune out to list them")
    from .golden import run_check
    from .render.reports import check_report
    result = run_check(list(paths) or ["specs"], golden_dir, update=update, prune=prune)
    check_report(result, sys.stdout, update_command=_update_command(paths, golden_dir))
    sys.exit(result.exit_code)


def _update_command(paths: tuple[str, ...], golden_dir: str | None) -> str:
    import shlex
    parts = ["einderive", "check", "--update"]
    if golden_dir:
        parts += ["--golden-dir", golden_dir]
    parts += list(paths)
    return " ".join(shlex.quote(p) for p in parts)


def _parse_dims(text: str) -> dict[str, int]:
    from .errors import SpecError
    sizes: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, value = part.partition("=")
        if not eq or not value.strip().isdigit() or int(value) <= 0:
            raise SpecError(f"--dims: '{part}' is not NAME=SIZE with a positive size", None,
                            "e.g. --dims M=3,N=4")
        if name.strip() in sizes:
            raise SpecError(f"--dims gives '{name.strip()}' twice", None, "give each dim once")
        sizes[name.strip()] = int(value)
    return sizes


def _warn(d: Derivation) -> None:
    for w in d.graph.warnings:
        click.echo(w.format(), err=True)


def _not_the_spec(output: str | None, *specs: str) -> None:
    """Refuse (exit 2) an ``-o`` that names a spec being read, before any work."""
    from .files import refuse_overwriting_spec
    refuse_overwriting_spec(output, specs)


def _emit(text: str, output: str | None) -> None:
    """``text`` to the file ``output``, or to standard output when there is none or ``-``."""
    if output and output != "-":
        from .files import atomic_write
        atomic_write(output, text)
    else:
        click.echo(text, nl=False)


def _emit_rich(d: Derivation, output: str | None, after: str = "", **opts: Any) -> None:
    """The terminal view: Rich on a terminal, plain text (no Rich import) otherwise; ``after``
    is plain text that follows it (the cost table)."""
    from .render.terminal import Options, plain, rich_derivation
    options = Options(**opts)
    if output == "-":
        output = None
    if output or not sys.stdout.isatty():
        _emit(plain(d, options, width=80) + after, output)
        return
    console = _console(highlight=False, emoji=False, markup=False)
    for r in rich_derivation(d, options=console.options, opts=options):
        console.print(r)
    click.echo(after, nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
