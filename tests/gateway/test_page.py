"""The status page's files (GET / and /static/…), the routes only the page reads (equity, the
gate's counts per robot), and a browser's token on a WebSocket."""

from __future__ import annotations

import base64
import re

import pytest
from aiohttp import WSServerHandshakeError

from riskd.gateway.page import STATIC_FILES
from riskd.web import asset
from tests.kit.gateway import OPERATOR_TOKEN, READ_TOKEN, READER, gateway_config, serving

PAGE_FILES = ("page.html", *STATIC_FILES)
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


def _subprotocol(token: str) -> str:
    return "bearer." + base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")


async def test_the_page_and_its_files_need_no_token_and_carry_a_strict_policy() -> None:
    async with serving(config=gateway_config(READ_TOKEN, OPERATOR_TOKEN)) as gateway:
        page = await gateway.http.get(gateway.url + "/")
        script = await gateway.http.get(gateway.url + "/static/page.js")
        data, _, _ = await gateway.call("GET", "/v1/state")
    assert (page.status, page.content_type, script.status) == (200, "text/html", 200)
    assert script.content_type == "text/javascript"
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert data == 401  # the data behind the page still takes the token


@pytest.mark.parametrize("name", PAGE_FILES)
def test_no_file_of_the_page_loads_anything_from_elsewhere(name: str) -> None:
    text = asset(name).replace(SVG_NAMESPACE, "")  # a name, not an address to load
    assert not re.search(r"(?i)\b(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text), name
    assert "innerHTML" not in text and "eval(" not in text


async def test_an_unknown_file_is_a_json_404_naming_it() -> None:
    async with serving() as gateway:
        status, _, answer = await gateway.call("GET", "/static/..%2Fsecrets.toml")
        listed, _, _ = await gateway.call("GET", "/static/page.html")
    assert status == 404 and "'../secrets.toml'" in answer["error"]
    assert listed == 404  # the page itself is served only at /


async def test_a_browser_streams_with_its_token_as_a_subprotocol() -> None:
    async with serving(config=gateway_config(READ_TOKEN, OPERATOR_TOKEN)) as gateway:
        gateway.backend.views["main"]["positions"] = []
        url = gateway.url + "/v1/positions/stream"
        async with gateway.http.ws_connect(
            url, protocols=("riskd", _subprotocol(READ_TOKEN))
        ) as socket:
            first = await socket.receive_json(timeout=5)
            chosen = socket.protocol
        with pytest.raises(WSServerHandshakeError) as wrong:
            await gateway.http.ws_connect(url, protocols=("riskd", _subprotocol("guess")))
        with pytest.raises(WSServerHandshakeError) as garbled:
            await gateway.http.ws_connect(url, protocols=("riskd", "bearer.%%%"))
    assert (chosen, first["account"], first["positions"]) == ("riskd", "main", [])
    assert wrong.value.status == garbled.value.status == 401


async def test_the_equity_curve_and_the_gates_counts_come_from_the_account() -> None:
    async with serving(accounts=("main", "spare")) as gateway:
        gateway.backend.equity_points["spare"] = [[60_000, "1000.5"]]
        gateway.backend.gate_counts["spare"] = [{"robot": "alpha", "passed": 3, "refused": 1}]
        _, _, equity = await gateway.call("GET", "/v1/equity?account=spare&hours=48")
        _, _, summary = await gateway.call("GET", "/v1/orders/summary?account=spare")
    assert (equity["points"], equity["end_ms"] - equity["start_ms"]) == (
        [[60_000, "1000.5"]],
        48 * 3_600_000,
    )
    assert summary["robots"] == [{"robot": "alpha", "passed": 3, "refused": 1}]
    assert gateway.backend.calls == [("equity", ("spare", 48)), ("order_summary", ("spare", 24))]


async def test_recent_alerts_are_the_alerters_over_a_day_by_default() -> None:
    async with serving() as gateway:
        gateway.backend.told = [{"name": "IpBanned"}, {"name": "SymbolLocked"}]
        _, _, default = await gateway.call("GET", "/v1/alerts/recent")
        _, _, one = await gateway.call("GET", "/v1/alerts/recent?hours=2&limit=1")
    assert (default["alerts"], one["alerts"]) == (gateway.backend.told, [{"name": "IpBanned"}])
    assert gateway.backend.calls == [("recent_alerts", (24, 100)), ("recent_alerts", (2, 1))]


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/v1/equity?account=main&hours=0", "hours"),
        ("/v1/equity?by=robot", "'by'"),
        ("/v1/orders/summary?hours=9999999", "hours"),
        ("/v1/orders/summary?hours=1&hours=2", "hours"),
        ("/v1/alerts/recent?limit=0", "limit"),
        ("/v1/alerts/recent?limit=1001", "limit"),
        ("/v1/alerts/recent?hours=x", "hours"),
    ],
)
async def test_a_bad_window_is_a_400_naming_it(path: str, named: str) -> None:
    async with serving() as gateway:
        status, _, answer = await gateway.call("GET", path, headers=READER)
    assert status == 400 and named in answer["error"]
    assert gateway.backend.calls == []
