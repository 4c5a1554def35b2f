"""The admin's static files for WhiteNoise: collected when missing or stale, never twice at once.

With DEBUG off the storage is WhiteNoise's ``CompressedManifestStaticFilesStorage``: hashed,
compressed copies under ``STATIC_ROOT`` listed in ``staticfiles.json``, which ``{% static %}``
needs. The serve command (``deploy/gunicorn.conf.py``) calls ``static_files_ready`` before its
workers start: ``collectstatic`` runs only if a file the finders see is missing from the
manifest or newer than it, under a lock on the ``STATIC_ROOT`` directory itself (two servers
starting at once on one machine collect once).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command

logger = logging.getLogger(__name__)

MANIFEST_NAME = "staticfiles.json"


def static_files_stale() -> bool:
    """Whether ``collectstatic`` has something to do: no manifest, or a source file it lacks or
    that changed after it was written (a deploy of new code)."""
    manifest = Path(settings.STATIC_ROOT) / MANIFEST_NAME
    try:
        built = manifest.stat().st_mtime
        collected = json.loads(manifest.read_text(encoding="utf-8")).get("paths", {})
    except (OSError, ValueError):
        return True
    ignore = apps.get_app_config("staticfiles").ignore_patterns  # type: ignore[attr-defined]
    for finder in get_finders():
        for path, storage in finder.list(ignore):
            if path not in collected or os.path.getmtime(storage.path(path)) > built:
                return True
    return False


def static_files_ready() -> bool:
    """Run ``collectstatic`` if the files are stale; True if it ran. Nothing to do with DEBUG on
    (the plain storage serves the apps' own directories)."""
    if settings.DEBUG:
        return False
    root = Path(settings.STATIC_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    lock = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not static_files_stale():
            return False
        logger.info("collecting static files into %s (collectstatic)", root)
        call_command("collectstatic", interactive=False, verbosity=0)
        return True
    finally:
        os.close(lock)  # releases the lock


__all__ = ["static_files_ready", "static_files_stale"]
