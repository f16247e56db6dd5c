"""The overview (/connectors/): rows of every collection, search and filters, the batched cells, row-group errors,
CSVs and read-only users, against the sandbox."""

import csv
import io
import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from connectors import naming
from connectors.alerts.models import ConnectorSettings
from connectors.csv_export import inert
from connectors.models import AuditEvent
from connectors.permissions import READ_ONLY_GROUP
from sandbox import (
    DEMO_COLLECTION_ID,
    DEMO_SPACE_ID,
    DISCONNECTED_CONNECTOR_ID,
    DRIVE_CONNECTOR_ID,
    GITHUB_CONNECTOR_ID,
    OTHER_COLLECTION_ID,
    OTHER_CONNECTOR_ID,
    OTHER_SPACE_ID,
    SALES_COLLECTION_ID,
    SALES_SLACK_CONNECTOR_ID,
    SLACK_CONNECTOR_ID,
)
from sandbox.tree import slack_channel_id
from tests.conftest import store_key
from tests.sandbox_fixtures import create_connector
from tests.views.helpers import HTMX

pytestmark = pytest.mark.django_db

ALL = [
    DRIVE_CONNECTOR_ID,
    SLACK_CONNECTOR_ID,
    GITHUB_CONNECTOR_ID,
    DISCONNECTED_CONNECTOR_ID,
    SALES_SLACK_CONNECTOR_ID,
    OTHER_CONNECTOR_ID,
]


def rows(client, query="", **extra):
    response = client.get(reverse("overview_rows") + (f"?{query}" if query else ""), **HTMX, **extra)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def cells(client, query=""):
    response = client.get(reverse("overview_cells") + (f"?{query}" if query else ""), **HTMX)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def listed(page) -> list[str]:
    """The connector ids of the rows, in order (each row's checkbox carries space:collection:connector)."""
    return [value.split(":")[2] for value in re.findall(r'name="item" value="([^"]+)"', page)]


def upstream_gets(sandbox_api) -> list[tuple]:
    return [(r["path"], tuple(sorted(r["query"].items()))) for r in sandbox_api.requests() if r["method"] == "GET"]


def test_the_page_renders_at_once_without_an_upstream_call(admin_client, sandbox_api):
    page = admin_client.get(reverse("overview") + "?q=slack").content.decode()
    assert not sandbox_api.requests()
    assert "All connectors" in page and 'aria-current="page">All connectors' in page
    assert '<label for="overview-search">Search' in page and 'value="slack"' in page
    assert 'hx-get="/connectors/rows/?q=slack"' in page and 'hx-trigger="load"' in page
    assert "/connectors/csv/?q=slack" in page  # Download CSV keeps the filters


def test_rows_list_every_connector_of_every_collection(admin_client, sandbox_api):
    page = rows(admin_client)
    assert sorted(listed(page)) == sorted(ALL)
    assert "Acme Corp / Engineering Wiki" in page and "Acme Corp / Sales Playbooks" in page
    assert "Globex Research / Lab Notes" in page
    assert f'value="{DEMO_SPACE_ID}:{DEMO_COLLECTION_ID}:{DRIVE_CONNECTOR_ID}"' in page
    assert 'form="bulk-form"' in page and 'aria-label="Select Google Drive c1a2b3c4"' in page
    detail = reverse("connector_detail", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID])
    assert f'href="{detail}"' in page
    # The cells come from one more request, for all rows at once.
    assert 'hx-get="/connectors/cells/"' in page
    assert not any("/sync" in r["path"] for r in sandbox_api.requests())


def test_the_team_name_is_the_row_name(admin_client, user):
    naming.connector_name_set(
        user=user,
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=DRIVE_CONNECTOR_ID,
        name="Engineering Drive",
        description="",
    )
    page = rows(admin_client, "q=engineering+drive")
    assert listed(page) == [DRIVE_CONNECTOR_ID] and "Engineering Drive" in page


