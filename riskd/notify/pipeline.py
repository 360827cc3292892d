"""The Alerter's work, one tick at a time: events in, due groups to the SQL outbox, the outbox
out to every receiver within its limits. Every step's state is in SQL before it acts, so a
receiver's outage or a restart neither loses nor repeats a notification.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from riskd.core.clock import HOUR_MS
from riskd.notify import alert_store
from riskd.notify.alerts import (
    Alert,
    AlertEvent,
    Dispatcher,
    DispatcherChanges,
    Matcher,
    Notification,
    Severity,
    Silence,
)
from riskd.notify.card import render
from riskd.notify.config import AlertsConfig
from riskd.notify.events import event
from riskd.notify.outbound import OutboundConfig, OutboundLimiter, retry_delay_ms
from riskd.notify.receiver import DeliveryError, Receiver
from riskd.store.engine import SqlRunner

log = logging.getLogger(__name__)
PRUNE_INTERVAL_MS = HOUR_MS


@dataclass(slots=True)
class ReceiverSlot:
    """A receiver, its limiter, and how many sends in a row have failed."""

    receiver: Receiver
    outbound: OutboundConfig
    limiter: OutboundLimiter = field(init=False)
    failures: int = 0
    last_error: str = ""

    def __post_init__(self) -> None:
        self.limiter = OutboundLimiter(self.outbound)


class AlertPipeline:
    """Alertmanager for riskd, with its state in SQL (``riskd.notify.alert_store``).

    ``report`` records an event (a ``once`` alert taken in before is dropped: the fingerprints
    taken in are kept in SQL with the alerts' state); ``tick`` resolves stale alerts, queues
    the notifications that are due for every receiver, and sends what each receiver's limiter
    allows, coalescing when many wait. When a receiver keeps failing, ``on_failing`` is told
    (the Alerter logs it and writes it to the console), and again when it recovers.
    """

    def __init__(
        self,
        config: AlertsConfig,
        deployment: str,
        sql: SqlRunner,
        receivers: Sequence[ReceiverSlot],
        clock: Callable[[], int],
        on_failing: Callable[[str, bool, str], None] = lambda name, failing, error: None,
    ) -> None:
        self.config = config
        self.deployment = deployment
        self.sql = sql
        self.slots = list(receivers)
        self.clock = clock
        self.on_failing = on_failing
        self.dispatcher = Dispatcher(config.route, config.inhibit_rules)
        self.silences: list[Silence] = []
        self.unqueued: list[Notification] = []  # flushed while SQL was down
        self.told: set[str] = set()  # the fingerprints of the once alerts taken in
        self.unrecorded: list[AlertEvent] = []  # once alerts taken in while SQL was down
        self.last_heartbeat_ms: int | None = None
        self.last_prune_ms = 0
        self.sent_messages = 0
        self.reports = 0  # report() calls taken in
        self.reports_waiting = 0  # of them, waiting for their store
        self._stored_reports = 0  # the reports a finished store took
        self._storing: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Load the dispatcher's state and the silences from SQL."""
        alerts, groups = await self.sql.read(alert_store.load_state)
        self.dispatcher.alerts, self.dispatcher.groups = alerts, groups
        self.told = await self.sql.read(alert_store.told_fingerprints)
        self.silences = await self.sql.read(alert_store.current_silences, self.clock())

    async def report(self, events: Sequence[AlertEvent]) -> None:
        """Record *events*, and return once a store that took them is done (the next tick
        stores them if SQL failed). Reports that arrive during a store share the next one, so
        a burst from every job costs a few transactions, not one each. A ``once`` alert taken
        in before, here or before a restart, is dropped."""
        fresh = [e for e in events if not (e.once and e.fingerprint in self.told)]
        for reported in fresh:
            self.dispatcher.observe(reported)
        self.unrecorded += [e for e in fresh if e.once]
        self.told |= {e.fingerprint for e in fresh if e.once}
        self.reports += 1
        mine = self.reports
        self.reports_waiting += 1
        try:
            while self._stored_reports < mine:
                if self._storing is None:
                    self._storing = asyncio.ensure_future(self._store_reported())
                await asyncio.shield(self._storing)
        finally:
            self.reports_waiting -= 1

    async def _store_reported(self) -> None:
        """Store what the reports so far changed; then they are done, stored or kept."""
        upto = self.reports
        changes, once = self._take_changes()
        try:
            await self.sql.run(self._store, changes, once, self.clock())
        except Exception:
            self._keep_changes(changes, once)
            log.exception("alert state not stored; kept in memory until SQL answers")
        finally:
            self._stored_reports = upto
            self._storing = None

    def _take_changes(self) -> tuple[DispatcherChanges, list[AlertEvent]]:
        """What to store: the dispatcher's changes and the once alerts not yet recorded."""
        once, self.unrecorded = self.unrecorded, []
        return self.dispatcher.take_changes(), once

    def _keep_changes(self, changes: DispatcherChanges, once: list[AlertEvent]) -> None:
        """*changes* and *once* were not stored: the next store has them again."""
        self.dispatcher.keep_changes(changes)
        self.unrecorded = once + self.unrecorded

    @staticmethod
    def _store(
        connection: Connection,
        changes: DispatcherChanges,
        once: list[AlertEvent],
        now_ms: int,
    ) -> None:
        alert_store.save_state(connection, changes)
        alert_store.record_told(connection, once, now_ms)

    async def tick(self, *, every_group: bool = False) -> None:
        """One round: resolve stale alerts, queue what is due, deliver what the limits allow.
        *every_group*: tell every group that has news now (riskd is stopping)."""
        now_ms = self.clock()
        self.dispatcher.resolve_stale(now_ms)
        notifications = self.unqueued + self.dispatcher.flush(
            now_ms, self.silences, every_group=every_group
        )
        notifications += self._heartbeat(now_ms)
        changes, once = self._take_changes()
        try:
            await self.sql.run(self._queue, changes, once, notifications, now_ms)
        except Exception:  # SQL is down: nothing is lost, it is queued on a later tick
            self._keep_changes(changes, once)
            self.unqueued = notifications
            raise
        self.unqueued = []
        self.silences = await self.sql.read(alert_store.current_silences, now_ms)
        for slot in self.slots:
            await self._deliver(slot)

    def _queue(
        self,
        connection: Connection,
        changes: DispatcherChanges,
        once: list[AlertEvent],
        notifications: list[Notification],
        now_ms: int,
    ) -> None:
        self._store(connection, changes, once, now_ms)
        names = [slot.receiver.name for slot in self.slots]
        alert_store.enqueue(connection, notifications, names, now_ms)
        if now_ms >= self.last_prune_ms + PRUNE_INTERVAL_MS:
            alert_store.prune_sent(connection, now_ms - self.config.retention_ms)
            self.last_prune_ms = now_ms

    def _heartbeat(self, now_ms: int) -> list[Notification]:
        """An info card every ``heartbeat_interval_ms``: proof that alerts still get out."""
        interval_ms = self.config.heartbeat_interval_ms
        if not interval_ms:
            return []
        if self.last_heartbeat_ms is None:
            self.last_heartbeat_ms = now_ms  # the first one after a full interval
            return []
        if now_ms < self.last_heartbeat_ms + interval_ms:
            return []
        self.last_heartbeat_ms = now_ms
        labels = (("alertname", "AlerterHeartbeat"),)
        figures = (("count", str(self.sent_messages)),)
        beat = Alert(
            "AlerterHeartbeat", labels, Severity.INFO, now_ms, now_ms, None, figures, "none"
        )
        return [Notification("heartbeat", labels, (beat,), (), now_ms)]

    async def _deliver(self, slot: ReceiverSlot) -> None:
        """Send *slot*'s due messages while its limiter allows."""
        name = slot.receiver.name
        while True:
            now_ms = self.clock()
            if slot.limiter.wait_ms(now_ms):
                return
            pending = await self.sql.read(alert_store.pending_count, name)
            size = slot.limiter.batch_size(pending, now_ms)
            batch = await self.sql.run(
                alert_store.claim_batch, name, max(size, 1), f"{self.deployment}-{name}", now_ms
            )
            if batch is None:
                return
            told = [n for n in batch.notifications if n.firing or n.resolved]
            if not told:  # queued empty before riskd stopped queueing muted groups: dropped
                await self.sql.run(alert_store.mark_sent, batch, self.clock())
                continue
            message = render(told, batch.uuid, self.deployment, self.config.language)
            slot.limiter.record(now_ms)
            try:
                await slot.receiver.send(message)
            except DeliveryError as exc:
                await self._failed(slot, batch, exc)
                return
            await self.sql.run(alert_store.mark_sent, batch, self.clock())
            self.sent_messages += 1
            if slot.failures >= self.config.failing_after:
                self._receiver_failing(slot, False)
            slot.failures = 0

    async def _failed(
        self, slot: ReceiverSlot, batch: alert_store.Batch, exc: DeliveryError
    ) -> None:
        attempts = batch.attempts + 1
        delay_ms = (
            retry_delay_ms(attempts, slot.outbound, exc.retry_after_ms)
            if exc.retryable
            else slot.outbound.retry_max_ms
        )
        error = str(exc)
        await self.sql.run(alert_store.mark_failed, batch, error, self.clock() + delay_ms)
        slot.failures += 1
        slot.last_error = error
        log.warning(
            "%s: message %s failed (attempt %d): %s",
            slot.receiver.name,
            batch.uuid,
            attempts,
            error,
        )
        if slot.failures == self.config.failing_after:
            self._receiver_failing(slot, True)

    def _receiver_failing(self, slot: ReceiverSlot, failing: bool) -> None:
        """FeishuFailing fires (or resolves) for *slot*; ``on_failing`` is told at once, since
        the alert itself may have no working receiver."""
        labels = {"receiver": slot.receiver.name}
        figures = {"failures": str(slot.failures)} if failing else {}
        action = "retrying" if failing else "none"
        self.dispatcher.observe(
            event(
                "FeishuFailing", Severity.CRITICAL, failing, self.clock(), labels, figures, action
            )
        )
        self.on_failing(slot.receiver.name, failing, slot.last_error)

    # ------------------------------------------------------------ silences

    async def add_silence(
        self,
        matchers: Sequence[Matcher],
        starts_ms: int,
        ends_ms: int,
        created_by: str,
        comment: str,
    ) -> Silence:
        silence = await self.sql.run(
            alert_store.add_silence, matchers, starts_ms, ends_ms, created_by, comment, self.clock()
        )
        self.silences = await self.sql.read(alert_store.current_silences, self.clock())
        return silence

    async def expire_silence(self, silence_id: int, by: str) -> Silence:
        silence = await self.sql.run(alert_store.expire_silence, silence_id, by, self.clock())
        self.silences = await self.sql.read(alert_store.current_silences, self.clock())
        return silence
