"""CronTimer parameters (appliance.rules.cron): what APScheduler 3 accepts and refuses, and the fire
times they give, in UTC and across DST changes. The expected times follow APScheduler 3.11's
CronTrigger (its own DST cases are taken as they are from its tests/triggers/test_cron.py)."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from appliance.rules import cron
from appliance.rules.cron import UTC, check_cron, parse_cron, time_zone

HOUR = datetime.timedelta(hours=1)


def at(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


def zone(name: str) -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip(f"this host has no {name} zone")


def fire_times(parameters: dict, tz: datetime.tzinfo, after: datetime.datetime, until: datetime.datetime) -> list:
    """Every fire time in (after, until], in the zone's wall clock with its offset."""
    fields, found = parse_cron(parameters), []
    moment = fields.next_after(after, tz)
    while moment is not None and moment <= until:
        found.append(moment.astimezone(tz).strftime("%m-%d %H:%M:%S%z"))
        moment = fields.next_after(moment, tz)
    return found


# -- what is accepted and refused -------------------------------------------------------------------
@pytest.mark.parametrize("parameters", [
    {"day": "LAST Fri"}, {"day": "5th sun"}, {"month": "Jan-MAR"}, {"day_of_week": "sat,sun"},
    {"day_of_week": "mon-"},  # a name is matched at the start: "mon"
    {"year": "2030-9999/7"}, {"hour": "0-0/5"},  # APScheduler: a last value of 0 counts as none
    {"minute": 0, "second": None},  # None is not given
])
def test_expressions_apscheduler_accepts(parameters):
    check_cron(parameters)


@pytest.mark.parametrize("parameters, message", [
    ({"day": "*/31"}, 'day "*/31": the step (31) is larger than the range it steps through (30)'),
    ({"day": "4-6/3"}, "the step (3) is larger than the range it steps through (2)"),
    ({"hour": "0-24"}, "24 is higher than the maximum (23)"),
    ({"day": "0-3"}, "0 is lower than the minimum (1)"),
    ({"week": "54"}, "54 is higher than the maximum (53)"),
    ({"day_of_week": "7"}, "7 is higher than the maximum (6)"),
    ({"day_of_week": "fri-mon"}, "the range starts after it ends (4 > 0)"),
    ({"day": "1st 1"}, '"1" is not one of mon'),  # a position takes a weekday name, not a number
    ({"day_of_week": "last fri"}, 'day_of_week "last fri"'),  # positions are for day only
    ({"month": "mon"}, '"mon" is not one of jan'),
    ({"second": "-1"}, 'second "-1" is not a cron expression this field accepts'),
    ({"minute": "9" * 5000}, 'minute "999'),  # int() of thousands of digits is refused, not raised
    ({"minute": 5, "hour": "25"}, 'hour "25"'),  # the first bad field in APScheduler's order
])
def test_expressions_apscheduler_refuses(parameters, message):
    with pytest.raises(ValueError) as caught:
        check_cron(parameters)
    assert message in str(caught.value)


def test_the_timezone_is_checked_first_and_utc_needs_no_database(monkeypatch):
    with pytest.raises(ValueError, match="timezone"):
        check_cron({"timezone": "Nowhere/Land", "hour": "99"})

    def no_database(key):
        raise zoneinfo.ZoneInfoNotFoundError(key)

    monkeypatch.setattr(cron.zoneinfo, "ZoneInfo", no_database)
    assert time_zone("UTC") is UTC
    with pytest.raises(ValueError) as caught:
        time_zone("Europe/Paris")
    assert str(caught.value) == ('timezone "Europe/Paris" is not a known time zone (such as "Europe/Paris" or '
                                 '"UTC"): this host has no time zone database (install the tzdata package, or use UTC)')


@pytest.mark.parametrize("name", ["Mars/Olympus", "/etc/passwd", "../../etc/passwd", "Europe", "zone.tab", "utc"])
def test_a_zone_is_a_key_of_the_database(name):
    with pytest.raises(ValueError, match="is not a known time zone"):
        time_zone(name)


# -- fire times in UTC ------------------------------------------------------------------------------
T0 = at(2024, 5, 3, 10, 7, 30)  # a Friday


