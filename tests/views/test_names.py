"""The team's names for connectors (Aimable's connector has none) and scope values shown by the names the
provider's browse gave them: set on create and edit, shown on the list, detail, breadcrumbs, audit log and alerts."""

import html

import pytest
from django.urls import reverse

from connectors import naming
from connectors.alerts import checks
from connectors.alerts.models import ConnectorSettings
from connectors.models import AuditEvent
from sandbox import (
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DESIGN_FOLDER_ID,
    DRIVE_CONNECTOR_ID,
    DRIVE_SCOPE_FOLDER_IDS,
    EMPTY_COLLECTION_ID,
    ENGINEERING_FOLDER_ID,
    FINANCE_FOLDER_ID,
    ONBOARDING_FOLDER_ID,
    RUNBOOKS_FOLDER_ID,
    SLACK_CONNECTOR_ID,
)
from tests.views.helpers import HTMX, connectors_in, idempotency_token, upstream_writes

pytestmark = pytest.mark.django_db

TOKEN = "ya29.typed-secret-access-token-1234"
LIST = reverse("connector_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID])
CREATE = reverse("connector_create", args=[DEMO_SPACE_ID, EMPTY_COLLECTION_ID])
AUDIT = reverse("audit_log")


def url(name, connector_id=DRIVE_CONNECTOR_ID):
    return reverse(name, args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, connector_id])


def name_drive(user, name="Engineering docs", description="The wiki's Drive folders."):
    return naming.connector_name_set(
        user=user,
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=DRIVE_CONNECTOR_ID,
        name=name,
        description=description,
    )


def edit_data(**overrides):
    """What the Drive connector's edit form posts when the user changes nothing."""
    return {
        "name": "",
        "description": "",
        "status": "active",
        "scope_folder_ids": "\n".join(DRIVE_SCOPE_FOLDER_IDS),
        "scope_extra": "",
        "access_token": "",
        "refresh_token": "",
        **overrides,
    }


# ----- create ---------------------------------------------------------------------------------------------------


def create_data(client, **overrides):
    return {
        "idempotency_token": idempotency_token(client.get(CREATE)),
        "provider": "google-drive",
        "access_token": TOKEN,
        "refresh_token": "",
        "scope_folder_ids": "",
        "scope_extra": "",
        "name": "Marketing drive",
        "description": "Brand assets, for the sales team.",
        **overrides,
    }


def test_the_create_form_has_name_and_description_fields(admin_client):
    page = admin_client.get(CREATE).content.decode()
    assert 'name="name"' in page and 'name="description"' in page
    assert ">Name<" in page and ">Description<" in page


def test_a_name_set_on_create_is_kept_by_the_console_not_sent_to_aimable(admin_client, sandbox_api):
    response = admin_client.post(CREATE, create_data(admin_client), follow=True)
    (created,) = connectors_in(sandbox_api, EMPTY_COLLECTION_ID)
    assert "name" not in created and "description" not in created
    row = ConnectorSettings.objects.get(connector_id=created["id"])
    assert (row.name, row.description) == ("Marketing drive", "Brand assets, for the sales team.")
    page = response.content.decode()
    assert "Google Drive connector “Marketing drive” created." in page
    assert "<h1>" in page and "Marketing drive" in page and "Brand assets, for the sales team." in page
    # The create's own audit entry carries the name; no second entry for it.
    (event,) = AuditEvent.objects.all()
    assert event.action == AuditEvent.Action.CONNECTOR_CREATE and event.changes["name"] == "Marketing drive"


def test_a_create_without_a_name_stores_nothing_and_is_called_by_its_provider(admin_client, sandbox_api):
    response = admin_client.post(CREATE, create_data(admin_client, name="", description=""), follow=True)
    assert "Google Drive connector created." in response.content.decode()
    assert not ConnectorSettings.objects.exists()
    assert "name" not in AuditEvent.objects.get().changes