def _remember_channel_names():
    for connector_id, collection_id, names in (
        (SLACK_CONNECTOR_ID, DEMO_COLLECTION_ID, ("engineering", "incidents")),
        (SALES_SLACK_CONNECTOR_ID, SALES_COLLECTION_ID, ("sales", "sales-emea")),
    ):
        naming.scope_names_remember(
            space_id=DEMO_SPACE_ID,
            collection_id=collection_id,
            connector_id=connector_id,
            names={slack_channel_id(n): f"#{n}" for n in names},
        )


def test_search_by_a_slack_channel_id_or_its_known_name_across_collections(admin_client):
    _remember_channel_names()
    assert listed(rows(admin_client, f"q={slack_channel_id('incidents')}")) == [SLACK_CONNECTOR_ID]
    assert listed(rows(admin_client, "q=%23sales-emea")) == [SALES_SLACK_CONNECTOR_ID]
    page = rows(admin_client, "q=slack")
    assert sorted(listed(page)) == sorted([SLACK_CONNECTOR_ID, SALES_SLACK_CONNECTOR_ID])  # two collections
    assert "#incidents" in page and "#sales-emea" in page  # scope values by their names, the id on hover
    assert listed(rows(admin_client, f"q={OTHER_CONNECTOR_ID[-6:]}")) == [OTHER_CONNECTOR_ID]  # by connector id
    assert listed(rows(admin_client, "q=ml-experiments")) == [OTHER_CONNECTOR_ID]  # a repository


def test_filters_and_sort(admin_client):
    assert sorted(listed(rows(admin_client, f"space={OTHER_SPACE_ID}"))) == [OTHER_CONNECTOR_ID]
    assert listed(rows(admin_client, f"collection={SALES_COLLECTION_ID}")) == [SALES_SLACK_CONNECTOR_ID]
    assert sorted(listed(rows(admin_client, "provider=github"))) == sorted([GITHUB_CONNECTOR_ID, OTHER_CONNECTOR_ID])
    assert listed(rows(admin_client, "status=disconnected")) == [DISCONNECTED_CONNECTOR_ID]
    assert listed(rows(admin_client, "health=paused")) == [GITHUB_CONNECTOR_ID]
    assert listed(rows(admin_client, "health=needs_reauth")) == [DISCONNECTED_CONNECTOR_ID]
    by_status = listed(rows(admin_client, "sort=status"))
    assert by_status.index(DRIVE_CONNECTOR_ID) < by_status.index(DISCONNECTED_CONNECTOR_ID)
    assert by_status.index(DISCONNECTED_CONNECTOR_ID) < by_status.index(GITHUB_CONNECTOR_ID)  # active, disc., paused
    by_name = listed(rows(admin_client))
    assert by_name.index(GITHUB_CONNECTOR_ID) < by_name.index(DRIVE_CONNECTOR_ID) < by_name.index(SLACK_CONNECTOR_ID)
    # Oldest last success first: the disconnected Drive succeeded 10 days ago; the Drive 3 hours ago.
    by_success = listed(rows(admin_client, "sort=last_success"))
    assert by_success.index(DISCONNECTED_CONNECTOR_ID) < by_success.index(DRIVE_CONNECTOR_ID)


def test_summary_counts_link_to_their_filter(admin_client):
    # Globex's GitHub last succeeded 2 days ago: Late by default (24 h), Stale when expected every 12 h.
    assert ">Late<" in cells(admin_client, "provider=github")
    ConnectorSettings.objects.create(
        connector_id=OTHER_CONNECTOR_ID, space_id=OTHER_SPACE_ID, collection_id=OTHER_COLLECTION_ID, freshness_hours=12
    )
    page = cells(admin_client)
    summary = page[page.index('id="overview-summary"') :]
    assert 'aria-label="Health summary" hx-swap-oob="true"' in page  # refreshed in place when the cells arrive
    counts = dict(re.findall(r'data-health="(\w+)">[^<]+<strong>(\d+)</strong>', summary))
    assert counts == {
        "failing": "0",
        "running": "0",
        "stale": "1",
        "needs_reauth": "1",
        "paused": "1",
        "healthy": "3",
    }
    assert 'href="/connectors/?health=stale"' in summary


