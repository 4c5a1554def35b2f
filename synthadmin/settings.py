"""Django settings for synthadmin, read from the environment (12-factor).

An optional ``.env`` file in the project root is read first; real environment variables win.
``SYNTHADMIN_ENV_FILE`` names another file, or, set to an empty value, turns the file off (the
test suite does, so that a developer's ``.env`` never changes what it asserts).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from synthadmin.logs import LOG_FORMATS, logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_file() -> Path | None:
    """The dotenv file to read: ``SYNTHADMIN_ENV_FILE`` if set (empty: none), else ``.env``."""
    configured = os.environ.get("SYNTHADMIN_ENV_FILE")
    if configured is None:
        return BASE_DIR / ".env"
    return Path(configured).expanduser() if configured.strip() else None


_ENV_FILE = env_file()
if _ENV_FILE is not None:
    load_dotenv(_ENV_FILE, override=False)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    normalized = value.strip().lower()
    if normalized in {"1", "true", "yes", "on"}:
        return True
    if normalized in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), got {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "").strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it (e.g. in .env), or set DJANGO_DEBUG=1 "
            "for local development."
        )
    SECRET_KEY = "django-insecure-synthadmin-development-only"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
for _origin in CSRF_TRUSTED_ORIGINS:
    if "://" not in _origin:
        raise ImproperlyConfigured(
            f"DJANGO_CSRF_TRUSTED_ORIGINS entries need their scheme, e.g. https://{_origin}, got {_origin!r}"
        )

# --- HTTPS (docs/deploying.md) --------------------------------------------------------------
#: Served over HTTPS (directly or behind a TLS-terminating proxy): secure cookies, HSTS, and a
#: redirect of plain HTTP to HTTPS (the health endpoint answers before it, so probes over plain
#: HTTP work).
DJANGO_HTTPS = env_bool("DJANGO_HTTPS")
SESSION_COOKIE_SECURE = DJANGO_HTTPS
CSRF_COOKIE_SECURE = DJANGO_HTTPS
SECURE_SSL_REDIRECT = DJANGO_HTTPS
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000) if DJANGO_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = DJANGO_HTTPS and env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
# Never preloaded: the preload list takes only a registrable domain (the company's, not this
# tool's host), needs a submission and is near-irreversible; a decision for the domain's owner.
SECURE_HSTS_PRELOAD = False
#: Trust ``X-Forwarded-Proto: https`` as "this request came over HTTPS". Only behind a proxy that
#: sets it on every request and strips it from clients (Django's warning: anyone else could
#: make a plain-HTTP request look secure).
DJANGO_TRUST_X_FORWARDED_PROTO = env_bool("DJANGO_TRUST_X_FORWARDED_PROTO")
if DJANGO_TRUST_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SILENCED_SYSTEM_CHECKS = ["security.W021"]  # HSTS preload: see SECURE_HSTS_PRELOAD
if not SECURE_HSTS_INCLUDE_SUBDOMAINS and DJANGO_HTTPS:
    SILENCED_SYSTEM_CHECKS.append("security.W005")  # turned off on purpose (DJANGO_HSTS_INCLUDE_SUBDOMAINS=0)

INSTALLED_APPS = [
    "synthadmin.apps.SynthadminAdminConfig",  # django.contrib.admin, with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "synthadmin.apps.SynthadminConfig",
    # Brute-force protection of the admin login (docs/deploying.md).
    "axes",
    "profiles",
    "checkins",
    # Django's Tasks framework (the django-tasks backport of Django 6's django.tasks) and its
    # database backend; django_rq serves the RQ backend when SYNTHADMIN_TASK_BACKEND=rq.
    "django_tasks",
    "django_tasks_db",
    "django_rq",
]

MIDDLEWARE = [
    # First: load balancers' probes are answered before host checks and the HTTPS redirect.
    "synthadmin.health.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files, compressed and cached forever under hashed names (after collectstatic).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Every query of a web request under SYNTHADMIN_WEB_STATEMENT_TIMEOUT; a page that hits it
    # gets the admin's "took too long" page, not a 500 (after messages and auth: it uses both).
    "synthadmin.middleware.WebSessionMiddleware",
    # Last, as django-axes asks: refuses logins of a locked-out username.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Counts failed admin logins per username and refuses a locked one (django-axes).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
#: Failed logins in a row that lock a username, and for how long (minutes).
SYNTHADMIN_LOGIN_FAILURE_LIMIT = env_int("SYNTHADMIN_LOGIN_FAILURE_LIMIT", 10, minimum=1)
SYNTHADMIN_LOGIN_LOCKOUT_MINUTES = env_int("SYNTHADMIN_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = SYNTHADMIN_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = dt.timedelta(minutes=SYNTHADMIN_LOGIN_LOCKOUT_MINUTES)
# "That login": the username, wherever the attempts come from (behind a proxy every client may
# share one address). A success resets the count ("in a row").
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks for the client's address too: behind the TLS proxy every client has the proxy's
# address, so ten failures of anyone would lock everyone out (docs/deploying.md).
SILENCED_SYSTEM_CHECKS.append("axes.W006")
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_VERBOSE = False

ROOT_URLCONF = "synthadmin.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "synthadmin.wsgi.application"

# --- The web server (deploy/gunicorn.conf.py, docs/deploying.md) ----------------------------
#: The port the serve command listens on (all interfaces; GUNICORN_CMD_ARGS="--bind ..." for others).
PORT = env_int("PORT", 8000, minimum=1)
#: Web worker processes, and request threads in each (gunicorn's gthread workers).
WEB_CONCURRENCY = env_int("WEB_CONCURRENCY", 2, minimum=1)
SYNTHADMIN_WEB_THREADS = env_int("SYNTHADMIN_WEB_THREADS", 8, minimum=1)
#: A web worker that stops answering its master for this long is restarted. Requests are not
#: bounded by it: an export streams for as long as it takes (the worker keeps answering).
SYNTHADMIN_WEB_TIMEOUT = env_int("SYNTHADMIN_WEB_TIMEOUT", 120, minimum=10)

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL set: that server, nothing embedded is ever started.
# DATABASE_URL unset: an embedded PostgreSQL under SYNTHADMIN_DATA_DIR (default .localdb/),
# started on first connection and reused by later commands.
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
#: Supabase's transaction-mode pooler (Supavisor) listens here; synthadmin needs a session.
TRANSACTION_POOLER_PORT = 6543
SYNTHADMIN_DATA_DIR = Path(os.environ.get("SYNTHADMIN_DATA_DIR") or BASE_DIR / ".localdb")

if DATABASE_URL:
    try:
        _default_db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
    except ValueError:
        # The parser's message may quote the URL, password included: say what, not the value.
        raise ImproperlyConfigured(
            "DATABASE_URL is not a valid URL (postgresql://user:password@host:port/dbname)"
        ) from None
    if _default_db["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must be a postgresql:// URL")
    if str(_default_db.get("PORT") or "") == str(TRANSACTION_POOLER_PORT):
        raise ImproperlyConfigured(
            f"DATABASE_URL uses port {TRANSACTION_POOLER_PORT}, Supabase's transaction pooler, which "
            "drops the session settings synthadmin needs; use the session pooler (same host, port 5432) "
            "or the direct connection"
        )
else:
    _default_db = {"NAME": "synthadmin", "EMBEDDED_DATA_DIR": str(SYNTHADMIN_DATA_DIR)}  # type: ignore[typeddict-unknown-key]
_default_db["ENGINE"] = "synthadmin.db"
DATABASES = {"default": _default_db}
#: Database connections one process may hold at once, every thread together (a command and its
#: worker threads, a web worker's request threads, a task worker); at least 2 (the transaction-
#: pooler probe holds a second one for a moment). A thread that finds none free waits for one.
SYNTHADMIN_DB_CONNECTIONS = env_int("SYNTHADMIN_DB_CONNECTIONS", 4, minimum=2)
#: Every synthadmin session waits at most this long for a lock (``lock_timeout``, seconds; 0: no
#: limit): a write to the app's tables that a long transaction of the app blocks fails with one
#: line instead of hanging, and holds no queue of the app's own queries behind it.
SYNTHADMIN_LOCK_TIMEOUT = env_float("SYNTHADMIN_LOCK_TIMEOUT", 5.0)
#: How often a run in progress reads its cancel flag (seconds; one primary-key lookup, on the
#: process's watch connection): an inline run and a background chunk stop within about this long
#: of a cancel or a purge. Each read is a round trip, paid as long as the run lasts.
SYNTHADMIN_CANCEL_POLL_SECONDS = env_float("SYNTHADMIN_CANCEL_POLL_SECONDS", 0.25, minimum=0.05)
#: The web process keeps a connection between requests for this long (seconds; ``CONN_MAX_AGE``,
#: checked before reuse: ``CONN_HEALTH_CHECKS``), so an admin page costs its queries, not a new
#: connection's handshakes. 0: a new connection per request. Commands and workers hold theirs.
SYNTHADMIN_WEB_CONN_MAX_AGE = env_int("SYNTHADMIN_WEB_CONN_MAX_AGE", 600)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The app's patients are in Brazil: "today" for a check-in history means today there.
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "America/Sao_Paulo")
USE_I18N = True
USE_TZ = True

#: A sub-path deployment (the admin at https://host/synth/admin/): ``SCRIPT_NAME=/synth``, the
#: variable gunicorn reads too (it then strips the prefix from each path). Links, redirects and
#: static files all carry it, in requests and in commands alike.
SCRIPT_NAME = os.environ.get("SCRIPT_NAME", "").strip().rstrip("/")
if SCRIPT_NAME:
    if not SCRIPT_NAME.startswith("/") or "//" in SCRIPT_NAME:
        raise ImproperlyConfigured(f"SCRIPT_NAME must be a path such as /synth, got {SCRIPT_NAME!r}")
    FORCE_SCRIPT_NAME = SCRIPT_NAME
# Absolute, with the sub-path: WhiteNoise reads it once at start (FORCE_SCRIPT_NAME tells it the prefix).
STATIC_URL = f"{SCRIPT_NAME}/static/"
#: Where ``collectstatic`` puts the admin's files for WhiteNoise (git-ignored).
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed names with DEBUG off (they need collectstatic, which the serve command
    # runs); the plain storage with DEBUG on. The test suite always uses the plain one.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# DEBUG error pages: DATABASE_URL passwords and the Supabase key hidden in settings, the
# environment, frame locals and the exception text (synthadmin/redaction.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "synthadmin.redaction.SecretsExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "synthadmin.redaction.SecretsExceptionReporter"

# --- Supabase -------------------------------------------------------------------------------
SUPABASE_URL = os.environ.get("SUPABASE_URL", "").strip()
# The service-role key. SUPABASE_SERVICE_KEY is the older name, still accepted.
SUPABASE_SERVICE_ROLE_KEY = (
    os.environ.get("SUPABASE_SERVICE_ROLE_KEY", "").strip()
    or os.environ.get("SUPABASE_SERVICE_KEY", "").strip()
)
if SUPABASE_SERVICE_ROLE_KEY and not all("!" <= char <= "~" for char in SUPABASE_SERVICE_ROLE_KEY):
    # Never echo the value: the message must be safe to paste anywhere.
    raise ImproperlyConfigured(
        "SUPABASE_SERVICE_ROLE_KEY contains whitespace, a control character or a non-ASCII character "
        "(a quoted value wrapped over two lines in .env does that); put the key on one line, as "
        "Project Settings -> API shows it"
    )

# --- synthadmin -----------------------------------------------------------------------------
# "supabase": users through the Supabase Auth admin API; "local": auth rows written directly.
# `supabase`, `local`, or the dotted path of a gateway class (synthadmin.auth.get_gateway).
if (
    SUPABASE_SERVICE_ROLE_KEY
    and not SUPABASE_URL
    and not os.environ.get("SYNTHADMIN_AUTH_BACKEND", "").strip()
):
    # Half a Supabase configuration would silently write auth rows directly instead.
    raise ImproperlyConfigured(
        "SUPABASE_SERVICE_ROLE_KEY is set but SUPABASE_URL is not: set SUPABASE_URL to "
        "https://<project-ref>.supabase.co, or SYNTHADMIN_AUTH_BACKEND=local to write auth rows directly"
    )
SYNTHADMIN_AUTH_BACKEND = os.environ.get("SYNTHADMIN_AUTH_BACKEND", "").strip() or (
    "supabase" if SUPABASE_URL else "local"
)
if SYNTHADMIN_AUTH_BACKEND.lower() in {"supabase", "local"}:
    SYNTHADMIN_AUTH_BACKEND = SYNTHADMIN_AUTH_BACKEND.lower()
elif "." not in SYNTHADMIN_AUTH_BACKEND:
    raise ImproperlyConfigured(
        "SYNTHADMIN_AUTH_BACKEND must be 'supabase', 'local' or the dotted path of a gateway class, "
        f"got {SYNTHADMIN_AUTH_BACKEND!r}"
    )
SYNTHADMIN_AUTH_CONCURRENCY = env_int("SYNTHADMIN_AUTH_CONCURRENCY", 4, minimum=1)
SYNTHADMIN_MAX_PATIENTS_PER_RUN = env_int("SYNTHADMIN_MAX_PATIENTS_PER_RUN", 10_000, minimum=1)
SYNTHADMIN_MAX_CHECKIN_DAYS = env_int("SYNTHADMIN_MAX_CHECKIN_DAYS", 3_650, minimum=1)
# The admin form takes runs of any size (large ones are enqueued for background workers).
SYNTHADMIN_ADMIN_MAX_PATIENTS = env_int(
    "SYNTHADMIN_ADMIN_MAX_PATIENTS", SYNTHADMIN_MAX_PATIENTS_PER_RUN, minimum=1
)
# bcrypt cost of the local backend; GoTrue uses 10 (bcrypt.DefaultCost).
SYNTHADMIN_LOCAL_BCRYPT_ROUNDS = env_int("SYNTHADMIN_LOCAL_BCRYPT_ROUNDS", 10, minimum=4)
SYNTHADMIN_EMAIL_DOMAIN = os.environ.get("SYNTHADMIN_EMAIL_DOMAIN", "example.com").strip()
if SYNTHADMIN_EMAIL_DOMAIN not in {"example.com", "example.org", "example.net"}:
    raise ImproperlyConfigured(
        "SYNTHADMIN_EMAIL_DOMAIN must be a reserved domain (example.com, example.org or "
        f"example.net) so no real person is ever mailed, got {SYNTHADMIN_EMAIL_DOMAIN!r}"
    )

#: Log lines on stderr, one per event: ``plain`` or ``json`` (synthadmin/logs.py).
SYNTHADMIN_LOG_FORMAT = os.environ.get("SYNTHADMIN_LOG_FORMAT", "").strip().lower() or "plain"
if SYNTHADMIN_LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"SYNTHADMIN_LOG_FORMAT must be plain or json, got {SYNTHADMIN_LOG_FORMAT!r}")
SYNTHADMIN_LOG_LEVEL = os.environ.get("SYNTHADMIN_LOG_LEVEL", "").strip().upper() or "WARNING"
if SYNTHADMIN_LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"SYNTHADMIN_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {SYNTHADMIN_LOG_LEVEL!r}"
    )
LOGGING = logging_config(log_format=SYNTHADMIN_LOG_FORMAT, level=SYNTHADMIN_LOG_LEVEL)

#: The admin's address as people reach it, for links the commands print (a sub-path
#: deployment: ``https://synth.example.com/synth/admin/``). Unset: the path alone.
SYNTHADMIN_ADMIN_URL = os.environ.get("SYNTHADMIN_ADMIN_URL", "").strip()
if SYNTHADMIN_ADMIN_URL:
    _admin_url = urlsplit(SYNTHADMIN_ADMIN_URL)
    if _admin_url.scheme not in ("http", "https") or not _admin_url.netloc:
        raise ImproperlyConfigured(
            "SYNTHADMIN_ADMIN_URL must be the admin's full address, e.g. "
            f"https://synth.example.com/admin/, got {SYNTHADMIN_ADMIN_URL!r}"
        )
    SYNTHADMIN_ADMIN_URL = SYNTHADMIN_ADMIN_URL.rstrip("/") + "/"

# Transient Auth failures (timeouts, 429, 5xx): exponential backoff with jitter, bounded.
SYNTHADMIN_AUTH_RETRY_ATTEMPTS = env_int("SYNTHADMIN_AUTH_RETRY_ATTEMPTS", 5, minimum=1)
SYNTHADMIN_AUTH_RETRY_MAX_SECONDS = env_int("SYNTHADMIN_AUTH_RETRY_MAX_SECONDS", 60, minimum=1)
SYNTHADMIN_AUTH_RETRY_BASE_SECONDS = env_float("SYNTHADMIN_AUTH_RETRY_BASE_SECONDS", 0.5)
SYNTHADMIN_AUTH_RETRY_MAX_WAIT = env_float("SYNTHADMIN_AUTH_RETRY_MAX_WAIT", 10.0)
# The total time one Auth call may take (httpx's timeouts bound each read, not a whole call).
SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS = env_float("SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS", 30.0, minimum=1.0)


# --- Background runs (Django's Tasks framework) ---------------------------------------------
# "db" (default): tasks are rows in this database (django-tasks-db), nothing else to run but a
# worker. "rq": tasks go through Redis (django-tasks-rq), REDIS_URL; the scale-out path.
SYNTHADMIN_TASK_BACKEND = os.environ.get("SYNTHADMIN_TASK_BACKEND", "").strip().lower() or "db"
if SYNTHADMIN_TASK_BACKEND not in {"db", "rq"}:
    raise ImproperlyConfigured(
        f"SYNTHADMIN_TASK_BACKEND must be 'db' or 'rq', got {SYNTHADMIN_TASK_BACKEND!r}"
    )
REDIS_URL = os.environ.get("REDIS_URL", "").strip() or "redis://127.0.0.1:6379/0"
#: The queue synthadmin's tasks go to (one name for both backends).
SYNTHADMIN_TASK_QUEUE = "synthadmin"
TASK_BACKENDS = {
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": [SYNTHADMIN_TASK_QUEUE]},
    "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [SYNTHADMIN_TASK_QUEUE]},
}
TASKS = {"default": TASK_BACKENDS[SYNTHADMIN_TASK_BACKEND]}
RQ_QUEUES = {SYNTHADMIN_TASK_QUEUE: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": -1}}
RQ_SHOW_ADMIN_LINK = False
#: Users per chunk: the unit of work a worker takes, records and, after a crash, re-runs.
SYNTHADMIN_CHUNK_USERS = env_int("SYNTHADMIN_CHUNK_USERS", 100, minimum=1)
#: Users per batch: the database work for this many users goes in a few round trips (one COPY,
#: one statement per table), for generation, purge, backfill and extend to today.
SYNTHADMIN_BATCH_USERS = env_int("SYNTHADMIN_BATCH_USERS", 100, minimum=1)
#: How often a worker (and each chunk it runs) records it is alive; also how often a running
#: chunk looks at its run's cancel flag.
SYNTHADMIN_WORKER_HEARTBEAT_SECONDS = env_float("SYNTHADMIN_WORKER_HEARTBEAT_SECONDS", 5.0, minimum=0.05)
#: A worker (or a running chunk) on another host is taken for dead after this long without a
#: heartbeat; on the same host a dead process is seen at once.
SYNTHADMIN_WORKER_STALE_SECONDS = env_float("SYNTHADMIN_WORKER_STALE_SECONDS", 60.0, minimum=0.1)
if SYNTHADMIN_WORKER_STALE_SECONDS < 3 * SYNTHADMIN_WORKER_HEARTBEAT_SECONDS:
    # A live worker that misses one beat (a slow database, a long pause) would be taken for dead
    # and its chunk given to another worker while it still runs it.
    raise ImproperlyConfigured(
        f"SYNTHADMIN_WORKER_STALE_SECONDS ({SYNTHADMIN_WORKER_STALE_SECONDS:g}) must be at least 3 x "
        f"SYNTHADMIN_WORKER_HEARTBEAT_SECONDS ({SYNTHADMIN_WORKER_HEARTBEAT_SECONDS:g}): raise the first "
        "or lower the second, or a live worker is taken for dead and its chunk runs twice"
    )
#: How often a worker's reaper looks for chunks whose worker died, and re-enqueues them.
SYNTHADMIN_REAPER_SECONDS = env_float("SYNTHADMIN_REAPER_SECONDS", 15.0, minimum=0.05)
#: Every query a web request sends runs under this statement_timeout, in seconds (0: none);
#: management commands and workers keep their own (synthadmin/middleware.py).
SYNTHADMIN_WEB_STATEMENT_TIMEOUT = env_float("SYNTHADMIN_WEB_STATEMENT_TIMEOUT", 10.0)
#: Admin requests up to this many patients run inline (in the request) when no worker is alive.
SYNTHADMIN_ADMIN_INLINE_PATIENTS = env_int("SYNTHADMIN_ADMIN_INLINE_PATIENTS", 20, minimum=0)
#: Purging a background run in progress cancels it, then waits this long for it to stop.
SYNTHADMIN_PURGE_CANCEL_WAIT_SECONDS = env_float("SYNTHADMIN_PURGE_CANCEL_WAIT_SECONDS", 60.0)
