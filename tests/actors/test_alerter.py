"""The Alerter on Ray: a losing trade fires SymbolLocked; operators silence it and end the
silence through the CLI."""

from __future__ import annotations

import re

from actors import launcher
from tests.actors.conftest import LOOPBACK_JOBS, deployment_toml
from tests.actors.test_deployment import READY_S, _get, _wait_for
from tests.actors.test_ledger import _banlist, _cli, _post_json, _round_trip


def _firing(gateway: str, name: str) -> list[dict]:
    status, body = _get(f"{gateway}/v1/alerts")
    return [a for a in body["alerts"] if a["name"] == name] if status == 200 else []


async def test_a_lock_fires_an_alert_that_a_silence_mutes_until_it_is_expired(
    deploy, simulator
) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, LOOPBACK_JOBS))
    launcher.wait_ready(controller, READY_S)
    gateway = info["gateway"]
    assert _wait_for(lambda: _banlist(gateway), timeout_s=30)
    await _round_trip(simulator.server, "BTCUSDT", "0.100", "60000", "58000")  # -200 USDT

    (alert,) = _wait_for(lambda: _firing(gateway, "SymbolLocked"), timeout_s=20)
    assert alert["labels"] == {
        "alertname": "SymbolLocked",
        "account": "sim",
        "symbol": "BTCUSDT",
        "side": "both",
        "source": "rule:symbol_4h",
    }
    assert (alert["severity"], alert["muted"]) == ("warning", False)

    silenced = _cli(
        "silence", "symbol=BTCUSDT", "alertname=~Symbol.*", "--minutes", "30",
        "--operator", "alice", "--comment", "known loss", "--url", gateway,
    )  # fmt: skip
    assert silenced.returncode == 0, silenced.stderr
    (row,) = silenced.stdout.splitlines()[1:]
    silence_id = int(row.split()[0])
    assert re.search(r'symbol="BTCUSDT", alertname=~"Symbol\.\*"\s+known loss$', row)
    assert _wait_for(lambda: _firing(gateway, "SymbolLocked")[0]["muted"], timeout_s=10)
    assert "known loss" in _cli("silences", "--url", gateway).stdout

    ended = _cli("unsilence", str(silence_id), "--operator", "bob", "--url", gateway)
    assert ended.stdout == f"expired silence {silence_id}\n", ended.stderr
    assert not _firing(gateway, "SymbolLocked")[0]["muted"]
    assert _get(f"{gateway}/v1/silences")[1] == {"silences": []}


def test_a_bad_silence_gets_a_precise_400(deploy, simulator) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, LOOPBACK_JOBS))
    launcher.wait_ready(controller, READY_S)
    body = {"matchers": ["symbol=~["], "minutes": 5, "created_by": "a", "comment": "c"}

    status, answer = _post_json(f"{info['gateway']}/v1/silences", body)

    assert status == 400 and "is not a regular expression" in answer["error"]
