"""The daily summary: its alerts, its card, and one delivery to Feishu and the console however
often it is reported, restarts included."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from riskd.core.secrets import Secret
from riskd.notify import alert_store
from riskd.notify.alerts import Dispatcher, RouteConfig, Severity
from riskd.notify.card import Language, render
from riskd.notify.config import AlertsConfig
from riskd.notify.console import ConsoleReceiver
from riskd.notify.events import DAILY_SUMMARY, daily_summary_alerts, summarized_days
from riskd.notify.outbound import OutboundConfig
from riskd.notify.pipeline import AlertPipeline, ReceiverSlot
from riskd.notify.webhook import WebhookReceiver
from riskd.pnl.daily import DayFigures
from riskd.store.engine import SqlRunner
from riskd.store.schema import init_schema
from tests.kit.clock import ManualClock
from tests.kit.fake_feishu import FakeFeishu

DAY = "2026-12-03"
AT_MS = int(datetime(2026, 12, 4, 0, 5, tzinfo=UTC).timestamp() * 1000)
LABELS = {"account": "main", "day": DAY, "asset": "USDT"}
USDT = DayFigures(
    DAY, "", "USDT", Decimal("120.5"), Decimal("-8.25"), Decimal("-1.1"), 42, 10, 8, "ETHUSDT"
)
QUIET = DayFigures(DAY, "", "BNB", Decimal(0), Decimal(0), Decimal(0), 0, 0, 0)


def test_a_day_is_one_told_once_info_alert_per_asset_that_saw_a_flow() -> None:
    fired, resolved = daily_summary_alerts("main", [QUIET, USDT], AT_MS)

    assert (fired.name, fired.severity, fired.at_ms) == (DAILY_SUMMARY, Severity.INFO, AT_MS)
    assert (fired.firing, resolved.firing, fired.once, resolved.once) == (True, False, True, True)
    assert dict(fired.labels) == {"alertname": DAILY_SUMMARY, **LABELS}
    assert dict(fired.figures) == {
        "realized_pnl": "120.5",
        "commission": "-8.25",
        "funding": "-1.1",
        "net": "111.15",
        "trades": "42",
        "win_rate": "55.56",
        "worst_symbol": "ETHUSDT",
    }


def test_a_quiet_day_still_has_its_card() -> None:
    fired, _ = daily_summary_alerts("main", [QUIET], AT_MS)

    assert dict(fired.figures) == {
        "realized_pnl": "0",
        "commission": "0",
        "funding": "0",
        "net": "0",
        "trades": "0",
    }


def test_the_summarized_days_are_the_accounts_own() -> None:
    told = [LABELS, {**LABELS, "account": "hedge", "day": "2026-12-02"}]

    assert summarized_days("main", told) == {DAY}


def _card(*figures: DayFigures, language: Language = "en") -> tuple[str, str, str]:
    """(header, colour, text) of the card the summary of *figures* makes."""
    dispatcher = Dispatcher(RouteConfig(group_wait_ms=0))
    for alert in daily_summary_alerts("main", figures, AT_MS):
        dispatcher.observe(alert)
    message = render(dispatcher.flush(AT_MS), "u-1", "prod", language)
    header = message.card["header"]
    return header["title"]["content"], header["template"], message.text


def test_the_card_shows_the_days_figures_as_a_notice() -> None:
    title, colour, text = _card(USDT)

    assert (title, colour) == ("[NOTICE 1] Daily summary · main", "blue")
    assert text.splitlines()[1] == (
        "  🔔 Account main · Day 2026-12-03 · Asset USDT · Realized PnL 120.5 · Commission -8.25"
        " · Funding -1.1 · Net 111.15 · Trades 42 · Win rate 55.56% · Worst symbol ETHUSDT"
        " | at 2026-12-04 00:05:00 UTC"
    )


def test_each_asset_is_a_line_of_one_card_in_chinese_too() -> None:
    usdc = DayFigures(DAY, "", "USDC", Decimal(-3), Decimal(0), Decimal(0), 1, 0, 1, "BTCUSDC")
    title, _, text = _card(USDT, usdc, language="zh")

    assert title == "[通知 2] 每日交易汇总 · main"
    assert "资产 USDC · 已实现盈亏 -3" in text and "胜率 0%" in text
    assert "资产 USDT · 已实现盈亏 120.5" in text and "最差品种 ETHUSDT" in text


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(AT_MS / 1000)


@pytest.fixture
async def feishu(clock: ManualClock) -> AsyncIterator[FakeFeishu]:
    async with FakeFeishu(now_s=clock, wall_clock_s=clock) as fake:
        yield fake


class Alerter:
    """An AlertPipeline to the fake Feishu's webhook and a console, as the Alerter runs it."""

    def __init__(self, engine: Engine, feishu: FakeFeishu, clock: ManualClock) -> None:
        self.sql = SqlRunner(engine)
        self.console = io.StringIO()
        self.clock = clock
        hook = WebhookReceiver(
            Secret(feishu.hook_url), Secret(feishu.hook_secret), now_s=lambda: int(clock())
        )
        console = ConsoleReceiver(self.console, now_s=clock)
        config = AlertsConfig(language="en", heartbeat_interval_ms=0)
        self.pipeline = AlertPipeline(
            config,
            "prod",
            self.sql,
            [ReceiverSlot(hook, OutboundConfig()), ReceiverSlot(console, OutboundConfig())],
            lambda: int(clock() * 1000),
        )

    async def run(self, seconds: int) -> None:
        for _ in range(seconds):
            await self.pipeline.tick()
            self.clock.advance(1)

    async def close(self) -> None:
        self.sql.close()
        for slot in self.pipeline.slots:
            await slot.receiver.close()


async def test_a_day_reported_on_every_pass_and_after_a_restart_makes_one_card(
    sql_engine: Engine, feishu: FakeFeishu, clock: ManualClock
) -> None:
    init_schema(sql_engine, 0)
    summary = daily_summary_alerts("main", [USDT], AT_MS)
    before = Alerter(sql_engine, feishu, clock)
    await before.pipeline.start()
    await before.pipeline.report(summary)
    await before.pipeline.report(summary)  # the Ledger's next pass, before the card went
    await before.run(60)
    await before.pipeline.report(summary)  # and after it went
    await before.run(60)
    await before.close()
    after = Alerter(sql_engine, feishu, clock)  # the Alerter restarted
    await after.pipeline.start()
    await after.pipeline.report(summary)
    await after.run(60)

    [card] = feishu.delivered
    assert "Daily summary" in card.text and "Net 111.15" in card.text
    assert before.console.getvalue().count("Daily summary") == 1
    assert after.console.getvalue() == ""
    told = await after.sql.run(alert_store.told_labels, DAILY_SUMMARY, AT_MS)
    assert summarized_days("main", told) == {DAY}
    await after.close()
