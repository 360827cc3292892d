"""The daily report's page: self-contained, its data embedded inertly, drawn by charts.js (in
a real headless Chromium)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from playwright.async_api import Page

from riskd.pnl.daily import DailyReport, DayFigures
from riskd.pnl.report import PnlGrouping
from riskd.pnl.report_html import daily_report_html
from riskd.web import asset
from tests.kit.browser import screenshot

HOSTILE = "</script><script>alert(1)</script>&amp;<!--"
DAY_MS = 86_400_000
START_MS = 1_796_169_600_000  # 2026-12-02 00:00 UTC


def _report() -> dict:
    loss, win = (Decimal("-3"), Decimal("-0.5"), Decimal(0)), (Decimal("2"), Decimal(0), Decimal(0))
    rows = (
        DayFigures("2026-12-02", "", "USDT", *loss, 2, 0, 1, "BTCUSDT"),
        DayFigures("2026-12-02", HOSTILE, "USDT", *loss, 2, 0, 1),
        DayFigures("2026-12-03", "", "USDT", *win, 1, 1, 0, "ETHUSDT"),
    )
    report = DailyReport(HOSTILE, PnlGrouping.ROBOT, 2, START_MS, START_MS + DAY_MS + 5, rows)
    return report.to_dict()


def _embedded(page: str) -> str:
    (data,) = re.findall(r'<script type="application/json" id="report">(.*?)</script>', page)
    return data


def test_the_report_is_embedded_as_json_no_text_can_close_its_element() -> None:
    report = _report()
    page = daily_report_html(report, START_MS + DAY_MS)
    data = _embedded(page)
    assert json.loads(data) == report
    assert not re.search("[<>&]", data)
    assert HOSTILE not in page  # nor in the title: escaped there
    assert "<title>Daily report of &lt;/script&gt;&lt;script&gt;alert(1)" in page


def test_the_page_loads_nothing_from_elsewhere() -> None:
    page = daily_report_html(_report(), START_MS)
    assert not re.search(r"\b(src|href)\s*=|<link|@import|url\(|<iframe|<img", page, re.I)
    # The only URL is the SVG namespace's name, which nothing fetches.
    assert set(re.findall(r"https?://[^\s\"'<>)]*", page)) == {"http://www.w3.org/2000/svg"}
    assert "innerHTML" not in asset("charts.js")


CHARTS = """() => {
  const box = document.createElement("div");
  box.append(document.createElement("old"));
  document.body.append(box);
  const texts = (node) => [...node.querySelectorAll("text")].map((t) => t.textContent);
  const results = {};
  RiskdCharts.line(box, [], {title: "t"});
  results.empty_line = [box.children.length, texts(box)];
  RiskdCharts.bars(box, [], {});
  results.empty_bars = texts(box);
  RiskdCharts.line(box, [[1796169600000, 1.5], [1796256000000, -2]], {title: "net", unit: "USDT"});
  results.line = [box.children.length, box.querySelectorAll("path").length, texts(box)];
  RiskdCharts.bars(box, [{label: "12-02", value: -3.5}, {label: "<b>", value: 2}], {unit: "USDT"});
  results.bars = [[...box.querySelectorAll("rect")].map((r) => r.getAttribute("fill")), texts(box)];
  return results;
}"""


async def test_charts_draw_lines_and_bars_and_say_when_there_is_no_data(page: Page) -> None:
    await page.set_content("<!doctype html><body></body>")
    await page.add_script_tag(content=asset("charts.js"))
    results = await page.evaluate(CHARTS)
    assert results == {
        "empty_line": [1, ["t", "no data"]],
        "empty_bars": ["no data"],
        "line": [1, 1, ["net", "1.5 USDT", "-2 USDT", "2026-12-02 00:00Z", "2026-12-03 00:00Z"]],
        "bars": [["#c62828", "#2e7d32"], ["12-02", "<b>", "2 USDT", "-3.5 USDT"]],
    }


async def test_the_page_draws_a_chart_pair_per_asset_and_the_table(
    page: Page, tmp_path: Path
) -> None:
    written = tmp_path / "report.html"
    written.write_text(daily_report_html(_report(), START_MS), encoding="utf-8")
    await page.goto(written.as_uri())
    svgs = await page.locator("#charts svg").count()
    cells = await page.evaluate(
        "() => [...document.querySelectorAll('#rows tr')].map("
        "(tr) => [...tr.children].map((td) => td.textContent))"
    )
    await screenshot(page, "daily-report")
    assert svgs == 2
    assert cells == [
        ["2026-12-02", "total", "USDT", "-3", "-0.5", "0", "-3.5", "2", "0.0 %", "BTCUSDT"],
        ["", HOSTILE, "USDT", "-3", "-0.5", "0", "-3.5", "2", "0.0 %", ""],
        ["2026-12-03", "total", "USDT", "2", "0", "0", "2", "1", "100.0 %", "ETHUSDT"],
    ]
