"""Writing files so that a failed or interrupted run never leaves half of one, nor destroys one.

A regular file is replaced atomically: a temporary file in the same folder,
then a rename.  A symlink is written through: the rename happens at the file
it points to, so the link stays a link.  Anything that is not a regular file
(a FIFO, a terminal, ``/dev/stdout``) is opened and written directly, since
renaming over it would replace the device or pipe with a file nobody reads.
A path that cannot be written is the user's problem to fix, not a bug: it is
a located :class:`~einderive.errors.SpecError` (exit code 2).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import Loc, SpecError


def atomic_write(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` endings) to ``path``; see the module's docstring.

    An existing file keeps its permissions and is never truncated before the
    new content is complete.
    """
    try:
        if _is_stream(path):
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            return
        _replace(Path(os.path.realpath(path)), text)
    except OSError as exc:
        raise _located(path, exc) from None


def refuse_overwriting_spec(output: str | None, specs: Iterable[str]) -> None:
    """A :class:`SpecError` if ``output`` (``-o``) is one of the spec files being read, under
    any of its names (a symlink, a hard link, ``./``): writing it would replace the user's
    spec with what was derived from it."""
    if not output or output == "-":
        return
    for spec in specs:
        if spec == "-":
            continue
        try:
            same = os.path.samefile(output, spec)
        except OSError:  # either is missing (or unreadable): not the same file
            same = False
        if same:
            raise SpecError("-o would overwrite the spec being read", Loc(output),
                            f"write the output to another file; {spec} is the spec this "
                            f"command reads")


def _is_stream(path: str | os.PathLike[str]) -> bool:
    """True for an existing file that is not a regular one (FIFO, device, socket).

    ``/dev/stdout`` and ``/dev/fd/N`` count as streams even when the shell
    redirected them to a regular file: the caller asked for the stream, and a
    rename would only replace the file the shell opened."""
    if os.path.abspath(path).startswith(("/dev/std", "/dev/fd/", "/proc/")):
        return os.path.exists(path)
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def _replace(target: Path, text: str) -> None:
    if target.exists() and not os.access(target, os.W_OK):  # the rename would succeed anyway
        raise PermissionError(13, "permission denied", str(target))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.chmod(tmp, target.stat().st_mode & 0o777)  # never setuid/setgid/sticky
        except FileNotFoundError:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _located(path: str | os.PathLike[str], exc: OSError) -> SpecError:
    name = os.fspath(path)
    folder = os.path.dirname(os.path.realpath(name)) or "."
    if isinstance(exc, FileNotFoundError) and not os.path.isdir(folder):
        return SpecError(f"cannot write: the folder {folder} does not exist", Loc(name),
                         "create the folder first, or write somewhere else")
    if isinstance(exc, IsADirectoryError):
        return SpecError("cannot write: it is a folder", Loc(name), "name a file")
    if isinstance(exc, PermissionError):
        return SpecError("cannot write: permission denied", Loc(name),
                         "write to a folder you may write to")
    return SpecError(f"cannot write: {exc.strerror or exc}", Loc(name), None)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
