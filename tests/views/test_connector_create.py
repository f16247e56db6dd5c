"""The create form: fields per provider, htmx and no-JS provider switch, idempotent submit, 422 mapping,
input kept (secrets server-side) on every failure, and never a secret in a page."""

import json

import pytest
from django.urls import reverse

from connectors import pending
from connectors.idempotency import sign_idempotency_key
from connectors.models import AuditEvent
from sandbox import DEMO_SPACE_ID, EMPTY_COLLECTION_ID, OTHER_SPACE_ID
from tests.conftest import store_key
from tests.views.helpers import (
    HTMX,
    assert_readable_error_page,
    connectors_in,
    fail_fast,
    idempotency_token,
    upstream_writes,
)

pytestmark = pytest.mark.django_db

URL = reverse("connector_create", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID])
TOKEN = "ya29.typed-secret-access-token-1234"
REFRESH = "1//typed-secret-refresh-token-5678"


def form_data(client, **overrides):
    """What a browser posts: the hidden token from a fresh render plus the typed values."""
    data = {
        "idempotency_token": idempotency_token(client.get(URL)),
        "provider": "google-drive",
        "access_token": TOKEN,
        "refresh_token": "",
        "scope_folder_ids": "",
        "scope_extra": "",
    }
    data.update(overrides)
    return data


def created(sandbox_api):
    return connectors_in(sandbox_api, EMPTY_COLLECTION_ID)


def assert_no_secret(response):
    body = response.content.decode()
    assert TOKEN not in body and REFRESH not in body


# ----- the form ---------------------------------------------------------------------------------------


def test_the_form_has_visible_labels_password_inputs_and_an_idempotency_token(admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    for label in ("Provider", "Access token", "Refresh token", "Folder IDs", "Other scope settings (JSON)"):
        assert f">{label}" in page, label
    assert 'type="password" name="access_token"' in page
    assert 'type="password" name="refresh_token"' in page
    assert "Google Drive" in page and "Slack" in page and "GitHub" in page
    assert "Create connector" in page
    assert idempotency_token(response)
    assert 'name="change_provider"' in page  # the no-JS way to switch providers
    assert f'hx-get="{URL}"' in page and 'hx-target="#provider-fields"' in page  # the htmx way


@pytest.mark.parametrize(
    ("slug", "label", "other"),
    [
        ("google-drive", "Folder IDs", "Channel IDs"),
        ("slack", "Channel IDs", "Repositories"),
        ("github", "Repositories", "Folder IDs"),
    ],
)
def test_each_provider_shows_its_own_scope_field(admin_client, slug, label, other):
    page = admin_client.get(URL + f"?provider={slug}").content.decode()
    assert label in page and other not in page


def test_an_unknown_provider_falls_back_to_the_first(admin_client):
    page = admin_client.get(URL + "?provider=dropbox").content.decode()
    assert "Folder IDs" in page


def test_htmx_swaps_only_the_provider_fields(admin_client, sandbox_api):
    response = admin_client.get(URL + "?provider=github", HTTP_HX_TARGET="provider-fields", **HTMX)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert 'id="provider-fields"' in fragment
    assert "Repositories" in fragment and "Folder IDs" not in fragment
    assert "<html" not in fragment and "Create connector" not in fragment


def test_without_javascript_change_provider_shows_the_new_fields_and_keeps_the_form(admin_client, sandbox_api):
    data = form_data(admin_client, provider="slack", change_provider="1", scope_extra='{"include_shared": true}')
    response = admin_client.post(URL, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Channel IDs" in page and "Folder IDs" not in page
    assert idempotency_token(response) == data["idempotency_token"]  # the same submission, still one connector
    assert "include_shared" in page
    assert_no_secret(response)
    assert upstream_writes(sandbox_api) == []


# ----- success ----------------------------------------------------------------------------------------


def test_create_sends_the_typed_values_and_opens_the_new_connector(admin_client, sandbox_api):
    data = form_data(
        admin_client,
        access_token=TOKEN,
        refresh_token=REFRESH,
        scope_folder_ids="1AAA, 1BBB\n1CCC\n\n1AAA",
        scope_extra='{"include_shared": true}',
    )
    response = admin_client.post(URL, data, follow=True)
    assert response.status_code == 200
    (connector,) = created(sandbox_api)
    assert response.redirect_chain[-1][0] == reverse(
        "connector_detail", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID, connector["id"]]
    )
    page = response.content.decode()
    assert "Google Drive connector created." in page
    assert "Browse and choose scope" in page
    assert connector["provider_slug"] == "google-drive"
    assert connector["scope_config"] == {"folder_ids": ["1AAA", "1BBB", "1CCC"], "include_shared": True}
    assert sandbox_api.credential(connector["id"]) == {"access_token": TOKEN, "refresh_token": REFRESH}
    assert_no_secret(response)


def test_slack_and_github_scope_fields_reach_the_upstream(admin_client, sandbox_api):
    admin_client.post(URL, form_data(admin_client, provider="slack", scope_channel_ids="C01, C02"))
    admin_client.post(URL, form_data(admin_client, provider="github", scope_repositories="acme/a\nacme/b"))
    scopes = {c["provider_slug"]: c["scope_config"] for c in created(sandbox_api)}
    assert scopes == {"slack": {"channel_ids": ["C01", "C02"]}, "github": {"repositories": ["acme/a", "acme/b"]}}


def test_a_double_submit_creates_one_connector(admin_client, sandbox_api):
    data = form_data(admin_client)
    first = admin_client.post(URL, data)
    second = admin_client.post(URL, data)
    assert first.status_code == second.status_code == 302
    assert first.url == second.url
    assert len(created(sandbox_api)) == 1
    keys = {r["idempotency_key"] for r in upstream_writes(sandbox_api)}
    assert len(keys) == 1


def test_back_and_resubmit_after_success_creates_no_second_connector(admin_client, sandbox_api):
    data = form_data(admin_client, scope_folder_ids="1AAA")
    admin_client.post(URL, data, follow=True)
    admin_client.get(URL)  # the user goes on, then comes back with the browser's back button
    again = admin_client.post(URL, data)
    assert again.status_code == 302
    assert len(created(sandbox_api)) == 1


# ----- local validation ---------------------------------------------------------------------------------


def test_an_access_token_is_required_and_nothing_is_sent(admin_client, sandbox_api):
    response = admin_client.post(URL, form_data(admin_client, access_token=""))
    assert response.status_code == 200
    assert "Enter an access token" in response.content.decode()
    assert upstream_writes(sandbox_api) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("{not json", "This is not valid JSON"),
        ("[1, 2]", "Enter a JSON object"),
        ('{"folder_ids": ["x"]}', "Use the field above for folder_ids"),
    ],
)
def test_the_advanced_json_field_is_checked(admin_client, sandbox_api, extra, message):
    response = admin_client.post(URL, form_data(admin_client, scope_extra=extra))
    page = response.content.decode()
    assert message in page
    assert_no_secret(response)
    assert upstream_writes(sandbox_api) == []


