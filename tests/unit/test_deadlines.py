"""Deadline functions per instrument: periods in days end with the acting authority's local
day (Reg. 1182/71 Art. 3), hours are elapsed time; emergency, daylight saving, year end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rogatory.instruments import catalogue
from rogatory.instruments.schema import Duration
from rogatory.requests import deadlines as dl
from rogatory.requests.enums import DeadlineEffect, DeadlineStatus


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_epoc_ten_days_ends_with_the_local_day() -> None:
    rule = catalogue.get("epoc").deadline("execution")
    assert rule is not None
    # received 10:20 Berlin time (UTC+1) on 2 Nov → ends at midnight starting 13 Nov, Berlin
    due = dl.due_at(rule, utc(2026, 11, 2, 9, 20), emergency=False, timezone="Europe/Berlin")
    assert due == utc(2026, 11, 12, 23, 0)


def test_epoc_emergency_is_eight_elapsed_hours() -> None:
    rule = catalogue.get("epoc").deadline("execution")
    assert rule is not None
    start = utc(2026, 11, 2, 22, 45)
    due = dl.due_at(rule, start, emergency=True, timezone="Europe/Berlin")
    assert due - start == timedelta(hours=8)


def test_daylight_saving_moves_the_utc_instant_not_the_local_day() -> None:
    period = Duration(days=10)
    # 25 March 2026: Paris on UTC+1; 5 April after the change: UTC+2
    due = dl.add_period(utc(2026, 3, 25, 12, 0), period, "Europe/Paris")
    assert due == utc(2026, 4, 4, 22, 0)  # midnight 5 April in Paris (UTC+2)
    # across the autumn change the offset goes back to UTC+1
    due = dl.add_period(utc(2026, 10, 20, 12, 0), period, "Europe/Paris")
    assert due == utc(2026, 10, 30, 23, 0)


def test_hours_across_daylight_saving_are_elapsed_time() -> None:
    start = utc(2026, 3, 29, 0, 30)  # 01:30 Paris, the change to summer time is at 02:00
    assert dl.add_period(start, Duration(hours=8), "Europe/Paris") == utc(2026, 3, 29, 8, 30)


def test_year_boundary() -> None:
    rule = catalogue.get("epoc").deadline("execution")
    assert rule is not None
    due = dl.due_at(rule, utc(2026, 12, 28, 15, 0), emergency=False, timezone="Europe/Madrid")
    assert due == utc(2027, 1, 7, 23, 0)


def test_local_day_of_receipt_decides_the_start() -> None:
    # 23:30 UTC on 31 Dec is already 1 January in Tokyo: the period starts a day later there
    start = utc(2026, 12, 31, 23, 30)
    tokyo = dl.add_period(start, Duration(days=1), "Asia/Tokyo")
    new_york = dl.add_period(start, Duration(days=1), "America/New_York")
    assert tokyo == utc(2027, 1, 2, 15, 0)
    assert new_york == utc(2027, 1, 2, 5, 0)


def test_eio_recognition_extension_adds_thirty_local_days() -> None:
    rule = catalogue.get("eio").deadline("recognition")
    assert rule is not None and rule.extension is not None
    due = dl.due_at(rule, utc(2026, 2, 10, 8, 0), emergency=False, timezone="Europe/Amsterdam")
    assert due == utc(2026, 3, 12, 23, 0)
    extended = dl.extended_due_at(rule, due, "Europe/Amsterdam")
    # 30 more local days, across the spring change (UTC+1 → UTC+2)
    assert extended == utc(2026, 4, 11, 22, 0)


def test_eio_execution_ninety_days() -> None:
    rule = catalogue.get("eio").deadline("execution")
    assert rule is not None
    due = dl.due_at(rule, utc(2026, 1, 5, 10, 0), emergency=False, timezone="Europe/Rome")
    assert due == utc(2026, 4, 5, 22, 0)


@pytest.mark.parametrize(("code", "kind", "days"), [
    ("epoc_pr", "preservation", 60),
    ("budapest_preservation", "preservation", 60),
])
def test_preservation_periods(code: str, kind: str, days: int) -> None:
    rule = catalogue.get(code).deadline(kind)
    assert rule is not None
    assert rule.duration.days == days
    assert rule.effect is DeadlineEffect.PRESERVE_UNTIL
    assert dl.lapse_status(rule.effect) is DeadlineStatus.EXPIRED


def test_closing_status_met_or_late() -> None:
    rule = catalogue.get("epoc").deadline("execution")
    assert rule is not None
    due = utc(2026, 11, 12, 23, 0)
    assert dl.closing_status(rule, due, due) is DeadlineStatus.MET
    assert dl.closing_status(rule, due, due + timedelta(seconds=1)) is DeadlineStatus.BREACHED


def test_countdown_text() -> None:
    now = utc(2026, 11, 2, 9, 0)
    assert dl.countdown(now + timedelta(days=2, hours=3, minutes=5), now).text() == \
        "2d 03h 05m left"
    late = dl.countdown(now - timedelta(hours=1, minutes=30), now)
    assert late.overdue and late.text() == "overdue by 1h 30m"


def test_extension_refused_without_rule() -> None:
    rule = catalogue.get("epoc").deadline("execution")
    assert rule is not None
    with pytest.raises(ValueError, match="cannot be extended"):
        dl.extended_due_at(rule, utc(2026, 1, 1), "Europe/Paris")
