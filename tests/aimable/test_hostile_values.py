"""Values from a hostile or broken upstream are checked where they enter (issue 10, items 5 and 7), without Django:
Retry-After stays finite and capped, dates are UTC or None, ids say whether they can be in a URL, and a key no header
can carry is refused before any request."""

from datetime import UTC, datetime

import pytest
import requests

from connectors.aimable import AimableClient, AuthenticationError, Connector, RateLimitedError, Sync
from connectors.aimable.errors import MAX_RETRY_AFTER, InvalidApiKeyError, error_from_response, parse_retry_after
from connectors.aimable.types import is_path_id, parse_datetime

from .canned import API_KEY, BASE

# ----- Retry-After -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("inf", MAX_RETRY_AFTER),
        ("Infinity", MAX_RETRY_AFTER),
        ("1e999", MAX_RETRY_AFTER),
        ("99999999", MAX_RETRY_AFTER),
        ("-inf", 0.0),
        ("NaN", None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        ("Mon, 01 Jan 0001 00:00:00 GMT", 0.0),
        ("Mon, 99 Foo 99999 99:99:99 GMT", None),
    ],
)
def test_retry_after_is_finite_and_capped(value, expected):
    assert parse_retry_after(value) == expected


def test_a_429_asking_to_wait_forever_reads_as_an_hour_at_most():
    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = "inf"
    response._content = b""
    error = error_from_response(response, request_id=None)
    assert isinstance(error, RateLimitedError) and error.retry_after == MAX_RETRY_AFTER
    assert str(error) == "The Aimable API is rate limiting requests; try again in 3600 s."
    assert int(error.retry_after) == 3600  # what the error page's own Retry-After header says


# ----- dates -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59.999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2023-10-01T14:00:00+02:00", datetime(2023, 10, 1, 12, tzinfo=UTC)),  # told in UTC
        ("0001-01-01T00:00:00+01:00", None),  # before the year 1 in UTC
        ("9999-12-31T23:59:59-01:00", None),  # after the year 9999 in UTC
        ("10000-01-01T00:00:00Z", None),
    ],
)
def test_dates_are_utc_or_none(value, expected):
    parsed = parse_datetime(value)
    assert parsed == expected
    assert parsed is None or parsed.utcoffset().total_seconds() == 0


def test_a_sync_at_the_datetime_limits_has_a_duration():
    sync = Sync.from_api({"id": "s1", "created_at": "0001-01-01T00:00:00Z", "completed_at": "9999-12-31T23:59:59Z"})
    assert sync.duration.days == 3652058
    odd = Sync.from_api({"id": "s1", "created_at": "0001-01-01T00:00:00+01:00", "completed_at": "2024-01-01"})
    assert odd.created_at is None and odd.duration is None


# ----- ids ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "linkable"),
    [
        ("c1a2b3c4-d5e6-4f70-8a91-b2c3d4e5f601", True),
        ("sync_42:v2.1", True),
        ("new", True),
        ("a/b", False),
        ("..", False),
        ("a..b", False),
        ("", False),
        ("-leading-dash", False),
        ("x" * 129, False),
        ("id with space", False),
        ("caf\u00e9", False),
        ("id?q=1", False),
        ("%2F", False),
    ],
)
def test_ids_say_whether_they_can_be_in_a_url(value, linkable):
    assert is_path_id(value) is linkable
    if value:  # an item without an id is refused outright (BadResponseError)
        assert Connector.from_api({"id": value}).linkable is linkable
        assert Sync.from_api({"id": value}).linkable is linkable


# ----- the API key -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        API_KEY + "\u00e9",  # an accent
        API_KEY[:6] + "\u200b" + API_KEY[6:],  # a zero-width space, copied along with the key
        "\ufeff" + API_KEY,  # a byte order mark
        API_KEY + "\u2013",  # a typographic dash
        "",
    ],
)
def test_a_key_no_header_can_carry_is_refused_before_any_request(key):
    with pytest.raises(InvalidApiKeyError) as info:
        AimableClient(BASE, key, session=requests.Session())
    error = info.value
    assert isinstance(error, AuthenticationError)  # shown as a rejected key, with the way to store another
    assert "Store the key again" in str(error)
    assert key not in str(error) or not key
