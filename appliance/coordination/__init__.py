"""Coordination between services: the leader lock of the leader-elected services, chosen by the
[coordination] url: a Redis lock when it is set, a lease in the appliance's database when it is
empty (so a second engine in another process or on another host never fires as well)."""

from __future__ import annotations

from appliance.config import Config
from appliance.coordination.lock import TTL_SECONDS, LeaderLock, RedisLock, StoreLease, redis_client
from appliance.store import Store

__all__ = ["LeaderLock", "leader_lock"]


def leader_lock(config: Config, store: Store, name: str, ttl: float = TTL_SECONDS) -> LeaderLock:
    """The lock that the service `name` holds while it leads. Redis keys are named after the
    [messaging] prefix, so appliances sharing a Redis server do not share leaders."""
    url = config.get("coordination", "url")
    if not url:
        return StoreLease(store, name, ttl)
    return RedisLock(redis_client(url), f"{config.get('messaging', 'prefix')}:leader:{name}", ttl)
