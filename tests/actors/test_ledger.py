"""The Ledger on Ray against the simulator: losing fills become locks in the published list."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from actors import launcher
from riskd.client import BanListClient, BanListClientConfig
from riskd.store.engine import make_engine
from riskd.store.schema import balance_snapshots, lock_events, symbols, trading_states
from tests.kit.deployment import (
    BANLIST_JOBS,
    LOOPBACK_JOBS,
    READY_S,
    deployment_toml,
    get_json,
    post_json,
    published_banlist,
    round_trip,
    run_cli,
    wait_for,
)


def _vouched(gateway: str) -> dict | None:
    """The list once riskd vouches for it (its sources were fresh when it was generated)."""
    body = published_banlist(gateway)
    return body if body and body["valid_until"] > body["generated_at"] else None


def _locked(gateway: str) -> list[tuple[str, str]]:
    body = published_banlist(gateway)
    return sorted((lock["symbol"], lock["source"]) for lock in body["locks"]) if body else []


async def test_losing_fills_lock_the_symbol_and_a_profitable_one_stays_open(
    deploy, simulator, tmp_path
) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, BANLIST_JOBS))
    launcher.wait_ready(controller, READY_S)
    gateway = info["gateway"]
    first = wait_for(lambda: _vouched(gateway), timeout_s=30)  # the first may be unvouched
    assert first is not None and first["locks"] == [] and first["state"] == "ACTIVE"

    config = BanListClientConfig(url=gateway, account="sim")
    with BanListClient(config) as strategy:
        assert strategy.wait_for_version(first["version"], timeout_s=10)
        assert not strategy.is_banned("BTCUSDT", "long")
        # BTCUSDT: 0.1 bought at 60 000, sold at 58 000: -200 USDT (< -150 over 4 h).
        await round_trip(simulator.server, "BTCUSDT", "0.100", "60000", "58000")
        # ETHUSDT: a profit.
        await round_trip(simulator.server, "ETHUSDT", "1.000", "3000", "3100")
        locked = wait_for(lambda: _locked(gateway), timeout_s=15)
        assert locked == [("BTCUSDT", "rule:symbol_4h")]
        assert wait_for(lambda: strategy.is_banned("BTCUSDT", "long"), timeout_s=10)
        assert not strategy.is_banned("ETHUSDT", "long")

    engine = make_engine(f"sqlite:///{tmp_path / 'riskd.db'}")

    def snapshot_assets() -> list[str]:  # the book's balances, on the first fresh pass
        with engine.connect() as connection:
            return list(connection.scalars(select(balance_snapshots.c.asset).distinct()))

    assert "USDT" in wait_for(snapshot_assets, timeout_s=30)
    with engine.connect() as connection:
        actions = connection.execute(select(lock_events.c.action, lock_events.c.actor)).all()
        btc = connection.execute(
            select(symbols.c.status, symbols.c.tick_size).where(symbols.c.symbol == "BTCUSDT")
        ).one()
    engine.dispose()
    assert [tuple(row) for row in actions] == [("created", "rules")]
    assert tuple(btc) == ("TRADING", Decimal("0.10"))  # from exchangeInfo


async def test_losses_over_the_account_limit_lock_all(deploy, simulator) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, BANLIST_JOBS))
    launcher.wait_ready(controller, READY_S)
    gateway = info["gateway"]
    assert wait_for(lambda: published_banlist(gateway), timeout_s=30)
    # 0.5 BTC bought at 60 000, sold at 53 000: -3 500 USDT (< -3 000 over 24 h).
    await round_trip(simulator.server, "BTCUSDT", "0.500", "60000", "53000")
    locked = wait_for(lambda: ("ALL", "rule:account_24h") in _locked(gateway), timeout_s=15)
    assert locked
    banlist = published_banlist(gateway)
    assert banlist is not None and banlist["all"] is True
    assert _locked(gateway) == [
        ("ALL", "rule:account_24h"),
        ("BTCUSDT", "rule:symbol_24h"),
        ("BTCUSDT", "rule:symbol_4h"),
    ]


async def test_after_a_restart_riskd_publishes_the_same_locks(deploy, simulator) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, BANLIST_JOBS))
    launcher.wait_ready(controller, READY_S)
    assert wait_for(lambda: published_banlist(info["gateway"]), timeout_s=30)
    await round_trip(simulator.server, "BTCUSDT", "0.100", "60000", "58000")
    before = wait_for(
        lambda: published_banlist(info["gateway"]) if _locked(info["gateway"]) else None
    )
    assert before is not None
    launcher.stop(controller)

    controller, info = deploy(deployment_toml(simulator.server.url, BANLIST_JOBS))
    launcher.wait_ready(controller, READY_S)
    after = wait_for(lambda: published_banlist(info["gateway"]), timeout_s=30)
    assert after is not None and after["version"] > before["version"]
    assert after["locks"] == before["locks"]  # the same ids, sources and ends, from SQL


def test_an_operator_lock_and_its_unlock_are_published_and_audited(
    deploy, simulator, tmp_path
) -> None:
    controller, info = deploy(deployment_toml(simulator.server.url, BANLIST_JOBS))
    launcher.wait_ready(controller, READY_S)
    gateway = info["gateway"]
    assert wait_for(lambda: published_banlist(gateway), timeout_s=30)

    locked = run_cli(
        "lock",
        "DOGEUSDT",
        "--side",
        "long",
        "--operator",
        "alice",
        "--reason",
        "news",
        "--url",
        gateway,
    )
    assert locked.returncode == 0, locked.stderr
    (row,) = locked.stdout.splitlines()[1:]
    lock_id = int(row.split()[0])
    assert wait_for(lambda: _locked(gateway) == [("DOGEUSDT", "operator:alice")], timeout_s=10)
    listed = run_cli("locks", "--url", gateway)
    assert re.search(
        r"DOGEUSDT\s+long\s+all\s+until unlocked\s+.*operator:alice\s+news", listed.stdout
    )

    refused = run_cli(
        "unlock", str(lock_id + 99), "--operator", "bob", "--reason", "x", "--url", gateway
    )
    assert refused.returncode == 2
    assert f"404 account 'sim' has no lock {lock_id + 99}" in refused.stderr
    unlocked = run_cli(
        "unlock", str(lock_id), "--operator", "bob", "--reason", "news priced in", "--url", gateway
    )
    assert unlocked.stdout == f"unlocked {lock_id} (DOGEUSDT long)\n", unlocked.stderr
    assert wait_for(lambda: _locked(gateway) == [], timeout_s=10)

    engine = make_engine(f"sqlite:///{tmp_path / 'riskd.db'}")
    with engine.connect() as connection:
        audit = connection.execute(
            select(lock_events.c.action, lock_events.c.actor, lock_events.c.detail).order_by(
                lock_events.c.id
            )
        ).all()
    engine.dispose()
    assert [tuple(row) for row in audit] == [
        ("created", "operator:alice", "news"),
        ("unlocked", "operator:bob", "news priced in"),
    ]


FAST_LEDGER = """
[accounts.ledger]
banlist_valid_ms = 3000

