"""Settings for the test suite: the project's settings with test-only secrets and fast hashing.

The database is still chosen the project's way: ``DATABASE_URL`` when set, else the embedded
PostgreSQL. Supabase is never configured from the environment here; tests that exercise the
Supabase path point the gateway at the Auth test server themselves.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-a-secret")
for _name in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_SERVICE_KEY", "SYNTHADMIN_AUTH_BACKEND"):
    os.environ.pop(_name, None)

from synthadmin.settings import *  # noqa: E402,F403

# Django's own users in tests: a fast hasher keeps logins cheap.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# GoTrue's test suite also uses a cheaper cost; GoTrue reads the cost from the hash.
SYNTHADMIN_LOCAL_BCRYPT_ROUNDS = 4
SYNTHADMIN_AUTH_BACKEND = "local"
SUPABASE_URL = ""
SUPABASE_SERVICE_ROLE_KEY = ""
