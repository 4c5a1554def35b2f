"""Files the commands write: always a new file, never through a symbolic link, errors in one line."""

from __future__ import annotations

import errno
import os
import stat
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
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(target, flags, mode)
    except OSError as exc:
        if exc.errno == errno.EEXIST:  # appeared since we looked: someone else's file
            raise CommandError(f"{option}: {target} appeared while starting; give a new path") from None
        raise CommandError(f"{option}: cannot create {target}: {exc.strerror}") from None
    return os.fdopen(descriptor, "w", newline="", encoding="utf-8")


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
