"""The Alerter on Ray: a losing trade fires SymbolLocked; operators silence it and end the
silence through the CLI."""

from __future__ import annotations

import re

from actors import launcher
from tests.kit.deployment import (
    BANLIST_JOBS,
    READY_S,
    deployment_toml,
    get_json,
    published_banlist,
    round_trip,
    run_cli,
    wait_for,
)


def _firing(gateway: str, name: str) -> list[dict]:
    status, body = get_json(f"{gateway}/v1/alerts")
    return [a for a in body["alerts"] if a["name"] == name] if status == 200 else []


async def test_a_lock_fires_an_alert_that_a_silence_mutes_until_it_is_expired(
    deploy, simulator
) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, BANLIST_JOBS))
    launcher.wait_ready(controller, READY_S)
    gateway = info["gateway"]
    assert wait_for(lambda: published_banlist(gateway), timeout_s=30)
    await round_trip(simulator.server, "BTCUSDT", "0.100", "60000", "58000")  # -200 USDT

    (alert,) = wait_for(lambda: _firing(gateway, "SymbolLocked"), timeout_s=20)
    assert alert["labels"] == {
        "alertname": "SymbolLocked",
        "account": "sim",
        "symbol": "BTCUSDT",
        "side": "both",
        "source": "rule:symbol_4h",
    }
    assert (alert["severity"], alert["muted"]) == ("warning", False)

    silenced = run_cli(
        "silence", "symbol=BTCUSDT", "alertname=~Symbol.*", "--minutes", "30",
        "--operator", "alice", "--comment", "known loss", "--url", gateway,
    )  # fmt: skip
    assert silenced.returncode == 0, silenced.stderr
    (row,) = silenced.stdout.splitlines()[1:]
    silence_id = int(row.split()[0])
    assert re.search(r'symbol="BTCUSDT", alertname=~"Symbol\.\*"\s+known loss$', row)
    assert wait_for(lambda: _firing(gateway, "SymbolLocked")[0]["muted"], timeout_s=10)
    assert "known loss" in run_cli("silences", "--url", gateway).stdout

    ended = run_cli("unsilence", str(silence_id), "--operator", "bob", "--url", gateway)
    assert ended.stdout == f"expired silence {silence_id}\n", ended.stderr
    assert not _firing(gateway, "SymbolLocked")[0]["muted"]
    assert get_json(f"{gateway}/v1/silences")[1] == {"silences": []}
