"""A process's start-up: without Python's cyclic garbage collector, and without what it does not use.

Starting Django and the admin makes a few hundred thousand objects, almost none of
them garbage, and the collector traverses them again and again while they are made: about a
tenth of a command's start-up. ``manage.py`` and ``wsgi.py`` pause it before Django starts
(``collection_pause``); once the admin and the models are loaded (``SynthadminConfig.ready``),
what start-up made is frozen — moved out of the collector's sight for good — and the collector
runs as usual from then on (``collection_resume``). A process that never paused it (the test
runner, a shell importing Django itself) is left as it is.

A package whose re-exported names need heavy libraries (the content engine's numpy, the
services' Faker) re-exports them on first use (``exports_on_first_use``, PEP 562): a process that
builds no history does not pay for them.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

_paused = False


def collection_pause() -> None:
    """Pause the collector for the start-up (if it runs)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def collection_resume() -> None:
    """Freeze what start-up made and let the collector run again, if ``collection_pause`` paused it."""
    global _paused
    if _paused:
        gc.freeze()
        gc.enable()
        _paused = False


def exports_on_first_use(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` (PEP 562): each name of ``exports`` is imported
    from the module it names the first time it is asked for, then kept in the package."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # once
        return value

    return __getattr__