def test_a_form_error_keeps_the_typed_secret_for_the_next_submit(admin_client, sandbox_api):
    data = form_data(admin_client, refresh_token=REFRESH, scope_extra="{oops")
    response = admin_client.post(URL, data)
    assert "This is not valid JSON" in response.content.decode()
    assert_no_secret(response)
    assert "••••1234" in response.content.decode()  # the user is told the token is kept
    fixed = dict(data, access_token="", refresh_token="", scope_extra="", idempotency_token=idempotency_token(response))
    assert admin_client.post(URL, fixed).status_code == 302
    (connector,) = created(sandbox_api)
    assert sandbox_api.credential(connector["id"]) == {"access_token": TOKEN, "refresh_token": REFRESH}


def test_switching_provider_without_javascript_keeps_the_typed_secret(admin_client, sandbox_api):
    data = form_data(admin_client, provider="github", change_provider="1")
    response = admin_client.post(URL, data)
    assert_no_secret(response)
    data = dict(data, access_token="", scope_repositories="acme-corp/docs")
    del data["change_provider"]
    assert admin_client.post(URL, data).status_code == 302
    (connector,) = created(sandbox_api)
    assert connector["provider_slug"] == "github"
    assert sandbox_api.credential(connector["id"]) == {"access_token": TOKEN}


def test_a_tampered_idempotency_token_is_a_form_error_and_nothing_is_sent(admin_client, sandbox_api):
    data = form_data(admin_client)
    data["idempotency_token"] = data["idempotency_token"][:-3] + "xyz"
    response = admin_client.post(URL, data)
    assert response.status_code == 200
    assert "This form has expired" in response.content.decode()
    assert upstream_writes(sandbox_api) == []
    assert_no_secret(response)
    # The form comes back with a fresh, valid token: submitting it again works.
    retry = dict(data, idempotency_token=idempotency_token(response))
    assert admin_client.post(URL, retry).status_code == 302
    assert len(created(sandbox_api)) == 1


def test_another_users_idempotency_token_is_refused(admin_client, other_user, sandbox_api):
    data = form_data(admin_client, idempotency_token=sign_idempotency_key(other_user))
    response = admin_client.post(URL, data)
    assert "This form has expired" in response.content.decode()
    assert upstream_writes(sandbox_api) == []


