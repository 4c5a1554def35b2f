"""A process's start-up without Python's cyclic garbage collector.

Starting Django, the admin, Faker and numpy makes a few hundred thousand objects, almost none of
them garbage, and the collector traverses them again and again while they are made: about a
tenth of a command's start-up. ``manage.py`` and ``wsgi.py`` pause it before Django starts
(``collection_pause``); once the admin and the models are loaded (``SynthadminConfig.ready``),
what start-up made is frozen — moved out of the collector's sight for good — and the collector
runs as usual from then on (``collection_resume``). A process that never paused it (the test
runner, a shell importing Django itself) is left as it is.
"""

from __future__ import annotations

import gc

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
