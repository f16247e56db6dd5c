"""The alert pages against the sandbox: Watch buttons, the Notifications page, the bell, health marks, expected
freshness and schedules, the local outbox."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from connectors.alerts import services
from connectors.alerts.models import Alert, Channel, ConnectorHealth, ConnectorSettings, Delivery, Schedule, Watch
from connectors.models import AuditEvent
from connectors.permissions import READ_ONLY_GROUP
from sandbox import DEMO_COLLECTION_ID, DEMO_SPACE_ID, DRIVE_CONNECTOR_ID, SLACK_CONNECTOR_ID

pytestmark = pytest.mark.django_db

CONNECTOR = [DEMO_SPACE_ID, DEMO_COLLECTION_ID, DRIVE_CONNECTOR_ID]
DETAIL = reverse("connector_detail", args=CONNECTOR)
LIST = reverse("connector_list", args=[DEMO_SPACE_ID, DEMO_COLLECTION_ID])
A = AuditEvent.Action


def watch_data(scope="connector", **overrides):
    data = {
        "scope": scope,
        "space_id": DEMO_SPACE_ID,
        "collection_id": DEMO_COLLECTION_ID if scope != "space" else "",
        "connector_id": DRIVE_CONNECTOR_ID if scope == "connector" else "",
        "label": "Google Drive connector",
    }
    return {**data, **overrides}


def add_channel(user, hint="ops@example.com"):
    return Channel.objects.create(user=user, kind=Channel.Kind.EMAIL, target=hint, target_hint=hint)


def add_watch(user, scope="connector"):
    data = watch_data(scope)
    return services.watch_add(user=user, **{k: v for k, v in data.items() if v or k == "connector_id"})


def health(watch, connector_id=DRIVE_CONNECTOR_ID, state=ConnectorHealth.State.FAILING, reason=""):
    return ConnectorHealth.objects.create(
        watch=watch,
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=connector_id,
        state=state,
        reason=reason,
        checked_at=timezone.now(),
    )


def make_read_only(user):
    user.groups.add(Group.objects.get_or_create(name=READ_ONLY_GROUP)[0])


# ----- Watch buttons -----


def test_watch_and_stop_watching_from_the_connector_page(admin_client, user):
    channel = add_channel(user)
    page = admin_client.get(DETAIL).content.decode()
    assert ">Watch</button>" in page and 'action="/watch/"' in page

    response = admin_client.post(reverse("watch_add"), {**watch_data(), "next": DETAIL})
    assert response.status_code == 302 and response["Location"] == DETAIL
    watch = Watch.objects.get(user=user)
    assert (watch.scope, watch.connector_id, str(watch.collection_id)) == (
        "connector",
        DRIVE_CONNECTOR_ID,
        DEMO_COLLECTION_ID,
    )
    assert list(watch.channels.all()) == [channel]  # a new watch sends to the user's channels
    assert AuditEvent.objects.get(action=A.WATCH_ADD).connector_id == DRIVE_CONNECTOR_ID

    admin_client.post(reverse("watch_add"), {**watch_data(), "next": DETAIL})  # twice: still one watch
    assert Watch.objects.count() == 1 and AuditEvent.objects.filter(action=A.WATCH_ADD).count() == 1

    page = admin_client.get(DETAIL).content.decode()
    assert ">Stop watching</button>" in page
    response = admin_client.post(reverse("watch_remove", args=[watch.pk]), {"next": DETAIL})
    assert response["Location"] == DETAIL and not Watch.objects.exists()
    assert AuditEvent.objects.filter(action=A.WATCH_REMOVE).count() == 1


def test_watch_a_collection_from_its_list_and_a_space_from_home(admin_client, user):
    assert ">Watch</button>" in admin_client.get(LIST).content.decode()
    admin_client.post(reverse("watch_add"), {**watch_data("collection"), "next": LIST})
    list_page = admin_client.get(LIST).content.decode()
    assert ">Stop watching</button>" in list_page
    assert "Watched through its collection" in admin_client.get(DETAIL).content.decode()

    home = admin_client.get(reverse("home")).content.decode()
    assert home.count(">Watch</button>") >= 1
    admin_client.post(reverse("watch_add"), {**watch_data("space"), "next": "/"})
    assert set(Watch.objects.values_list("scope", flat=True)) == {"collection", "space"}
    space = Watch.objects.get(scope="space")
    assert space.collection_id is None and space.connector_id == ""
    assert f'action="/watch/{space.pk}/remove/"' in admin_client.get(reverse("home")).content.decode()


def test_watch_refuses_bad_targets_and_foreign_next(admin_client):
    response = admin_client.post(
        reverse("watch_add"), {**watch_data(connector_id="../x"), "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("notifications")
    assert not Watch.objects.exists()


def test_another_admins_watch_is_a_404(admin_client, other_user):
    theirs = add_watch(other_user)
    for name in ("watch_remove", "watch_resume", "watch_update"):
        assert admin_client.post(reverse(name, args=[theirs.pk])).status_code == 404
    assert Watch.objects.filter(pk=theirs.pk).exists()


# ----- The Notifications page and the bell -----


def make_alert(user, watch, **fields):
    alert = Alert.objects.create(
        user=user,
        watch=watch,
        kind=Alert.Kind.SYNC_FAILED,
        dedupe_key=f"k{Alert.objects.count()}",
        space_id=DEMO_SPACE_ID,
        collection_id=DEMO_COLLECTION_ID,
        connector_id=DRIVE_CONNECTOR_ID,
        label="Google Drive connector",
        reason="invalid_grant",
        message="The Google Drive connector's sync failed.",
        **fields,
    )
    return alert


def test_the_page_lists_watches_alerts_and_deliveries_and_marks_them_read(admin_client, user):
    channel = add_channel(user)
    watch = add_watch(user)
    alert = make_alert(user, watch)
    Delivery.objects.create(
        alert=alert,
        channel=channel,
        channel_kind=channel.kind,
        channel_hint=channel.target_hint,
        state=Delivery.State.RETRYING,
        attempts=2,
        last_error="SMTP said 451 try later",
        next_attempt_at=timezone.now(),
    )
    assert "Notifications, 1 unread" in admin_client.get(reverse("home")).content.decode()

    page = admin_client.get(reverse("notifications")).content.decode()
    assert "Google Drive connector" in page and f'href="{DETAIL}"' in page
    assert "The Google Drive connector&#x27;s sync failed." in page and "invalid_grant" in page
    assert "ops@example.com" in page and "Retrying" in page and "2 attempts" in page
    assert "SMTP said 451 try later" in page
    assert "badge-new" in page  # shown as new this once
    assert "Notifications, 0 unread" in page
    alert.refresh_from_db()
    assert alert.read_at is not None
    assert "badge-new" not in admin_client.get(reverse("notifications")).content.decode()


def test_the_bell_counts_only_my_unread_alerts(admin_client, user, other_user):
    watch = add_watch(user)
    make_alert(user, watch)
    make_alert(user, watch, read_at=timezone.now())
    make_alert(other_user, None)
    page = admin_client.get(reverse("home")).content.decode()
    assert 'aria-label="Notifications, 1 unread"' in page and 'badge-unread">1<' in page
    admin_client.post(reverse("notifications_read"), {"next": "/"})
    assert "Notifications, 0 unread" in admin_client.get(reverse("home")).content.decode()


def test_no_bell_when_signed_out(client):
    assert "Notifications" not in client.get(reverse("login")).content.decode()


def test_a_paused_watch_shows_why_and_resumes(admin_client, user):
    add_channel(user)
    watch = add_watch(user)
    assert services.watches_pause_for_key(user=user, reason=Watch.Paused.KEY_REJECTED) == 1
    assert Alert.objects.get(user=user).kind == Alert.Kind.WATCH_PAUSED
    assert AuditEvent.objects.filter(action=A.WATCH_PAUSE).count() == 1

    page = admin_client.get(reverse("notifications")).content.decode()
    assert "Aimable rejected your API key" in page and ">Resume</button>" in page
    response = admin_client.post(reverse("watch_resume", args=[watch.pk]))
    assert response.status_code == 302
    watch.refresh_from_db()
    assert (watch.paused, watch.paused_at) == ("", None)
    assert ">Resume</button>" not in admin_client.get(reverse("notifications")).content.decode()


def test_watch_settings_are_saved_and_bad_ones_refused(admin_client, user, other_user):
    mine, theirs = add_channel(user), add_channel(other_user, "bob@example.com")
    watch = add_watch(user)
    prefix = f"watch-{watch.pk}"
    url = reverse("watch_update", args=[watch.pk])
    admin_client.post(url, {f"{prefix}-failure_threshold": "5", f"{prefix}-daily_reminder": "on"})
    watch.refresh_from_db()
    assert (watch.failure_threshold, watch.daily_reminder, list(watch.channels.all())) == (5, True, [])
    response = admin_client.post(
        url, {f"{prefix}-failure_threshold": "0", f"{prefix}-channels": [theirs.pk]}, follow=True
    )
    assert "The watch was not changed" in response.content.decode()
    admin_client.post(url, {f"{prefix}-failure_threshold": "2", f"{prefix}-channels": [mine.pk]})
    watch.refresh_from_db()
    assert (watch.failure_threshold, list(watch.channels.all())) == (2, [mine])
    assert AuditEvent.objects.filter(action=A.WATCH_UPDATE).count() == 2


def test_a_shown_secret_appears_once(admin_client):
    session = admin_client.session
    session["shown_secret"] = {"channel": 1, "secret": "whsec_c2VjcmV0LXNob3duLW9uY2U="}
    session.save()
    page = admin_client.get(reverse("notifications")).content.decode()
    assert "whsec_c2VjcmV0LXNob3duLW9uY2U=" in page and "it will not be shown again" in page
    assert "whsec_" not in admin_client.get(reverse("notifications")).content.decode()


# ----- Health marks -----


def test_health_marks_on_the_list_and_the_connector_page(admin_client, user, other_user):
    mine, theirs = add_watch(user), add_watch(other_user)
    health(mine, state=ConnectorHealth.State.STALE)
    health(theirs, state=ConnectorHealth.State.NEEDS_REAUTH, reason="The credential was revoked.")
    health(mine, connector_id=SLACK_CONNECTOR_ID, state=ConnectorHealth.State.STALLED)

    rows = admin_client.get(LIST).content.decode()
    assert rows.count("badge-health-needs-reauth") == 1 and ">Needs re-auth<" in rows  # worst of every watch
    assert ">Stalled<" in rows and ">Stale<" not in rows

    page = admin_client.get(DETAIL).content.decode()
    assert ">Needs re-auth<" in page and "The credential was revoked." in page


def test_health_marks_ignore_paused_watches_and_healthy_states(admin_client, user):
    watch = add_watch(user)
    health(watch, state=ConnectorHealth.State.OK)
    assert "badge-health" not in admin_client.get(LIST).content.decode()
    Watch.objects.filter(pk=watch.pk).update(paused=Watch.Paused.KEY_MISSING)
    ConnectorHealth.objects.filter(watch=watch).update(state=ConnectorHealth.State.FAILING)
    assert "badge-health" not in admin_client.get(LIST).content.decode()


# ----- Expected freshness and schedules -----


def test_freshness_is_set_and_bad_input_kept(admin_client, user):
    url = reverse("connector_freshness", args=CONNECTOR)
    assert 'value="24"' in admin_client.get(DETAIL).content.decode()
    response = admin_client.post(url, {"hours": "0"})
    assert response.status_code == 422
    page = response.content.decode()
    assert 'value="0"' in page and "field-error" in page and not ConnectorSettings.objects.exists()

    assert admin_client.post(url, {"hours": "6"})["Location"] == DETAIL
    assert ConnectorSettings.objects.get(connector_id=DRIVE_CONNECTOR_ID).freshness_hours == 6
    event = AuditEvent.objects.get(action=A.FRESHNESS_UPDATE)
    assert event.changes == {"freshness_hours": {"from": 24, "to": 6}}
    assert 'value="6"' in admin_client.get(DETAIL).content.decode()


def test_a_daily_schedule_sets_next_run_and_bad_input_is_kept(admin_client, user):
    url = reverse("connector_schedule", args=CONNECTOR)
    response = admin_client.post(url, {"kind": "daily", "daily_at": "25:99", "timezone": "Europe/Paris"})
    assert response.status_code == 422
    page = response.content.decode()
    assert 'value="25:99"' in page and "field-error" in page
    assert re.search(r'<option selected value="Europe/Paris">', page)
    assert not Schedule.objects.exists()

    response = admin_client.post(
        url, {"kind": "daily", "daily_at": "06:30", "timezone": "Europe/Paris", "provider_slug": "google-drive"}
    )
    assert response["Location"] == DETAIL
    schedule = Schedule.objects.get(connector_id=DRIVE_CONNECTOR_ID)
    assert (schedule.kind, schedule.daily_at, schedule.timezone, schedule.user) == (
        "daily",
        dt.time(6, 30),
        "Europe/Paris",
        user,
    )
    local = schedule.next_run_at.astimezone(ZoneInfo("Europe/Paris"))
    assert (local.hour, local.minute) == (6, 30) and schedule.next_run_at > timezone.now()
    page = admin_client.get(DETAIL).content.decode()
    assert "Sync daily at 06:30 (Europe/Paris)" in page and "Next sync" in page


def test_every_n_hours_then_no_schedule(admin_client):
    url = reverse("connector_schedule", args=CONNECTOR)
    response = admin_client.post(url, {"kind": "every", "every_hours": ""})
    assert response.status_code == 422 and "Enter how many hours" in response.content.decode()
    before = timezone.now()
    admin_client.post(url, {"kind": "every", "every_hours": "6"})
    schedule = Schedule.objects.get()
    assert before + dt.timedelta(hours=6) <= schedule.next_run_at <= timezone.now() + dt.timedelta(hours=6)
    admin_client.post(url, {"kind": "none"})
    assert not Schedule.objects.exists()
    assert AuditEvent.objects.filter(action=A.SCHEDULE_UPDATE).count() == 2


def test_read_only_users_may_watch_but_not_change_freshness_or_schedules(admin_client, user):
    make_read_only(user)
    page = admin_client.get(DETAIL).content.decode()
    assert ">Watch</button>" in page and 'action="/spaces' not in page  # no freshness or schedule form
    assert admin_client.post(reverse("watch_add"), watch_data()).status_code == 302
    assert Watch.objects.filter(user=user).exists()
    for name, data in (
        ("connector_freshness", {"hours": "3"}),
        ("connector_schedule", {"kind": "every", "every_hours": "1"}),
    ):
        assert admin_client.post(reverse(name, args=CONNECTOR), data).status_code == 403
    assert not ConnectorSettings.objects.exists() and not Schedule.objects.exists()
    denied = AuditEvent.objects.filter(outcome=AuditEvent.Outcome.DENIED)
    assert set(denied.values_list("action", flat=True)) == {A.FRESHNESS_UPDATE, A.SCHEDULE_UPDATE}
    assert admin_client.post(reverse("notifications_read")).status_code == 302


# ----- The local outbox -----


def test_the_outbox_is_404_without_debug(admin_client, settings, tmp_path):
    settings.DEBUG = False
    settings.EMAIL_FILE_PATH = str(tmp_path)
    assert admin_client.get(reverse("notifications_outbox")).status_code == 404
    assert "local outbox" not in admin_client.get(reverse("notifications")).content.decode()


def test_the_outbox_lists_and_shows_mails_and_never_leaves_its_folder(admin_client, settings, tmp_path):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "20250101-120000-1.log").write_text("Subject: Sync failed\n\nThe Drive connector failed.")
    (tmp_path / "secret.txt").write_text("not for the page")
    settings.DEBUG = True
    settings.EMAIL_FILE_PATH = str(outbox)
    url = reverse("notifications_outbox")
    assert "local outbox" in admin_client.get(reverse("notifications")).content.decode()
    listing = admin_client.get(url).content.decode()
    assert "20250101-120000-1.log" in listing and "secret.txt" not in listing
    shown = admin_client.get(url, {"file": "20250101-120000-1.log"}).content.decode()
    assert "The Drive connector failed." in shown
    for name in ("../secret.txt", str(tmp_path / "secret.txt"), "..", "", "/etc/passwd"):
        response = admin_client.get(url, {"file": name})
        assert "not for the page" not in response.content.decode()
        assert response.status_code == (200 if name == "" else 404)


def test_the_outbox_without_a_folder_is_empty(admin_client, settings, tmp_path):
    settings.DEBUG = True
    settings.EMAIL_FILE_PATH = str(tmp_path / "missing")
    assert "No mail yet." in admin_client.get(reverse("notifications_outbox")).content.decode()
