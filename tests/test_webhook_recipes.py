"""The README's webhook recipes, run: the Flask and FastAPI receivers (lease, typed event), every snippet.

The code lives in ``tests/recipes/`` (so mypy --strict checks it) and the README must show each
file verbatim; every other ``python`` block of the README's Webhooks section is executed. So the
README cannot drift from code that runs.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from byourside import Client, sign_webhook
from byourside.testing import FakeServer
from tests import payloads

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "tests" / "recipes"
RECIPE_FILES = ("flask_app.py", "fastapi_app.py")
SECRET = "whsec_recipe_test"
PATH = "/webhooks/byourside"

_fresh_names = itertools.count()


def webhooks_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n## Webhooks\n")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def python_blocks() -> list[tuple[str | None, str | None, str]]:
    """(marker kind, marker file, code) of every python block in the Webhooks section."""
    pattern = re.compile(r"(?:<!-- (recipe|runs with): (\S+) -->\n)?```python\n(.*?)```", re.DOTALL)
    return [(m[1], m[2], m[3]) for m in pattern.finditer(webhooks_section())]


def load_recipe(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A fresh copy of a recipe module (its own SQLite dedup file), imported as an app would be."""
    monkeypatch.setenv("BYS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("BYS_WEBHOOK_EVENTS_DB", os.path.join(tempfile.mkdtemp(), "events.sqlite3"))
    module_name = f"_recipe_{Path(name).stem}_{next(_fresh_names)}"
    spec = importlib.util.spec_from_file_location(module_name, RECIPES / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, module_name, module)
    spec.loader.exec_module(module)
    return module


def delivery(event_id: str = "evt_recipe_1", name: str = "call.completed") -> bytes:
    return json.dumps(payloads.webhook_event(name) | {"eventId": event_id}).encode()


def bad_delivery(case: str) -> tuple[bytes, str | None]:
    """A delivery that must be refused, signed now (not at collection, which may be minutes ago)."""
    body = delivery()
    signed = sign_webhook(body, SECRET)
    return {
        "tampered body": (body.replace(b"Confirmed.", b"Cancelled."), signed),
        "re-serialised JSON": (json.dumps(json.loads(body), indent=2).encode(), signed),
        "another secret": (body, sign_webhook(body, "whsec_someone_else")),
        "no header": (body, None),
        "garbled header": (body, "sha256=abc"),
        "stale": (body, sign_webhook(body, SECRET, timestamp=int(time.time()) - 3600)),
        "from the future": (body, sign_webhook(body, SECRET, timestamp=int(time.time()) + 3600)),
    }[case]


# --- the README and the recipe files --------------------------------------------------------------


@pytest.mark.parametrize("name", RECIPE_FILES)
def test_readme_shows_each_recipe_verbatim(name: str) -> None:
    code = (RECIPES / name).read_text(encoding="utf-8")
    shown = [
        block for kind, path, block in python_blocks() if kind == "recipe" and path == f"tests/recipes/{name}"
    ]
    assert shown == [code], f"README.md's block for tests/recipes/{name} differs from the file"


def test_every_recipe_marker_names_a_tested_file() -> None:
    marked = {path for kind, path, _ in python_blocks() if kind is not None}
    assert marked <= {f"tests/recipes/{name}" for name in RECIPE_FILES}
    assert {f"tests/recipes/{name}" for name in RECIPE_FILES} <= marked


def test_readme_snippets_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    snippets = [(kind, path, code) for kind, path, code in python_blocks() if kind != "recipe"]
    assert len(snippets) >= 3  # verify_webhook, rotation, testing with sign_webhook
    for kind, path, code in snippets:
        namespace: dict[str, Any] = {"__name__": "readme_snippet"}
        if kind == "runs with":
            assert path is not None
            namespace.update(vars(load_recipe(Path(path).name, monkeypatch)))
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102  # our own README's code
    capsys.readouterr()


# --- Flask ----------------------------------------------------------------------------------------


@pytest.fixture
def flask_recipe(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_recipe("flask_app.py", monkeypatch)


def post_flask(recipe: ModuleType, body: bytes, header: str | None) -> Any:
    headers = {} if header is None else {"X-BYS-Signature": header}
    return recipe.app.test_client().post(PATH, data=body, headers=headers, content_type="application/json")


def test_flask_accepts_a_signed_delivery(
    flask_recipe: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    body = delivery()
    response = post_flask(flask_recipe, body, sign_webhook(body, SECRET))
    assert response.status_code == 204
    out = capsys.readouterr().out
    assert "call.completed for call" in out
    assert "(evt_recipe_1)" in out
    assert "summary: Confirmed." in out


def test_flask_dedupes_a_redelivery(flask_recipe: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    body = delivery()
    first = post_flask(flask_recipe, body, sign_webhook(body, SECRET))
    again = post_flask(flask_recipe, body, sign_webhook(body, SECRET))  # a retry: re-signed, same eventId
    other = post_flask(flask_recipe, delivery("evt_recipe_2"), sign_webhook(delivery("evt_recipe_2"), SECRET))
    assert (first.status_code, again.status_code, other.status_code) == (204, 204, 204)
    out = capsys.readouterr().out
    assert out.count("(evt_recipe_1)") == 1
    assert out.count("(evt_recipe_2)") == 1


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("tampered body", "signature_mismatch"),
        ("re-serialised JSON", "signature_mismatch"),
        ("another secret", "signature_mismatch"),
        ("no header", "missing_header"),
        ("garbled header", "malformed_header"),
        ("stale", "timestamp_too_old"),
        ("from the future", "timestamp_in_future"),
    ],
)
def test_flask_answers_400_to_a_bad_delivery(
    flask_recipe: ModuleType, capsys: pytest.CaptureFixture[str], case: str, reason: str
) -> None:
    body, header = bad_delivery(case)
    response = post_flask(flask_recipe, body, header)
    assert response.status_code == 400
    assert response.get_data(as_text=True) == reason
    assert capsys.readouterr().out == ""  # the handler never ran


def test_flask_handles_the_genuine_delivery_after_a_tampered_one(
    flask_recipe: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # A refused delivery must not claim its eventId, or the genuine one would be skipped.
    body = delivery()
    assert post_flask(flask_recipe, body + b" ", sign_webhook(body, SECRET)).status_code == 400
    assert post_flask(flask_recipe, body, sign_webhook(body, SECRET)).status_code == 204
    assert capsys.readouterr().out.count("(evt_recipe_1)") == 1


# --- FastAPI --------------------------------------------------------------------------------------


@pytest.fixture
def fastapi_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    recipe = load_recipe("fastapi_app.py", monkeypatch)
    with TestClient(recipe.app) as client:
        yield client


def post_fastapi(client: TestClient, body: bytes, header: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-BYS-Signature"] = header
    return client.post(PATH, content=body, headers=headers)


def test_fastapi_accepts_a_signed_delivery(
    fastapi_client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    body = delivery(name="call.in_progress")
    response = post_fastapi(fastapi_client, body, sign_webhook(body, SECRET))
    assert response.status_code == 204
    assert "call.in_progress for call" in capsys.readouterr().out


def test_fastapi_dedupes_a_redelivery(fastapi_client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    body = delivery()
    statuses = [post_fastapi(fastapi_client, body, sign_webhook(body, SECRET)).status_code for _ in range(3)]
    assert statuses == [204, 204, 204]
    assert capsys.readouterr().out.count("(evt_recipe_1)") == 1


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("tampered body", "signature_mismatch"),
        ("another secret", "signature_mismatch"),
        ("no header", "missing_header"),
        ("from the future", "timestamp_in_future"),
    ],
)
def test_fastapi_answers_400_to_a_bad_delivery(
    fastapi_client: TestClient, capsys: pytest.CaptureFixture[str], case: str, reason: str
) -> None:
    body, header = bad_delivery(case)
    response = post_fastapi(fastapi_client, body, header)
    assert response.status_code == 400
    assert response.json() == {"detail": reason}
    assert capsys.readouterr().out == ""


# --- the lease: another worker's live claim, a worker that died -----------------------------------


@pytest.mark.parametrize("recipe_name", RECIPE_FILES)
def test_a_delivery_while_another_worker_holds_the_lease_gets_409_then_is_handled(
    recipe_name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = load_recipe(recipe_name, monkeypatch)
    post = recipe_poster(recipe)
    store = recipe.dedupe.store
    body = delivery()
    assert store.claim("evt_recipe_1", "another-worker", 60) == "claimed"  # it is handling the event
    assert post(body, sign_webhook(body, SECRET)) == 409  # never a 2xx while unfinished
    assert capsys.readouterr().out == ""
    store.release("evt_recipe_1", "another-worker")  # that worker failed and let go
    assert post(body, sign_webhook(body, SECRET)) == 204
    assert post(body, sign_webhook(body, SECRET)) == 204  # done: acknowledged, not run again
    assert capsys.readouterr().out.count("(evt_recipe_1)") == 1


@pytest.mark.parametrize("recipe_name", RECIPE_FILES)
def test_an_event_whose_worker_died_is_handled_once_its_lease_expires(
    recipe_name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = load_recipe(recipe_name, monkeypatch)
    post = recipe_poster(recipe)
    body = delivery()
    recipe.dedupe.store.claim("evt_recipe_1", "killed-worker", 0.05)  # killed: it never finishes
    deadline = time.monotonic() + 30
    statuses = [post(body, sign_webhook(body, SECRET))]
    while statuses[-1] == 409 and time.monotonic() < deadline:  # the service's redeliveries
        statuses.append(post(body, sign_webhook(body, SECRET)))
    assert statuses[-1] == 204
    assert set(statuses[:-1]) <= {409}
    assert capsys.readouterr().out.count("(evt_recipe_1)") == 1


@pytest.mark.parametrize("recipe_name", RECIPE_FILES)
def test_the_recipes_type_the_extracted_values_and_log_values_that_do_not_fit(
    recipe_name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    recipe = load_recipe(recipe_name, monkeypatch)
    post = recipe_poster(recipe)
    body = delivery()
    assert post(body, sign_webhook(body, SECRET)) == 204
    assert "summary: Confirmed.; confirmed: True" in capsys.readouterr().out
    wrong = json.dumps(payloads.webhook_event("call.completed") | {
        "eventId": "evt_recipe_wrong", "extracted": {"confirmed": "maybe"}}).encode()
    assert post(wrong, sign_webhook(wrong, SECRET)) == 204
    assert capsys.readouterr().out == ""  # not handled: logged with the values as sent
    assert "Appointment.confirmed" in caplog.text
    assert "values as sent: {'confirmed': 'maybe'}" in caplog.text


def recipe_poster(recipe: ModuleType) -> Any:
    """POST (body, header) to the recipe's route in-process; returns the status code."""
    if hasattr(recipe.app, "test_client"):
        return lambda body, header: post_flask(recipe, body, header).status_code
    client = TestClient(recipe.app)
    return lambda body, header: post_fastapi(client, body, header).status_code


# --- FakeServer delivering into the recipe apps, no socket ---------------------------------------


@pytest.mark.parametrize("recipe_name", RECIPE_FILES)
def test_fake_server_delivers_a_calls_webhooks_into_the_recipe_app(
    recipe_name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = load_recipe(recipe_name, monkeypatch)
    apps = {"https://myapp.test": recipe.app}
    with FakeServer(instant=True, webhook_secret=SECRET, webhook_apps=apps) as server, Client(
        server.api_key, server.base_url
    ) as client:
        placed = client.place_call(
            to="+14155550123",
            objective="Confirm the appointment",
            fields=recipe.Appointment,
            webhook_url="https://myapp.test/webhooks/byourside",
        )
        deliveries = server.wait_for_webhooks(timeout=30)
    assert [(d.event, d.status_code) for d in deliveries] == [
        ("call.in_progress", 204),
        ("call.completed", 204),
    ]
    out = capsys.readouterr().out
    assert f"call.completed for call {placed.call_id}" in out
    assert "confirmed: True" in out
