"""Sessions expire; changing one's password signs out every other session; the password page is in the console."""

import pytest
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-much-longer-new-passphrase-42"


def signed_in_client(user) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def test_the_session_cookie_expires(settings, user):
    settings.SESSION_COOKIE_AGE = 8 * 3600
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == 8 * 3600
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert client.session.get_expiry_age() == 8 * 3600


def test_password_page_in_the_console_look_and_linked_from_the_nav(admin_client):
    page = admin_client.get("/").content.decode()
    assert 'href="/accounts/password/"' in page
    response = admin_client.get("/accounts/password/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Change your password" in page and 'id="main"' in page and "signs you out everywhere else" in page


def test_changing_the_password_signs_out_every_other_session(user, sandbox_api):
    from tests.conftest import store_key

    store_key(user, sandbox_api.admin_key)
    here, elsewhere = signed_in_client(user), signed_in_client(user)
    assert elsewhere.get("/settings/api-keys/").status_code == 200

    response = here.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/password/done/"
    done = here.get(response["Location"])
    assert done.status_code == 200 and "Password changed" in done.content.decode()
    # This browser stays signed in; the other one is sent to the login page.
    assert here.get("/settings/api-keys/").status_code == 200
    response = elsewhere.get("/settings/api-keys/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    # And the old password no longer works.
    assert Client().post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 200


def test_a_wrong_old_password_changes_nothing(user):
    client = signed_in_client(user)
    response = client.post(
        "/accounts/password/", {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert "incorrectly" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_no_password_reset_by_mail(client):
    """The console sends no mail: there is no reset page that would try to."""
    assert client.get("/accounts/password_reset/").status_code in (302, 404)
