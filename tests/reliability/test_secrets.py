"""The API key never shows: not in a repr, an exception (its message, cause, arguments, the
request requests keeps on it, a pickle) or a log record at DEBUG from any logger.

Every test of this package also runs under the `key_never_logged` watch (conftest) and checks each
error it meets with `assert_secret_free`; these tests prove the watch works and cover what the
others do not reach.
"""

from __future__ import annotations

import logging
import pickle

import pytest

from byourside import ByoursideError, Client, NetworkError
from byourside.testing import FakeServer
from tests.client_support import refused_url
from tests.reliability.conftest import KeyLeakWatch
from tests.reliability.support import API_KEY, SECRETS, assert_secret_free, driven_client, raw_reply_server


def test_the_watch_catches_a_key_in_a_message_its_arguments_or_a_traceback() -> None:
    watch = KeyLeakWatch()
    logger = logging.getLogger("byourside.tests.leak")
    logger.addHandler(watch)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # these leaks are on purpose: keep them from the suite's own watch
    try:
        logger.debug("sending Authorization: Bearer %s", API_KEY)
        logger.debug("headers %r", {"Authorization": f"Bearer {API_KEY}"})
        try:
            raise RuntimeError(f"bad key {SECRETS[1]}")
        except RuntimeError:
            logger.exception("failed")
        logger.debug("nothing to see")
    finally:
        logger.removeHandler(watch)
    assert watch.seen == 4
    assert len(watch.leaked) == 3


def test_the_check_on_errors_catches_a_key_anywhere_in_the_chain() -> None:
    try:
        try:
            raise ValueError("Bearer " + API_KEY)
        except ValueError as inner:
            raise ByoursideError("outer", 0, "network_error") from inner
    except ByoursideError as outer:
        with pytest.raises(AssertionError):
            assert_secret_free(outer)


def test_reprs_never_show_the_key() -> None:
    with FakeServer(instant=True, api_key=API_KEY) as server, Client(API_KEY, server.base_url) as client:
        client.place_call("+14155550123", "Confirm the appointment")
        transport = client._transport
        assert_secret_free(client, transport, transport._auth, transport._session, vars(client))
        assert "<redacted>" in repr(transport._auth)


def test_every_logger_at_debug_sees_a_whole_run_and_no_key(key_never_logged: KeyLeakWatch) -> None:
    # A placement through faults and a wait, with every logger at DEBUG: records arrive from the
    # SDK and from urllib3 (so the watch is really listening), and none shows the key.
    with FakeServer(instant=True, api_key=API_KEY) as server:
        server.inject("post", "store_error", retry_after=0)
        server.inject("get", "drop")
        with driven_client(server.base_url) as client:
            placed = client.place_call("+14155550123", "Confirm the appointment")
            assert client.wait_for_call(placed.call_id).status == "completed"
    assert key_never_logged.seen >= 8
    assert not key_never_logged.leaked


@pytest.mark.parametrize("reply", [None, b"", b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n{}"])
def test_network_errors_keep_no_key_in_their_cause(reply: bytes | None) -> None:
    # requests' exceptions carry the request they sent, Authorization header included; the SDK's
    # NetworkError keeps them as its cause, with the header redacted.
    if reply is None:
        with pytest.raises(NetworkError) as raised:
            Client(API_KEY, refused_url(), max_retries=0).get_call("c1")
    else:
        with raw_reply_server(reply) as url, pytest.raises(NetworkError) as raised:
            Client(API_KEY, url, max_retries=0).get_call("c1")
    error = raised.value
    assert error.__cause__ is not None
    assert_secret_free(error)
    restored = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert_secret_free(restored)
    assert not any(secret.encode() in pickle.dumps(error) for secret in SECRETS)
