"""The status page in a real browser: its first render, and how soon a ban shows on an open page.

Starts ``riskd run --sim`` exactly as the README does (or, with ``--gateway URL``, uses one that
runs already) and opens its page in headless Chromium (Debian's ``chromium``, or ``--chromium``),
driven by Playwright:

1. first render: from the navigation's start until the trading state, the ban list and the
   positions are on the page (the page's ``riskd-first-render`` performance mark), in --loads
   fresh tabs one after another; the first tab after ready is reported on its own row;
2. lock shown: with one tab open, an operator locks a symbol (``POST /v1/locks``) --bans
   times, unlocking it after each; the time from sending the lock until the open page shows
   it (the page notes ``Date.now()`` when a lock first appears on it). Both ends read this
   host's clock: riskd's own stamps (``generated_at``) are Binance's time, local time plus an
   offset measured over a round trip, which may be off by tens of milliseconds.

    python bench/page.py [--loads 10] [--bans 10] [--gateway URL] [--chromium PATH]

Target (issue 17): first render ≤ 1 s, and an operator's lock shown ≤ 1 s after it is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import aiohttp
from deployment import LATENCY_HEADERS, by_row, latency_cells, table
from playwright.async_api import Browser, Page, async_playwright
from run_sim_first_event import start_riskd, stop_riskd

TARGET_S = 1.0
STEP_MS = 10_000
SYMBOL = "DOGEUSDT"
SHOWN = "window.riskdPage.banlistShown"
LOCK_SHOWN = "window.riskdPage.lockShownMs"
FIRST_RENDER = "window.riskdPage.firstRenderMs"


async def first_render_s(browser: Browser, gateway: str) -> float:
    """Seconds from a fresh tab's navigation until the page's first full render."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(gateway + "/")
        await page.wait_for_function(f"() => {FIRST_RENDER} !== null", timeout=STEP_MS)
        return await page.evaluate(FIRST_RENDER) / 1000
    finally:
        await context.close()


async def one_ban(page: Page, http: aiohttp.ClientSession, gateway: str, n: int) -> float:
    """Seconds from sending an operator's lock until the open page shows it."""
    body = {"symbol": SYMBOL, "operator": "bench", "reason": f"bench ban {n}"}
    sent_ms = time.time() * 1000
    async with http.post(f"{gateway}/v1/locks", json=body) as response:
        response.raise_for_status()
        lock = await response.json()
    shown = f"{LOCK_SHOWN}[{int(lock['id'])}]"
    await page.wait_for_function(f"() => {shown} !== undefined", timeout=STEP_MS)
    shown_ms = await page.evaluate(shown)
    delete = f"{gateway}/v1/locks/{lock['id']}?operator=bench&reason=next+round"
    async with http.delete(delete) as response:
        response.raise_for_status()
    return (shown_ms - sent_ms) / 1000


async def measure(gateway: str, chromium: str, loads: int, bans: int):
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            renders = [await first_render_s(browser, gateway) for _ in range(loads)]
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(gateway + "/")
            await page.wait_for_function(f"() => {SHOWN} !== null", timeout=STEP_MS)
            async with aiohttp.ClientSession() as http:
                shown = [await one_ban(page, http, gateway, n) for n in range(bans)]
            await context.close()
        finally:
            await browser.close()
    return renders, shown


def report(renders: list[float], shown: list[float]) -> str:
    rows = []
    for event, samples in (
        ("page opened → first render", renders),
        ("operator lock → shown on the open page", shown),
    ):
        for label, values in by_row(samples[0], samples[1:]):
            verdict = "ok" if max(values) <= TARGET_S else "MISS"
            rows.append([event, label, len(values), *latency_cells(values), verdict])
    return table(
        ["event", "sample", "n", *LATENCY_HEADERS, f"≤ {TARGET_S * 1000:g} ms"], rows, {0, 1}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=10, help="fresh tabs opened (≥ 2)")
    parser.add_argument("--bans", type=int, default=10, help="locks watched (≥ 2)")
    parser.add_argument("--gateway", help="a running riskd's gateway (default: start one)")
    parser.add_argument("--chromium", default=shutil.which("chromium"), help="the browser")
    args = parser.parse_args()
    if not args.chromium:
        parser.error("--chromium: no chromium on PATH (apt-get install chromium)")
    loads, bans = max(args.loads, 2), max(args.bans, 2)
    if args.gateway:
        results = asyncio.run(measure(args.gateway.rstrip("/"), args.chromium, loads, bans))
    else:
        with tempfile.TemporaryDirectory(prefix="riskd-page-") as folder:
            process, gateway, _ready_s = start_riskd(Path(folder))
            try:
                results = asyncio.run(measure(gateway, args.chromium, loads, bans))
            finally:
                stop_riskd(process)
    print(report(*results))


if __name__ == "__main__":
    main()
