"""The transport on its own: headers, one reused connection, redirects not followed, the
Authorization header safe from ~/.netrc, and requests' exceptions classified sent / not sent."""

from __future__ import annotations

import platform
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import requests
from pytest_httpserver import HTTPServer

from byourside import NetworkError, __version__
from byourside._transport import USER_AGENT, Method, Transport, failed_before_sending
from tests.client_support import API_KEY, base_url, raw_server, refused_url, reply, requests_to, script


def transport(url: str, session: requests.Session | None = None) -> Transport:
    return Transport(api_key=API_KEY, base_url=url, timeout=(1.0, 1.0), session=session)


def test_user_agent_names_the_sdk_and_python() -> None:
    assert f"byourside/{__version__} python/{platform.python_version()}" == USER_AGENT


def test_a_reply_is_returned_as_read(httpserver: HTTPServer) -> None:
    script(httpserver, "/v1/x", [reply(418, raw=b"\x00teapot", headers={"X-Request-Id": "r1"})])
    got = transport(base_url(httpserver)).request("GET", "/v1/x", params={"a": "1"})
    assert (got.status, got.body) == (418, b"\x00teapot")
    assert got.headers["x-request-id"] == "r1"  # case-insensitive
    (sent,) = requests_to(httpserver)
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["User-Agent"] == USER_AGENT
    assert sent.query_string == b"a=1"


def test_post_body_is_sent_as_json(httpserver: HTTPServer) -> None:
    script(httpserver, "/v1/x", [reply(201, {})], method="POST")
    transport(base_url(httpserver)).request("POST", "/v1/x", body=b'{"to": "+1"}')
    (sent,) = requests_to(httpserver)
    assert sent.get_data() == b'{"to": "+1"}'
    assert sent.headers["Content-Type"] == "application/json"


def test_redirects_are_not_followed(httpserver: HTTPServer) -> None:
    script(httpserver, "/v1/x", [reply(307, raw=b"", headers={"Location": "/v1/elsewhere"})], method="POST")
    got = transport(base_url(httpserver)).request("POST", "/v1/x", body=b"{}")
    assert got.status == 307
    assert [r.path for r in requests_to(httpserver)] == ["/v1/x"]


def test_netrc_cannot_replace_the_key(
    httpserver: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    script(httpserver, "/v1/x", [reply(200, {})])
    transport(base_url(httpserver)).request("GET", "/v1/x")
    assert requests_to(httpserver)[0].headers["Authorization"] == f"Bearer {API_KEY}"


class _PortRecorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    ports: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        self.ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def keep_alive_server() -> Iterator[str]:
    _PortRecorder.ports = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PortRecorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_one_connection_is_reused(keep_alive_server: str) -> None:
    sender = transport(keep_alive_server)
    for _ in range(3):
        assert sender.request("GET", "/v1/x").status == 200
    sender.close()
    assert len(_PortRecorder.ports) == 3
    assert len(set(_PortRecorder.ports)) == 1  # one TCP connection for all three


def test_close_leaves_a_session_passed_in_open(keep_alive_server: str) -> None:
    session = requests.Session()
    sender = transport(keep_alive_server, session=session)
    sender.request("GET", "/v1/x")
    sender.close()
    session.get(keep_alive_server + "/v1/x", timeout=1)  # still usable, same pool
    assert len(set(_PortRecorder.ports)) == 1
    session.close()


# -- requests' exceptions, classified -------------------------------------------------------


def caught_from(url: str, *, read_timeout: float = 1.0) -> requests.RequestException:
    try:
        requests.post(url + "/v1/agent/calls", data=b"{}", timeout=(1.0, read_timeout))
    except requests.RequestException as error:
        return error
    raise AssertionError("the request was expected to fail")


def test_refused_connection_failed_before_sending() -> None:
    error = caught_from(refused_url())
    assert isinstance(error, requests.ConnectionError)
    assert failed_before_sending(error)


def test_dropped_connection_may_have_been_sent() -> None:
    with raw_server("drop") as server:
        error = caught_from(server.url)
    assert isinstance(error, requests.ConnectionError)
    assert not failed_before_sending(error)


def test_read_timeout_may_have_been_sent() -> None:
    with raw_server("silent") as server:
        error = caught_from(server.url, read_timeout=0.1)
    assert isinstance(error, requests.ReadTimeout)
    assert not failed_before_sending(error)


def test_connect_timeout_failed_before_sending() -> None:
    assert failed_before_sending(requests.ConnectTimeout("connect timed out"))
    assert not failed_before_sending(requests.ReadTimeout("read timed out"))
    assert not failed_before_sending(requests.ConnectionError("reset by peer"))


@pytest.mark.parametrize(("method", "may_have_placed"), [("POST", True), ("GET", False)])
def test_network_errors_carry_may_have_placed_only_for_a_post(method: Method, may_have_placed: bool) -> None:
    with raw_server("drop") as server, pytest.raises(NetworkError) as caught:
        transport(server.url).request(method, "/v1/agent/calls")
    error = caught.value
    assert (error.code, error.status, error.may_have_placed) == ("network_error", 0, may_have_placed)
    assert isinstance(error.__cause__, requests.ConnectionError)
    assert API_KEY not in str(error)


def test_per_request_timeout_overrides_the_default() -> None:
    with raw_server("silent") as server, pytest.raises(NetworkError, match="read timeout"):
        Transport(api_key=API_KEY, base_url=server.url, timeout=(1.0, 30.0)).request(
            "GET", "/v1/x", timeout=(1.0, 0.1)
        )


def test_the_auth_object_never_shows_the_key() -> None:
    sender = transport("https://api.byourside.ai")
    assert API_KEY not in repr(sender._auth)
    assert API_KEY not in repr(vars(sender._auth).keys())