# ----- upstream 422 ------------------------------------------------------------------------------------


def test_a_real_422_lands_on_its_field_with_the_input_kept(admin_client, sandbox_api):
    data = form_data(admin_client, provider="github", scope_repositories="acme-corp/docs\nnot-a-repo")
    response = admin_client.post(URL, data)
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["scope_repositories"]
    # The item is named by what the user typed, and the upstream's regular expression is not shown.
    assert 'Item 2, "not-a-repo": not in the expected format' in form.errors["scope_repositories"][0]
    page = response.content.decode()
    # The error is shown with the Repositories field, and what the user typed is still there.
    label_at = page.index(">Repositories")
    error_at = page.index("Item 2, &quot;not-a-repo&quot;: not in the expected format")
    assert label_at < error_at < page.index(">Refresh token")
    assert "acme-corp/docs\nnot-a-repo" in page
    assert "Please correct the fields marked below." in page
    assert_no_secret(response)
    assert form.kept_secret_hint == "••••1234" and "••••1234" in page
    assert created(sandbox_api) == []

    # Corrected, with the token field left blank: the kept secret is used, one connector is created.
    fixed = dict(
        data, idempotency_token=idempotency_token(response), access_token="", scope_repositories="acme-corp/docs"
    )
    assert fixed["idempotency_token"] != data["idempotency_token"]
    assert admin_client.post(URL, fixed).status_code == 302
    (connector,) = created(sandbox_api)
    assert connector["scope_config"] == {"repositories": ["acme-corp/docs"]}
    assert sandbox_api.credential(connector["id"]) == {"access_token": TOKEN}


def test_a_422_on_a_scope_location_lands_on_that_field(admin_client, sandbox_api):
    sandbox_api.add_rule(
        method="POST",
        path_contains="/connectors",
        status=422,
        detail=[{"loc": ["body", "scope_config", "folder_ids"], "msg": "Folder 1ZZZ does not exist", "type": "x"}],
    )
    response = admin_client.post(URL, form_data(admin_client, scope_folder_ids="1ZZZ"))
    form = response.context["form"]
    assert form.errors["scope_folder_ids"] == ["Folder 1ZZZ does not exist"]
    page = response.content.decode()
    assert page.index(">Folder IDs") < page.index("Folder 1ZZZ does not exist") < page.index(">Access token")
    assert "1ZZZ" in page
    assert_no_secret(response)


def test_a_422_on_an_unknown_location_is_a_form_level_error(admin_client, sandbox_api):
    sandbox_api.add_rule(
        method="POST",
        path_contains="/connectors",
        status=422,
        detail=[{"loc": ["body", "webhook_url"], "msg": "Webhooks are not enabled", "type": "x"}],
    )
    response = admin_client.post(URL, form_data(admin_client, scope_folder_ids="1AAA"))
    form = response.context["form"]
    assert list(form.errors) == ["__all__"]
    page = response.content.decode()
    assert "Aimable refused the request: Webhooks are not enabled (webhook_url)" in page
    assert "1AAA" in page
    assert_no_secret(response)


def test_a_422_on_the_credential_lands_on_the_access_token(admin_client, sandbox_api):
    sandbox_api.add_rule(
        method="POST",
        path_contains="/connectors",
        status=422,
        detail=[
            {
                "loc": ["body", "credential", "access_token"],
                "msg": "Token is malformed",
                "type": "x",
                "input": {"access_token": TOKEN},  # FastAPI echoes the input: it must go nowhere
            }
        ],
    )
    response = admin_client.post(URL, form_data(admin_client))
    assert response.context["form"].errors["access_token"] == ["Token is malformed"]
    assert_no_secret(response)
    event = AuditEvent.objects.get()
    assert event.outcome == "error" and TOKEN not in event.error + json.dumps(event.changes)


# ----- upstream failures: input kept, retry creates exactly one -------------------------------------------


