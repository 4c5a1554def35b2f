"""synthadmin's database backend: Django's PostgreSQL backend, plus two things.

* Every connection puts the ``synthadmin`` schema first on its ``search_path``, so Django's own
  tables (users with password hashes, sessions, the admin log, run records) are created and
  found there, never in ``public``, which Supabase serves to browsers.
* A ``DATABASES`` entry with ``EMBEDDED_DATA_DIR`` starts the embedded PostgreSQL lazily, on
  the first connection, instead of at import time.
"""