@pytest.mark.parametrize(("parameters", "after", "expected"), [
    ({"day_of_week": "sat", "hour": 6}, T0, at(2024, 5, 4, 6)),
    ({"day_of_week": "Mon-Wed", "hour": 6}, T0, at(2024, 5, 6, 6)),
    ({"day_of_week": "sun,tue"}, T0, at(2024, 5, 5)),  # fields after day_of_week: their minimum
    ({"day_of_week": "mon-fri/2"}, at(2024, 5, 8, 0, 0, 1), at(2024, 5, 9)),  # the step is ignored: Thursday
    ({"day_of_week": "*/2", "hour": 0}, T0, at(2024, 5, 5)),  # 0, 2, 4, 6: Mon, Wed, Fri, Sun
    ({"day": "last"}, at(2024, 2, 1), at(2024, 2, 29)),
    ({"day": "last"}, at(2023, 2, 1), at(2023, 2, 28)),
    ({"day": "last"}, at(2024, 4, 30, 0, 0, 1), at(2024, 5, 31)),
    ({"day": "last fri"}, T0, at(2024, 5, 31)),
    ({"day": "5th mon"}, T0, at(2024, 7, 29)),  # neither May nor June 2024 has a fifth Monday
    ({"day": "1st mon,15"}, T0, at(2024, 5, 6)),
    ({"day": "1st mon,15"}, at(2024, 5, 7), at(2024, 5, 15)),
    ({"day": 31}, at(2024, 4, 1), at(2024, 5, 31)),  # April has no 31st
    ({"day": "*/10"}, at(2024, 5, 21, 0, 0, 1), at(2024, 5, 31)),  # 1, 11, 21, 31: from the minimum
    ({"hour": "20/2"}, at(2024, 5, 3, 22, 0, 1), at(2024, 5, 4, 20)),  # 20, 22
    ({"month": "feb", "day": 29}, T0, at(2028, 2, 29)),
    ({"month": "nov-dec", "day": "1st sun", "hour": 3}, T0, at(2024, 11, 3, 3)),
    ({"week": "20-21", "day_of_week": "fri"}, T0, at(2024, 5, 17)),
    ({"year": "2025/5", "month": 3}, T0, at(2025, 3, 1)),
    ({"year": 2024, "month": 1}, T0, None),
    ({"month": 2, "day": 30}, T0, None),  # never: the search ends with the year 9999
    ({"second": "*/20"}, T0, at(2024, 5, 3, 10, 7, 40)),
    ({"minute": 7}, at(2024, 5, 3, 10, 7, 0, 500000), at(2024, 5, 3, 11, 7)),  # strictly after, to the µs
])
def test_fire_times(parameters, after, expected):
    assert parse_cron(parameters).next_after(after, UTC) == expected


def test_a_zone_shifts_every_field_to_its_wall_clock():
    tokyo = zone("Asia/Tokyo")  # +09:00: Friday 02:00 in Tokyo is Thursday 17:00 UTC
    assert parse_cron({"day_of_week": "fri", "hour": 2}).next_after(T0, tokyo) == at(2024, 5, 9, 17)
    assert parse_cron({"day": "last", "hour": 8}).next_after(T0, tokyo) == at(2024, 5, 30, 23)


# -- fire times across DST changes -------------------------------------------------------------------
@pytest.mark.parametrize("parameters, start, start_fold, expected, expected_fold", [
    ({"hour": 8}, (2013, 3, 9, 12), 0, (2013, 3, 10, 8), 0),
    ({"hour": 8}, (2013, 11, 2, 12), 1, (2013, 11, 3, 8), 0),
    ({"hour": 1, "minute": 30}, (2013, 11, 3, 0, 30), 0, (2013, 11, 3, 1, 30), 0),
    ({"hour": 1, "minute": 30}, (2013, 11, 3, 1, 30, 5), 0, (2013, 11, 3, 1, 30), 1),  # the repeated 01:30
    ({"hour": 1, "minute": 30}, (2013, 11, 3, 1, 30, 5), 1, (2013, 11, 4, 1, 30), 0),
    ({"minute": "*/30"}, (2013, 3, 10, 1, 35), 1, (2013, 3, 10, 3), 0),
    ({"minute": "*/30"}, (2013, 11, 3, 1, 35), 0, (2013, 11, 3, 1), 1),
], ids=["absolute_spring", "absolute_autumn", "autumn_into_repeated", "repeated_into_repeated",
        "repeated_to_after", "interval_spring", "interval_autumn"])
def test_apschedulers_own_dst_cases(parameters, start, start_fold, expected, expected_fold):
    eastern = zone("US/Eastern")
    moment = datetime.datetime(*start, tzinfo=eastern, fold=start_fold)
    wanted = datetime.datetime(*expected, tzinfo=eastern, fold=expected_fold)
    # (an aware datetime in a fold is never == one of another zone: compared in UTC)
    assert parse_cron(parameters).next_after(moment, eastern) == wanted.astimezone(UTC)


