"""Alerter: one per deployment. Jobs report alert events; it groups, repeats, resolves,
inhibits and silences them (``riskd.notify.alerts``) and delivers them to Feishu or the console
(``riskd.notify.pipeline``), with every step's state in SQL.

lark-oapi is imported here only, when the config names a Feishu app: no other process pays
for it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence

from actors.context import ConfigSource
from riskd.core.clock import HOUR_MS, wall_ms
from riskd.core.display import safe_text
from riskd.notify import alert_store
from riskd.notify.alerts import AlertEvent, Severity, Silence, silence_request
from riskd.notify.config import AlertsConfig, FeishuConfig
from riskd.notify.console import ConsoleReceiver
from riskd.notify.events import one_shot
from riskd.notify.outbound import OutboundConfig
from riskd.notify.pipeline import AlertPipeline, ReceiverSlot
from riskd.notify.receiver import Receiver
from riskd.notify.webhook import WebhookConfig, WebhookReceiver
from riskd.store.engine import SqlRunner, make_engine
from riskd.store.errors import error_line
from riskd.store.schema import init_schema

log = logging.getLogger(__name__)


def _feishu_receiver(config: FeishuConfig) -> Receiver:
    if config.mode == "webhook":
        return WebhookReceiver(
            config.webhook_url, config.webhook_secret, WebhookConfig(timeout_ms=config.timeout_ms)
        )
    from riskd.notify.lark_app import LarkAppConfig, LarkAppReceiver  # only here: ~170 MB

    assert config.app_id is not None and config.chat_id is not None  # checked by the config
    lark_config = LarkAppConfig(base_url=config.base_url, timeout_ms=config.timeout_ms)
    return LarkAppReceiver(config.app_id, config.app_secret, config.chat_id, lark_config)


def receiver_slots(config: AlertsConfig) -> list[ReceiverSlot]:
    """The receivers *config* names: Feishu if configured, and the console if wanted."""
    slots = []
    if config.feishu is not None:
        slots.append(ReceiverSlot(_feishu_receiver(config.feishu), config.feishu.outbound))
    if config.to_console:
        unlimited = OutboundConfig(messages_per_second=1_000, messages_per_minute=60_000)
        slots.append(ReceiverSlot(ConsoleReceiver(), unlimited))
    return slots


def _silence_dict(silence: Silence) -> dict:
    return {
        "id": silence.id,
        "matchers": [str(m) for m in silence.matchers],
        "starts_ms": silence.starts_ms,
        "ends_ms": silence.ends_ms,
        "created_by": silence.created_by,
        "comment": silence.comment,
    }


class Alerter:
    """The deployment's Alertmanager with Feishu as its receiver."""

    def __init__(self, source: ConfigSource) -> None:
        config = source.load(secrets={"database", "feishu"})
        self.config = config.alerts
        self.deployment = config.deployment.name
        self.engine = make_engine(config.database.resolved_url.reveal())
        self.sql = SqlRunner(self.engine)
        self.pipeline = AlertPipeline(
            config.alerts,
            self.deployment,
            self.sql,
            receiver_slots(config.alerts),
            wall_ms,
            self._on_failing,
        )
        self.last_tick_ms = 0
        self.last_error = ""
        self._loop: asyncio.Task | None = None
        self._ready = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        await asyncio.to_thread(init_schema, self.engine, wall_ms())
        await self.pipeline.start()
        self._loop = asyncio.get_running_loop().create_task(self._run())

    async def ready(self) -> None:
        """Return once the state is loaded from SQL and the loop runs (after a restart too)."""
        await asyncio.shield(self._ready)

    async def report(self, events: Sequence[AlertEvent]) -> None:
        """Alert events from a job (fire-and-forget for the caller)."""
        await self.ready()
        await self.pipeline.report(events)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """riskd is stopping: report it and tell every group with news now, within *timeout_s*."""
        await self.pipeline.report(
            one_shot("RiskdStopped", Severity.WARNING, wall_ms(), {}, "none")
        )
        if self._loop is not None:
            self._loop.cancel()
        try:
            await asyncio.wait_for(self.pipeline.tick(every_group=True), timeout_s)
        except Exception:
            log.exception("alerts not all sent while stopping; they are sent after a restart")

    async def health(self) -> dict:
        """When the loop last completed a tick, its last error, how many reports wait for
        their store, and each receiver's state."""
        return {
            "last_tick_ms": self.last_tick_ms,
            "last_error": self.last_error,
            "reports_waiting": self.pipeline.reports_waiting,
            "receivers": {
                slot.receiver.name: {"failures": slot.failures, "last_error": slot.last_error}
                for slot in self.pipeline.slots
            },
        }

    async def alerts(self) -> list[dict]:
        """Every firing alert, most severe first, and whether a silence or inhibition mutes it."""
        now_ms = wall_ms()
        dispatcher = self.pipeline.dispatcher
        firing = sorted(
            (a for a in dispatcher.alerts.values() if a.firing),
            key=lambda a: (-list(Severity).index(a.severity), a.starts_ms),
        )
        return [
            {
                "name": alert.name,
                "labels": dict(alert.labels),
                "severity": alert.severity.value,
                "starts_ms": alert.starts_ms,
                "updated_ms": alert.updated_ms,
                "muted": dispatcher.muted(alert, self.pipeline.silences, now_ms),
            }
            for alert in firing
        ]

    async def recent_alerts(self, hours: int, limit: int) -> list[dict]:
        """What the first receiver was told over the last *hours*, newest first, one row per
        alert of each of the newest *limit* notifications: its state in that notification
        (firing, resolved, or notice for a one-off fact) and how its delivery stands."""
        receiver = self.pipeline.slots[0].receiver.name
        since_ms = wall_ms() - hours * HOUR_MS
        told = await self.sql.read(alert_store.recent_notifications, receiver, since_ms, limit)
        return [row for item in told for row in item.rows()]

    # ------------------------------------------------------------ silences

    async def silences(self) -> list[dict]:
        return [_silence_dict(s) for s in self.pipeline.silences]

    async def add_silence(self, body: object) -> dict:
        """ValueError names what is wrong with *body*."""
        matchers, starts_ms, ends_ms, created_by, comment = silence_request(body, wall_ms())
        silence = await self.pipeline.add_silence(matchers, starts_ms, ends_ms, created_by, comment)
        return _silence_dict(silence)

    async def expire_silence(self, silence_id: int, by: str) -> dict:
        """LookupError: no such silence; ValueError: it ended already, or no *by*."""
        if not by.strip():
            raise ValueError("expiring a silence needs the operator's name")
        return _silence_dict(await self.pipeline.expire_silence(silence_id, by.strip()))

    # ------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while True:
            try:
                await self.pipeline.tick()
                self.last_tick_ms = wall_ms()
                self.last_error = ""
            except Exception as exc:  # SQL down, a bug: reported, and the loop goes on
                self.last_error = safe_text(error_line(exc))
                log.exception("alerter tick failed")
            await asyncio.sleep(self.config.tick_ms / 1000)

    def _on_failing(self, receiver: str, failing: bool, error: str) -> None:
        """A receiver keeps failing, or recovered: to the log and stderr, whatever else fails."""
        state = "failing" if failing else "recovered"
        line = f"riskd alerts: receiver {receiver} is {state}: {error}"
        (log.error if failing else log.warning)(line)
        print(line, file=sys.stderr, flush=True)
