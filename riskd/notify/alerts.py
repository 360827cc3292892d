"""Alerts as Prometheus Alertmanager treats them: identity, grouping, repeat, resolve,
inhibition and silences. Pure: the caller passes the time in epoch milliseconds.

Jobs report :class:`AlertEvent` s: an alert (a name and labels) firing or resolved. An alert's
identity is the fingerprint of its labels (the name is the ``alertname`` label). The
:class:`Dispatcher` keeps every alert and groups them by ``group_by`` labels; a group is
looked at ``group_wait_ms`` after its first alert and then every ``group_interval_ms``; it is
notified when what it would show changed (an alert fired or resolved, a silence or an
inhibition began or ended) or, while anything in it fires, when ``repeat_interval_ms`` (by its
most severe firing alert) has passed since it was last notified. A notification lists the
group's firing alerts and those resolved since the last one; alerts that are silenced or
inhibited are left out. A group whose alerts have all resolved is forgotten once told. As in
Alertmanager, a firing alert that is not reported again within ``resolve_timeout_ms`` resolves
by itself (:meth:`Dispatcher.resolve_stale`).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final, Literal

import re2
from pydantic import Field, ValidationError, field_validator, model_validator

from riskd.core.bodies import json_object, required_texts
from riskd.core.clock import DAY_MS, HOUR_MS
from riskd.core.frozen import FrozenModel

Labels = tuple[tuple[str, str], ...]  # sorted (name, value) pairs
ALERTNAME: Final = "alertname"
_LABEL_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")


class Severity(StrEnum):
    """How urgent: decides the repeat interval and the card's colour."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


_RANK: Final = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def labels_of(name: str, labels: Mapping[str, str]) -> Labels:
    """The sorted label pairs of an alert called *name*; ValueError names a bad label."""
    if ALERTNAME in labels:
        raise ValueError(f"label {ALERTNAME!r} is the alert's name; do not set it")
    for key, value in labels.items():
        if not _LABEL_NAME.match(key):
            raise ValueError(f"label name {key!r}: lower-case letters, digits and _ only")
        if not isinstance(value, str):
            raise ValueError(f"label {key!r}: the value must be a string, not {value!r}")
    return tuple(sorted({ALERTNAME: name, **labels}.items()))


@functools.lru_cache(maxsize=65_536)  # the Dispatcher asks for each alert's on every flush
def fingerprint(labels: Labels) -> str:
    """A stable id of an alert: the SHA-256 of its sorted labels, 16 hex digits."""
    text = "\x1f".join(f"{key}\x1e{value}" for key, value in labels)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """What a job reports: alert *name* with *labels* fires (or resolves) at ``at_ms``.

    ``figures`` are the facts a card shows (PnL, retry-after, …) and ``action`` what riskd did
    about it, both rendered only through the alert catalogue's whitelist. A ``once`` alert
    (a day's summary) is told at most once ever: the pipeline records its fingerprint in SQL
    and drops any later report of it, so its job may report it until that record shows.
    """

    name: str
    labels: Labels
    severity: Severity
    firing: bool
    at_ms: int
    figures: Labels = ()
    action: str = ""
    once: bool = False

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)


@dataclass(frozen=True, slots=True)
class Alert:
    """The Dispatcher's view of one alert: ``ends_ms`` is None while it fires."""

    name: str
    labels: Labels
    severity: Severity
    starts_ms: int
    updated_ms: int
    ends_ms: int | None = None
    figures: Labels = ()
    action: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    @property
    def firing(self) -> bool:
        return self.ends_ms is None

    def label(self, name: str) -> str:
        """The value of label *name*, "" when the alert has none."""
        return next((value for key, value in self.labels if key == name), "")


# ---------------------------------------------------------------- matchers, silences, inhibition

