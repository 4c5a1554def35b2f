"""gunicorn's configuration for synthadmin: what the README's serve command runs.

Every value comes from Django's settings (``synthadmin/settings.py``: the environment and
``.env``, validated there), so the web server and the admin read one configuration:

* ``PORT`` (8000) on all interfaces; ``WEB_CONCURRENCY`` (2) worker processes of
  ``SYNTHADMIN_WEB_THREADS`` (8) threads each — gthread workers, so one slow request (an export
  of a large run, an inline generation) holds one thread, not a process;
* ``SYNTHADMIN_WEB_TIMEOUT`` (120 s) restarts a worker that stopped answering its master; a
  long download is not cut by it (the worker's main loop keeps answering while threads stream);
* X-Forwarded-Proto is trusted by gunicorn exactly when Django trusts it
  (``DJANGO_TRUST_X_FORWARDED_PROTO``), from anywhere unless ``FORWARDED_ALLOW_IPS`` narrows it;
* logs: synthadmin's logging (stderr, one line per event, JSON with
  ``SYNTHADMIN_LOG_FORMAT=json``), access lines included;
* before the first worker starts, ``collectstatic`` runs if the collected files are missing or
  older than the sources (``synthadmin.static_files``).

``GUNICORN_CMD_ARGS`` overrides any of it (e.g. ``--bind 127.0.0.1:8000``). Choices and why:
docs/deploying.md.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synthadmin.settings")

from django.conf import settings

bind = [f"0.0.0.0:{settings.PORT}"]
worker_class = "gthread"
workers = settings.WEB_CONCURRENCY
threads = settings.SYNTHADMIN_WEB_THREADS
timeout = settings.SYNTHADMIN_WEB_TIMEOUT
# SIGTERM: requests in flight get this long to finish (an inline run of the admin's size does).
graceful_timeout = 60
# Longer than a proxy's idle connection reuse would wait for (nginx's default is 60 s upstream
# keepalive_timeout only when configured; 5 s covers browsers and load balancers).
keepalive = 5
# A worker is replaced after this many requests (give or take the jitter): bounded memory.
max_requests = 2000
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or (
    "*" if settings.DJANGO_TRUST_X_FORWARDED_PROTO else ""
)
# No control socket (gunicorn 27 makes one in $HOME by default: two servers would share it).
control_socket_disable = True
accesslog = "-"
logconfig_dict = settings.LOGGING
proc_name = "synthadmin-web"


def on_starting(server: Any) -> None:
    """In the master, before any worker: collect the static files if they are stale."""
    import django

    django.setup()
    from synthadmin.static_files import static_files_ready

    static_files_ready()
