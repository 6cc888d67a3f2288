"""Golden derivations: compare, report, update (atomically), in the manner of syrupy and insta.

A missing golden fails; nothing is written unless asked (``--update``); a
golden with no spec is orphaned and fails when a whole folder is checked;
each comparison is of the exact bytes of :func:`~einderive.render.markdown.golden`.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Loc, SpecError
from .kinds import Status


@dataclass
class Entry:
    spec: Path
    golden: Path
    status: Status
    diff: str = ""
    error: SpecError | None = None


@dataclass
class CheckResult:
    entries: list[Entry] = field(default_factory=list)
    orphans: list[Path] = field(default_factory=list)
    pruned: list[Path] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(e.status == status for e in self.entries)

    @property
    def exit_code(self) -> int:
        if self.count(Status.ERROR):
            return 2
        if self.count(Status.CHANGED) or self.count(Status.MISSING) or self.orphans:
            return 1
        return 0


def golden_path(spec: Path, golden_dir: str | None) -> Path:
    folder = Path(golden_dir) if golden_dir else spec.parent / "golden"
    return folder / f"{spec.stem}.md"


def spec_ref(spec: Path, golden: Path) -> str:
    """The spec's path as the golden names it: relative to the golden's folder, POSIX."""
    try:
        rel = os.path.relpath(spec.resolve(), golden.parent.resolve())
    except ValueError:  # pragma: no cover - another drive on Windows
        rel = spec.name
    return Path(rel).as_posix()


COST_SECTION = "\n## Cost\n"  # a golden written with `derive -f markdown --cost` keeps it


def render_golden(spec: Path, golden: Path, cost: bool = False, old: str = "") -> str:
    """The golden of ``spec``; ``cost`` holds the cost section too (a golden that has one),
    and a second-order section in ``old`` (the golden as it is) is derived again."""
    from .api import derive_file, golden_document, second_order
    d = derive_file(spec)
    from .kinds import GAUSS_NEWTON_MARKER
    kind, along = _second_marker(old)
    if kind is not None:
        d = second_order(d, **{kind: along}, gauss_newton=GAUSS_NEWTON_MARKER in old)
    return golden_document(d, spec_ref(spec, golden), cost)


def _second_marker(old: str) -> tuple[str | None, str]:
    """('tangent', 'hvp' or 'hessian', the inputs) of a golden's second-order marker, if
    it has one."""
    import re

    from .kinds import SECOND_MARKER
    pattern = re.escape(SECOND_MARKER).replace(r"\{\}", "(tangent|hvp|hessian)", 1) \
        .replace(r"\{\}", "([^>]*)", 1)
    m = re.search(pattern, old)
    return (m.group(1), m.group(2).strip()) if m else (None, "")


def run_check(paths: list[str], golden_dir: str | None, update: bool = False,
              prune: bool = False) -> CheckResult:
    from .api import golden_marker, require_spec_files
    from .files import atomic_write

    result = CheckResult()
    folders = [Path(p) for p in paths if Path(p).is_dir()]
    for p in paths:
        if not Path(p).exists():
            raise SpecError("no such file or folder", Loc(str(p)),
                            "name spec files or folders of specs")
    specs = require_spec_files(paths)
    marker = golden_marker()
    owner: dict[Path, Path] = {}
    for spec in specs:
        golden = golden_path(spec, golden_dir)
        key = golden.resolve()
        if key in owner and owner[key] != spec.resolve():
            result.entries.append(Entry(spec, golden, Status.ERROR, error=SpecError(
                f"shares its golden {golden.as_posix()} with {owner[key]}", Loc(str(spec)),
                "give the specs distinct file names, or check them with separate --golden-dir")))
            continue
        owner[key] = spec.resolve()
        old = _read(golden)
        if old is not None and not _is_golden(old, marker):
            # a file of the user's where the golden would be: never diffed as a golden,
            # overwritten by --update nor deleted by --prune
            result.entries.append(Entry(spec, golden, Status.ERROR, error=SpecError(
                f"{golden.as_posix()} is not a golden einderive wrote (it does not begin "
                f"with '{marker}'), so check neither compares nor overwrites it",
                Loc(str(spec)), "move or rename that file, or keep the goldens in another "
                "folder with --golden-dir")))
            continue
        try:
            new = render_golden(spec, golden, cost=COST_SECTION in (old or ""), old=old or "")
        except SpecError as exc:
            result.entries.append(Entry(spec, golden, Status.ERROR, error=exc))
            continue
        if old == new:
            result.entries.append(Entry(spec, golden, Status.PASSED))
            continue
        status = Status.MISSING if old is None else Status.CHANGED
        diff = "" if old is None else _diff(old, new, golden)
        if update:
            golden.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(golden, new)
            status = Status.WRITTEN
        result.entries.append(Entry(spec, golden, status, diff))
    if folders:
        result.orphans = _orphans(folders, specs, golden_dir, marker)
        if update and prune:
            for path in result.orphans:
                path.unlink()
            result.pruned, result.orphans = result.orphans, []
    return result


def _read(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return ""


def _is_golden(text: str, marker: str) -> bool:
    """Whether ``text`` is a golden einderive wrote: it begins with the marker (after a
    byte-order mark an editor may have added)."""
    return text.lstrip("\ufeff").startswith(marker)


def _diff(old: str, new: str, golden: Path) -> str:
    name = golden.as_posix()
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"{name} (golden)", tofile=f"{name} (derived now)")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _orphans(folders: list[Path], specs: list[Path], golden_dir: str | None,
             marker: str) -> list[Path]:
    """Goldens in the golden folders of the checked folders that no spec produces."""
    produced = {golden_path(s, golden_dir).resolve() for s in specs}
    dirs = {golden_path(s, golden_dir).parent.resolve() for s in specs}
    if golden_dir is None:
        dirs |= {(f / "golden").resolve() for f in folders}
    else:
        dirs.add(Path(golden_dir).resolve())
    out = []
    for folder in sorted(dirs):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.md")):
            if path.resolve() in produced:
                continue
            if _is_golden(_read(path) or "", marker):
                out.append(_display(path))
    return out


def _display(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