MatchOp = Literal["=", "!=", "=~", "!~"]
MAX_MATCHER_VALUE: Final = 256
_RE2_OPTIONS: Final = re2.Options()
_RE2_OPTIONS.log_errors = False  # the ValueError says what is wrong
# RE2 here too: with a backtracking engine an operator's text could take seconds to parse.
_MATCHER: Final = re2.compile(
    r"^\s*([a-z_][a-z0-9_]*)\s*(=~|!~|!=|=)\s*\"?(.*?)\"?\s*$", _RE2_OPTIONS
)
_SHOWN_CHARS: Final = 60


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str) -> re2._Regexp:
    """*pattern* compiled by RE2, the dialect of Go's regexp and so of Alertmanager's matchers;
    matching takes linear time whatever the pattern. ValueError says why RE2 refuses it."""
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "refused"
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        shown = _shown(pattern)
        raise ValueError(f"{shown} is not a regular expression RE2 accepts: {reason}") from None


def _shown(text: str) -> str:
    """*text* quoted for an error message, cut short."""
    if len(text) > _SHOWN_CHARS:
        text = f"{text[: _SHOWN_CHARS - 1]}…"
    return repr(text)


class Matcher(FrozenModel):
    """``label op value``: ``=``/``!=`` compare, ``=~``/``!~`` match the whole value (as
    Alertmanager does, ``^(?:value)$``) by an RE2 regex. A missing label's value is ""."""

    label: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,31}$")
    op: MatchOp = "="
    value: str = ""

    @model_validator(mode="after")
    def _value_is_usable(self) -> Matcher:
        if len(self.value) > MAX_MATCHER_VALUE:
            raise ValueError(
                f"the value has {len(self.value)} characters, at most {MAX_MATCHER_VALUE}"
            )
        if self.op in ("=~", "!~"):
            _regex(self.value)
        return self

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """``symbol=BTCUSDT``, ``alertname=~"Symbol.*"``; ValueError names what is wrong."""
        found = _MATCHER.match(text)
        if found is None:
            raise ValueError(f"matcher {_shown(text)}: expected label=value, !=, =~ or !~")
        try:
            return cls(label=found[1], op=found[2], value=found[3])
        except ValidationError as exc:  # a plain ValueError: it crosses Ray intact
            reasons = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            raise ValueError(f"matcher {_shown(text)}: {reasons}") from None

    def matches(self, labels: Labels) -> bool:
        value = dict(labels).get(self.label, "")
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = _regex(self.value).fullmatch(value) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


