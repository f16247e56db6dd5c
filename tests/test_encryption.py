"""API keys are encrypted at rest with MultiFernet; rotation re-encrypts them with the newest key."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from connectors.fields import _fernet_for
from connectors.models import ApiKey

SECRET = "aim_test_secret_VALUE_9f8e7d6c5b4a"


def _raw_secret(pk):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM connectors_apikey WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.fixture
def key_of(django_user_model):
    user = django_user_model.objects.create_user("alice", password="pw")
    return ApiKey.objects.create(user=user, secret=SECRET, auth_scheme="bearer")


@pytest.mark.django_db
def test_the_database_row_holds_no_plaintext(key_of):
    raw = _raw_secret(key_of.pk)
    assert SECRET not in raw
    assert "9f8e" not in raw
    assert raw.startswith("gAAAA")  # a Fernet token
    assert ApiKey.objects.get(pk=key_of.pk).secret == SECRET
    assert key_of.last_four == "5b4a"


@pytest.mark.django_db
def test_repr_and_str_do_not_show_the_secret(key_of):
    assert SECRET not in repr(key_of)
    assert SECRET not in str(key_of)


@pytest.mark.django_db
def test_rotation_reencrypts_with_the_newest_key(key_of, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    before = _raw_secret(key_of.pk)

    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    assert ApiKey.objects.get(pk=key_of.pk).secret == SECRET  # old rows still readable
    call_command("rotate_encryption_keys")
    after = _raw_secret(key_of.pk)
    assert after != before
    assert Fernet(new_key.encode()).decrypt(after.encode()).decode() == SECRET

    # Once rotated, the old key can be dropped.
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert ApiKey.objects.get(pk=key_of.pk).secret == SECRET
    _fernet_for.cache_clear()


@pytest.mark.django_db
def test_a_secret_no_key_can_read_is_reported_not_crashed(key_of, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    key = ApiKey.objects.get(pk=key_of.pk)
    assert key.secret is None
    assert not key.usable
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("rotate_encryption_keys")