[accounts.jobs.ledger]
interval_ms = 1000
"""


def test_a_stalled_income_source_lets_the_list_expire_and_the_client_answer_banned(
    deploy, simulator
) -> None:
    toml = deployment_toml(simulator.server.url, LOOPBACK_JOBS + FAST_LEDGER)
    controller, info = deploy(toml)
    launcher.wait_ready(controller, READY_S)
    gateway = info["gateway"]
    first = wait_for(lambda: published_banlist(gateway), timeout_s=30)
    assert first is not None
    with BanListClient(BanListClientConfig(url=gateway, account="sim")) as strategy:
        assert strategy.wait_for_version(first["version"], timeout_s=10)
        assert wait_for(lambda: not strategy.is_banned("ETHUSDT", "long"), timeout_s=10)
        post_json(
            f"{simulator.server.url}/_sim/fault",
            {"path": "/fapi/v1/income", "kind": "delay", "ms": 5000, "count": 1000},
        )
        assert wait_for(lambda: strategy.is_banned("ETHUSDT", "long"), timeout_s=30)
        snapshot = strategy.snapshot
        assert snapshot is not None and snapshot.locks == ()  # banned because it expired
        assert snapshot.expired(simulator.server.clock.now_ms())

    def ledger_problems() -> list[str]:
        status, health = get_json(f"{gateway}/v1/health")
        return (
            [p for p in health["problems"] if p.startswith("ledger:sim")] if status == 503 else []
        )

    (problem,) = wait_for(ledger_problems, timeout_s=15)
    assert problem.startswith("ledger:sim running, late by ")  # health says it cannot vouch


async def test_an_unlocked_rule_lock_stays_unlocked_until_a_new_loss(deploy, simulator) -> None:
    toml = deployment_toml(simulator.server.url, LOOPBACK_JOBS + FAST_LEDGER)
    controller, info = deploy(toml)
    launcher.wait_ready(controller, READY_S)
    gateway = info["gateway"]
    assert wait_for(lambda: published_banlist(gateway), timeout_s=30)
    await round_trip(simulator.server, "BTCUSDT", "0.100", "60000", "58000")  # -200 USDT
    assert wait_for(lambda: _locked(gateway) == [("BTCUSDT", "rule:symbol_4h")], timeout_s=15)
    (lock,) = published_banlist(gateway)["locks"]

    unlocked = run_cli(
        "unlock", str(lock["id"]), "--operator", "bob", "--reason", "checked", "--url", gateway
    )
    assert unlocked.returncode == 0, unlocked.stderr
    assert wait_for(lambda: _locked(gateway) == [], timeout_s=10)
    after_unlock = published_banlist(gateway)["version"]
    # The rule still breaches on the same losses; three more passes (1 s each) leave it unlocked.
    later = wait_for(
        lambda: published_banlist(gateway)["version"] >= after_unlock + 3, timeout_s=15
    )
    assert later and _locked(gateway) == []

    await round_trip(simulator.server, "BTCUSDT", "0.010", "60000", "58000")  # -20 more
    assert wait_for(lambda: _locked(gateway) == [("BTCUSDT", "rule:symbol_4h")], timeout_s=15)
    (relocked,) = published_banlist(gateway)["locks"]
    assert relocked["id"] != lock["id"]


def test_an_operator_sets_the_trading_state_and_the_list_shows_it(deploy, simulator, tmp_path):
    controller, info = deploy(deployment_toml(simulator.server.url, BANLIST_JOBS))
    launcher.wait_ready(controller, READY_S)
    gateway = info["gateway"]
    assert wait_for(lambda: published_banlist(gateway), timeout_s=30)
    assert run_cli("state", "--url", gateway).stdout == "ACTIVE (never changed)\n"

    halted = run_cli(
        "state", "HALTED", "--operator", "alice", "--reason", "venue", "--url", gateway
    )
    assert halted.returncode == 0, halted.stderr
    assert halted.stdout.startswith("HALTED since ") and "by operator:alice: venue" in halted.stdout
    assert wait_for(lambda: published_banlist(gateway)["state"] == "HALTED", timeout_s=10)
    with BanListClient(BanListClientConfig(url=gateway, account="sim")) as strategy:
        assert wait_for(lambda: strategy.is_banned("ETHUSDT", "long"), timeout_s=10)
    refused = post_json(f"{gateway}/v1/state", {"state": "PAUSED", "operator": "a", "reason": "r"})
    assert refused == (400, {"error": "state: must be ACTIVE, REDUCING or HALTED, not 'PAUSED'"})
    resumed = run_cli("state", "ACTIVE", "--operator", "bob", "--reason", "back", "--url", gateway)
    assert resumed.returncode == 0, resumed.stderr
    assert wait_for(lambda: published_banlist(gateway)["state"] == "ACTIVE", timeout_s=10)

    engine = make_engine(f"sqlite:///{tmp_path / 'riskd.db'}")
    with engine.connect() as connection:
        history = connection.execute(
            select(trading_states.c.state, trading_states.c.actor).order_by(trading_states.c.id)
        ).all()
    engine.dispose()
    assert [tuple(row) for row in history] == [
        ("HALTED", "operator:alice"),
        ("ACTIVE", "operator:bob"),
    ]
