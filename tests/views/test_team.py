"""The team page (/team/, staff only): invitations by email with a signed, expiring, single-use link; roles (the
groups of connectors.permissions); deactivation that ends the member's sessions at once; every change audited; the
last staff user cannot lock the team out."""

import re
import time
import types

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from connectors import team
from connectors.models import AuditEvent
from connectors.permissions import AUDITORS_GROUP, OPERATOR_GROUP, READ_ONLY_GROUP
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

A = AuditEvent.Action
LINK = re.compile(r"https?://[^/\s]+(/team/invitation/\?token=\S+)")


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("sam", password=PASSWORD, is_staff=True)


@pytest.fixture
def staff_client(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def signed_in_as(user) -> Client:
    client = Client()
    assert client.login(username=user.get_username(), password=PASSWORD)
    return client


def groups_of(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def invite(staff_client, email="nina@example.com", **fields):
    return staff_client.post(reverse("team_invite"), {"email": email, "role": "admin", **fields})


def invitation_link(mail) -> str:
    match = LINK.search(mail.body)
    assert match, mail.body
    return match.group(1)


def test_staff_see_the_team_and_its_link_in_the_top_bar(staff_client, staff_user, other_user):
    page = staff_client.get(reverse("team")).content.decode()
    assert "Invite a teammate" in page and "bob" in page and "sam" in page
    assert f'href="{reverse("team")}"' in page


def test_non_staff_are_refused_with_a_page_that_says_why(client, user, django_user_model):
    client.force_login(user)
    response = client.get(reverse("team"))
    assert response.status_code == 403 and "The team page is for staff" in response.content.decode()
    assert f'href="{reverse("team")}"' not in client.get(reverse("password_change")).content.decode()
    for name, args in [("team_invite", []), ("team_member_deactivate", [user.pk]), ("team_member_update", [user.pk])]:
        assert client.post(reverse(name, args=args), {"email": "x@example.com", "role": "admin"}).status_code == 403
    assert django_user_model.objects.count() == 1 and user.is_active
    assert not AuditEvent.objects.exists()
    anonymous = Client().get(reverse("team"))
    assert anonymous.status_code == 302 and reverse("login") in anonymous["Location"]


def test_an_invitation_is_emailed_and_its_link_sets_the_password_once(
    staff_client, staff_user, mailoutbox, django_user_model, caplog
):
    response = invite(staff_client, "Nina@Example.com", role="operator")
    assert response.status_code == 302
    nina = django_user_model.objects.get(email="Nina@example.com")
    assert not nina.has_usable_password() and not nina.is_staff and groups_of(nina) == {OPERATOR_GROUP}
    (mail,) = mailoutbox
    assert mail.to == ["Nina@example.com"] and "Operator" in mail.body
    event = AuditEvent.objects.get(action=A.TEAM_INVITE)
    assert event.user == staff_user and event.changes["member"] == "Nina@example.com"
    assert "Invited" in staff_client.get(reverse("team")).content.decode()

    link = invitation_link(mail)
    newcomer = Client()
    form = newcomer.get(link)
    assert form.status_code == 200 and "Choose a password" in form.content.decode()
    weak = newcomer.post(link, {"new_password1": "12345678", "new_password2": "12345678"})
    assert weak.status_code == 422
    # Django's validators, under the field where the password was typed.
    assert re.search(r'name="new_password1".*?field-error', weak.content.decode(), re.S)
    assert not django_user_model.objects.get(pk=nina.pk).has_usable_password()
    token = re.search(r'name="token" value="([^"]+)"', form.content.decode()).group(1)
    passwords = {"new_password1": "a-long-new-passphrase", "new_password2": "a-long-new-passphrase"}
    done = newcomer.post(reverse("team_accept"), {"token": token, **passwords})  # what the form sends
    assert done.status_code == 302 and done["Location"] == reverse("api_keys")
    assert newcomer.get(reverse("api_keys")).status_code == 200  # signed in
    assert Client().login(username=nina.username, password="a-long-new-passphrase")

    again = Client().get(link)
    assert again.status_code == 404 and "already been used" in again.content.decode()
    assert not [r for r in caplog.records if token in r.getMessage()]  # the request log has paths only


def test_an_invitation_expires_after_three_days(staff_client, mailoutbox, monkeypatch):
    invite(staff_client)
    link = invitation_link(mailoutbox[0])
    later = time.time() + team.INVITATION_MAX_AGE.total_seconds() + 60
    monkeypatch.setattr("django.core.signing.time", types.SimpleNamespace(time=lambda: later))
    response = Client().get(link)
    assert response.status_code == 404 and "expired" in response.content.decode()
    assert Client().post(link, {"new_password1": "a-long-new-passphrase"}).status_code == 404


def test_a_tampered_link_is_refused(staff_client, mailoutbox):
    invite(staff_client)
    link = invitation_link(mailoutbox[0])
    assert Client().get(link[:-3] + "xyz").status_code == 404
    assert Client().get(reverse("team_accept")).status_code == 404


def test_inviting_a_member_again_resends_only_until_they_joined(staff_client, mailoutbox, other_user):
    invite(staff_client, role="read-only")
    assert invite(staff_client).status_code == 302 and len(mailoutbox) == 2  # not joined yet: a new link
    assert "Read-only" in mailoutbox[1].body  # their role stays
    other_user.email = "bob@example.com"
    other_user.save()
    refused = invite(staff_client, "bob@example.com")
    assert refused.status_code == 422 and "already on the team" in refused.content.decode()
    assert len(mailoutbox) == 2


def test_the_invitee_may_manage_the_team_when_asked(staff_client, mailoutbox, django_user_model):
    invite(staff_client, staff="on", auditor="on")
    nina = django_user_model.objects.get(email="nina@example.com")
    assert nina.is_staff and groups_of(nina) == {AUDITORS_GROUP}


def test_roles_put_the_member_in_the_right_groups_and_are_audited(staff_client, staff_user, other_user):
    url = reverse("team_member_update", args=[other_user.pk])
    assert staff_client.post(url, {"role": "read-only", "auditor": "on"}).status_code == 302
    assert groups_of(other_user) == {READ_ONLY_GROUP, AUDITORS_GROUP} and not other_user.is_staff
    staff_client.post(url, {"role": "operator", "staff": "on"})
    other_user.refresh_from_db()
    assert groups_of(other_user) == {OPERATOR_GROUP} and other_user.is_staff
    staff_client.post(url, {"role": "admin"})
    other_user.refresh_from_db()
    assert groups_of(other_user) == set() and not other_user.is_staff
    staff_client.post(url, {"role": "admin"})  # no change: nothing to record
    events = AuditEvent.objects.filter(action=A.TEAM_ROLE).order_by("id")
    assert [e.changes for e in events] == [
        {"member": "bob", "role": {"from": "Admin", "to": "Read-only"}, "auditor": {"from": False, "to": True}},
        {
            "member": "bob",
            "role": {"from": "Read-only", "to": "Operator"},
            "manages the team": {"from": False, "to": True},
            "auditor": {"from": True, "to": False},
        },
        {"member": "bob", "role": {"from": "Operator", "to": "Admin"}, "manages the team": {"from": True, "to": False}},
    ]
    assert all(e.user == staff_user and e.outcome == AuditEvent.Outcome.OK for e in events)
    log = staff_client.get(reverse("audit_log")).content.decode()
    assert "Change team role" in log


@pytest.mark.parametrize("engine", ["db", "cached_db"])
def test_deactivation_ends_the_members_sessions_at_once(staff_client, staff_user, other_user, settings, engine):
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{engine}"
    bobs_browser = signed_in_as(other_user)
    assert bobs_browser.get(reverse("api_keys")).status_code == 200
    response = staff_client.post(reverse("team_member_deactivate", args=[other_user.pk]), follow=True)
    assert "deactivated and signed out everywhere" in response.content.decode()
    other_user.refresh_from_db()
    assert not other_user.is_active
    next_request = bobs_browser.get(reverse("api_keys"))
    assert next_request.status_code == 302 and reverse("login") in next_request["Location"]
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(other_user.pk)]
    assert staff_client.get(reverse("api_keys")).status_code == 200  # the staff user's own session is untouched
    assert not Client().login(username="bob", password=PASSWORD)
    event = AuditEvent.objects.get(action=A.TEAM_DEACTIVATE)
    assert event.changes == {"member": "bob", "sessions ended": 1}

    # Reactivated, bob signs in again: the old session stays ended (it was deleted, not just refused).
    staff_client.post(reverse("team_member_reactivate", args=[other_user.pk]))
    assert bobs_browser.get(reverse("api_keys")).status_code == 302
    assert Client().login(username="bob", password=PASSWORD)
    assert AuditEvent.objects.filter(action=A.TEAM_REACTIVATE).count() == 1


def test_a_deactivated_invitees_link_stops_working(staff_client, mailoutbox, django_user_model):
    invite(staff_client)
    nina = django_user_model.objects.get(email="nina@example.com")
    staff_client.post(reverse("team_member_deactivate", args=[nina.pk]))
    assert Client().get(invitation_link(mailoutbox[0])).status_code == 404


def test_the_mail_says_to_store_ones_own_api_key(staff_client, mailoutbox):
    invite(staff_client)
    (mail,) = mailoutbox
    assert "store your own Aimable API key on the API key page" in mail.body and "your own key" in mail.body


def test_an_invitation_not_yet_accepted_is_resent_or_revoked(staff_client, mailoutbox, django_user_model):
    invite(staff_client)
    nina = django_user_model.objects.get(email="nina@example.com")
    page = staff_client.get(reverse("team")).content.decode()
    row = page.split("<td>nina@example.com", 1)[1].split("</tr>", 1)[0]
    assert "Resend invitation" in row and "Revoke invitation" in row and "Deactivate" not in row

    # Resend: the same form as Invite, with the member's email and role: a new link, the role kept.
    email = re.search(r'name="email" value="([^"]+)"', row).group(1)
    role = re.search(r'name="role" value="([^"]+)"', row).group(1)
    staff_client.post(reverse("team_invite"), {"email": email, "role": role})
    assert len(mailoutbox) == 2 and Client().get(invitation_link(mailoutbox[1])).status_code == 200

    # Revoke: deactivated, and the link stops working.
    revoked = staff_client.post(reverse("team_member_deactivate", args=[nina.pk]), follow=True).content.decode()
    assert "invitation to nina@example.com is revoked" in revoked
    assert Client().get(invitation_link(mailoutbox[1])).status_code == 404


def test_the_last_staff_user_cannot_remove_themselves(staff_client, staff_user, django_user_model):
    deactivate = staff_client.post(reverse("team_member_deactivate", args=[staff_user.pk]), follow=True)
    assert "last staff user" in deactivate.content.decode()
    update = reverse("team_member_update", args=[staff_user.pk])
    for data in ({"role": "admin"}, {"role": "operator", "staff": "on"}, {"role": "read-only"}):
        assert "last staff user" in staff_client.post(update, data, follow=True).content.decode()
    staff_user.refresh_from_db()
    assert staff_user.is_active and staff_user.is_staff and groups_of(staff_user) == set()
    assert not AuditEvent.objects.exists()

    # With another active staff user, they may step down.
    django_user_model.objects.create_user("tess", is_staff=True)
    staff_client.post(update, {"role": "operator"})
    staff_user.refresh_from_db()
    assert not staff_user.is_staff and groups_of(staff_user) == {OPERATOR_GROUP}
    assert staff_client.get(reverse("team")).status_code == 403  # no longer staff


def test_only_a_superuser_changes_a_superuser(staff_client, django_user_model):
    root = django_user_model.objects.create_superuser("root", password=PASSWORD)
    response = staff_client.post(reverse("team_member_deactivate", args=[root.pk]), follow=True)
    assert "only a superuser" in response.content.decode()
    root.refresh_from_db()
    assert root.is_active


def test_an_unknown_member_is_not_found(staff_client):
    assert staff_client.post(reverse("team_member_deactivate", args=[999])).status_code == 404
