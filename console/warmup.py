"""What a worker would otherwise do on its first requests, done once when the console is loaded.

A request that is the first of its process imports every view module (resolving its URL loads the whole URLconf),
redis-py (the cache's first command: 60 modules, ~5 MB) and compiles each template it renders (Django's cached
loader keeps them for the life of the process). Done here, at load, a worker's first requests are as quick as its
others, and a broken template fails the start rather than an admin's request.

Under gunicorn, the app is loaded once in the master (``preload_app`` in gunicorn.conf.py) and each worker is forked
from it: the modules and compiled templates are then shared by every worker, page by page, instead of each worker
building its own. Nothing here connects to the database, Redis or Aimable: a connection made before the fork would
be shared by every worker.
"""

from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.urls import get_resolver
from django.utils.module_loading import import_string


def warm() -> None:
    get_resolver().url_patterns  # noqa: B018 - loads the URLconf, and with it every view module
    if issubclass(import_string(settings.CACHES["default"]["BACKEND"]), RedisCache):
        import redis  # noqa: F401 - what the cache's first command would import

    for engine in engines.all():
        if isinstance(engine, DjangoTemplates):
            for folder in engine.engine.dirs:  # the console's own templates (not the admin's, or other apps')
                for path in sorted(folder.rglob("*.html")):
                    engine.get_template(path.relative_to(folder).as_posix())
