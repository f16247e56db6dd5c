"""What a signed-in user's pages promise beyond their content: no copy kept by the browser or a shared cache
(Back after a delete shows no deleted connector), an expired session in a polled part sends the whole page to the
sign-in form, and the footer names the upstream to signed-in users only, without any credential in it."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID

pytestmark = pytest.mark.django_db
IDS = [DEMO_SPACE_ID, DEMO_COLLECTION_ID]
HTMX = {"HTTP_HX_REQUEST": "true"}


def cache_control(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part.strip()}


# ----- Cache-Control: private, no-store on every answer to a signed-in user ----------------------------------------


def test_every_answer_to_a_signed_in_user_is_private_and_not_stored(admin_client, sandbox_api):
    detail = reverse("connector_detail", args=[*IDS, DRIVE_CONNECTOR_ID])
    missing = reverse("connector_detail", args=[*IDS, "no-such-connector"])
    answers = {
        "page": admin_client.get(reverse("connector_list", args=IDS)),
        "htmx part": admin_client.get(detail, **HTMX),
        "polled cell": admin_client.get(reverse("sync_latest", args=[*IDS, SLACK_CONNECTOR_ID]), **HTMX),
        "upstream error page": admin_client.get(missing),
        "not found": admin_client.get("/no-such-page/"),
        "redirect after a delete": admin_client.post(reverse("connector_delete", args=[*IDS, DRIVE_CONNECTOR_ID])),
        "settings page": admin_client.get(reverse("api_keys")),
    }
    assert answers["redirect after a delete"].status_code == 302 and answers["upstream error page"].status_code == 404
    for label, response in answers.items():
        assert {"private", "no-store"} <= cache_control(response), label


def test_a_signed_out_visitor_gets_no_such_header_from_it(client, sandbox_api):
    """The sign-in page has Django's own never_cache; the redirect to it and /healthz are not the middleware's."""
    assert "no-store" not in cache_control(client.get(reverse("home")))
    assert cache_control(client.get("/healthz")) == {"max-age=0", "no-cache", "no-store", "must-revalidate", "private"}


# ----- an expired session in an htmx part --------------------------------------------------------------------------


def test_an_htmx_part_of_a_signed_out_user_sends_the_page_to_the_sign_in_form(client, sandbox_api):
    page = reverse("connector_list", args=IDS) + "?status=active"
    cell = reverse("sync_latest", args=[*IDS, DRIVE_CONNECTOR_ID])
    response = client.get(cell, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver{page}")
    assert response.status_code == 200 and "Location" not in response  # not a redirect htmx would follow in place
    target = urlsplit(response["HX-Redirect"])
    assert target.path == reverse("login")
    assert parse_qs(target.query) == {"next": [page]}  # back to the page, not to the cell
    assert response.content == b""
    assert sandbox_api.requests() == []


def test_without_a_page_on_this_site_the_sign_in_form_has_no_next(client, sandbox_api):
    cell = reverse("sync_latest", args=[*IDS, DRIVE_CONNECTOR_ID])
    response = client.get(cell, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://evil.example/")
    assert response["HX-Redirect"] == reverse("login")


def test_a_plain_request_is_still_redirected(client):
    response = client.get(reverse("audit_log"))
    assert response.status_code == 302 and response.url == reverse("login") + "?next=/audit/"


# ----- the footer ----------------------------------------------------------------------------------------------------


def test_the_footer_names_the_upstream_to_signed_in_users_only_and_never_a_credential(client, user, settings):
    settings.AIMABLE_API_URL = (
        "https://svc-user:hunter2-pass@api.example.test/api-proxy?token=t0k3n-in-query#frag-s3cret"
    )
    signed_out = client.get(reverse("login")).content.decode()
    assert "api.example.test" not in signed_out and "upstream" not in signed_out
    client.force_login(user)
    page = client.get(reverse("api_keys")).content.decode()  # a page that needs no upstream call
    assert "upstream <code>https://api.example.test/api-proxy</code>" in page
    for secret in ("svc-user", "hunter2-pass", "t0k3n-in-query", "frag-s3cret"):
        assert secret not in page