def test_unknown_filter_values_are_ignored_with_a_note(admin_client):
    page = rows(admin_client, "status=bogus&health=nope&provider=%3Cscript%3E&space=not-a-space&sort=size")
    for note in (
        "Unknown status &#x27;bogus&#x27; ignored.",
        "Unknown health &#x27;nope&#x27; ignored.",
        "Unknown provider &#x27;&lt;script&gt;&#x27; ignored.",
        "Unknown space &#x27;not-a-space&#x27; ignored.",
        "Unknown sort order &#x27;size&#x27; ignored.",
    ):
        assert note in page
    assert sorted(listed(page)) == sorted(ALL)
    assert "<script>" not in page


def test_a_space_without_access_is_a_row_group_error_and_the_rest_renders(admin_client, sandbox_api):
    sandbox_api.add_rule(method="GET", path_contains=f"/spaces/{OTHER_SPACE_ID}/collections", status=403)
    page = rows(admin_client)
    assert "Globex Research:</strong> No access: your key cannot reach it." in page
    assert sorted(listed(page)) == sorted(set(ALL) - {OTHER_CONNECTOR_ID})


def test_a_collection_without_access_is_a_row_group_error(admin_client, sandbox_api):
    sandbox_api.add_rule(method="GET", path_contains=f"/collections/{SALES_COLLECTION_ID}/connectors", status=404)
    page = rows(admin_client)
    assert "Acme Corp / Sales Playbooks:</strong> No access" in page
    assert SALES_SLACK_CONNECTOR_ID not in listed(page) and DRIVE_CONNECTOR_ID in listed(page)


def test_a_limited_key_lists_only_its_spaces(client, user, sandbox_api):
    store_key(user, sandbox_api.limited_key)
    client.force_login(user)
    assert OTHER_CONNECTOR_ID not in listed(rows(client)) and DRIVE_CONNECTOR_ID in listed(rows(client))


def test_a_rejected_key_is_a_banner_not_a_500(client, user, sandbox_api):
    store_key(user, "aim_not_a_key_at_all")
    client.force_login(user)
    response = client.get(reverse("overview_rows"), **HTMX)
    assert response.status_code == 286 and "Update your API key" in response.content.decode()


def test_the_lists_are_read_once_for_rows_cells_and_csv(admin_client, sandbox_api):
    rows(admin_client)
    cells(admin_client)
    admin_client.get(reverse("overview_csv")).getvalue()
    gets = upstream_gets(sandbox_api)
    assert len(gets) == len(set(gets)), [g for g in gets if gets.count(g) > 1]
    syncs = [g for g in gets if g[0].endswith("/sync")]
    assert len(syncs) == len(ALL)  # one read of the newest syncs per connector, by the cells request


def test_the_cells_request_fills_every_rows_cells_at_once(admin_client, sandbox_api):
    page = rows(admin_client)
    ids = re.findall(r'<tr id="(ov-[0-9a-f]+)"', page)
    assert len(ids) == len(ALL) and page.count("Loading…") == len(ALL)
    filled = cells(admin_client)
    for dom_id in ids:
        for cell in ("sync", "success", "fresh"):
            assert re.search(f'<td id="{dom_id}-{cell}" hx-swap-oob="true" data-label="[^"]+">', filled)
    assert "Loading…" not in filled
    assert "1207 records" in filled  # the Drive's latest sync
    assert "On time" in filled and "Stale" in filled
    # Then the rows show what the cells read, without reading again.
    sandbox_api.clear_requests()
    again = rows(admin_client)
    assert "Loading…" not in again and not sandbox_api.requests()