def matches_all(matchers: Iterable[Matcher], labels: Labels) -> bool:
    """Whether every matcher matches *labels*."""
    return all(matcher.matches(labels) for matcher in matchers)


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes the alerts its matchers all match, from ``starts_ms`` until ``ends_ms``."""

    id: int
    matchers: tuple[Matcher, ...]
    starts_ms: int
    ends_ms: int
    created_by: str
    comment: str

    def __post_init__(self) -> None:
        if not self.matchers:
            raise ValueError("a silence needs at least one matcher")
        if self.ends_ms <= self.starts_ms:
            raise ValueError(f"a silence must end after it starts ({self.starts_ms})")
        if not self.created_by.strip() or not self.comment.strip():
            raise ValueError("a silence needs its creator and a comment")

    def active(self, now_ms: int) -> bool:
        return self.starts_ms <= now_ms < self.ends_ms

    def mutes(self, alert: Alert, now_ms: int) -> bool:
        return self.active(now_ms) and matches_all(self.matchers, alert.labels)


MAX_SILENCE_MS: Final = 30 * DAY_MS


def silence_request(body: object, now_ms: int) -> tuple[list[Matcher], int, int, str, str]:
    """(matchers, starts_ms, ends_ms, created_by, comment) from a JSON body
    ``{"matchers": ["symbol=BTCUSDT", …], "minutes": 60, "created_by", "comment"}``
    (or ``ends_ms`` instead of minutes). ValueError names the field that is wrong."""
    body = json_object(body, {"matchers", "minutes", "ends_ms", "created_by", "comment"})
    texts = body.get("matchers")
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("matchers: must be a non-empty list of strings like symbol=BTCUSDT")
    matchers = [Matcher.parse(text) for text in texts]
    minutes, ends_ms = body.get("minutes"), body.get("ends_ms")
    if (minutes is None) == (ends_ms is None):
        raise ValueError("give exactly one of minutes and ends_ms")
    if minutes is not None:
        if not isinstance(minutes, int | float) or isinstance(minutes, bool) or minutes <= 0:
            raise ValueError("minutes: must be a positive number")
        ends_ms = now_ms + round(minutes * 60_000)
    if not isinstance(ends_ms, int) or isinstance(ends_ms, bool) or ends_ms <= now_ms:
        raise ValueError("ends_ms: must be an epoch-ms integer after now")
    if ends_ms - now_ms > MAX_SILENCE_MS:
        raise ValueError("a silence lasts at most 30 days")
    who = required_texts(body, ("created_by", "comment"))
    return matchers, now_ms, ends_ms, who["created_by"], who["comment"]


class InhibitRule(FrozenModel):
    """While an alert matching ``source`` fires, alerts matching ``target`` with the same
    values of the ``equal`` labels are muted (e.g. ALL locked mutes that account's symbol
    bans). An alert never inhibits itself."""

    source: tuple[Matcher, ...] = Field(min_length=1)
    target: tuple[Matcher, ...] = Field(min_length=1)
    equal: tuple[str, ...] = ()


# ---------------------------------------------------------------- routing and the dispatcher


class RouteConfig(FrozenModel):
    """How alerts are grouped and how often a group is told (Alertmanager's route)."""

    group_by: tuple[str, ...] = (ALERTNAME, "account")
    resolve_timeout_ms: int = Field(300_000, gt=0)  # a firing alert not reported again resolves
    group_wait_ms: int = Field(30_000, ge=0)
    group_interval_ms: int = Field(300_000, gt=0)
    repeat_interval_ms: Mapping[Severity, int] = Field(
        default_factory=lambda: {
            Severity.CRITICAL: HOUR_MS,
            Severity.WARNING: 4 * HOUR_MS,
            Severity.INFO: 24 * HOUR_MS,
        }
    )

    @field_validator("repeat_interval_ms")
    @classmethod
    def _every_severity(cls, value: Mapping[Severity, int]) -> Mapping[Severity, int]:
        missing = sorted(set(Severity) - set(value))
        if missing:
            raise ValueError(f"no repeat interval for {', '.join(missing)}")
        if any(ms <= 0 for ms in value.values()):
            raise ValueError("repeat intervals must be positive")
        return value


@dataclass(frozen=True, slots=True)
class Notification:
    """What a receiver is told about one group: its firing alerts and those resolved since."""

    group_key: str
    group_labels: Labels
    firing: tuple[Alert, ...]
    resolved: tuple[Alert, ...]
    at_ms: int

    @property
    def severity(self) -> Severity:
        alerts = self.firing or self.resolved
        return max((a.severity for a in alerts), key=_RANK.__getitem__)


@dataclass(slots=True)
class GroupState:
    """A group's notification log: what it was last told, and when it is due next."""

    labels: Labels
    due_ms: int  # the earliest time it may be flushed
    sent_firing: frozenset[str] = frozenset()  # fingerprints in the last notification
    sent_ms: int | None = None
    pending_resolved: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class DispatcherChanges:
    """What changed since the last :meth:`Dispatcher.take_changes`, by key, as it now stands
    (None: forgotten): what a store must write to keep the dispatcher's state."""

    alerts: dict[str, Alert | None]
    groups: dict[str, GroupState | None]

    def __bool__(self) -> bool:
        return bool(self.alerts or self.groups)


@dataclass(slots=True)
class Dispatcher:
    """Every alert by fingerprint and every group's notification log. Feed it events with
    :meth:`observe`; :meth:`flush` returns the notifications due at a time."""

    route: RouteConfig
    inhibit_rules: tuple[InhibitRule, ...] = ()
    alerts: dict[str, Alert] = field(default_factory=dict)
    groups: dict[str, GroupState] = field(default_factory=dict)
    _changed_alerts: set[str] = field(default_factory=set)
    _changed_groups: set[str] = field(default_factory=set)

    def take_changes(self) -> DispatcherChanges:
        """The alerts and groups changed since the last call, and forget that they were."""
        changes = DispatcherChanges(
            {key: self.alerts.get(key) for key in sorted(self._changed_alerts)},
            {key: self.groups.get(key) for key in sorted(self._changed_groups)},
        )
        self._changed_alerts.clear()
        self._changed_groups.clear()
        return changes

    def keep_changes(self, changes: DispatcherChanges) -> None:
        """*changes* were not stored after all: the next :meth:`take_changes` has them again."""
        self._changed_alerts.update(changes.alerts)
        self._changed_groups.update(changes.groups)

    def group_labels(self, alert: Alert) -> Labels:
        return tuple((name, alert.label(name)) for name in self.route.group_by)

    def observe(self, event: AlertEvent) -> Alert:
        """Record *event*; return the alert as it now stands."""
        known = self.alerts.get(event.fingerprint)
        if event.firing:
            starts_ms = known.starts_ms if known is not None and known.firing else event.at_ms
            alert = Alert(
                event.name,
                event.labels,
                event.severity,
                starts_ms,
                event.at_ms,
                None,
                event.figures,
                event.action,
            )
        elif known is None or not known.firing:
            return known or Alert(
                event.name, event.labels, event.severity, event.at_ms, event.at_ms, event.at_ms
            )
        else:
            figures = event.figures or known.figures
            alert = replace(
                known,
                updated_ms=event.at_ms,
                ends_ms=event.at_ms,
                figures=figures,
                action=event.action,
            )
        self.alerts[alert.fingerprint] = alert
        self._changed_alerts.add(alert.fingerprint)
        self._touch(alert)
        return alert

    def _touch(self, alert: Alert) -> None:
        labels = self.group_labels(alert)
        key = fingerprint(labels)
        self._changed_groups.add(key)
        group = self.groups.get(key)
        if group is None:
            group = GroupState(labels, due_ms=alert.updated_ms + self.route.group_wait_ms)
            self.groups[key] = group
        if not alert.firing:
            group.pending_resolved.add(alert.fingerprint)

    def resolve_stale(self, now_ms: int) -> list[Alert]:
        """Resolve firing alerts not reported again within ``resolve_timeout_ms``, as of when
        the timeout ran out; return them. Jobs report what still fires on every pass, so a
        resolve that never came (its job died) cannot keep an alert firing forever, and a
        one-off event (a restart, a 429) resolves by itself."""
        timeout_ms = self.route.resolve_timeout_ms
        stale = [
            a for a in self.alerts.values() if a.firing and a.updated_ms + timeout_ms <= now_ms
        ]
        resolved = []
        for alert in stale:
            ends_ms = alert.updated_ms + timeout_ms
            event = AlertEvent(
                alert.name,
                alert.labels,
                alert.severity,
                False,
                ends_ms,
                alert.figures,
                alert.action,
            )
            resolved.append(self.observe(event))
        return resolved

    def muted(self, alert: Alert, silences: Iterable[Silence], now_ms: int) -> bool:
        """Whether *alert* is silenced or inhibited now."""
        if any(silence.mutes(alert, now_ms) for silence in silences):
            return True
        for rule in self.inhibit_rules:
            if not matches_all(rule.target, alert.labels):
                continue
            for source in self.alerts.values():
                if (
                    source.firing
                    and source.fingerprint != alert.fingerprint
                    and matches_all(rule.source, source.labels)
                    and all(source.label(name) == alert.label(name) for name in rule.equal)
                ):
                    return True
        return False

    def next_due_ms(self) -> int | None:
        """When the next group may be due; None with no groups."""
        return min((group.due_ms for group in self.groups.values()), default=None)

    def flush(
        self, now_ms: int, silences: Iterable[Silence] = (), *, every_group: bool = False
    ) -> list[Notification]:
        """The notifications due at *now_ms*, in group-key order; their groups are marked sent.

        A group is looked at when its time has come (every group with *every_group*: riskd is
        stopping) and told when its visible firing set differs from the one last sent, an
        alert of it resolved since, or its repeat interval has passed; never with nothing to
        tell (every alert of it muted).
        """
        silences = tuple(silences)
        notifications: list[Notification] = []
        due = [k for k in sorted(self.groups) if every_group or self.groups[k].due_ms <= now_ms]
        by_group: dict[str, list[Alert]] = {key: [] for key in due}
        for alert in self.alerts.values() if due else ():
            if (members := by_group.get(fingerprint(self.group_labels(alert)))) is not None:
                members.append(alert)
        for key, members in by_group.items():
            group = self.groups[key]
            self._changed_groups.add(key)
            visible = [a for a in members if not self.muted(a, silences, now_ms)]
            firing = tuple(sorted((a for a in visible if a.firing), key=_order))
            firing_keys = frozenset(a.fingerprint for a in firing)
            resolved = tuple(
                sorted(
                    (a for a in visible if a.fingerprint in group.pending_resolved),
                    key=_order,
                )
            )
            repeat_ms = self._repeat_ms(firing)
            changed = firing_keys != group.sent_firing or bool(resolved)
            repeat = (
                bool(firing) and group.sent_ms is not None and now_ms >= group.sent_ms + repeat_ms
            )
            if (changed or repeat) and (firing or resolved):
                notifications.append(Notification(key, group.labels, firing, resolved, now_ms))
                group.sent_firing, group.sent_ms = firing_keys, now_ms
            elif changed:  # every alert of it muted: nothing to tell, told again once visible
                group.sent_firing = firing_keys
            group.pending_resolved.clear()
            self._forget_resolved(members)
            if not any(a.firing for a in members):
                del self.groups[key]
                continue
            group.due_ms = now_ms + self.route.group_interval_ms
        return notifications

    def _repeat_ms(self, firing: tuple[Alert, ...]) -> int:
        intervals = self.route.repeat_interval_ms
        if not firing:
            return intervals[Severity.INFO]
        return intervals[max((a.severity for a in firing), key=_RANK.__getitem__)]

    def _forget_resolved(self, members: Iterable[Alert]) -> None:
        for alert in members:
            if not alert.firing:
                del self.alerts[alert.fingerprint]
                self._changed_alerts.add(alert.fingerprint)


def _order(alert: Alert) -> tuple[int, str]:
    return (-_RANK[alert.severity], alert.fingerprint)


def _is(label: str, value: str) -> Matcher:
    return Matcher(label=label, value=value)


DEFAULT_INHIBIT_RULES: Final = (
    # ALL locked says more than each symbol's ban.
    InhibitRule(
        source=(_is(ALERTNAME, "AllLocked"),),
        target=(_is(ALERTNAME, "SymbolLocked"),),
        equal=("account",),
    ),
    # A halted account: its bans say nothing new.
    InhibitRule(
        source=(_is(ALERTNAME, "TradingState"), _is("state", "HALTED")),
        target=(Matcher(label=ALERTNAME, op="=~", value="SymbolLocked|AllLocked"),),
        equal=("account",),
    ),
    # An IP ban explains why every job on that IP is late.
    InhibitRule(
        source=(_is(ALERTNAME, "IpBanned"),),
        target=(_is(ALERTNAME, "JobUnhealthy"),),
        equal=("ip",),
    ),
)