def test_a_503_after_the_upstream_committed_then_a_resubmit_creates_one_connector(admin_client, sandbox_api):
    sandbox_api.add_rule(method="POST", path_contains="/connectors", status=503, after_commit=True)
    data = form_data(admin_client, refresh_token=REFRESH, scope_folder_ids="1AAA\n1BBB")
    response = admin_client.post(URL, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "The connector could not be created" in page and "it will not create a duplicate" in page
    assert "1AAA\n1BBB" in page  # the input is kept
    assert idempotency_token(response) == data["idempotency_token"]  # the same key for the retry
    assert_no_secret(response)
    assert len(created(sandbox_api)) == 1  # committed upstream, although the answer was lost

    again = admin_client.post(URL, data)  # the browser resubmits exactly the same POST
    assert again.status_code == 302
    (connector,) = created(sandbox_api)
    assert again.url.endswith(f"/connectors/{connector['id']}/")
    posts = upstream_writes(sandbox_api)
    assert len(posts) == 2 and posts[0]["idempotency_key"] == posts[1]["idempotency_key"]


def test_a_timeout_keeps_the_secret_server_side_and_the_retry_uses_it(admin_client, sandbox_api, settings):
    fail_fast(settings)
    sandbox_api.add_rule(method="POST", path_contains="/connectors", hang=True, hang_seconds=2, after_commit=True)
    data = form_data(admin_client, refresh_token=REFRESH, scope_folder_ids="1AAA")
    response = admin_client.post(URL, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "did not answer in time" in page
    assert "1AAA" in page
    assert_no_secret(response)
    # The secret is in the session, encrypted: never as plain text.
    session_blob = json.dumps(dict(admin_client.session))
    assert TOKEN not in session_blob and REFRESH not in session_blob
    assert "pending_credentials" in admin_client.session

    # The user presses "Create connector" again without retyping the secrets.
    retry = dict(data, access_token="", refresh_token="", idempotency_token=idempotency_token(response))
    assert admin_client.post(URL, retry).status_code == 302
    (connector,) = created(sandbox_api)
    assert sandbox_api.credential(connector["id"]) == {"access_token": TOKEN, "refresh_token": REFRESH}
    assert "pending_credentials" not in admin_client.session or not admin_client.session["pending_credentials"]


def test_a_503_before_anything_was_created_then_a_retry_creates_one(admin_client, sandbox_api):
    sandbox_api.add_rule(method="POST", path_contains="/connectors", status=503)
    data = form_data(admin_client)
    response = admin_client.post(URL, data)
    assert "The connector could not be created" in response.content.decode()
    assert created(sandbox_api) == []
    assert admin_client.post(URL, dict(data, access_token="")).status_code == 302
    assert len(created(sandbox_api)) == 1


def test_changed_values_after_a_lost_answer_are_a_conflict_not_a_duplicate(admin_client, sandbox_api):
    sandbox_api.add_rule(method="POST", path_contains="/connectors", status=503, after_commit=True)
    data = form_data(admin_client, scope_folder_ids="1AAA")
    admin_client.post(URL, data)
    response = admin_client.post(URL, dict(data, scope_folder_ids="1BBB"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Check the connector list before creating it again" in page
    assert idempotency_token(response) != data["idempotency_token"]
    assert_no_secret(response)
    assert len(created(sandbox_api)) == 1


def test_a_500_is_a_form_error_not_a_500_page(admin_client, sandbox_api):
    sandbox_api.add_rule(method="POST", path_contains="/connectors", status=500, body="html")
    response = admin_client.post(URL, form_data(admin_client, scope_folder_ids="1AAA"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The connector could not be created" in page and "Traceback" not in page
    assert_no_secret(response)


def test_a_rejected_key_on_submit_links_to_the_key_settings(admin_client, sandbox_api):
    data = form_data(admin_client)
    sandbox_api.add_rule(method="POST", path_contains="/connectors", status=401)
    response = admin_client.post(URL, data)
    page = assert_readable_error_page(response, status=403, text="Your API key was rejected")
    assert reverse("api_keys") in page
    assert TOKEN not in page


def test_no_access_on_submit_says_so(admin_client, sandbox_api):
    data = form_data(admin_client)
    sandbox_api.add_rule(method="POST", path_contains="/connectors", status=403)
    response = admin_client.post(URL, data)
    page = assert_readable_error_page(response, status=403, text="Your key has no access to this space/collection")
    assert TOKEN not in page


def test_a_space_the_key_cannot_reach(client, user, sandbox_api):
    store_key(user, sandbox_api.limited_key)
    client.force_login(user)
    url = reverse("connector_create", args=[OTHER_SPACE_ID, EMPTY_COLLECTION_ID])
    client.get(url)  # the form renders (it needs no upstream data) ...
    data = {"idempotency_token": sign_idempotency_key(user), "provider": "github", "access_token": TOKEN}
    response = client.post(url, data)  # ... and the upstream refuses the create
    assert_readable_error_page(response, status=403, text="no access to this space/collection")


def test_pending_secrets_are_per_submission(rf, admin_client):
    """The kept secret is looked up by the submission's own key: another form does not see it."""
    session = admin_client.session
    request = rf.get("/")
    request.session = session
    pending.keep(request, "key-a", {"access_token": TOKEN})
    assert pending.get(request, "key-a") == {"access_token": TOKEN}
    assert pending.get(request, "key-b") is None
    assert TOKEN not in json.dumps(request.session["pending_credentials"])
