"""error_from_response: one class per failure kind, readable messages, retryable flags, no leaks."""

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from connectors.aimable import (
    AimableError,
    AuthenticationError,
    BadResponseError,
    ConflictError,
    FieldError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
    ValidationError,
    error_from_response,
)
from connectors.aimable.errors import parse_retry_after

from .canned import API_KEY, BASE, COLLECTION, CONNECTOR, CONNECTOR_URL, PREFIX, SPACE


def make_response(status, body=b"", headers=None):
    response = requests.Response()
    response.status_code = status
    if isinstance(body, dict | list):
        body = json.dumps(body)
    response._content = body.encode() if isinstance(body, str) else body
    response.headers.update(headers or {})
    response.encoding = "utf-8"
    return response


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (401, AuthenticationError, False),
        (403, PermissionDeniedError, False),
        (404, NotFoundError, False),
        (409, ConflictError, False),
        (422, ValidationError, False),
        (429, RateLimitedError, True),
        (500, UpstreamError, False),
        (501, UpstreamError, False),
        (502, UpstreamError, True),
        (503, UpstreamError, True),
        (504, UpstreamError, True),
        (400, UpstreamError, False),
        (418, UpstreamError, False),
        (301, UpstreamError, False),
    ],
)
def test_status_mapping(status, cls, retryable):
    error = error_from_response(make_response(status, {"detail": "Something specific"}), request_id="rid1")
    assert type(error) is cls
    assert isinstance(error, AimableError)
    assert error.status == status
    assert error.request_id == "rid1"
    assert error.retryable is retryable
    assert error.message == str(error) == "Something specific"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "The Aimable API rejected the API key."),
        (403, "The API key has no permission for this space or collection."),
        (404, "Not found on the Aimable API."),
        (409, "The request conflicts with the current state on the Aimable API."),
        (422, "The Aimable API rejected the request as invalid."),
        (429, "The Aimable API is rate limiting requests; try again shortly."),
        (500, "The Aimable API had a problem (HTTP 500)."),
        (418, "The Aimable API returned an unexpected status (HTTP 418)."),
    ],
)
def test_default_messages_without_a_body(status, expected):
    assert str(error_from_response(make_response(status), request_id=None)) == expected


def test_422_loc_parsing():
    body = {
        "detail": [
            {
                "loc": ["query", "limit"],
                "msg": "Input should be less than or equal to 100",
                "type": "less_than_equal",
                "input": "500",
                "ctx": {"le": 100},
            },
            {"loc": ["body", "scope_config", "folder_ids", 0], "msg": "Field required", "type": "missing"},
            {"loc": ["body"], "msg": "Invalid JSON", "type": "json_invalid"},
        ]
    }
    error = error_from_response(make_response(422, body), request_id="r")
    assert isinstance(error, ValidationError)
    assert error.errors == [
        FieldError(loc=("query", "limit"), msg="Input should be less than or equal to 100", type="less_than_equal"),
        FieldError(loc=("body", "scope_config", "folder_ids", 0), msg="Field required", type="missing"),
        FieldError(loc=("body",), msg="Invalid JSON", type="json_invalid"),
    ]
    assert error.errors[0].location == "query" and error.errors[0].field == "limit"
    assert error.errors[1].field_path == ("scope_config", "folder_ids", 0)
    assert error.errors[1].field == "scope_config.folder_ids.0"
    assert error.errors[2].field == ""
    assert str(error) == (
        "limit: Input should be less than or equal to 100; scope_config.folder_ids.0: Field required; Invalid JSON"
    )
    assert "500" not in str(error)  # the "input" is never shown


def test_422_string_detail():
    error = error_from_response(make_response(422, {"detail": "provider_slug is not supported"}), request_id=None)
    assert isinstance(error, ValidationError)
    assert error.errors == []
    assert str(error) == "provider_slug is not supported"


def test_422_odd_detail_items_tolerated():
    body = {"detail": [{"msg": "no loc"}, "plain string", 42, {"loc": "scope_config", "msg": "bad"}]}
    error = error_from_response(make_response(422, body), request_id=None)
    assert [e.loc for e in error.errors] == [(), (), ("scope_config",)]
    assert str(error) == "no loc; plain string; scope_config: bad"


def test_422_html_body():
    error = error_from_response(make_response(422, "<html>bad</html>"), request_id=None)
    assert isinstance(error, ValidationError) and error.errors == []
    assert str(error) == ValidationError.default_message


@pytest.mark.parametrize(
    "body",
    [{"message": "Quota exceeded"}, {"error": "Quota exceeded"}, {"error": {"message": "Quota exceeded"}}],
)
def test_other_message_keys(body):
    assert str(error_from_response(make_response(403, body), request_id=None)) == "Quota exceeded"


def test_html_error_page_gives_a_clean_message():
    page = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title><script>var k='x'</script></head>"
        "<body><h1>502 Bad Gateway</h1><p>nginx/1.25</p></body></html>"
    )
    error = error_from_response(make_response(502, page, {"Content-Type": "text/html"}), request_id="r")
    assert isinstance(error, UpstreamError) and error.retryable
    assert str(error) == "The Aimable API had a problem (HTTP 502): 502 Bad Gateway"
    assert "<" not in str(error) and "script" not in str(error)


def test_html_without_title_shows_no_markup():
    error = error_from_response(make_response(500, "<div>" + "x" * 5000 + "</div>"), request_id=None)
    assert str(error) == "The Aimable API had a problem (HTTP 500)."


def test_plain_text_body_is_a_short_sanitized_snippet():
    error = error_from_response(make_response(503, "upstream\x00 connect\r\nerror " + "y" * 500), request_id=None)
    message = str(error)
    assert message.startswith("The Aimable API had a problem (HTTP 503): upstream connect error yyy")
    assert len(message) < 200
    assert "\x00" not in message and "\n" not in message


