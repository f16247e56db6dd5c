"""Which URLs the console sends alerts to: public https receivers only, unless private targets are allowed."""

import pytest

from connectors.alerts import targets
from connectors.alerts.targets import TargetRefused, check_url

from .receivers import HttpReceiver

PUBLIC = "93.184.216.34"


@pytest.fixture
def dns(monkeypatch):
    """Names resolve from this table, never from the network."""
    table = {"example.com": [PUBLIC], "hooks.slack.com": ["54.1.2.3"]}

    def resolve(host, port):
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    monkeypatch.setattr(targets, "resolve", resolve)
    return table


@pytest.fixture
def production(settings, dns):
    settings.ALERTS_ALLOW_PRIVATE_URLS = False
    return dns


def test_public_https_url_is_accepted(production):
    assert check_url("https://example.com/hooks/abc") == "https://example.com/hooks/abc"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://example.com/hook", "https://"),
        ("ftp://example.com/hook", "https://"),
        ("example.com/hook", "https://"),
        ("", "Enter a URL"),
        ("https://user:pw@example.com/hook", "user name and password"),
        ("https://exa mple.com/hook", "no spaces"),
        ("https://example.com:99999/hook", "not a valid URL"),
        ("https://localhost/hook", "this machine"),
        ("https://api.localhost/hook", "this machine"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://10.0.0.7/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://240.0.0.1/hook", "reserved"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://nowhere.invalid/hook", "could not be found"),
    ],
)
def test_refused_in_production(production, url, words, monkeypatch):
    # IP literals resolve to themselves, as getaddrinfo does.
    real = targets.resolve
    monkeypatch.setattr(
        targets, "resolve", lambda host, port: [host] if ":" in host or host[:1].isdigit() else real(host, port)
    )
    with pytest.raises(TargetRefused) as refused:
        check_url(url)
    assert words in refused.value.message


def test_a_name_with_one_private_address_among_public_ones_is_refused(production):
    production["mixed.example.com"] = [PUBLIC, "10.1.2.3"]
    with pytest.raises(TargetRefused, match="10.1.2.3"):
        check_url("https://mixed.example.com/hook")


def test_slack_target_must_be_slacks_webhook_host_in_production(production):
    assert check_url("https://hooks.slack.com/services/T0/B0/xyz", slack=True)
    for url in ("https://example.com/services/T0", "https://hooks.slack.com/", "http://hooks.slack.com/services/T"):
        with pytest.raises(TargetRefused):
            check_url(url, slack=True)


def test_private_targets_allowed_when_the_setting_says_so(settings, dns):
    settings.ALERTS_ALLOW_PRIVATE_URLS = True
    assert check_url("http://127.0.0.1:8123/hook")
    assert check_url("http://localhost:8123/hook")
    assert check_url("http://127.0.0.1:8123/slack", slack=True)
    with pytest.raises(TargetRefused):
        check_url("file:///etc/passwd")


def test_the_sending_session_refuses_a_private_peer_it_connected_to(settings):
    """A name that resolved to a public address when checked, then to a private one (DNS rebinding), is refused
    by the address the connection actually reached."""
    settings.ALERTS_ALLOW_PRIVATE_URLS = False
    with HttpReceiver() as receiver, targets.checked_session() as session:
        with pytest.raises(TargetRefused, match="loopback"):
            session.post(receiver.url, data=b"{}", timeout=5)
        assert receiver.received == []
        settings.ALERTS_ALLOW_PRIVATE_URLS = True
        assert session.post(receiver.url, data=b"{}", timeout=5).status_code == 200


def test_masks_and_scrubbing_hide_the_secret_parts():
    slack = "https://hooks.slack.com/services/T000/B000/abcdEFGH"
    assert targets.mask_url(slack) == "hooks.slack.com/…/EFGH"
    assert targets.mask_url("https://example.com/hooks/s3cr3t?x=1") == "https://example.com/…"
    url = "https://example.com/hooks/s3cr3t?token=t0k"
    text = f"HTTPSConnectionPool(host='example.com'): Max retries with url: /hooks/s3cr3t?token=t0k ({url})"
    scrubbed = targets.scrub(text, url)
    assert "s3cr3t" not in scrubbed and "t0k" not in scrubbed
    assert "example.com" in scrubbed
    assert "s3cr3t" not in targets.scrub("see https://other.example/s3cr3t now")
