import os

from synthadmin.startup import collection_pause, collection_resume

collection_pause()  # until Django's apps are ready (synthadmin.startup)
from django.core.wsgi import get_wsgi_application  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synthadmin.settings")
try:
    application = get_wsgi_application()
finally:
    # Done at ready() already; here too when Django was set up before this import, or failed
    # (a server that keeps the process and tries again runs with the collector on).
    collection_resume()
# A web process: every connection it opens is bounded (synthadmin.middleware; needs the apps loaded).
from synthadmin.middleware import web_process_mark  # noqa: E402

web_process_mark()
