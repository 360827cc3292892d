"""Health, positions, locks, trading state, alerts, silences and key checks, answered by a
fake riskd."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

import pytest

from riskd.exchange.key_safety import KeyCheck
from riskd.gateway import ops
from riskd.gateway.ports import BackendUnavailable
from riskd.health import API_KEY, JobStatus
from riskd.risk.locks import SymbolListUnavailable
from tests.kit.gateway import (
    JSON,
    OPERATOR,
    OPERATOR_TOKEN,
    READ_TOKEN,
    READER,
    SAFE_KEY,
    FakeBackend,
    gateway_config,
    lock_body,
    serving,
    silence_body,
    state_body,
)

RUNNING = JobStatus("ledger", "main", "running", 0, {"late": False, "lag_ms": 0, "last_error": ""})
LATE = JobStatus("ledger", "main", "running", 2, {"late": True, "lag_ms": 9000, "last_error": "x"})


async def test_health_is_ok_when_every_job_and_book_is() -> None:
    backend = FakeBackend()
    backend.rows = [RUNNING]
    async with serving(backend) as gateway:
        status, _headers, health = await gateway.call("GET", "/v1/health")
    assert (status, health["ok"], health["problems"]) == (200, True, [])
    assert health["alerting"] == {"ok": True, "problems": [], "last_round_ms": 1}
    job = {"job": "ledger", "account": "main", "state": "running", "restarts": 0}
    assert health["jobs"] == [job | {"health": RUNNING.health}]


async def test_health_is_503_naming_late_jobs_and_what_books_cannot_vouch_for() -> None:
    backend = FakeBackend()
    backend.rows = [LATE]
    backend.books["main"] = {"silent": ["account"], "stream_missed": ["ORDER 7"]}
    async with serving(backend) as gateway:
        status, _headers, health = await gateway.call("GET", "/v1/health")
    assert (status, health["ok"]) == (503, False)
    assert health["problems"] == [
        "ledger:main running, late by 9.0 s: x",
        "position book main: source account is silent",
        "position book main: the user stream missed a change: ORDER 7",
    ]


async def test_alerts_that_do_not_get_out_are_a_problem_of_alerting_not_a_503() -> None:
    backend = FakeBackend()
    backend.alerter = {
        "last_tick_ms": 5,
        "last_error": "SQL down",
        "receivers": {"feishu": {"failures": 3, "last_error": "502"}, "console": {"failures": 0}},
    }
    async with serving(backend) as gateway:
        status, _headers, health = await gateway.call("GET", "/v1/health")
    assert status == 200
    assert health["alerting"] == {
        "ok": False,
        "problems": [
            "receiver feishu failed 3 times in a row: 502",
            "the alerter's last round failed: SQL down",
        ],
        "last_round_ms": 5,
    }


async def test_an_alerter_that_is_down_is_named_with_its_error() -> None:
    backend = FakeBackend()
    down = backend.fail["alerter_health"] = BackendUnavailable()
    down.__cause__ = ConnectionError("gone")  # as ``raise ... from`` sets it
    async with serving(backend) as gateway:
        status, _headers, health = await gateway.call("GET", "/v1/health")
    assert status == 200
    assert health["alerting"] == {
        "ok": False,
        "problems": ["the alerter does not answer (ConnectionError: gone)"],
    }


async def test_an_alerter_that_does_not_answer_in_time_is_a_problem(monkeypatch) -> None:
    monkeypatch.setattr(ops, "ALERTER_TIMEOUT_S", 0.01)
    backend = FakeBackend()
    backend.hang.add("alerter_health")
    async with serving(backend) as gateway:
        health = (await gateway.call("GET", "/v1/health"))[2]
    assert health["alerting"]["problems"] == ["the alerter does not answer (TimeoutError)"]


async def test_positions_are_one_account_when_named_else_every_account() -> None:
    async with serving(accounts=["a", "b"]) as gateway:
        assert (await gateway.call("GET", "/v1/positions?account=b"))[2]["account"] == "b"
        every = (await gateway.call("GET", "/v1/positions"))[2]
    assert [view["account"] for view in every["accounts"]] == ["a", "b"]


async def test_an_account_must_be_named_when_there_are_several() -> None:
    async with serving(accounts=["a", "b"]) as gateway:
        status, _headers, answer = await gateway.call("GET", "/v1/locks")
        assert (status, answer) == (
            400,
            {"error": "account: required, this gateway serves several", "accounts": ["a", "b"]},
        )
        assert (await gateway.call("GET", "/v1/state?account=b"))[0] == 200


async def test_an_operator_locks_and_unlocks_and_other_digits_name_no_lock() -> None:
    async with serving() as gateway:
        body = lock_body(symbol="DOGEUSDT", side="long")
        status, _headers, lock = await gateway.call("POST", "/v1/locks", body, JSON)
        assert (status, lock["symbol"], lock["side"]) == (201, "DOGEUSDT", "long")
        arabic_indic = quote("".join(chr(0x660 + int(digit)) for digit in str(lock["id"])))
        unlock = "operator=bob&reason=checked"
        status, _headers, answer = await gateway.call(
            "DELETE", f"/v1/locks/{arabic_indic}?{unlock}"
        )
        assert status == 400 and answer["error"].startswith("lock id: must be a number from 1")
        assert (await gateway.call("GET", "/v1/locks"))[2] == {"locks": [lock]}
        status, _headers, ended = await gateway.call("DELETE", f"/v1/locks/{lock['id']}?{unlock}")
        assert (status, ended["id"], ended["active"]) == (200, lock["id"], False)
        assert (await gateway.call("GET", "/v1/locks"))[2] == {"locks": []}
    assert ("unlock", ("main", lock["id"], "bob", "checked")) in gateway.backend.calls


async def test_a_change_goes_to_the_account_its_body_names_before_the_query() -> None:
    async with serving(accounts=["a", "b"]) as gateway:
        body = state_body(account="b")
        assert (await gateway.call("POST", "/v1/state?account=a", body, JSON))[0] == 200
        assert (await gateway.call("POST", "/v1/locks?account=a", lock_body(), JSON))[0] == 201
    states = gateway.backend.states
    assert (states["a"]["state"], states["b"]["state"]) == ("ACTIVE", "HALTED")
    assert [len(gateway.backend.active[account]) for account in "ab"] == [1, 0]


async def test_an_operator_sets_the_trading_state() -> None:
    async with serving() as gateway:
        status, _headers, state = await gateway.call("POST", "/v1/state", state_body(), JSON)
        assert (status, state["state"], state["reason"]) == (200, "HALTED", "test")
        assert (await gateway.call("GET", "/v1/state"))[2] == state


async def test_an_operator_silences_and_ends_the_silence() -> None:
    async with serving() as gateway:
        status, _headers, silence = await gateway.call("POST", "/v1/silences", silence_body(), JSON)
        assert (status, silence["matchers"]) == (201, ['symbol="BTCUSDT"'])
        assert (await gateway.call("GET", "/v1/silences"))[2] == {"silences": [silence]}
        path = f"/v1/silences/{silence['id']}?operator=%20bob%20"
        assert (await gateway.call("DELETE", path))[2] == silence
    assert ("expire_silence", (silence["id"], "bob")) in gateway.backend.calls


async def test_alerts_are_what_the_alerter_has_firing() -> None:
    backend = FakeBackend()
    backend.firing = [{"name": "JobLate", "muted": False}]
    async with serving(backend) as gateway:
        assert (await gateway.call("GET", "/v1/alerts"))[2] == {"alerts": backend.firing}


@pytest.mark.parametrize(
    ("error", "status", "answer"),
    [
        (SymbolListUnavailable("symbol: cannot check"), 503, "symbol: cannot check"),
        (ValueError("side: wrong"), 400, "side: wrong"),
        (BackendUnavailable("ledger:main is not running"), 503, "ledger:main is not running"),
        (RuntimeError("bug"), 500, "the gateway failed (RuntimeError); see its log"),
        (LookupError("no such thing"), 500, "the gateway failed (LookupError); see its log"),
    ],
)
async def test_what_adding_a_lock_raises_is_its_status(
    error: Exception, status: int, answer: str
) -> None:
    backend = FakeBackend()
    backend.fail["add_lock"] = error
    async with serving(backend) as gateway:
        got = await gateway.call("POST", "/v1/locks", lock_body(), JSON)
    assert (got[0], got[2]) == (status, {"error": answer})


@pytest.mark.parametrize(
    ("error", "status"),
    [(LookupError("no lock 1"), 404), (ValueError("lock 1 is not active"), 400)],
)
async def test_what_ending_a_lock_raises_is_its_status(error: Exception, status: int) -> None:
    backend = FakeBackend()
    backend.fail["unlock"] = error
    async with serving(backend) as gateway:
        got = await gateway.call("DELETE", "/v1/locks/1?operator=bob&reason=r")
    assert (got[0], got[2]) == (status, {"error": str(error)})


UNSAFE_KEY = replace(SAFE_KEY, enable_withdrawals=True)


async def test_health_shows_each_keys_last_check_and_an_unsafe_key_is_no_503() -> None:
    backend = FakeBackend()
    check = KeyCheck("main").read(UNSAFE_KEY, 1_000).to_dict()
    reader = {"late": False, "lag_ms": 0, "last_error": "", "extra": {API_KEY: check}}
    backend.rows = [JobStatus("account_reader", "main", "running", 0, reader), RUNNING]
    async with serving(backend) as gateway:
        status, _headers, health = await gateway.call("GET", "/v1/health")
    assert (status, health["ok"]) == (200, True)
    assert health["keys"] == {
        "ok": False,
        "problems": [
            "API key of main: unsafe: withdrawals are enabled: whoever has the key can move "
            "the funds off Binance"
        ],
        "accounts": [check],
    }


async def test_keys_check_reads_every_accounts_key_now_and_is_ok_only_when_all_are_safe() -> None:
    backend = FakeBackend(["a", "b"])
    backend.keys["b"] = UNSAFE_KEY
    async with serving(backend, accounts=["a", "b"]) as gateway:
        status, _headers, answer = await gateway.call("POST", "/v1/keys/check")
        one = (await gateway.call("POST", "/v1/keys/check?account=a"))[2]
    assert (status, answer["ok"]) == (200, False)
    assert [(c["account"], c["verdict"], c["ok"]) for c in answer["accounts"]] == [
        ("a", "safe", True),
        ("b", "unsafe", False),
    ]
    assert [c["code"] for c in answer["accounts"][1]["findings"]] == ["withdrawals_enabled"]
    assert (one["ok"], [c["account"] for c in one["accounts"]]) == (True, ["a"])
    assert sorted(backend.calls) == [
        ("check_key", ("a",)),
        ("check_key", ("a",)),
        ("check_key", ("b",)),
    ]


async def test_a_key_whose_reader_does_not_answer_is_unchecked_saying_why(monkeypatch) -> None:
    monkeypatch.setattr(ops, "KEY_CHECK_TIMEOUT_S", 0.01)
    backend = FakeBackend(["a", "b"])
    backend.fail["check_key"] = BackendUnavailable("account_reader:a is not running")
    async with serving(backend, accounts=["a", "b"]) as gateway:
        answer = (await gateway.call("POST", "/v1/keys/check?account=a"))[2]
        backend.fail.clear()
        backend.hang.add("check_key")
        late = (await gateway.call("POST", "/v1/keys/check?account=b"))[2]
    (check,) = answer["accounts"]
    assert (answer["ok"], check["verdict"], check["checked_ms"]) == (False, "unchecked", None)
    assert check["error"] == (
        "the account's account_reader does not answer "
        "(BackendUnavailable: account_reader:a is not running)"
    )
    assert late["accounts"][0]["error"] == (
        "the account's account_reader does not answer (TimeoutError)"
    )


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/v1/keys/check?account=nope", 404, "account: unknown account 'nope'"),
        ("/v1/keys/check?acount=a", 400, "unknown parameters 'acount' (known: account)"),
        ("/v1/keys/check?account=a&account=b", 400, "account: given more than once"),
    ],
)
async def test_a_bad_keys_check_is_refused_naming_what_is_wrong(
    path: str, status: int, error: str
) -> None:
    backend = FakeBackend(["a", "b"])
    async with serving(backend, accounts=["a", "b"]) as gateway:
        answered, _headers, answer = await gateway.call("POST", path)
    assert (answered, answer["error"]) == (status, error)
    assert backend.calls == []


async def test_keys_check_takes_the_operators_token_not_the_read_token() -> None:
    config = gateway_config(READ_TOKEN, OPERATOR_TOKEN)
    async with serving(config=config) as gateway:
        assert (await gateway.call("POST", "/v1/keys/check", headers=READER))[0] == 403
        status, _headers, answer = await gateway.call("POST", "/v1/keys/check", headers=OPERATOR)
    assert (status, answer["ok"]) == (200, True)
