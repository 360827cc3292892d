"""The ban-list snapshot: model, JSON, is_banned, building it from locks."""

from __future__ import annotations

import json

import pytest

from riskd.risk.banlist import BanList, build_banlist, next_valid_until_ms
from riskd.risk.locks import ALL, Lock, TradingState
from tests.kit.samples import NOW_MS, VALID_MS, banlist, lock

# --- JSON ---------------------------------------------------------------------------------------


def test_to_json_is_compact_with_wire_keys_and_ms_times() -> None:
    body = banlist(7, lock(until_ms=NOW_MS + 1)).to_json()
    assert body.startswith(b'{"account":"main","version":7,"generated_at":1700000000000,')
    decoded = json.loads(body)
    assert body == json.dumps(decoded, separators=(",", ":")).encode()
    assert list(decoded) == [
        "account",
        "version",
        "generated_at",
        "valid_until",
        "state",
        "all",
        "locks",
    ]
    assert decoded["valid_until"] == NOW_MS + VALID_MS
    assert decoded["locks"][0]["created"] == NOW_MS - 60_000
    assert decoded["locks"][0]["until"] == NOW_MS + 1


def test_json_round_trip_keeps_every_field() -> None:
    original = banlist(
        3, lock(), lock("ETHUSDT", "short", NOW_MS + 5, id=2), state="REDUCING", all=True
    )
    assert BanList.from_json(original.to_json()) == original


def test_to_json_is_stable_for_equal_snapshots() -> None:
    assert banlist(2, lock()).to_json() == banlist(2, lock()).to_json()


def test_the_state_read_from_json_is_a_trading_state() -> None:
    parsed = BanList.from_json(banlist(1, state="HALTED").to_json())
    assert parsed.state is TradingState.HALTED


def test_from_json_ignores_unknown_keys() -> None:
    decoded = json.loads(banlist(1).to_json())
    decoded["added_later"] = {"x": 1}
    assert BanList.from_json(json.dumps(decoded).encode()) == banlist(1)


def _mutated(path: tuple[str | int, ...], value: object) -> bytes:
    decoded = json.loads(banlist(1, lock()).to_json())
    target = decoded
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(decoded).encode()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("version",), "7", "version: must be an integer, not str"),
        (("version",), True, "version: must be an integer, not bool"),
        (("version",), -1, "version: must be >= 0"),
        (("valid_until",), KeyError, "valid_until: must be an integer, not missing"),
        (("generated_at",), 1.5, "generated_at: must be an integer, not float"),
        (("account",), None, "account: must be a string, not null"),
        (("account",), "", "account: must not be empty"),
        (("state",), "OPEN", "state: must be ACTIVE, REDUCING or HALTED, not 'OPEN'"),
        (("all",), "false", "all: must be true or false, not str"),
        (("locks",), {}, "locks: must be a list, not dict"),
        (("locks", 0), "BTCUSDT", "locks[0]: must be a JSON object, not str"),
        (("locks", 0, "side"), "sell", "locks[0].side: must be long, short or both, not 'sell'"),
        (("locks", 0, "symbol"), "", "locks[0].symbol: must not be empty"),
        (("locks", 0, "until"), "soon", "locks[0].until: must be an integer, not str"),
        (("locks", 0, "created"), KeyError, "locks[0].created: must be an integer, not missing"),
        (("locks", 0, "id"), None, "locks[0].id: must be an integer, not null"),
    ],
)
def test_from_json_names_the_bad_field(
    path: tuple[str | int, ...], value: object, message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        BanList.from_json(_mutated(path, value))
    assert str(raised.value).startswith(message)


def test_from_json_rejects_non_json_and_non_objects() -> None:
    with pytest.raises(ValueError, match="ban list: not JSON"):
        BanList.from_json(b"{nope")
    with pytest.raises(ValueError, match="ban list: not JSON"):
        BanList.from_json(b"\xff\xfe")
    with pytest.raises(ValueError, match="ban list: must be a JSON object, not list"):
        BanList.from_json(b"[]")


def test_lock_without_until_round_trips_as_null() -> None:
    body = banlist(1, lock(until_ms=None)).to_json()
    assert json.loads(body)["locks"][0]["until"] is None
    assert BanList.from_json(body).locks[0].until_ms is None


# --- etag and expiry ----------------------------------------------------------------------------


def test_etag_is_strong_quoted_and_follows_account_and_version() -> None:
    etag = banlist(4).etag
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert banlist(4).etag == etag
    assert banlist(5).etag != etag
    assert banlist(4, account="other").etag != etag


def test_etag_quotes_odd_account_names() -> None:
    assert '"' not in banlist(1, account='a"b c').etag[1:-1]


def test_expired_from_valid_until_on() -> None:
    snapshot = banlist(1)
    assert not snapshot.expired(NOW_MS + VALID_MS - 1)
    assert snapshot.expired(NOW_MS + VALID_MS)


# --- is_banned ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot", "symbol", "side", "banned"),
    [
        (banlist(1), "BTCUSDT", "long", False),
        (banlist(1, lock("BTCUSDT", "both")), "BTCUSDT", "long", True),
        (banlist(1, lock("BTCUSDT", "both")), "BTCUSDT", "short", True),
        (banlist(1, lock("BTCUSDT", "both")), "ETHUSDT", "long", False),
        (banlist(1, lock("BTCUSDT", "long")), "BTCUSDT", "long", True),
        (banlist(1, lock("BTCUSDT", "long")), "BTCUSDT", "short", False),
        (banlist(1, lock("BTCUSDT", "short")), "BTCUSDT", "short", True),
        (banlist(1, lock("BTCUSDT", "short")), "BTCUSDT", "long", False),
        (banlist(1, lock(ALL, "both")), "ETHUSDT", "long", True),
        (banlist(1, lock(ALL, "short")), "ETHUSDT", "long", False),
        (banlist(1, lock(ALL, "short")), "ETHUSDT", "short", True),
        (banlist(1, all=True), "ETHUSDT", "short", True),
        (banlist(1, state="REDUCING"), "ETHUSDT", "long", True),
        (banlist(1, state="HALTED"), "ETHUSDT", "short", True),
        (banlist(1, lock(until_ms=NOW_MS + 1)), "BTCUSDT", "long", True),
        (banlist(1, lock(until_ms=NOW_MS)), "BTCUSDT", "long", False),
        (banlist(1, lock(until_ms=NOW_MS - 1)), "BTCUSDT", "long", False),
    ],
)
def test_is_banned_table(snapshot: BanList, symbol: str, side: str, banned: bool) -> None:
    assert snapshot.is_banned(symbol, side, NOW_MS) is banned  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("robot", "banned"), [("a", True), ("b", False), (None, False)], ids=["a", "b", "nobody"]
)
def test_a_robots_lock_bans_that_robot_only(robot: str | None, banned: bool) -> None:
    snapshot = banlist(1, lock("ETHUSDT", robot="a"), lock(ALL, robot="a", id=2))
    assert snapshot.all is False
    assert snapshot.is_banned("ETHUSDT", "long", NOW_MS, robot=robot) is banned
    assert snapshot.is_banned("BTCUSDT", "short", NOW_MS, robot=robot) is banned


