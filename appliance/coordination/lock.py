"""Leader locks: one holder at a time, lost by a holder that stops renewing it.

A holder calls hold() every second or so; it returns True while this holder leads. The lock expires
`ttl` seconds after its last renewal, so when a leader dies (no release) another one takes over
within `ttl` seconds; a clean stop releases it at once.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from abc import ABC, abstractmethod
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.connection import URL_QUERY_ARGUMENT_PARSERS

from appliance.models import format_time
from appliance.models.lease import LEASES
from appliance.store import Conflict, Store, StoreError

LOG = logging.getLogger(__name__)
TTL_SECONDS = 6.0
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

class LeaderLock(ABC):
    def __init__(self, name: str, ttl: float = TTL_SECONDS):
        self.name = name
        self.ttl = ttl
        self.holder = uuid.uuid4().hex
        self.held = False

    def hold(self) -> bool:
        """Take the lock if it is free, renew it if held; True while this holder leads. A lock
        that cannot be reached counts as lost: better no leader for a while than two."""
        try:
            leads = (self.held and self._renew()) or self._take()
        except (redis.RedisError, StoreError, OSError) as exc:
            LOG.warning("leader lock %s unreachable: %s", self.name, exc)
            leads = False
        if leads != self.held:
            LOG.info("leader lock %s %s", self.name, "taken" if leads else "lost")
        self.held = leads
        return leads

    def release(self) -> None:
        """Give the lock up now (a successor need not wait for it to expire)."""
        if self.held:
            try:
                self._release()
            except (redis.RedisError, StoreError, OSError) as exc:
                LOG.warning("leader lock %s not released (it expires by itself): %s", self.name, exc)
        self.held = False

    @abstractmethod
    def _take(self) -> bool:
        """Take the lock if nobody holds it."""

    @abstractmethod
    def _renew(self) -> bool:
        """Extend the lock if this holder still has it."""

    @abstractmethod
    def _release(self) -> None:
        """Drop the lock if this holder still has it."""


class StoreLease(LeaderLock):
    """A lease in the appliance's database: every engine on that database (threads, processes or
    hosts) sees it, so no second leader appears without Redis. Expiry compares clocks of the hosts,
    which NTP keeps within the TTL."""

    def __init__(self, store: Store, name: str, ttl: float = TTL_SECONDS):
        super().__init__(name, ttl)
        self.leases = store.collection(LEASES)

    def _expiry(self) -> str:
        return format_time(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.ttl))

    def _take(self) -> bool:
        now = format_time(datetime.datetime.now(datetime.timezone.utc))
        try:
            self.leases.insert({"id": self.name, "holder": self.holder, "expires_at": self._expiry()})
            return True
        except Conflict:
            taken = self.leases.update(self.name, {"holder": self.holder, "expires_at": self._expiry()},
                                       expect={"expires_at": {"$lt": now}})
            return taken is not None

    def _renew(self) -> bool:
        return self.leases.update(self.name, {"expires_at": self._expiry()}, expect={"holder": self.holder}) is not None

    def _release(self) -> None:
        self.leases.update(self.name, {"expires_at": format_time(EPOCH)},
                           expect={"holder": self.holder})


# Compare-and-act on the key's value, so a holder never extends or drops a lock another one took.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def redis_client(url: str) -> redis.Redis:
    """A client for a [coordination] url as StackStorm writes it for tooz: query options that only
    tooz knows (sentinel, namespace, ...) are dropped, since redis-py refuses them."""
    parts = urlsplit(url)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key in URL_QUERY_ARGUMENT_PARSERS]
    return redis.Redis.from_url(urlunsplit(parts._replace(query=urlencode(query))),
                                socket_timeout=2, socket_connect_timeout=2)


class RedisLock(LeaderLock):
    """A Redis key set with NX and a TTL, renewed by its holder ([coordination] url)."""

    def __init__(self, client: redis.Redis, key: str, ttl: float = TTL_SECONDS):
        super().__init__(key, ttl)
        self.client = client
        self._renew_script = client.register_script(_RENEW)
        self._release_script = client.register_script(_RELEASE)

    @property
    def _ttl_ms(self) -> int:
        return int(self.ttl * 1000)

    def _take(self) -> bool:
        return bool(self.client.set(self.name, self.holder, nx=True, px=self._ttl_ms))

    def _renew(self) -> bool:
        return bool(self._renew_script(keys=[self.name], args=[self.holder, self._ttl_ms]))

    def _release(self) -> None:
        self._release_script(keys=[self.name], args=[self.holder])
