import os

from synthadmin.startup import collection_pause, collection_resume

collection_pause()  # until Django's apps are ready (synthadmin.startup)
from django.core.wsgi import get_wsgi_application  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synthadmin.settings")
application = get_wsgi_application()
collection_resume()  # done at ready() already; here too when Django was set up before this import
# A web process: every connection it opens is bounded (synthadmin.middleware; needs the apps loaded).
from synthadmin.middleware import web_process_mark  # noqa: E402

web_process_mark()
