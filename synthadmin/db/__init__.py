"""synthadmin's database backend: Django's PostgreSQL backend, plus a few things.

* Every session is pinned at connect to what synthadmin needs — ``DateStyle`` ISO, ``TimeZone``
  UTC, and the ``synthadmin`` schema first on its ``search_path``, so Django's own tables (users
  with password hashes, sessions, the admin log, run records) are created and found there, never
  in ``public``, which Supabase serves to browsers.
* A transaction-mode pooler is refused at the first connection, before anything is written.
* A ``DATABASES`` entry with ``EMBEDDED_DATA_DIR`` starts the embedded PostgreSQL lazily, on
  the first connection, instead of at import time.
"""
