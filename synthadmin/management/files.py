"""Files the commands write: always a new file, never through a symbolic link, errors in one line."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from django.core.management.base import CommandError


def new_file(path: str, *, option: str, force: bool = False, mode: int = 0o644, holds: str = "") -> TextIO:
    """Create ``path`` for writing (UTF-8, ``newline=""``) and return it open.

    Refuses, with one line naming ``option`` (exit 1, before anything is written): an existing
    path unless ``force`` (then only a regular file is replaced), any symbolic link even with
    ``force`` (``O_NOFOLLOW``), a directory, a missing parent and every other OS error. The file
    is created with ``mode`` from the start (``O_EXCL``), so a password file is never readable
    by anyone else, not even for a moment. ``holds`` says what an existing file may hold, for
    the message.
    """
    target = new_file_check(path, option=option, force=force, holds=holds)
    if target.exists():
        try:
            os.unlink(target)
        except OSError as exc:
            raise CommandError(f"{option}: cannot replace {target}: {exc.strerror}") from None
    return _create(target, option=option, mode=mode, shown=target)


@contextlib.contextmanager
def file_when_complete(path: str, *, option: str, force: bool = False, mode: int = 0o644) -> Iterator[TextIO]:
    """A new file that appears at ``path`` only once it is whole: what the ``with`` block writes
    goes to a hidden file beside it (``.<name>.partial-<random>``, created as ``new_file``
    creates), moved to ``path`` when the block ends without an error and removed when it does
    not. So a reader never finds a partial file at ``path``, and one stopped part way leaves
    nothing there (``kill -9`` leaves only the hidden ``.partial`` file, named as such).

    The same refusals as ``new_file`` (``new_file_check``), before anything is written;
    ``force`` replaces an existing regular file only when the new one is complete. A file that
    appeared at ``path`` meanwhile (someone else's) is never replaced without ``force``: one
    line, nothing kept.
    """
    target = new_file_check(path, option=option, force=force)
    replace = os.path.lexists(target)  # a regular file, which force lets us replace
    partial = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}")
    handle = _create(partial, option=option, mode=mode, shown=target)
    try:
        with handle:
            yield handle
        _move(partial, target, option=option, replace=replace)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)


def _create(path: Path, *, option: str, mode: int, shown: Path) -> TextIO:
    """Create ``path`` (``O_EXCL``, never through a link, ``mode`` from the start), open for
    UTF-8 text; errors name ``shown``, the path the user gave."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags, mode)
    except OSError as exc:
        if exc.errno == errno.EEXIST:  # appeared since we looked: someone else's file
            raise CommandError(f"{option}: {shown} appeared while starting; give a new path") from None
        raise CommandError(f"{option}: cannot create {shown}: {exc.strerror}") from None
    return os.fdopen(descriptor, "w", newline="", encoding="utf-8")


def _move(partial: Path, target: Path, *, option: str, replace: bool) -> None:
    """Put the complete ``partial`` at ``target``: replacing it only when ``replace``."""
    try:
        if replace:
            os.replace(partial, target)  # a link put there meanwhile is replaced, never followed
        else:
            _link_or_rename(partial, target)
    except FileExistsError:
        raise CommandError(f"{option}: {target} appeared while writing; give a new path") from None
    except OSError as exc:
        raise CommandError(f"{option}: cannot create {target}: {exc.strerror}") from None


def _link_or_rename(partial: Path, target: Path) -> None:
    """``partial`` also at ``target`` (a hard link: FileExistsError if anything is there); on a
    filesystem without hard links, renamed when nothing is there."""
    try:
        os.link(partial, target)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(target)) from None
        os.rename(partial, target)


#: What ``link`` answers on a filesystem that has no hard links (FAT, some network mounts).
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


def new_file_check(path: str, *, option: str, force: bool = False, holds: str = "") -> Path:
    """What ``new_file`` refuses, checked without creating or replacing anything (``--dry-run``);
    the path. Raises the same one-line CommandError; a directory synthadmin may not write in too."""
    target = Path(path).expanduser()
    try:
        existing = os.lstat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise CommandError(f"{option}: cannot use {target}: {exc.strerror}") from None
    if existing is not None:
        if stat.S_ISLNK(existing.st_mode):
            raise CommandError(
                f"{option}: {target} is a symbolic link; synthadmin never writes through one, "
                "give the path of a new file"
            )
        if stat.S_ISDIR(existing.st_mode):
            raise CommandError(f"{option}: {target} is a directory; give a file path")
        if not force:
            raise CommandError(
                f"{option}: {target} already exists{f' ({holds})' if holds else ''}; give a new path, "
                "or pass --force to replace it"
            )
        if not stat.S_ISREG(existing.st_mode):
            raise CommandError(f"{option}: {target} is not a regular file; give a file path")
    elif not target.parent.is_dir():
        raise CommandError(f"{option}: directory {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise CommandError(f"{option}: cannot create {target}: Permission denied")
    return target
