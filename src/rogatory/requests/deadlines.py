"""Legal deadlines as pure functions of the instrument's rule, the starting time, urgency and the
time zone of the authority that must act.

Computation follows Regulation (EEC, Euratom) No 1182/71 Art. 3 (verified: false — the rule is
not in the project's legal reference): a period in hours runs from the event, by elapsed time; a
period in days starts on the day after the event and ends when the last day ends, in the acting
authority's local time — so daylight-saving changes move the UTC instant, not the local day. The
roll-over to the next working day of Art. 3(4) is not applied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rogatory.clock import ensure_utc
from rogatory.instruments.schema import DeadlineRule, Duration, Instrument
from rogatory.requests.enums import DeadlineEffect, DeadlineStatus, Verb

COMPUTATION_RULE = "Reg. (EEC, Euratom) No 1182/71 Art. 3"
COMPUTATION_VERIFIED = False


def add_period(start: datetime, period: Duration, timezone: str) -> datetime:
    """When a period of `period` that starts at `start` ends, as aware UTC."""
    start = ensure_utc(start)
    if period.hours is not None:
        return start + timedelta(hours=period.hours)
    days = period.days or 0
    local_day = start.astimezone(ZoneInfo(timezone)).date()
    # the period ends at the end of its last day: midnight starting the following day
    end_local = datetime.combine(local_day + timedelta(days=days + 1), time(0), ZoneInfo(timezone))
    return end_local.astimezone(UTC)


def due_at(rule: DeadlineRule, start: datetime, *, emergency: bool, timezone: str) -> datetime:
    """Due time of `rule` started at `start`; emergencies use the rule's emergency period."""
    period = rule.emergency_duration if emergency and rule.emergency_duration else rule.duration
    return add_period(start, period, timezone)


def extended_due_at(rule: DeadlineRule, current_due: datetime, timezone: str) -> datetime:
    """The due time after one extension of `rule` from `current_due`."""
    if rule.extension is None:
        raise ValueError(f"deadline '{rule.kind}' cannot be extended")
    if rule.extension.duration.hours is not None:
        return ensure_utc(current_due) + rule.extension.duration.delta
    # a day-based extension adds whole local days to the (end-of-day) due time
    local = ensure_utc(current_due).astimezone(ZoneInfo(timezone))
    days = rule.extension.duration.days or 0
    return datetime.combine(
        local.date() + timedelta(days=days), local.time(), ZoneInfo(timezone)
    ).astimezone(UTC)


def rules_started_by(instrument: Instrument, verb: Verb) -> list[DeadlineRule]:
    return [d for d in instrument.deadlines if d.starts_on == verb]


def closing_status(rule: DeadlineRule, due: datetime, now: datetime) -> DeadlineStatus:
    """Status of an open deadline when a verb in its `met_by` happens at `now`."""
    if rule.effect is DeadlineEffect.PRESERVE_UNTIL:
        return DeadlineStatus.MET
    return DeadlineStatus.MET if ensure_utc(now) <= ensure_utc(due) else DeadlineStatus.BREACHED


def lapse_status(effect: DeadlineEffect) -> DeadlineStatus:
    """Status of an open deadline whose due time has passed with nothing done."""
    if effect is DeadlineEffect.PRESERVE_UNTIL:
        return DeadlineStatus.EXPIRED
    return DeadlineStatus.BREACHED


@dataclass(frozen=True)
class Countdown:
    """What a tracker shows: time left (negative when overdue)."""

    due: datetime
    remaining: timedelta

    @property
    def overdue(self) -> bool:
        return self.remaining < timedelta(0)

    def text(self) -> str:
        seconds = int(abs(self.remaining).total_seconds())
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes = rest // 60
        body = f"{days}d {hours:02d}h {minutes:02d}m" if days else f"{hours}h {minutes:02d}m"
        return f"overdue by {body}" if self.overdue else f"{body} left"


def countdown(due: datetime, now: datetime) -> Countdown:
    return Countdown(due=ensure_utc(due), remaining=ensure_utc(due) - ensure_utc(now))