def test_a_wall_time_skipped_in_spring_fires_at_the_offset_before_the_change():
    paris = zone("Europe/Paris")  # 2024-03-31: 02:00 CET becomes 03:00 CEST
    daily = parse_cron({"hour": 2, "minute": 30})
    assert daily.next_after(at(2024, 3, 30, 12), paris) == at(2024, 3, 31, 1, 30)  # 03:30 CEST
    assert daily.next_after(at(2024, 3, 31, 1, 30), paris) == at(2024, 4, 1, 0, 30)  # 02:30 CEST again
    half_hours = fire_times({"minute": "*/30"}, paris, at(2024, 3, 31, 0, 0), at(2024, 3, 31, 2))
    assert half_hours == ["03-31 01:30:00+0100", "03-31 03:00:00+0200", "03-31 03:30:00+0200", "03-31 04:00:00+0200"]


def test_a_wall_time_repeated_in_autumn_fires_twice():
    paris = zone("Europe/Paris")  # 2024-10-27: 03:00 CEST becomes 02:00 CET
    assert fire_times({"hour": 2, "minute": 30}, paris, at(2024, 10, 26), at(2024, 10, 28, 12)) == [
        "10-26 02:30:00+0200", "10-27 02:30:00+0200", "10-27 02:30:00+0100", "10-28 02:30:00+0100"]
    assert fire_times({"minute": 0}, paris, at(2024, 10, 26, 23, 30), at(2024, 10, 27, 3)) == [
        "10-27 02:00:00+0200", "10-27 02:00:00+0100", "10-27 03:00:00+0100", "10-27 04:00:00+0100"]


def test_the_midnight_after_a_shorter_day_is_not_skipped():
    # APScheduler 3.11 skips it (it adds the wall-clock difference as elapsed seconds); it matches
    paris = zone("Europe/Paris")
    assert parse_cron({"day": "last sat,1st mon"}).next_after(at(2024, 3, 29, 23), paris) == at(2024, 3, 31, 22)


def test_changes_at_midnight_and_by_half_an_hour():
    santiago = zone("America/Santiago")  # 2024-09-08: 00:00 -04 becomes 01:00 -03
    assert fire_times({"hour": 0, "minute": 30}, santiago, at(2024, 9, 7), at(2024, 9, 9, 12)) == [
        "09-07 00:30:00-0400", "09-08 01:30:00-0300", "09-09 00:30:00-0300"]
    lord_howe = zone("Australia/Lord_Howe")  # 2024-10-06: 02:00 +10:30 becomes 02:30 +11:00
    assert fire_times({"minute": "*/30"}, lord_howe, at(2024, 10, 5, 14, 59, 59), at(2024, 10, 5, 16, 30)) == [
        "10-06 01:30:00+1030", "10-06 02:30:00+1100", "10-06 03:00:00+1100", "10-06 03:30:00+1100"]


def _by_definition(parameters: dict, tz: datetime.tzinfo, first_day: datetime.date, days: int) -> list:
    """The fire times of whole days by the definition: every matching wall minute at fold=0, and at
    fold=1 when that is another instant of the same wall time (not a skipped one)."""
    fields, found = parse_cron(parameters), set()
    start = datetime.datetime.combine(first_day, datetime.time())
    for minute in range(days * 24 * 60):
        wall = start + datetime.timedelta(minutes=minute)
        if not _matches(fields, wall):
            continue
        first = wall.replace(tzinfo=tz).astimezone(UTC)
        found.add(first)
        second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
        if second != first and second.astimezone(tz).replace(tzinfo=None) == wall:
            found.add(second)
    return sorted(found)


def _matches(fields: cron.CronFields, wall: datetime.datetime) -> bool:
    return (wall.year in fields.years and wall.month in fields.months
            and wall.day in fields.days(wall.year, wall.month)
            and wall.hour in fields.hours and wall.minute in fields.minutes and wall.second in fields.seconds)


@pytest.mark.parametrize("name, day", [("America/New_York", (2024, 3, 10)), ("America/New_York", (2024, 11, 3)),
                                       ("Australia/Lord_Howe", (2024, 10, 6)), ("Australia/Lord_Howe", (2024, 4, 7)),
                                       ("America/Santiago", (2024, 9, 8)), ("America/Santiago", (2024, 4, 7))])
@pytest.mark.parametrize("parameters", [{"minute": "*/20"}, {"hour": "0-3", "minute": "10,45"},
                                        {"hour": "1,2", "minute": 30}, {"minute": 0}, {"hour": 0}])
def test_fire_times_across_a_change_are_the_definitions(name, day, parameters):
    tz = zone(name)
    first_day = datetime.date(*day) - datetime.timedelta(days=1)
    expected = _by_definition(parameters, tz, first_day, 3)
    start = datetime.datetime.combine(first_day, datetime.time()).replace(tzinfo=tz) - datetime.timedelta(seconds=1)
    fields, found, moment = parse_cron(parameters), [], start
    while True:
        moment = fields.next_after(moment, tz)
        if moment > expected[-1]:
            break
        found.append(moment)
    assert found == expected
