"""Path parameters are validated before any HTTP call: injection attempts never reach the network."""

import uuid

import pytest

from connectors.aimable import InvalidIdError, validate_token, validate_uuid

from .canned import COLLECTION, CONNECTOR, SPACE, SYNC

BAD_UUIDS = [
    "",
    "nope",
    "../etc",
    f"{SPACE}/../x",
    f"{SPACE}?x=1",
    SPACE + "0",
    SPACE[:-1],
    " " + SPACE,
    SPACE + "\n",
    "%2e%2e",
    "7a5f3b1d_8e2c_4f1a_b9c0_1d2e3f4a5b6c",
    None,
    42,
]
BAD_TOKENS = [
    "",
    "..",
    "../x",
    "a/../b",
    "a/b",
    "a?b",
    "a#b",
    "%2e%2e",
    "%2F",
    "a..b",
    ".hidden",
    "-x",
    "a b",
    "a\n",
    "a\x00",
    "x" * 129,
    "é",
    None,
    7,
]


@pytest.mark.parametrize("value", [SPACE, SPACE.upper(), SPACE.replace("-", ""), uuid.UUID(SPACE)])
def test_validate_uuid_canonicalises(value):
    assert validate_uuid(value, "space_id") == SPACE


@pytest.mark.parametrize("value", BAD_UUIDS)
def test_validate_uuid_refuses(value):
    with pytest.raises(InvalidIdError) as info:
        validate_uuid(value, "space_id")
    assert info.value.field == "space_id"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", [CONNECTOR, SYNC, "a", "abc_DEF.1:2-3", "x" * 128])
def test_validate_token_accepts(value):
    assert validate_token(value, "connector_id") == value


@pytest.mark.parametrize("value", BAD_TOKENS)
def test_validate_token_refuses(value):
    with pytest.raises(InvalidIdError) as info:
        validate_token(value, "connector_id")
    assert info.value.field == "connector_id"


def test_invalid_id_message_does_not_echo_the_value():
    with pytest.raises(InvalidIdError) as info:
        validate_token("<script>alert(1)</script>", "sync_id")
    assert "script" not in str(info.value)
    assert str(info.value) == "sync_id is not a valid identifier."


def calls(api):
    """Every client method taking path ids: (ids it takes, callable(space, collection, connector, sync))."""
    return [
        ({"space"}, lambda s, c, k, y: api.list_collections(s)),
        ({"space", "collection"}, lambda s, c, k, y: api.list_connectors(s, c)),
        ({"space", "collection", "connector"}, lambda s, c, k, y: api.get_connector(s, c, k)),
        (
            {"space", "collection"},
            lambda s, c, k, y: api.create_connector(s, c, provider_slug="slack", credential={}, idempotency_key="k"),
        ),
        (
            {"space", "collection", "connector"},
            lambda s, c, k, y: api.update_connector(s, c, k, status="paused"),
        ),
        ({"space", "collection", "connector"}, lambda s, c, k, y: api.delete_connector(s, c, k)),
        ({"space", "collection", "connector"}, lambda s, c, k, y: api.browse(s, c, k)),
        ({"space", "collection", "connector"}, lambda s, c, k, y: api.list_syncs(s, c, k)),
        ({"space", "collection", "connector"}, lambda s, c, k, y: api.trigger_sync(s, c, k)),
        ({"space", "collection", "connector"}, lambda s, c, k, y: api.get_sync(s, c, k, y)),
        ({"space", "collection", "connector"}, lambda s, c, k, y: api.cancel_sync(s, c, k)),
    ]


def calls_taking(api, position):
    return [call for takes, call in calls(api) if position in takes]


@pytest.mark.parametrize("bad", ["../..", "not-a-uuid", f"{SPACE}/..", "%2e%2e"])
@pytest.mark.parametrize("position", ["space", "collection"])
def test_bad_uuids_never_reach_the_network(rsps, api, bad, position):
    for call in calls_taking(api, position):
        ids = {"space": SPACE, "collection": COLLECTION, position: bad}
        with pytest.raises(InvalidIdError) as info:
            call(ids["space"], ids["collection"], CONNECTOR, SYNC)
        assert info.value.field == f"{position}_id"
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("bad", ["../x", "..", "a/b", "a?b=1", "%2e%2e", "%2F..%2F", "x/../../spaces"])
def test_bad_connector_ids_never_reach_the_network(rsps, api, bad):
    assert len(calls_taking(api, "connector")) == 8
    for call in calls_taking(api, "connector"):
        with pytest.raises(InvalidIdError) as info:
            call(SPACE, COLLECTION, bad, SYNC)
        assert info.value.field == "connector_id"
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("bad", ["../cancel", "..", "cancel/..", "a?b", "%2e%2e"])
def test_bad_sync_ids_never_reach_the_network(rsps, api, bad):
    with pytest.raises(InvalidIdError) as info:
        api.get_sync(SPACE, COLLECTION, CONNECTOR, bad)
    assert info.value.field == "sync_id"
    assert len(rsps.calls) == 0


def test_colon_in_a_token_is_percent_encoded(rsps, api):
    from .canned import CONNECTOR_JSON, PREFIX

    rsps.get(f"{PREFIX}/conn%3A1", json={"data": CONNECTOR_JSON})
    api.get_connector(SPACE, COLLECTION, "conn:1")
    assert rsps.calls[0].request.path_url.endswith("/connectors/conn%3A1")
