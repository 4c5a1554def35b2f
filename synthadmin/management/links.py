"""Links the commands print to the admin: on the deployment's address when it is configured.

``SYNTHADMIN_ADMIN_URL`` (``https://synth.example.com/synth/admin/``) is the admin's address as
people reach it — behind a proxy, under a sub-path. A command runs outside any request, so
``reverse`` knows neither: it gives the path under ``/admin/``, which is re-rooted there.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse


def admin_link(path: str) -> str | None:
    """The full address of the admin page at ``path`` (what ``reverse`` gave), or None when
    ``SYNTHADMIN_ADMIN_URL`` is not set."""
    base = settings.SYNTHADMIN_ADMIN_URL
    if not base:
        return None
    root = reverse("admin:index")
    relative = path[len(root) :] if path.startswith(root) else path.lstrip("/")
    return base + relative


__all__ = ["admin_link"]