def test_a_robots_lock_round_trips_and_a_list_without_robots_reads_as_every_robots() -> None:
    snapshot = banlist(2, lock("ETHUSDT", robot="a"))
    assert json.loads(snapshot.to_json())["locks"][0]["robot"] == "a"
    assert BanList.from_json(snapshot.to_json()) == snapshot
    older = json.loads(banlist(2, lock("ETHUSDT")).to_json())
    del older["locks"][0]["robot"]
    assert BanList.from_json(json.dumps(older)).locks[0].robot == ""


def test_build_banlist_sets_all_for_an_account_lock_of_every_symbol_only() -> None:
    def stored(robot: str) -> Lock:
        return Lock(1, "main", ALL, "both", "op", "why", "operator:ann", None, 1, True, robot)

    assert build_banlist("main", 1, NOW_MS, NOW_MS + 1, TradingState.ACTIVE, [stored("")]).all
    robots = build_banlist("main", 1, NOW_MS, NOW_MS + 1, TradingState.ACTIVE, [stored("a")])
    assert robots.all is False
    assert robots.locks[0].robot == "a"


def test_expired_snapshot_bans_everything_by_default() -> None:
    expired_at_ms = NOW_MS + VALID_MS
    assert banlist(1).is_banned("ETHUSDT", "long", expired_at_ms)
    assert banlist(1).is_banned("ETHUSDT", "short", expired_at_ms + 10**9)


def test_expired_snapshot_still_decides_when_expiry_does_not_ban() -> None:
    expired_at_ms = NOW_MS + VALID_MS
    snapshot = banlist(1, lock("BTCUSDT", "long"))
    assert not snapshot.is_banned("ETHUSDT", "long", expired_at_ms, when_expired_banned=False)
    assert snapshot.is_banned("BTCUSDT", "long", expired_at_ms, when_expired_banned=False)


def test_is_banned_rejects_a_side_that_is_not_long_or_short() -> None:
    with pytest.raises(ValueError, match="side: must be long or short, not 'both'"):
        banlist(1).is_banned("BTCUSDT", "both", NOW_MS)  # type: ignore[arg-type]


def test_constructors_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="side"):
        lock(side="BUY")
    with pytest.raises(ValueError, match="state"):
        banlist(1, state="halted")
    with pytest.raises(ValueError, match="version"):
        banlist(-2)


# --- building a version from the locks ----------------------------------------------------


def _stored_lock(id: int, symbol: str, side: str = "both", until_ms: int | None = None) -> Lock:
    return Lock(
        id=id,
        account="main",
        symbol=symbol,
        side=side,
        reason_code="symbol_pnl",
        reason_text="4h PnL -151 <= -150",
        source="rule:symbol_4h",
        until_ms=until_ms,
        created_ms=1_000,
        active=True,
    )


def test_build_banlist_publishes_the_active_unexpired_locks_in_id_order() -> None:
    locks = [_stored_lock(5, "ETHUSDT", until_ms=9_000), _stored_lock(2, "BTCUSDT", "long")]
    locks.append(_stored_lock(7, "SOLUSDT", until_ms=2_000))  # already past at 5 000
    banlist = build_banlist("main", 3, 5_000, 35_000, TradingState.ACTIVE, locks)
    assert [lock.id for lock in banlist.locks] == [2, 5]
    assert (banlist.version, banlist.generated_at_ms, banlist.valid_until_ms) == (3, 5_000, 35_000)
    assert not banlist.all
    assert banlist.is_banned("BTCUSDT", "long", 5_000)
    assert not banlist.is_banned("BTCUSDT", "short", 5_000)


def test_build_banlist_marks_all_when_a_lock_covers_every_symbol_and_side() -> None:
    banlist = build_banlist("main", 1, 5_000, 35_000, TradingState.ACTIVE, [_stored_lock(1, ALL)])
    assert banlist.all and banlist.is_banned("DOGEUSDT", "short", 5_000)


def test_valid_until_moves_forward_only_while_the_data_is_fresh() -> None:
    assert next_valid_until_ms(10_000, 20_000, fresh=True, validity_ms=30_000) == 40_000
    assert next_valid_until_ms(10_000, 20_000, fresh=False, validity_ms=30_000) == 20_000
    assert next_valid_until_ms(10_000, 50_000, fresh=True, validity_ms=30_000) == 50_000
