"""Settings for the test suite: the project's settings with test-only secrets and fast hashing.

The database is still chosen the project's way: ``DATABASE_URL`` when set, else the embedded
PostgreSQL (``SYNTHADMIN_DATA_DIR`` may move it). Nothing else of the developer's environment
reaches the suite: no ``.env`` file is read, and every other exported ``SYNTHADMIN_*``,
``SUPABASE_*`` and ``DJANGO_*`` variable is dropped — here, so that subprocesses the tests
start inherit the same clean environment. Tests that exercise the Supabase path point the
gateway at the Auth test server themselves. The machine's own proxy and CA variables
(``HTTP_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE``... in either case) are dropped too: a test
that needs a proxy or a company CA sets them itself.
"""

import os

#: Variables of the developer's environment the suite honours (where the database is).
KEPT = {"DATABASE_URL", "SYNTHADMIN_DATA_DIR", "DJANGO_SETTINGS_MODULE"}
for _name in list(os.environ):
    if _name.startswith(("SYNTHADMIN_", "SUPABASE_", "DJANGO_")) and _name not in KEPT:
        del os.environ[_name]
#: The network's variables (proxies, CA bundles) the Auth transport and its clients read.
NETWORK_VARIABLES = {
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
}
#: The web server's variables (synthadmin/settings.py, deploy/gunicorn.conf.py).
SERVER_VARIABLES = {"SCRIPT_NAME", "PORT", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS", "GUNICORN_CMD_ARGS"}
for _name in list(os.environ):
    if _name.upper() in NETWORK_VARIABLES or _name in SERVER_VARIABLES:
        del os.environ[_name]
os.environ["SYNTHADMIN_ENV_FILE"] = ""  # never a .env file
os.environ["DJANGO_SECRET_KEY"] = "tests-only-not-a-secret"

from synthadmin.settings import *  # noqa: E402,F403

# Django's own users in tests: a fast hasher keeps logins cheap.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# GoTrue's test suite also uses a cheaper cost; GoTrue reads the cost from the hash.
SYNTHADMIN_LOCAL_BCRYPT_ROUNDS = 4
SYNTHADMIN_AUTH_BACKEND = "local"
SUPABASE_URL = ""
SUPABASE_SERVICE_ROLE_KEY = ""
# The plain storage: the manifest one needs collectstatic (the deploy tests run the real one).
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# WhiteNoise serves from the apps' static directories, no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The suite's own process is not one synthadmin process: pytest-django's connections, live
# servers and the threads many tests start at once would wait on a budget of 4. Subprocesses
# (manage.py, the served web process) keep the default; a test that checks the budget in this
# process sets it with the ``settings`` fixture.
SYNTHADMIN_DB_CONNECTIONS = 64
