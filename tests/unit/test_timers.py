"""Timer schedules (interval, date, APScheduler-style cron), the timers engine over a real store and
bus, and /v1/timers."""

from __future__ import annotations

import datetime
import re
import time
import zoneinfo

import pytest
from falcon import testing

from appliance.api.app import api_app
from appliance.models import TRIGGER_INSTANCES, TRIGGERS
from appliance.services.timersengine import TimersEngineService
from appliance.timers import CRON, DATE, INTERVAL, UTC, payload, schedule_of

T0 = datetime.datetime(2024, 5, 3, 10, 7, 30, 250000, tzinfo=UTC)  # a Friday


def at(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def seconds(n: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=n)


def test_an_interval_first_fires_one_interval_after_it_is_loaded_and_keeps_its_rhythm():
    schedule = schedule_of({"type": INTERVAL, "parameters": {"unit": "seconds", "delta": 1}}, T0)
    assert schedule.next_after(T0) == T0 + seconds(1)
    assert schedule.next_after(T0 + seconds(2.5)) == T0 + seconds(3)
    weekly = schedule_of({"type": INTERVAL, "parameters": {"unit": "weeks", "delta": 2}}, T0)
    assert weekly.next_after(T0) == T0 + datetime.timedelta(weeks=2)


@pytest.mark.parametrize("parameters", [{"unit": "seconds", "delta": 0}, {"unit": "fortnights", "delta": 1},
                                        {"unit": "seconds", "delta": "5"}, {"delta": 5}])
def test_an_interval_without_a_unit_and_a_positive_delta_is_refused(parameters):
    with pytest.raises(ValueError):
        schedule_of({"type": INTERVAL, "parameters": parameters}, T0)


def test_a_date_fires_once_and_never_once_passed():
    schedule = schedule_of({"type": DATE, "parameters": {"date": "2024-05-03 13:00:00",
                                                         "timezone": "Europe/Paris"}}, T0)
    assert schedule.next_after(T0) == at(2024, 5, 3, 11, 0, 0)  # 13:00 in Paris, summer time
    assert schedule.next_after(at(2024, 5, 3, 11, 0, 0)) is None
    with pytest.raises(ValueError, match="date"):
        schedule_of({"type": DATE, "parameters": {"date": "someday"}}, T0)


@pytest.mark.parametrize(("parameters", "after", "expected"), [
    ({}, T0, at(2024, 5, 3, 10, 7, 31)),  # every field "*": every second
    ({"minute": "*/15"}, T0, at(2024, 5, 3, 10, 15, 0)),  # fields after the last given one: their minimum
    ({"hour": 9, "day_of_week": "mon-fri"}, T0, at(2024, 5, 6, 9, 0, 0)),  # weekdays from 0 = Monday
    ({"day_of_week": "5,6", "hour": 8}, T0, at(2024, 5, 4, 8, 0, 0)),
    ({"month": "jun", "day": 1}, T0, at(2024, 6, 1, 0, 0, 0)),
    ({"day": "last"}, at(2024, 2, 10), at(2024, 2, 29, 0, 0, 0)),
    ({"day": "2nd fri"}, at(2024, 5, 1), at(2024, 5, 10, 0, 0, 0)),
    ({"day": "last sun"}, at(2024, 5, 1), at(2024, 5, 26, 0, 0, 0)),
    ({"month": "1-12/6", "day": 15}, T0, at(2024, 7, 15, 0, 0, 0)),
    ({"week": 1, "day_of_week": 0}, T0, at(2024, 12, 30, 0, 0, 0)),  # ISO week 1 of 2025 starts in 2024
    ({"hour": 9, "timezone": "Europe/Paris"}, T0, at(2024, 5, 4, 7, 0, 0)),
    # 02:30 does not exist in Paris on 2024-03-31 (clocks jump from 02:00 to 03:00): read at the offset
    # before the jump, as APScheduler 3.11 does, it fires at 03:30 (more in tests/unit/rules/test_cron.py)
    ({"hour": 2, "minute": 30, "timezone": "Europe/Paris"}, at(2024, 3, 30, 12), at(2024, 3, 31, 1, 30, 0)),
    ({"year": 2020}, T0, None),
])
def test_a_cron_matches_like_apscheduler(parameters, after, expected):
    assert schedule_of({"type": CRON, "parameters": parameters}, T0).next_after(after) == expected


@pytest.mark.parametrize("parameters", [{"minute": 61}, {"month": "foo"}, {"hour": "5/0"}, {"hour": "9-3"},
                                        {"day": "6th mon"}, {"second": "*/60"}, {"timezone": "Mars/Olympus"}])
def test_a_cron_with_a_bad_field_is_refused(parameters):
    with pytest.raises(ValueError):
        schedule_of({"type": CRON, "parameters": parameters}, T0)


def test_a_cron_or_date_timer_without_timezone_uses_the_default_zone():
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    cron = schedule_of({"type": CRON, "parameters": {"hour": 9}}, T0, paris)
    assert cron.next_after(T0) == at(2024, 5, 4, 7, 0, 0)  # 09:00 in Paris, summer time
    own = schedule_of({"type": CRON, "parameters": {"hour": 9, "timezone": "Asia/Tokyo"}}, T0, paris)
    assert own.next_after(T0) == at(2024, 5, 4, 0, 0, 0)  # its own timezone wins
    date = schedule_of({"type": DATE, "parameters": {"date": "2024-05-03 13:00:00"}}, T0, paris)
    assert date.next_after(T0) == at(2024, 5, 3, 11, 0, 0)
    assert schedule_of({"type": CRON, "parameters": {"hour": 9}}, T0).next_after(T0) == at(2024, 5, 4, 9)


def test_the_payload_is_stackstorms():
    sent = payload(T0)
    assert sent == {"executed_at": "2024-05-03 10:07:30.250000+00:00", "schedule": None}


# -- the engine and the API, over a real store and bus ----------------------------------------------
@pytest.fixture
def ctx(open_ctx):
    return open_ctx


@pytest.fixture
def client(ctx):
    return testing.TestClient(api_app(ctx))


def new_timer(client, timer_type: str = INTERVAL, **parameters) -> dict:
    parameters = parameters or {"unit": "seconds", "delta": 1}
    created = client.simulate_post("/v1/triggers", json={"type": timer_type, "parameters": parameters})
    assert created.status_code == 201, created.text
    return created.json


def instances(ctx, ref: str) -> list[dict]:
    return ctx.store.collection(TRIGGER_INSTANCES).find({"trigger": ref})


def test_the_engine_follows_the_stored_timers_and_only_the_leader_fires(ctx, client):
    timer = new_timer(client)
    engine = TimersEngineService(ctx)
    engine.reload(T0)
    assert engine.fire_due(T0 + seconds(0.5), leader=True) == 0
    assert engine.fire_due(T0 + seconds(1), leader=True) == 1
    assert engine.fire_due(T0 + seconds(2), leader=False) == 0  # a standby moves on without firing
    assert engine.fire_due(T0 + seconds(3.5), leader=True) == 1  # one fire, not a backlog
    fired = instances(ctx, timer["ref"])
    assert len(fired) == 2 and fired[0]["payload"]["schedule"] is None
    assert fired[0]["trace_context"] == {"trace_tag": f"st2.IntervalTimer-{timer['name']}"}

    changed = client.simulate_put(f"/v1/triggers/{timer['id']}",
                                  json={**timer, "parameters": {"unit": "minutes", "delta": 1}})
    assert changed.status_code == 200, changed.text
    engine.reload(T0 + seconds(4))
    assert engine.timers[timer["id"]].due == T0 + seconds(64)
    assert client.simulate_delete(f"/v1/triggers/{timer['id']}").status_code == 204
    engine.reload(T0 + seconds(5))
    assert engine.timers == {}


@pytest.mark.parametrize("conf, zone", [
    ("", "UTC"),
    ("[timersengine]\nlocal_timezone = Europe/Paris\n", "Europe/Paris"),
    ("[timersengine]\nlocal_timezone = Europe/Paris\n[timer]\nlocal_timezone = Asia/Tokyo\n", "Asia/Tokyo"),
])
def test_the_engine_runs_timers_without_timezone_in_the_configured_zone(make_ctx, conf, zone):
    ctx = make_ctx("[auth]\nenable = false\n" + conf)
    ctx.registrar.register(types=("configs",))
    timer = new_timer(testing.TestClient(api_app(ctx)), CRON, hour=9)
    engine = TimersEngineService(ctx)
    engine.reload(T0)
    nine = datetime.datetime(2024, 5, 4, 9, tzinfo=UTC if zone == "UTC" else zoneinfo.ZoneInfo(zone))
    assert engine.timers[timer["id"]].due == nine


def test_a_rule_on_a_cron_timer_with_an_unknown_timezone_is_refused(client):
    rule = {"name": "nightly", "pack": "default", "trigger": {"type": CRON, "parameters": {
        "hour": 3, "timezone": "Europe/Pariss"}}, "action": {"ref": "core.noop"}}
    refused = client.simulate_post("/v1/rules", json=rule)
    assert refused.status_code == 400
    assert 'timezone "Europe/Pariss" is not a known time zone' in refused.json["faultstring"]
    assert "trigger.parameters" in refused.json["faultstring"]


def test_a_timer_with_bad_parameters_is_skipped_and_the_others_run(ctx, client, caplog):
    # the API refuses it now; one stored by an older release must not stop the others
    ctx.store.collection(TRIGGERS).insert({"id": "old", "ref": "core.old", "uid": "trigger:core:old:x", "name": "old",
                                           "pack": "core", "type": CRON, "parameters": {"minute": "*/90"}})
    good = new_timer(client)
    engine = TimersEngineService(ctx)
    engine.reload(T0)
    assert "not scheduled" in caplog.text
    assert engine.fire_due(T0 + seconds(1), leader=True) == 1
    assert len(instances(ctx, good["ref"])) == 1


def test_the_running_engine_fires_an_interval_timer_every_second(ctx, client):
    timer = new_timer(client)
    engine = TimersEngineService(ctx)
    engine.start()
    try:
        time.sleep(2.6)
    finally:
        engine.stop()
    assert len(instances(ctx, timer["ref"])) in (2, 3)
    assert not engine.lock.held  # released at stop: a standby takes over at once


def test_two_engines_on_one_database_fire_each_tick_once(ctx, client):
    timer = new_timer(client)
    first, second = TimersEngineService(ctx), TimersEngineService(ctx)
    assert first.lock.hold() and not second.lock.hold()
    first.lock.release()
    assert second.lock.hold()
    second.lock.release()
    assert instances(ctx, timer["ref"]) == []


def test_timers_lists_and_gets_the_timer_triggers(client):
    interval = new_timer(client)
    cron = new_timer(client, CRON, hour=3)
    client.simulate_post("/v1/triggers", json={"type": "core.st2.webhook", "parameters": {"url": "hook"}})
    listed = client.simulate_get("/v1/timers")
    assert listed.status_code == 200 and {doc["ref"] for doc in listed.json} == {interval["ref"], cron["ref"]}
    only = client.simulate_get("/v1/timers", params={"timer_type": CRON}).json
    assert [doc["ref"] for doc in only] == [cron["ref"]]
    assert set(only[0]) >= {"id", "uid", "pack", "name", "type", "parameters"}
    bad = client.simulate_get("/v1/timers", params={"timer_type": "core.st2.webhook"})
    assert bad.status_code == 400 and "not in supported types" in bad.json["faultstring"]
    assert client.simulate_get(f"/v1/timers/{interval['ref']}").json["id"] == interval["id"]
    assert client.simulate_get(f"/v1/timers/{interval['id']}").json["ref"] == interval["ref"]
    assert client.simulate_get("/v1/timers/core.st2.webhook").status_code == 404
    assert client.simulate_get("/v1/timers/nothing").status_code == 404
    assert re.match(r"\d+$", listed.headers["X-Total-Count"])
