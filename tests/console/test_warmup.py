"""console/warmup.py: what a worker would do on its first requests, done when the console is loaded."""

import copy

import pytest
from django.conf import settings
from django.template import TemplateSyntaxError
from django.template.loader import get_template
from django.test import override_settings

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
