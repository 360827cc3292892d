"""The status page in a real headless Chromium, on a gateway serving riskd's actors in memory:
what it shows, how it follows the streams and a lost connection, and the operators' controls.
(``tests/test_run_sim.py`` opens it on ``riskd run --sim`` and watches a loss lock a symbol.)"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from decimal import Decimal

from playwright.async_api import Page, expect

from riskd.core.clock import wall_ms
from riskd.gateway.app import GatewayServer
from riskd.health import JobStatus
from riskd.pnl.report import PnlRow
from tests.kit.browser import screenshot
from tests.kit.gateway import OPERATOR_TOKEN, READ_TOKEN, FakeBackend, gateway_config, serving
from tests.kit.samples import banlist, lock

POSITION = {
    "symbol": "BTCUSDT",
    "position_side": "BOTH",
    "amount": "0.010",
    "entry_price": "60000",
    "update_time_ms": 1,
    "break_even_price": None,
    "mark_price": "59000",
    "unrealized_pnl": "-10",
    "liquidation_price": "53100",
}
RUNGS = [
    {"symbol": "BTCUSDT", "position_side": "BOTH", "rung": i, "trigger_price": price,
     "quantity": "0.002", "close_position": False}
    for i, price in enumerate(("58800", "58500"))
]  # fmt: skip
JOB = JobStatus(
    "stop_ladder",
    "main",
    "running",
    0,
    {"late": False, "lag_ms": 0, "last_error": None, "egress": "127.0.0.7",
     "weight_per_minute": 600, "weight_used_1m": 540},
)  # fmt: skip


def _published(server: GatewayServer, version: int, *locks) -> None:
    """A ban list of *version* with *locks*, valid for a minute from now."""
    now = wall_ms()
    current = replace(banlist(version, *locks), generated_at_ms=now, valid_until_ms=now + 60_000)
    assert server.publish_banlist(current.to_json())


def _an_account_in_trouble(backend: FakeBackend) -> None:
    backend.views["main"] = {"account": "main", "now_ms": 1, "positions": [POSITION],
                             "balances": [], "sources": []}  # fmt: skip
    backend.rungs["main"] = RUNGS
    backend.rows = [JOB]
    backend.pnl_rows["main"] = [
        PnlRow("alpha", "USDT", Decimal("-151.5"), Decimal("-2"), Decimal("0"))
    ]
    backend.gate_counts["main"] = [{"robot": "alpha", "passed": 7, "refused": 2,
                                    "last_refusal": "BANNED", "last_refused_ms": 1}]  # fmt: skip
    backend.equity_points["main"] = [[wall_ms() - 120_000, "1000"], [wall_ms(), "850"]]
    backend.told = [
        {"told_ms": 1, "delivery": "failed", "name": "IpBanned", "labels": {"ip": "127.0.0.2"},
         "severity": "critical", "state": "resolved", "starts_ms": 1, "ends_ms": 2}
    ]  # fmt: skip
    backend.firing = [
        {"name": "SymbolLocked", "labels": {"symbol": "BTCUSDT"}, "severity": "warning",
         "starts_ms": 1, "updated_ms": 1, "muted": False}
    ]  # fmt: skip


async def test_the_page_shows_an_accounts_locks_positions_robots_and_jobs(page: Page) -> None:
    async with serving() as gateway:
        _an_account_in_trouble(gateway.backend)
        _published(gateway.server, 3, lock(until_ms=wall_ms() + 3_600_000, robot="alpha"))
        await page.goto(gateway.url + "/")
        await page.wait_for_function("() => window.riskdPage.firstRenderMs !== null")
        lock_row = page.locator("#banlist tr[data-lock='1']")
        await expect(lock_row).to_contain_text("realized PnL over 4 h ≤ −150 USDT")
        await expect(lock_row).to_contain_text("alpha")
        await expect(lock_row).to_contain_text("rule:pnl_4h")
        await expect(lock_row.locator("td.left")).to_have_text(re.compile(r"59m \d\ds|1h 00m"))
        position = page.locator("#positions tr[data-symbol='BTCUSDT']")
        await expect(position).to_contain_text("58800 × 0.002, 58500 × 0.002")
        await expect(position).to_contain_text("10.00%")  # (59000 − 53100) / 59000
        robot = page.locator("#robots tr[data-robot='alpha']")
        await expect(robot).to_contain_text("-153.5 USDT")
        await expect(robot).to_contain_text("BANNED")
        await expect(page.locator("#weights tr[data-egress='127.0.0.7']")).to_contain_text(
            "540 / 600"
        )
        await expect(page.locator("#alerts")).to_contain_text("SymbolLocked")
        told = page.locator("#alerts tr[data-alert='IpBanned']")
        await expect(told).to_contain_text("resolved")
        await expect(told).to_contain_text("failed")
        await expect(page.locator("#equity svg")).to_be_visible()
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        await expect(page.locator("#lock-form")).to_be_hidden()  # read-only by default
        await screenshot(page, "status-page-fake-backend")
        await page.set_viewport_size({"width": 390, "height": 844})  # a phone: tables scroll
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        await screenshot(page, "status-page-phone")
    assert width == 390


async def test_a_new_version_shows_without_a_reload_and_a_lost_gateway_is_shown(
    page: Page,
) -> None:
    async with serving() as gateway:
        _published(gateway.server, 1)
        await page.goto(gateway.url + "/")
        await expect(page.locator("#banlist")).to_have_attribute("data-version", "1")
        _published(gateway.server, 2, lock(symbol="ETHUSDT"))
        await expect(page.locator("#banlist tr[data-lock='1']")).to_contain_text("ETHUSDT")
        port = int(gateway.url.rsplit(":", 1)[1])
        await gateway.server.stop()
        await expect(page.locator("#connection")).to_have_attribute("data-state", "lost")
        await screenshot(page, "status-page-connection-lost")
        config = gateway_config().model_copy(update={"port": port})
        again = GatewayServer(config, ["main"], gateway.backend)
        _published(again, 3)
        await again.url()
        try:
            await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
            await expect(page.locator("#banlist")).to_have_attribute("data-version", "3")
        finally:
            await again.stop()


async def test_with_tokens_the_page_asks_for_one_and_operators_lock_in_their_name(
    page: Page,
) -> None:
    config = gateway_config(READ_TOKEN, OPERATOR_TOKEN)
    async with serving(config=config) as gateway:
        _published(gateway.server, 1)
        await page.goto(gateway.url + "/")
        await expect(page.locator("#signin")).to_be_visible()
        await page.fill("#token", OPERATOR_TOKEN)
        await page.fill("#operator-name", "alice")
        await page.click("#signin button[type=submit]")
        await expect(page.locator("#banlist")).to_have_attribute("data-version", "1")
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        await page.fill("#lock-symbol", "solusdt")
        await page.fill("#lock-reason", "news at 14:00")
        await page.click("#lock-form button[type=submit]")
        await expect(page.locator("#problem")).to_be_hidden()
    (_, (account, body)) = next(c for c in gateway.backend.calls if c[0] == "add_lock")
    assert (account, body["symbol"], body["operator"], body["side"]) == (
        "main",
        "SOLUSDT",
        "alice",
        "both",
    )
    assert json.dumps(body).count(OPERATOR_TOKEN) == 0