def test_a_create_that_fails_validation_keeps_the_name_and_description_as_typed(admin_client, sandbox_api):
    data = create_data(admin_client, access_token="", name="Typed <name>", description="Typed\ndescription")
    response = admin_client.post(CREATE, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Enter an access token" in page
    assert 'value="Typed &lt;name&gt;"' in page and "Typed\ndescription</textarea>" in page
    assert upstream_writes(sandbox_api) == [] and not ConnectorSettings.objects.exists()


def test_a_name_longer_than_200_characters_is_refused_in_place(admin_client, sandbox_api):
    response = admin_client.post(CREATE, create_data(admin_client, name="x" * 201))
    assert response.status_code == 200
    assert "at most 200 characters" in response.content.decode()
    assert upstream_writes(sandbox_api) == []


# ----- edit -----------------------------------------------------------------------------------------------------


def test_the_edit_form_shows_the_current_name_and_description(admin_client, user):
    name_drive(user)
    page = admin_client.get(url("connector_edit")).content.decode()
    assert 'value="Engineering docs"' in page and "The wiki&#x27;s Drive folders.</textarea>" in page


def test_an_edit_of_only_the_name_is_saved_without_calling_aimable(admin_client, sandbox_api, user):
    sandbox_api.clear_requests()
    response = admin_client.post(url("connector_edit"), edit_data(name="Eng wiki", description="Specs"))
    assert response.status_code == 302
    assert [r for r in sandbox_api.requests() if r["method"] != "GET"] == []  # no PATCH
    row = ConnectorSettings.objects.get(connector_id=DRIVE_CONNECTOR_ID)
    assert (row.name, row.description, row.updated_by) == ("Eng wiki", "Specs", user)
    (event,) = AuditEvent.objects.all()
    assert event.action == AuditEvent.Action.CONNECTOR_NAME and event.connector_id == DRIVE_CONNECTOR_ID
    assert event.changes == {"name": {"from": "", "to": "Eng wiki"}, "description": {"from": "", "to": "Specs"}}
    assert "Changes saved." in admin_client.get(response.url).content.decode()


def test_an_edit_changing_nothing_saves_nothing(admin_client, sandbox_api, user):
    name_drive(user)
    response = admin_client.post(
        url("connector_edit"), edit_data(name="Engineering docs", description="The wiki's Drive folders.")
    )
    assert response.status_code == 302
    assert "Nothing changed." in admin_client.get(response.url).content.decode()
    assert (
        upstream_writes(sandbox_api) == []
        and not AuditEvent.objects.exclude(action=AuditEvent.Action.CONNECTOR_NAME).exists()
    )


def test_an_edit_of_the_name_and_the_status_patches_only_the_status(admin_client, sandbox_api):
    admin_client.post(url("connector_edit"), edit_data(name="Paused docs", status="paused"))
    (patch,) = upstream_writes(sandbox_api)
    assert patch["method"] == "PATCH"
    assert ConnectorSettings.objects.get(connector_id=DRIVE_CONNECTOR_ID).name == "Paused docs"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert actions == {AuditEvent.Action.CONNECTOR_UPDATE, AuditEvent.Action.CONNECTOR_NAME}


def test_when_aimable_refuses_the_edit_the_name_is_not_saved_and_stays_as_typed(admin_client, sandbox_api):
    sandbox_api.add_rule(method="PATCH", path_contains=DRIVE_CONNECTOR_ID, status=503, times=10)
    response = admin_client.post(url("connector_edit"), edit_data(name="Never saved", status="paused"))
    assert response.status_code == 200
    assert 'value="Never saved"' in response.content.decode()
    assert not ConnectorSettings.objects.filter(name="Never saved").exists()


# ----- shown everywhere -----------------------------------------------------------------------------------------


def test_the_list_shows_the_team_name_with_provider_and_short_id(admin_client, user):
    name_drive(user)
    page = admin_client.get(LIST).content.decode()
    assert "Engineering docs</a>" in page
    assert f'Google Drive · <code title="{DRIVE_CONNECTOR_ID}">{DRIVE_CONNECTOR_ID[:8]}</code>' in page
    # An unnamed connector is called by its provider and short id.
    assert f"Slack {SLACK_CONNECTOR_ID[:8]}</a>" in page


def test_the_detail_page_and_breadcrumbs_show_the_name_and_description(admin_client, user):
    name_drive(user)
    page = admin_client.get(url("connector_detail")).content.decode()
    assert "Engineering docs" in page.split("<h1>")[1].split("</h1>")[0]
    assert "The wiki&#x27;s Drive folders." in page
    assert f'data-copy="{DRIVE_CONNECTOR_ID}"' in page  # the id is still there to copy
    for name in ("connector_edit", "connector_browse", "connector_delete", "sync_list"):
        crumbs = admin_client.get(url(name)).content.decode().split('class="breadcrumbs"')[1].split("</nav>")[0]
        assert f'<a href="{url("connector_detail")}">Engineering docs</a>' in crumbs, name


def test_the_audit_log_shows_the_team_name_next_to_the_id(admin_client):
    admin_client.post(url("connector_edit"), edit_data(name="Eng wiki"))
    page = admin_client.get(AUDIT).content.decode()
    assert '<span title="Eng wiki">Eng wiki</span><br><code>' + DRIVE_CONNECTOR_ID in page
    assert "<strong>name</strong>:\n   → Eng wiki" in page


def test_the_audit_log_reads_the_names_of_a_page_in_one_query(admin_client, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i, connector_id in enumerate([DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID]):
        naming.connector_name_set(
            user=user,
            space_id=DEMO_SPACE_ID,
            collection_id=DEMO_COLLECTION_ID,
            connector_id=connector_id,
            name=f"Named {i}",
            description="",
        )
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(AUDIT).content.decode()
    assert "Named 0" in page and "Named 1" in page
    assert sum("connectorsettings" in q["sql"].lower() for q in queries.captured_queries) == 1


def test_a_hostile_long_name_is_escaped_and_cut_short(admin_client, user):
    hostile = '<script>alert("x")</script>&amp;' + "é" * 200
    name_drive(user, name=hostile, description="<img src=x onerror=alert(1)>")
    stored = ConnectorSettings.objects.get(connector_id=DRIVE_CONNECTOR_ID).name
    assert len(stored) == 200
    for page_url in (LIST, url("connector_detail"), url("connector_edit"), AUDIT):
        page = admin_client.get(page_url).content.decode()
        assert "<script>alert" not in page and "<img src=x" not in page, page_url
    row = admin_client.get(LIST).content.decode()
    shown = html.escape(stored[:79].rstrip()) + "…</a>"
    assert shown.replace('"', "&quot;") in row  # cut to 80 characters before escaping: no half an entity
    crumbs = admin_client.get(url("connector_detail")).content.decode().split('class="breadcrumbs"')[1]
    assert "&lt;script&gt;" in crumbs and "é" * 30 not in crumbs.split("</nav>")[0]


# ----- scope values by name -------------------------------------------------------------------------------------


def test_a_browse_remembers_the_names_it_showed(admin_client):
    admin_client.get(url("connector_browse"))
    names = ConnectorSettings.objects.get(connector_id=DRIVE_CONNECTOR_ID).scope_names
    assert names[ENGINEERING_FOLDER_ID] == "Engineering" and names[FINANCE_FOLDER_ID] == "Finance"
    admin_client.get(url("connector_browse") + f"?parent_id={ENGINEERING_FOLDER_ID}", **HTMX)
    names = ConnectorSettings.objects.get(connector_id=DRIVE_CONNECTOR_ID).scope_names
    assert names[RUNBOOKS_FOLDER_ID] == "Runbooks"


def test_the_list_and_detail_show_scope_values_by_name_with_the_id_still_there(admin_client):
    admin_client.get(url("connector_browse"))
    row = admin_client.get(LIST).content.decode()
    assert f'<span title="Engineering ({ENGINEERING_FOLDER_ID})">Engineering</span>' in row
    detail = admin_client.get(url("connector_detail")).content.decode()
    for folder_id, name in ((ENGINEERING_FOLDER_ID, "Engineering"), (DESIGN_FOLDER_ID, "Design")):
        assert f'{name}</span><br><code class="small muted copyable">{folder_id}</code>' in detail
    assert ONBOARDING_FOLDER_ID in detail and "3 folders" in detail
    edit = admin_client.get(url("connector_edit")).content.decode()
    assert f'Folder IDs now: <span title="Engineering ({ENGINEERING_FOLDER_ID})">Engineering</span>' in edit


def test_scope_values_never_browsed_are_shown_by_id(admin_client):
    page = admin_client.get(url("connector_detail")).content.decode()
    assert f'<code class="small copyable">{ENGINEERING_FOLDER_ID}</code>' in page


def test_scope_saved_and_the_audit_log_show_values_by_name(admin_client):
    admin_client.get(url("connector_browse"))
    seen = {ENGINEERING_FOLDER_ID: "Engineering", FINANCE_FOLDER_ID: "Finance", DESIGN_FOLDER_ID: "Design"}
    data = {"seen:folder_ids": list(seen), "select:folder_ids": [ENGINEERING_FOLDER_ID, FINANCE_FOLDER_ID]}
    data.update({f"name:{k}": v for k, v in seen.items()})
    response = admin_client.post(url("connector_browse"), dict(data, save="1"), follow=True)
    assert "Scope saved: 3 folders. In scope: Engineering, Onboarding, Finance." in response.content.decode()
    page = admin_client.get(AUDIT).content.decode()
    assert f'+<span title="Finance ({FINANCE_FOLDER_ID})">Finance</span>' in page
    assert f'−<span title="Design ({DESIGN_FOLDER_ID})">Design</span>' in page


# ----- alerts ---------------------------------------------------------------------------------------------------


def test_alerts_call_a_connector_by_its_team_name(user, sandbox_api):
    from connectors.aimable.client import AimableClient
    from connectors.aimable.types import Connector
    from connectors.alerts.models import Watch

    name_drive(user)
    connector = Connector.from_api(
        {"id": DRIVE_CONNECTOR_ID, "provider_slug": "google-drive", "collection_id": DEMO_COLLECTION_ID}
    )
    reads = checks.Reads(client=AimableClient(base_url=sandbox_api.url, api_key="k"))
    reads.connectors[(DEMO_SPACE_ID, DEMO_COLLECTION_ID)] = [connector]
    watch = Watch(scope=Watch.Scope.COLLECTION, label="Acme Corp / Engineering Wiki")
    assert (
        checks._name(connector, watch, reads, DEMO_COLLECTION_ID)
        == "Engineering docs (Google Drive) in Engineering Wiki"
    )
