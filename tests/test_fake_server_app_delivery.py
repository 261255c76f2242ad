"""FakeServer(webhook_apps=...): webhooks delivered into in-process WSGI and ASGI apps, no socket."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from byourside import Client, construct_event
from byourside.testing import FakeServer
from tests.fake_server_support import WebhookReceiver, receiver

SECRET = "whsec_app_delivery"
ORIGIN = "https://myapp.test"


class WsgiApp:
    """A bare WSGI app recording each request and answering the statuses it is given, in turn."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses) or ["204 No Content"]
        self.requests: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        self.requests.append({
            "method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
            "query": environ["QUERY_STRING"], "signature": environ.get("HTTP_X_BYS_SIGNATURE"),
            "content_type": environ.get("CONTENT_TYPE"), "body": body,
        })
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status == "raise":
            raise RuntimeError("handler bug")
        start_response(status, [("Content-Length", "0")])
        return [b""]


class AsgiApp:
    """The same, as an ASGI app."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses) or [204]
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        self.requests.append({
            "method": scope["method"], "path": scope["path"], "query": scope["query_string"].decode(),
            "signature": headers[b"x-bys-signature"].decode(),
            "content_type": headers[b"content-type"].decode(), "body": body,
        })
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def run_call(apps: dict[str, Any], webhook_url: str, retry_delays: tuple[float, ...] = (0.0,)) -> list[Any]:
    server = FakeServer(
        instant=True, webhook_secret=SECRET, webhook_apps=apps, webhook_retry_delays=retry_delays
    )
    with server, Client(server.api_key, server.base_url) as client:
        client.place_call(to="+14155550123", objective="Say hi", webhook_url=webhook_url)
        return server.wait_for_webhooks(timeout=30)


@pytest.mark.parametrize("app", [WsgiApp(), AsgiApp()], ids=["wsgi", "asgi"])
def test_each_event_goes_into_the_app_signed_with_its_exact_body(app: Any) -> None:
    deliveries = run_call({ORIGIN: app}, f"{ORIGIN}/hooks/bys?tenant=7")
    assert [(d.event, d.status_code, d.error) for d in deliveries] == [
        ("call.in_progress", 204, None), ("call.completed", 204, None),
    ]
    assert len(app.requests) == 2
    for request, made in zip(app.requests, deliveries, strict=True):
        assert (request["method"], request["path"], request["query"]) == ("POST", "/hooks/bys", "tenant=7")
        assert request["content_type"] == "application/json"
        assert request["body"] == made.body
        assert request["signature"] == made.signature
        assert construct_event(request["body"], request["signature"], SECRET).event == made.event


@pytest.mark.parametrize(("app", "first"), [(WsgiApp("503 Service Unavailable", "204 No Content"), 503),
                                            (AsgiApp(409, 204), 409)], ids=["wsgi", "asgi"])
def test_a_non_2xx_from_the_app_is_redelivered(app: Any, first: int) -> None:
    deliveries = run_call({ORIGIN: app}, f"{ORIGIN}/hooks")
    first_event = [d for d in deliveries if d.event == "call.in_progress"]
    assert [(d.attempt, d.status_code) for d in first_event] == [(1, first), (2, 204)]


def test_an_exception_escaping_the_app_counts_as_a_500_and_is_redelivered() -> None:
    app = WsgiApp("raise", "204 No Content")
    deliveries = run_call({ORIGIN: app}, f"{ORIGIN}/hooks")
    failed = deliveries[0]
    assert (failed.attempt, failed.status_code) == (1, 500)
    assert failed.error is not None
    assert "RuntimeError" in failed.error
    assert [(d.attempt, d.status_code) for d in deliveries if d.event == failed.event] == [(1, 500), (2, 204)]


def test_other_urls_still_go_over_loopback_http_or_are_refused() -> None:
    app = WsgiApp()
    hooks: WebhookReceiver
    with receiver() as hooks:
        over_http = run_call({ORIGIN: app}, hooks.url)
        assert [d.status_code for d in over_http] == [200, 200]
        assert len(hooks.received) == 2
    refused = run_call({ORIGIN: app}, "https://elsewhere.test/hooks")
    assert {d.error for d in refused} == {"refused"}
    assert app.requests == []


def test_origins_match_case_insensitively_but_scheme_and_port_count() -> None:
    app = WsgiApp()
    assert all(d.succeeded for d in run_call({"HTTPS://MyApp.Test": app}, f"{ORIGIN}/hooks"))
    assert {d.error for d in run_call({ORIGIN: app}, "https://myapp.test:8443/hooks")} == {"refused"}


@pytest.mark.parametrize("origin", ["myapp.test", "https://myapp.test/hooks", "ftp://myapp.test", "https://"])
def test_a_key_that_is_not_an_origin_is_refused(origin: str) -> None:
    with pytest.raises(ValueError, match="origins"):
        FakeServer(webhook_apps={origin: WsgiApp()})


def test_a_value_that_is_not_an_app_is_refused() -> None:
    with pytest.raises(TypeError, match="not a WSGI or ASGI app"):
        FakeServer(webhook_apps={ORIGIN: "app"})
