"""`RedisEventStore`: webhook claims in Redis, shared by receivers on several hosts.

Needs the optional extra: ``pip install 'byourside[redis]'``. ``import byourside`` never imports
this module; it loads on first use of `byourside.RedisEventStore`.

One key per event: ``p:<owner>`` while processing, with Redis expiring it when the lease ends
(Redis's clock, so the hosts' clocks do not matter), and ``d:<owner>`` once done, expiring after
the retention. Each operation is one atomic command or server-side script.
"""

from __future__ import annotations

from typing import Any

from byourside._dedup import DEFAULT_RETENTION_SECONDS, ClaimState, check_positive

try:
    import redis
except ImportError as error:  # pragma: no cover - exercised only without the extra installed
    raise ImportError(
        "RedisEventStore needs the redis package: pip install 'byourside[redis]'"
    ) from error

__all__ = ["RedisEventStore"]

_CLAIM = """
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[2])
  return 'claimed'
end
if string.sub(value, 1, 2) == 'd:' then return 'done' end
return 'processing'
"""
_RELEASE = """
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 3) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisEventStore:
    """An `EventStore` in Redis: for receivers on several hosts (or containers) sharing one Redis.

    Args:
        client: a ``redis.Redis`` connected to the shared server; or give `url`.
        url: a Redis URL (``redis://host:6379/0``), used when `client` is not given.
        prefix: the keys' prefix (default ``byourside:webhook-event:``).
        retention_seconds: how long a ``done`` id is remembered (default 7 days); Redis expires it.

    Example::

        from byourside import RedisEventStore, WebhookDeduplicator

        dedupe = WebhookDeduplicator(RedisEventStore(url="redis://redis.internal:6379/0"))
    """

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        url: str | None = None,
        prefix: str = "byourside:webhook-event:",
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        if (client is None) == (url is None):
            raise TypeError("give exactly one of client= (a redis.Redis) or url= (redis://...)")
        self.client: redis.Redis = client if client is not None else redis.Redis.from_url(url or "")
        self.prefix = prefix
        self.retention_seconds = check_positive("retention_seconds", retention_seconds)
        self._claim: Any = self.client.register_script(_CLAIM)
        self._release: Any = self.client.register_script(_RELEASE)

    def claim(self, event_id: str, owner: str, lease_seconds: float) -> ClaimState:
        """See `EventStore.claim`."""
        lease_ms = max(1, round(lease_seconds * 1000))
        state = self._claim(keys=[self.prefix + event_id], args=[owner, lease_ms])
        text = state.decode() if isinstance(state, bytes) else str(state)
        if text not in ("claimed", "processing", "done"):
            raise RuntimeError(f"unexpected reply from the claim script: {text!r}")
        return text  # type: ignore[return-value]

    def complete(self, event_id: str, owner: str) -> None:
        """See `EventStore.complete`."""
        retention_ms = max(1, round(self.retention_seconds * 1000))
        self.client.set(self.prefix + event_id, "d:" + owner, px=retention_ms)

    def release(self, event_id: str, owner: str) -> None:
        """See `EventStore.release`."""
        self._release(keys=[self.prefix + event_id], args=[owner])

    def __repr__(self) -> str:
        return f"RedisEventStore(prefix={self.prefix!r}, retention_seconds={self.retention_seconds:g})"
