"""What a worker would otherwise do on its first requests, done once when the console is loaded.

A request that is the first of its process imports every view module (resolving its URL loads the whole URLconf)
and builds the URLconf's reverse tables (the first link), redis-py (the cache's first command: 60 modules, ~5 MB),
the settings' auth backends, session store and message storage, the template context processors, the language's
translations and formats and the time zone, and compiles each template it renders, the forms' widget templates
included (Django's cached loaders keep them for the life of the process). Done here, at load, a worker's first
requests are as quick as its others, and a broken template fails the start rather than an admin's request.

Under gunicorn, the app is loaded once in the master (``preload_app`` in gunicorn.conf.py) and each worker is forked
from it: the modules, tables and compiled templates are then shared by every worker, page by page, instead of each
worker building its own. Nothing here connects to the database, Redis or Aimable: a connection made before the fork
would be shared by every worker.
"""

from importlib import import_module
from pathlib import Path

import django.forms
from django.conf import settings
from django.contrib.auth import get_backends
from django.core.cache.backends.redis import RedisCache
from django.forms.renderers import DjangoTemplates as FormTemplates
from django.forms.renderers import get_default_renderer
from django.template import engines
from django.template.backends.django import DjangoTemplates
from django.urls import get_resolver
from django.utils import formats, timezone, translation
from django.utils.module_loading import import_string

FORM_TEMPLATES = Path(django.forms.__file__).parent / "templates"


def warm() -> None:
    get_resolver().reverse_dict  # noqa: B018 - loads the URLconf (every view module) and builds its reverse tables
    if issubclass(import_string(settings.CACHES["default"]["BACKEND"]), RedisCache):
        import redis  # noqa: F401 - what the cache's first command would import

    # What a request's middleware and its first page load on first use.
    get_backends()
    import_module(settings.SESSION_ENGINE)
    import_string(settings.SESSION_SERIALIZER)
    import_string(settings.MESSAGE_STORAGE)
    translation.gettext("")  # the catalogs of every installed app, in LANGUAGE_CODE
    formats.get_format("DATETIME_INPUT_FORMATS")  # and its format module
    timezone.get_default_timezone()

    for engine in engines.all():
        if isinstance(engine, DjangoTemplates):
            engine.engine.template_context_processors  # noqa: B018 - imports them
            for folder in engine.engine.dirs:  # the console's own templates (not the admin's, or other apps')
                _compile(engine, folder)
    renderer = get_default_renderer()
    if isinstance(renderer, FormTemplates):  # the forms' own engine, with Django's widget templates
        _compile(renderer.engine, FORM_TEMPLATES)


def _compile(engine, folder: Path) -> None:
    for path in sorted(folder.rglob("*.html")):
        engine.get_template(path.relative_to(folder).as_posix())
