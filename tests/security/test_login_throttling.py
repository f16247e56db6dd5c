"""django-axes: a username is locked out from one client address after repeated failures, with a readable page;
the address is the client's as the PaaS router saw it, not one the client made up."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory

from connectors.security import client_ip
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


@pytest.fixture(autouse=True)
def axes_on(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.TRUSTED_PROXY_COUNT = 1


def sign_in(client, username, password, ip="203.0.113.10", forwarded=None):
    headers = {"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": forwarded or ip}
    return client.post(LOGIN, {"username": username, "password": password}, **headers)


def fail(client, username, times, **kw):
    return [sign_in(client, username, "wrong-password", **kw).status_code for _ in range(times)]


def test_locked_out_after_five_failures_with_a_readable_page(user):
    client = Client()
    assert fail(client, "alice", 4) == [200, 200, 200, 200]  # the form again, with its error
    response = sign_in(client, "alice", "wrong-password")
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many sign-in attempts" in page and "alice" in page and "15m" in page
    assert 'id="main"' in page  # in the console's frame
    # Even the right password is refused while locked out.
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_username_and_address(user, other_user):
    client = Client()
    fail(client, "alice", 5, ip="203.0.113.10")
    assert sign_in(client, "alice", PASSWORD, ip="203.0.113.10").status_code == 429
    # Another user from the same address, and the same user from another address, can still sign in.
    assert sign_in(Client(), "bob", PASSWORD, ip="203.0.113.10").status_code == 302
    assert sign_in(Client(), "alice", PASSWORD, ip="198.51.100.20").status_code == 302


def test_a_forged_forwarded_for_does_not_escape_the_lock(user):
    """The router appends the real address; what the client put before it changes nothing."""
    client = Client()
    fail(client, "alice", 5, ip="203.0.113.10")
    response = sign_in(client, "alice", PASSWORD, forwarded="198.51.100.99, 203.0.113.10")
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.10"}


def test_the_lock_ends_after_the_cool_off(user):
    client = Client()
    fail(client, "alice", 5)
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_a_successful_sign_in_resets_the_count(user):
    client = Client()
    fail(client, "alice", 4)
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    assert fail(Client(), "alice", 4) == [200, 200, 200, 200]


def test_the_password_is_never_stored_or_logged(user, caplog):
    caplog.set_level("DEBUG")
    fail(Client(), "alice", 5)
    attempt = AccessAttempt.objects.get()
    assert "wrong-password" not in attempt.post_data and "wrong-password" not in caplog.text


def test_with_the_default_settings_a_rotating_forwarded_for_does_not_escape_the_lock(settings, user):
    """Reached directly (no proxy configured: the default everywhere), X-Forwarded-For is the client's own claim."""
    import console.test_settings as configured  # the settings as the environment left them, before this module's

    settings.TRUSTED_PROXY_COUNT = configured.TRUSTED_PROXY_COUNT
    client = Client()
    for n in range(5):
        sign_in(client, "alice", "wrong-password", forwarded=f"198.51.100.{n}")
    assert sign_in(client, "alice", PASSWORD, forwarded="192.0.2.77").status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.1.2.3"}  # the connecting address


# ----- the password form: a wrong current password counts as a failed sign-in -----

PASSWORD_FORM = "/accounts/password/"


def change_password(client, old, new="a-new-long-passphrase-42"):
    data = {"old_password": old, "new_password1": new, "new_password2": new}
    return client.post(PASSWORD_FORM, data, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="203.0.113.10")


def test_wrong_current_passwords_lock_the_password_form(user):
    client = Client()
    client.force_login(user)
    for _ in range(4):
        response = change_password(client, "wrong-password")
        assert response.status_code == 200 and "password was entered incorrectly" in response.content.decode()
    locked = change_password(client, "wrong-password")
    assert locked.status_code == 429 and "Too many" in locked.content.decode()
    # Locked: the right current password is refused too, and the password stays as it was.
    assert change_password(client, PASSWORD).status_code == 429
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    # The same lock as the sign-in page's: this user from this address.
    assert sign_in(Client(), "alice", PASSWORD).status_code == 429


def test_the_password_form_still_changes_the_password(user):
    client = Client()
    client.force_login(user)
    assert change_password(client, "wrong-password").status_code == 200
    response = change_password(client, PASSWORD)
    assert response.status_code == 302 and response.url == "/accounts/password/done/"
    user.refresh_from_db()
    assert user.check_password("a-new-long-passphrase-42")


def test_typed_passwords_are_never_stored_in_the_attempts(user):
    client = Client()
    client.force_login(user)
    change_password(client, "wrong-password", new="typed-new-passphrase-7")
    attempt = AccessAttempt.objects.get()
    assert attempt.username == "alice"
    assert "wrong-password" not in attempt.post_data and "typed-new-passphrase-7" not in attempt.post_data


# ----- client_ip -----

rf = RequestFactory()


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.5"),  # no proxy: the header is ignored
        (1, "", "10.0.0.5"),  # no header: the connecting address
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the left entry is the client's own claim
        (2, "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
        (2, "198.51.100.1", "198.51.100.1"),  # fewer entries than proxies: the left-most the proxies wrote
        (1, "not-an-address", "10.0.0.5"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip(settings, count, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    meta = {"REMOTE_ADDR": "10.0.0.5"}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(rf.get("/", **meta)) == expected
