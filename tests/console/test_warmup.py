"""console/warmup.py: what a worker would do on its first requests, done when the console is loaded."""

import copy

import pytest
from django.conf import settings
from django.forms.renderers import get_default_renderer
from django.template import TemplateSyntaxError
from django.template.loader import get_template
from django.test import override_settings
from django.urls import clear_url_caches, get_resolver

from console.warmup import warm


def templates_in(folder):
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [folder]
    return override_settings(TEMPLATES=templates)


def test_every_template_of_the_console_is_compiled_before_the_first_request(tmp_path):
    (tmp_path / "pages").mkdir()
    page = tmp_path / "pages" / "page.html"
    page.write_text("as loaded")
    with templates_in(tmp_path):
        warm()
        page.write_text("as changed after the load")  # a compiled template is not read again
        assert get_template("pages/page.html").render({}) == "as loaded"


def test_a_broken_template_fails_the_start_not_an_admins_request(tmp_path):
    (tmp_path / "broken.html").write_text("{% if %}")
    with templates_in(tmp_path), pytest.raises(TemplateSyntaxError):
        warm()


def test_the_links_and_the_forms_widgets_are_ready_before_the_first_request():
    clear_url_caches()  # as in a process that has served nothing yet
    get_default_renderer.cache_clear()
    warm()
    assert get_resolver()._populated  # the reverse tables: the first {% url %} builds nothing
    loader = get_default_renderer().engine.engine.template_loaders[0]
    assert {"django/forms/widgets/text.html", "django/forms/widgets/select.html"} <= set(loader.get_template_cache)
