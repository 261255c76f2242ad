"""The crash tests' machinery: gunicorn receivers, a redis-server, a service-like driver, a killer.

* `Receiver`: ``gunicorn -w N`` running ``receiver_app.py`` in its own process group.
* `RedisServer`: a throwaway ``redis-server`` on a free loopback port, no persistence.
* `deliver_all`: POSTs every event `copies` times at once, each signed afresh, and redelivers any
  non-2xx (or no reply) after a short delay, as the service does, until every copy got a 2xx.
* `Killer`: SIGKILLs a random worker that is mid-handler, over and over (gunicorn restarts it).
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from byourside import sign_webhook
from tests import payloads

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_crash_test"
READY_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout} s")
        time.sleep(0.05)


def events(count: int, run: str) -> list[tuple[str, bytes]]:
    """`count` distinct terminal events, as (eventId, JSON body)."""
    made = []
    for index in range(count):
        event_id = f"evt_{run}_{index:05d}"
        body = payloads.webhook_event("call.completed") | {"eventId": event_id}
        made.append((event_id, json.dumps(body, separators=(",", ":")).encode()))
    return made


@dataclass
class CrashSetup:
    """What the receivers share with the test: where they mark work and record completions."""

    workdir: Path
    store: str  # "sqlite:<path>", "redis:<url>" or "memory"
    mode: str = "idempotent"  # or "seen": the earlier recipe, the control
    lease_seconds: float = 3.0
    work_seconds: float = 0.01

    @property
    def busy_dir(self) -> Path:
        return self.workdir / "busy"

    @property
    def completed(self) -> Path:
        return self.workdir / "completed.txt"

    def completions(self) -> Counter[str]:
        if not self.completed.exists():
            return Counter()
        return Counter(line.split()[0] for line in self.completed.read_text().splitlines())


class Receiver:
    """``gunicorn -w <workers>`` serving the crash receiver on a free loopback port."""

    def __init__(self, setup: CrashSetup, workers: int) -> None:
        setup.busy_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = os.environ | {
            "PYTHONPATH": str(ROOT),
            "CRASH_SECRET": SECRET,
            "CRASH_STORE": setup.store,
            "CRASH_BUSY_DIR": str(setup.busy_dir),
            "CRASH_COMPLETED": str(setup.completed),
            "CRASH_WORK_SECONDS": str(setup.work_seconds),
            "CRASH_LEASE_SECONDS": str(setup.lease_seconds),
            "CRASH_MODE": setup.mode,
        }
        self.log = (setup.workdir / f"gunicorn-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "--workers", str(workers),
                "--preload",  # workers fork from a loaded app: a killed one is back in milliseconds
                "--bind", f"127.0.0.1:{self.port}",
                "--timeout", "120",
                "--log-level", "warning",
                "tests.webhook_crash.receiver_app:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: one "host"
        )
        wait_until(self._answers, READY_TIMEOUT, f"gunicorn on port {self.port} not answering")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.log.name}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            connection.request("GET", "/")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self.log.close()


@contextlib.contextmanager
def receivers(setup: CrashSetup, hosts: int, workers: int) -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    try:
        for _ in range(hosts):
            started.append(Receiver(setup, workers))
        yield started
    finally:
        for receiver in started:
            receiver.stop()


class RedisServer:
    """A redis-server of this test only: free loopback port, no RDB, no AOF, stopped after."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._pong, READY_TIMEOUT, f"redis-server on port {self.port} not answering")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _pong(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@dataclass
class DeliveryStats:
    """What the driver saw: attempts per HTTP status (0: no reply) and its run time."""

    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def attempts(self) -> int:
        return sum(self.statuses.values())


def deliver_all(
    ports: Sequence[int],
    batch: Sequence[tuple[str, bytes]],
    copies: int = 3,
    *,
    threads: int = 16,
    timeout: float = 240.0,
) -> DeliveryStats:
    """Deliver each event `copies` times at once; redeliver every non-2xx until all got a 2xx."""
    stats = DeliveryStats()
    started = time.monotonic()
    due: list[tuple[float, int, int]] = []  # (when, order, index into batch)
    order = 0
    for index in range(len(batch)):
        for _ in range(copies):  # adjacent: the copies of one event go out together
            due.append((started, order, index))
            order += 1
    heapq.heapify(due)
    pending = len(due)
    changed = threading.Condition()
    rng = random.Random(25)
    failure: list[BaseException] = []

    def next_job() -> int | None:
        nonlocal pending
        with changed:
            while pending and not failure:
                if due and due[0][0] <= time.monotonic():
                    return heapq.heappop(due)[2]
                changed.wait(0.05 if due else 1.0)
            return None

    def post(index: int) -> int:
        _, body = batch[index]
        port = ports[rng.randrange(len(ports))]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request(
                "POST",
                "/webhooks/byourside",
                body=body,
                headers={"X-BYS-Signature": sign_webhook(body, SECRET), "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            return 0  # the worker died with the request: no reply, like a dropped connection
        finally:
            connection.close()

    def work() -> None:
        nonlocal pending, order
        try:
            while (index := next_job()) is not None:
                status = post(index)
                with changed:
                    stats.statuses[status] += 1
                    if 200 <= status < 300:
                        pending -= 1
                    else:
                        if time.monotonic() - started > timeout:
                            raise TimeoutError(f"{pending} deliveries still unacknowledged after {timeout} s")
                        heapq.heappush(due, (time.monotonic() + rng.uniform(0.05, 0.3), order, index))
                        order += 1
                    changed.notify_all()
        except BaseException as error:
            with changed:
                failure.append(error)
                changed.notify_all()

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failure:
        raise failure[0]
    stats.seconds = time.monotonic() - started
    return stats


class Killer:
    """SIGKILLs a random mid-handler worker every 0.05-0.3 s until stopped; counts its kills.

    A worker is mid-handler while its marker ``busy/<pid>`` is linked. The killer takes the
    marker's lock, checks the marker is still linked, kills, then unlinks it; a handler finishing
    its work takes the same lock and unlinks the marker first. So every kill lands inside the
    handler's work, before its completion is written: never after.
    """

    def __init__(self, busy_dir: Path) -> None:
        self.busy_dir = busy_dir
        self.kills = 0
        self._stop = threading.Event()
        self._rng = random.Random(2025)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._rng.uniform(0.05, 0.3)):
            markers = list(self.busy_dir.iterdir())
            if markers and self._kill(self._rng.choice(markers)):
                self.kills += 1

    @staticmethod
    def _kill(marker: Path) -> bool:
        try:
            descriptor = os.open(marker, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            if os.fstat(descriptor).st_nlink == 0:
                return False  # the handler got past its work first
            try:
                os.kill(int(marker.name), signal.SIGKILL)
            except ProcessLookupError:
                marker.unlink()
                return False
            marker.unlink()
            return True
        finally:
            os.close(descriptor)