def test_the_cells_request_fills_many_rows_in_one_request(admin_client, sandbox_api):
    for i in range(30):
        _create_connector(sandbox_api, i)
    sandbox_api.clear_requests()
    filled = cells(admin_client, "provider=slack")
    assert filled.count('-sync" hx-swap-oob="true"') == 30 + 2
    assert len([r for r in sandbox_api.requests() if r["path"].endswith("/sync")]) == 32


def _create_connector(sandbox_api, i):
    return create_connector(sandbox_api, DEMO_SPACE_ID, SALES_COLLECTION_ID, provider_slug="slack", token=f"t-{i}")


def test_a_background_snapshot_shows_at_once_with_its_age(admin_client, user):
    from django.utils import timezone

    from connectors.alerts.models import ConnectorHealth, Watch

    watch = Watch.objects.create(user=user, scope=Watch.Scope.SPACE, space_id=DEMO_SPACE_ID)
    ConnectorHealth.objects.create(
        watch=watch,
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=SLACK_CONNECTOR_ID,
        state=ConnectorHealth.State.OK,
        latest_sync_status="completed",
        last_success_at=timezone.now() - timezone.timedelta(hours=5),
        checked_at=timezone.now() - timezone.timedelta(minutes=2),
    )
    page = rows(admin_client)
    assert re.search(r'checked <time datetime="[^"]+" title="[^"]+">2 minutes ago</time>', page)
    assert page.count("Loading…") == len(ALL) - 1


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.streaming and "attachment; filename=" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_overview_csv_streams_the_filtered_rows(admin_client, user):
    naming.connector_name_set(
        user=user,
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=DRIVE_CONNECTOR_ID,
        name='=HYPERLINK("http://evil")',
        description="",
    )
    table = csv_rows(admin_client.get(reverse("overview_csv") + "?provider=google-drive"))
    assert table[0][:2] == ["Name", "Connector ID"]
    by_id = {row[1]: row for row in table[1:]}
    assert set(by_id) == {DRIVE_CONNECTOR_ID, DISCONNECTED_CONNECTOR_ID}
    assert by_id[DRIVE_CONNECTOR_ID][0] == '\'=HYPERLINK("http://evil")'
    assert by_id[DRIVE_CONNECTOR_ID][9] == "completed" and by_id[DRIVE_CONNECTOR_ID][13] == "On time"
    text = "\n".join(",".join(r) for r in table)
    assert "ya29" not in text and "refresh" not in text  # the sandbox's stored credentials


def test_formula_cells_are_inert():
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert inert(value) == "'" + value
    assert inert("plain") == "plain" and inert(None) == "" and inert(3) == "3"


def test_audit_csv_keeps_the_filters_and_hides_secrets(admin_client, user):
    AuditEvent.objects.create(
        user=user,
        username=user.username,
        action=AuditEvent.Action.CONNECTOR_UPDATE,
        connector_id=DRIVE_CONNECTOR_ID,
        changes={"credential": {"access_token": "ya29.secret-token"}, "scope_config": {"folder_ids": ["-1"]}},
    )
    AuditEvent.objects.create(user=user, username=user.username, action=AuditEvent.Action.SYNC_TRIGGER)
    page = admin_client.get(reverse("audit_log")).content.decode()
    assert 'href="/audit/csv/"' in page and "Download CSV" in page
    table = csv_rows(admin_client.get(reverse("audit_csv") + f"?connector={DRIVE_CONNECTOR_ID}"))
    assert len(table) == 2 and table[1][6] == DRIVE_CONNECTOR_ID
    assert "ya29" not in table[1][9] and "(changed)" in table[1][9]


def test_sync_history_csv(admin_client):
    args = [DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID]
    page = admin_client.get(reverse("sync_list", args=args) + "?status=failed").content.decode()
    assert reverse("sync_list_csv", args=args) + "?status=failed" in page
    table = csv_rows(admin_client.get(reverse("sync_list_csv", args=args)))
    assert [r[1] for r in table[1:]] == ["completed", "completed", "failed", "completed"]
    assert "rate limit" in table[3][6]
    failed = csv_rows(admin_client.get(reverse("sync_list_csv", args=args) + "?status=failed"))
    assert [r[1] for r in failed[1:]] == ["failed"]


