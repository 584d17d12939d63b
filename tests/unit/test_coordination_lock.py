"""The leader lock's contract, for both kinds: the database lease ([coordination] url empty) and
the Redis lock (the Redis server on 127.0.0.1:6379, under a key prefix of its own, removed after).
Without Redis the Redis cases are skipped, except under CI=true, where they fail."""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Callable, Iterator

import pytest
import redis

from appliance.coordination import leader_lock
from appliance.coordination.lock import LeaderLock, RedisLock, StoreLease, redis_client

REDIS_URL = os.environ.get("APPLIANCE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
TTL = 0.5

MakeLock = Callable[[], LeaderLock]


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test on the real Redis; its keys are deleted at the end."""
    client = redis_client(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        if CI:
            pytest.fail(f"Redis is required under CI=true: {exc}", pytrace=False)
        pytest.skip(f"Redis unavailable: {exc}")
    prefix = f"appliance-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["database", "redis"])
def make_lock(request, make_ctx) -> MakeLock:
    """Locks of one name, each as a separate engine would hold it (its own store or client)."""
    if request.param == "database":
        return lambda: StoreLease(make_ctx().store, "st2timersengine", TTL)
    key = f"{request.getfixturevalue('redis_prefix')}:leader"
    return lambda: RedisLock(redis_client(REDIS_URL), key, TTL)


def test_one_holder_at_a_time(make_lock):
    first, second = make_lock(), make_lock()
    assert first.hold() and first.held
    assert not second.hold()
    assert first.hold()  # renewed
    assert not second.hold()


def test_a_released_lock_is_taken_at_once(make_lock):
    first, second = make_lock(), make_lock()
    assert first.hold()
    first.release()
    assert not first.held
    assert second.hold()
    first.release()  # releasing a lock one does not hold leaves it alone
    assert second.hold() and not first.hold()


def test_a_dead_holders_lock_is_taken_over_after_its_ttl(make_lock):
    dead, survivor = make_lock(), make_lock()
    assert dead.hold()
    assert not survivor.hold()
    time.sleep(TTL + 0.3)  # the holder stopped renewing, without a release
    assert survivor.hold()
    assert not dead.hold()  # it comes back as a standby: never two leaders


def test_a_held_lock_does_not_expire_while_renewed(make_lock):
    holder, other = make_lock(), make_lock()
    for _ in range(4):
        assert holder.hold()
        time.sleep(TTL / 3)
        assert not other.hold()


def test_the_coordination_url_chooses_the_lock(make_ctx, redis_prefix):
    assert isinstance(leader_lock(make_ctx().config, make_ctx().store, "st2timersengine"), StoreLease)
    ctx = make_ctx(f"[coordination]\nurl = {REDIS_URL}?sentinel=&namespace=x&socket_timeout=1\n")
    lock = leader_lock(ctx.config, ctx.store, "st2timersengine")
    assert isinstance(lock, RedisLock) and lock.name.endswith(":leader:st2timersengine")
    assert lock.name.startswith(ctx.config.get("messaging", "prefix"))
    try:
        assert lock.hold()  # tooz-only options (sentinel, namespace) are dropped, redis-py's kept
    finally:
        lock.release()


def test_an_unreachable_redis_means_not_leading(caplog):
    lock = RedisLock(redis_client("redis://127.0.0.1:1/0"), "appliance-test-unreachable", TTL)
    with caplog.at_level(logging.WARNING):
        assert not lock.hold()
    assert "unreachable" in caplog.text
    lock.release()
