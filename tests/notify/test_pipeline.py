"""The Alerter's pipeline against the fake Feishu, on SQLite and MariaDB, with a manual clock:
outages, restarts, bursts and secrets."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine

from riskd.core.secrets import Secret
from riskd.notify import alert_store
from riskd.notify.alerts import AlertEvent, Notification, RouteConfig, Severity
from riskd.notify.config import AlertsConfig
from riskd.notify.events import event
from riskd.notify.lark_app import LarkAppConfig, LarkAppReceiver
from riskd.notify.outbound import OutboundConfig
from riskd.notify.pipeline import AlertPipeline, ReceiverSlot
from riskd.notify.receiver import Message
from riskd.notify.webhook import WebhookReceiver
from riskd.store.engine import SqlRunner
from riskd.store.schema import init_schema
from tests.kit.clock import ManualClock
from tests.kit.fake_feishu import FakeFeishu

CONFIG = AlertsConfig(
    language="en", route=RouteConfig(group_wait_ms=30_000), heartbeat_interval_ms=0
)
SECRET = "sk_live_4f3e2d1c0b9a8877665544332211ffee"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def feishu(clock: ManualClock) -> AsyncIterator[FakeFeishu]:
    async with FakeFeishu(now_s=clock, wall_clock_s=clock) as fake:
        yield fake


@pytest.fixture
def engine(sql_engine: Engine) -> Engine:
    init_schema(sql_engine, 0)
    return sql_engine


def _app_receiver(feishu: FakeFeishu, clock: ManualClock) -> LarkAppReceiver:
    config = LarkAppConfig(base_url=feishu.url, timeout_ms=1_000)
    return LarkAppReceiver(
        feishu.app_id, Secret(feishu.app_secret), feishu.chat_id, config, now_s=clock
    )


class Pipeline:
    """An AlertPipeline as the Alerter runs it, and what it said about failing receivers."""

    def __init__(self, engine: Engine, receiver, clock: ManualClock) -> None:
        self.sql = SqlRunner(engine)
        self.clock = clock
        self.failing: list[tuple[str, bool]] = []
        self.pipeline = AlertPipeline(
            CONFIG,
            "prod",
            self.sql,
            [ReceiverSlot(receiver, OutboundConfig())],
            lambda: int(clock() * 1000),
            lambda name, failing, error: self.failing.append((name, failing)),
        )

    async def run(self, seconds: float, step_s: float = 1.0) -> None:
        """Tick every *step_s* for *seconds* of the manual clock."""
        for _ in range(round(seconds / step_s)):
            await self.pipeline.tick()
            self.clock.advance(step_s)

    async def close(self) -> None:
        self.sql.close()
        for slot in self.pipeline.slots:
            await slot.receiver.close()


def _locked(symbol: str, at_s: float, account: str = "main") -> AlertEvent:
    labels = {"account": account, "symbol": symbol, "side": "both", "source": "rule:symbol_4h"}
    figures = {"pnl_usdt": "-200"}
    return event(
        "SymbolLocked", Severity.WARNING, True, int(at_s * 1000), labels, figures, "locked"
    )


def _shown_symbols(feishu: FakeFeishu) -> Counter[str]:
    """How often each symbol was shown firing across every delivered card."""
    shown: Counter[str] = Counter()
    for delivered in feishu.delivered:
        shown.update(re.findall(r"🔴 Account \w+ · Symbol (\w+)", delivered.text))
    return shown


async def test_a_ten_minute_outage_then_recovery_delivers_every_alert_once_within_30_s(
    engine: Engine, feishu: FakeFeishu, clock: ManualClock
) -> None:
    run = Pipeline(engine, _app_receiver(feishu, clock), clock)
    await run.pipeline.start()
    feishu.outage(600)
    for index, symbol in enumerate(["BTCUSDT", "ETHUSDT", "SOLUSDT"]):
        await run.pipeline.report([_locked(symbol, clock(), account=f"acct{index}")])
        await run.run(120)
    await run.run(240)  # the outage ends
    await run.run(31)  # back-off is at most 30 s: the backlog goes out within it

    assert _shown_symbols(feishu) == {"BTCUSDT": 1, "ETHUSDT": 1, "SOLUSDT": 1}
    assert len(feishu.delivered) == len({d.uuid for d in feishu.delivered})
    assert run.failing[:1] == [("lark-app", True)] and run.failing[-1] == ("lark-app", False)
    await run.close()


class CrashAfterSending:
    """Delivers, then dies before the pipeline can record it: the worst moment for a restart."""

    def __init__(self, receiver: LarkAppReceiver) -> None:
        self.receiver = receiver
        self.name = receiver.name

    async def send(self, message: Message) -> None:
        await self.receiver.send(message)
        raise SystemExit("riskd killed")

    async def close(self) -> None:
        await self.receiver.close()


async def test_an_empty_notification_queued_by_an_older_riskd_does_not_block_the_next(
    engine: Engine, feishu: FakeFeishu, clock: ManualClock
) -> None:
    run = Pipeline(engine, _app_receiver(feishu, clock), clock)
    await run.pipeline.start()
    empty = Notification("g", (("alertname", "SymbolLocked"),), (), (), int(clock() * 1000))
    with engine.begin() as connection:
        alert_store.enqueue(connection, [empty], ["lark-app"], int(clock() * 1000))
    await run.pipeline.report([_locked("BTCUSDT", clock())])
    await run.run(40)

    assert _shown_symbols(feishu) == {"BTCUSDT": 1}
    with engine.connect() as connection:
        assert alert_store.pending_count(connection, "lark-app") == 0
    await run.close()


async def test_a_restart_mid_outage_loses_and_repeats_nothing(
    engine: Engine, feishu: FakeFeishu, clock: ManualClock
) -> None:
    before = Pipeline(engine, CrashAfterSending(_app_receiver(feishu, clock)), clock)
    await before.pipeline.start()
    feishu.outage(600)
    await before.pipeline.report([_locked("BTCUSDT", clock())])
    await before.pipeline.report([_locked("ETHUSDT", clock(), account="hedge")])
    await before.run(300)  # queued, failing
    feishu.outage(1)  # the outage ends; the next send is delivered, and riskd dies
    clock.advance(300)
    with pytest.raises(SystemExit):
        await before.run(5)
    await before.close()

    after = Pipeline(engine, _app_receiver(feishu, clock), clock)  # a restart: state from SQL
    await after.pipeline.start()
    await after.pipeline.report([_locked("SOLUSDT", clock())])
    await after.run(900)

    assert _shown_symbols(feishu) == {"BTCUSDT": 1, "ETHUSDT": 1, "SOLUSDT": 1}
    uuids = [r.body["uuid"] for r in feishu.requests_of("message") if r.body]
    assert len(uuids) > len(feishu.delivered)  # the crashed batch was sent again, same uuid
    await after.close()


async def test_reports_arriving_during_a_store_share_the_next_and_survive_a_restart(
    engine: Engine, feishu: FakeFeishu, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = Pipeline(engine, _app_receiver(feishu, clock), clock)
    await before.pipeline.start()
    units = []
    run_unit = before.sql.run

    async def counted(fn, *args, **kwargs):
        units.append(fn)
        return await run_unit(fn, *args, **kwargs)

    monkeypatch.setattr(before.sql, "run", counted)
    symbols = [f"S{index:03d}USDT" for index in range(101)]
    await before.pipeline.report([_locked(symbols[0], clock())])
    # A report from each of 100 jobs at once, while the first store is still running:
    first = asyncio.ensure_future(before.pipeline.report([_locked(symbols[1], clock())]))
    await asyncio.sleep(0)  # it takes its store; the store begins before the others arrive
    await asyncio.gather(
        first, *(before.pipeline.report([_locked(s, clock())]) for s in symbols[2:])
    )
    assert len(units) == 3  # alone; the first of the 100; the 99 that came during its store
    assert before.pipeline.reports_waiting == 0
    await before.close()

    after = Pipeline(engine, _app_receiver(feishu, clock), clock)  # a restart: state from SQL
    await after.pipeline.start()
    await after.run(60)
    assert _shown_symbols(feishu) == dict.fromkeys(symbols, 1)
    await after.close()


async def test_a_burst_of_500_events_stays_under_the_bots_limits_and_loses_nothing(
    engine: Engine, feishu: FakeFeishu, clock: ManualClock
) -> None:
    feishu.enforce_rate_limits(per_second=5, per_minute=100)
    run = Pipeline(engine, _app_receiver(feishu, clock), clock)
    await run.pipeline.start()
    symbols = [f"S{index:03d}USDT" for index in range(500)]
    # 500 accounts: 500 groups, so grouping alone cannot absorb the burst.
    await run.pipeline.report(
        [_locked(symbol, clock(), account=f"a{index}") for index, symbol in enumerate(symbols)]
    )
    await run.run(180, step_s=0.25)

    assert _shown_symbols(feishu) == dict.fromkeys(symbols, 1)
    assert feishu.max_requests_in("message", 1.0) <= 5
    assert feishu.max_requests_in("message", 60.0) <= 100
    assert run.failing == []
    await run.close()


async def test_a_secret_in_an_events_free_text_never_reaches_feishu(
    engine: Engine, feishu: FakeFeishu, clock: ManualClock
) -> None:
    receiver = WebhookReceiver(
        Secret(feishu.hook_url), Secret(feishu.hook_secret), now_s=lambda: int(clock())
    )
    run = Pipeline(engine, receiver, clock)
    await run.pipeline.start()
    leaky = AlertEvent(
        "DatabaseError",
        (("account", "main"), ("alertname", "DatabaseError"), ("detail", f"password={SECRET}")),
        Severity.CRITICAL,
        True,
        int(clock() * 1000),
        (("note", SECRET), ("code", SECRET)),
        SECRET,
    )
    await run.pipeline.report([leaky, _locked(SECRET[:20].upper(), clock())])
    await run.run(60)

    assert len(feishu.delivered) >= 1
    sent = json.dumps([r.body for r in feishu.requests], ensure_ascii=False)
    assert SECRET not in sent and SECRET[:20].upper() not in sent
    await run.close()