def test_read_only_users_see_no_checkboxes(client, django_user_model, sandbox_api):
    carol = django_user_model.objects.create_user("carol", password="x")
    carol.groups.add(Group.objects.get_or_create(name=READ_ONLY_GROUP)[0])
    store_key(carol, sandbox_api.admin_key)
    client.force_login(carol)
    page = rows(client)
    assert 'type="checkbox"' not in page and 'id="bulk-form"' not in page
    assert DRIVE_CONNECTOR_ID in page
    assert client.get(reverse("overview_cells"), **HTMX).status_code == 200
    assert client.get(reverse("overview_csv")).status_code == 200


def test_without_javascript_the_rows_url_is_the_whole_page(admin_client):
    page = admin_client.get(reverse("overview_rows")).content.decode()
    assert "<html" in page and page.count('id="filter-space"') == 1 and DRIVE_CONNECTOR_ID in page


def test_no_key_stored_goes_to_the_api_key_page(client, user):
    client.force_login(user)
    response = client.get(reverse("overview"))
    assert response.status_code == 302 and reverse("api_keys") in response["Location"]


def test_a_sync_started_or_a_connector_deleted_shows_at_once_not_after_the_cache(admin_client, sandbox_api, user):
    """The overview keeps its lists and sync reads 30 s; a change made through the console drops them at once."""
    from django.core.cache import cache

    from connectors import selectors
    from connectors.upstream import client_for
    from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID, GITHUB_CONNECTOR_ID

    admin_client.get(reverse("overview_rows"))
    admin_client.get(reverse("overview_cells"), HTTP_HX_REQUEST="true")
    fingerprint = client_for(user).cache_fingerprint
    assert cache.get(selectors.overview_lists_key(fingerprint)) is not None
    assert cache.get(selectors.overview_syncs_key(fingerprint, DRIVE_CONNECTOR_ID)) is not None
    ids = (DEMO_SPACE_ID, DEMO_COLLECTION_ID)
    admin_client.post(reverse("sync_trigger", args=(*ids, DRIVE_CONNECTOR_ID)))
    assert cache.get(selectors.overview_syncs_key(fingerprint, DRIVE_CONNECTOR_ID)) is None
    admin_client.post(reverse("connector_delete", args=(*ids, GITHUB_CONNECTOR_ID)))
    assert cache.get(selectors.overview_lists_key(fingerprint)) is None
    rows = admin_client.get(reverse("overview_rows")).content.decode()
    assert GITHUB_CONNECTOR_ID not in rows


def test_a_change_recorded_by_another_process_makes_the_kept_readings_out_of_date(admin_client, sandbox_api, user):
    """The worker (a bulk action, a schedule) runs in another process, whose cache deletions do not reach this one's
    local memory: the audit log, in the shared database, says what changed."""
    from connectors.models import AuditEvent
    from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID

    admin_client.get(reverse("overview_rows"))
    admin_client.get(reverse("overview_cells"), HTTP_HX_REQUEST="true")
    sandbox_api.clear_requests()
    admin_client.get(reverse("overview_cells"), HTTP_HX_REQUEST="true")
    assert not [r for r in sandbox_api.requests() if r["path"].endswith("/sync")]  # kept
    AuditEvent.objects.create(
        user=user,
        username=user.username,
        action=AuditEvent.Action.SYNC_TRIGGER,
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=DRIVE_CONNECTOR_ID,
    )
    admin_client.get(reverse("overview_cells"), HTTP_HX_REQUEST="true")
    reads = [r["path"] for r in sandbox_api.requests() if r["path"].endswith("/sync")]
    assert reads == [
        f"/v1/spaces/{DEMO_SPACE_ID}/collections/{DEMO_COLLECTION_ID}/connectors/{DRIVE_CONNECTOR_ID}/sync"
    ]