def test_long_detail_is_truncated():
    error = error_from_response(make_response(404, {"detail": "z" * 5000}), request_id=None)
    assert len(str(error)) <= 300


def test_messages_never_contain_request_headers():
    response = make_response(401, {"detail": "Invalid token"})
    request = requests.Request("GET", f"{BASE}/v1/spaces", headers={"Authorization": f"Bearer {API_KEY}"})
    response.request = request.prepare()
    error = error_from_response(response, request_id="r")
    assert API_KEY not in str(error) and API_KEY not in repr(error)


def test_redact_removes_an_echoed_key():
    error = error_from_response(make_response(401, {"detail": f"Key {API_KEY} revoked"}), request_id=None)
    error.redact(API_KEY)
    assert str(error) == "Key [redacted] revoked"
    assert API_KEY not in repr(error) and API_KEY not in str(error.args)


def test_client_redacts_echoed_key(rsps, api):
    rsps.get(f"{BASE}/v1/spaces", status=403, json={"detail": f"Key {API_KEY} lacks scope"})
    with pytest.raises(PermissionDeniedError) as info:
        api.list_spaces()
    assert API_KEY not in str(info.value) and API_KEY not in repr(info.value)
    assert info.value.request_id == api.last_request_id


ACCESS = "ghp_echoedAccessToken000000000000000000001"
REFRESH = "ghr_echoedRefreshToken00000000000000000001"
NESTED = "nested-client-secret-0000000001"
CREDENTIAL = {"access_token": ACCESS, "refresh_token": REFRESH, "extra": {"client": [NESTED]}, "kind": "oauth"}


def shown(error) -> str:
    """Everything of an error that reaches a page, a log line or the audit log."""
    return " ".join([str(error), repr(error), str(error.args), *(f"{e.loc} {e}" for e in getattr(error, "errors", []))])


@pytest.mark.parametrize("status", [400, 409, 422, 500])
def test_client_redacts_every_credential_value_echoed(rsps, api, status):
    echo = f"bad credential {ACCESS} / {REFRESH} / {NESTED} for key {API_KEY}"
    rsps.post(PREFIX, status=status, json={"detail": echo})
    rsps.patch(CONNECTOR_URL, status=status, json={"detail": echo})
    with pytest.raises(AimableError) as created:
        api.create_connector(SPACE, COLLECTION, provider_slug="github", credential=CREDENTIAL, idempotency_key="k")
    with pytest.raises(AimableError) as updated:
        api.update_connector(SPACE, COLLECTION, CONNECTOR, credential=CREDENTIAL)
    for error in (created.value, updated.value):
        text = shown(error)
        assert "bad credential [redacted] / [redacted] / [redacted] for key [redacted]" in text
        assert not [s for s in (ACCESS, REFRESH, NESTED, API_KEY) if s in text]


def test_client_redacts_credential_values_from_field_errors(rsps, api):
    body = {
        "detail": [
            {"loc": ["body", "credential", ACCESS], "msg": f"token {REFRESH} is revoked", "type": "value_error"},
            {"loc": ["body", "credential", "access_token"], "msg": f"{ACCESS} has expired", "type": "value_error"},
        ]
    }
    rsps.post(PREFIX, status=422, json=body)
    with pytest.raises(ValidationError) as info:
        api.create_connector(SPACE, COLLECTION, provider_slug="github", credential=CREDENTIAL, idempotency_key="k")
    text = shown(info.value)
    assert ACCESS not in text and REFRESH not in text
    assert [(e.field, e.msg) for e in info.value.errors] == [
        ("credential.[redacted]", "token [redacted] is revoked"),
        ("credential.access_token", "[redacted] has expired"),
    ]


def test_redact_removes_a_secret_the_length_limit_cut_off():
    detail = "x" * 280 + " " + ACCESS  # the message is cut at 300 characters, in the middle of the token
    error = error_from_response(make_response(500, {"detail": detail}), request_id=None)
    assert ACCESS[:10] in str(error)
    error.redact(ACCESS)
    assert str(error).endswith(" [redacted]…") and ACCESS[:4] not in str(error)


def test_rate_limited_retry_after_seconds():
    error = error_from_response(make_response(429, "", {"Retry-After": "7"}), request_id=None)
    assert isinstance(error, RateLimitedError) and error.retry_after == 7.0


def test_rate_limited_retry_after_http_date():
    when = datetime.now(UTC) + timedelta(seconds=60)
    error = error_from_response(
        make_response(429, "", {"Retry-After": format_datetime(when, usegmt=True)}), request_id=None
    )
    assert 55 <= error.retry_after <= 61


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("soon", None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date_relative_to_now():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def test_network_error_classes():
    assert UnavailableError.retryable and UpstreamTimeoutError.retryable
    assert issubclass(UpstreamTimeoutError, UnavailableError)
    assert issubclass(UpstreamTimeoutError, TimeoutError)
    assert str(UnavailableError()) == "The Aimable API could not be reached."
    assert str(UpstreamTimeoutError()) == "The Aimable API did not answer in time."
    assert not BadResponseError.retryable
    assert str(BadResponseError()) == "The Aimable API returned a response the console could not read."


def test_errors_in_the_client_carry_the_request_id(rsps, api):
    rsps.get(f"{BASE}/v1/spaces", status=404, json={"detail": "Space not found"})
    with pytest.raises(NotFoundError, match="Space not found") as info:
        api.list_spaces()
    assert info.value.request_id == rsps.calls[0].request.headers["X-Request-ID"]
    assert "request_id=" in repr(info.value)
