import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "synthadmin.settings")
application = get_asgi_application()
# A web process: every connection it opens is bounded (synthadmin.middleware; needs the apps loaded).
from synthadmin.middleware import web_process_mark  # noqa: E402

web_process_mark()
