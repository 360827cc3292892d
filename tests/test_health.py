"""Job health: lag, lateness and the status table."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from riskd.exchange.key_safety import KeyCheck
from riskd.health import (
    API_KEY,
    PENDING_AFTER_MS,
    JobHealth,
    JobState,
    JobStatus,
    format_status,
    key_checks,
    unanswered_state,
)
from tests.kit.gateway import SAFE_KEY


def _health(**fields) -> JobHealth:
    return JobHealth(
        job="account_reader",
        account="main",
        interval_ms=1000,
        egress="10.0.0.5",
        weight_per_minute=120,
        started_ms=0,
        **fields,
    )


def test_lag_counts_from_the_last_success_beyond_one_interval() -> None:
    health = _health()
    assert health.lag_ms(900) == 0
    health.succeeded(5_000)
    assert health.lag_ms(6_500) == 500
    assert not health.is_late(7_000)
    assert health.is_late(8_001)  # more than three intervals since the last success


def test_failure_is_recorded_without_touching_the_last_success() -> None:
    health = _health()
    health.succeeded(1_000)
    health.failed("GET /fapi/v3/account: HTTP 503", 2_000)
    report = health.to_dict(2_500)
    assert (report["last_success_ms"], report["last_error_ms"]) == (1_000, 2_000)
    assert report["lag_ms"] == 500 and report["late"] is False


def test_a_successful_pass_clears_the_last_error() -> None:
    health = _health(last_success_ms=1_000)
    health.failed("GET /fapi/v3/account: HTTP 503 without a Binance error body", 9_000)
    health.succeeded(10_000)
    report = health.to_dict(10_500)
    assert (report["last_error"], report["last_error_ms"]) == (None, None)
    assert report["last_success_ms"] == 10_000
    assert JobStatus("account_reader", "main", JobState.RUNNING, 0, report).healthy()


def test_an_error_is_kept_without_url_queries_or_control_characters() -> None:
    health = _health()
    health.failed(
        "ClientResponseError: 502, url='http://127.0.0.1:8765/fapi/v2/account"
        "?timestamp=1&signature=9f1c'\x1b[2J",
        2_000,
    )
    assert health.to_dict(2_000)["last_error"] == (
        "ClientResponseError: 502, url='http://127.0.0.1:8765/fapi/v2/account?…'\\x1b[2J"
    )


def test_only_running_and_fresh_jobs_are_healthy() -> None:
    fresh = _health(last_success_ms=1_000).to_dict(1_500)
    assert JobStatus("account_reader", "main", JobState.RUNNING, 0, fresh).healthy()
    stale = _health(last_success_ms=1_000).to_dict(10_000)
    assert not JobStatus("account_reader", "main", JobState.RUNNING, 0, stale).healthy()
    assert not JobStatus("account_reader", "main", JobState.PENDING, 0, None, "no node").healthy()


def test_problem_of_a_late_job_says_how_late_and_its_last_error() -> None:
    health = _health(last_success_ms=1_000)
    health.failed("GET /fapi/v3/account: timed out after 2000 ms", 9_000)
    row = JobStatus("account_reader", "main", JobState.RUNNING, 0, health.to_dict(10_000))
    assert row.problem() == (
        "account_reader:main running, late by 8.0 s: GET /fapi/v3/account: timed out after 2000 ms"
    )


def test_problem_of_a_pending_job_gives_its_note() -> None:
    row = JobStatus("account_reader", "main", JobState.PENDING, 0, None, "no node has egress=ip-c")
    assert row.problem() == "account_reader:main pending (no node has egress=ip-c)"


def test_status_table_has_a_row_per_job_with_its_figures() -> None:
    rows = [
        JobStatus(
            "account_reader",
            "main",
            JobState.RUNNING,
            2,
            _health(last_success_ms=9_000, weight_used_1m=60).to_dict(10_000),
        ),
        JobStatus(
            "position_risk_reader",
            "main",
            JobState.PENDING,
            0,
            None,
            "pending: no alive node has label egress=ip-z",
        ),
    ]
    table = format_status(rows, 10_000).splitlines()
    assert table[0].split() == [
        "job",
        "account",
        "state",
        "node",
        "egress",
        "budget",
        "used/1m",
        "last",
        "success",
        "(UTC)",
        "lag",
        "restarts",
        "note",
    ]
    assert table[1].split()[:9] == [
        "account_reader",
        "main",
        JobState.RUNNING,
        "10.0.0.5",
        "120",
        "60",
        "1970-01-01",
        "00:00:09Z",
        "(1.0s",
    ]
    assert table[2].endswith("pending: no alive node has label egress=ip-z")


def test_status_table_shows_a_job_error_inert() -> None:
    health = _health(last_success_ms=9_000)
    health.failed("HTTP 400 \x1b[2Jall clear", 9_500)
    row = JobStatus("account_reader", "main", JobState.RUNNING, 0, health.to_dict(10_000))
    table = format_status([row], 10_000)
    assert "\x1b" not in table and "\\x1b[2Jall clear" in table


def test_an_api_key_not_safe_is_noted_after_the_jobs_error_and_listed_as_a_check() -> None:
    unsafe = KeyCheck("main").read(replace(SAFE_KEY, enable_withdrawals=True), 9_000)
    health = _health(last_success_ms=9_000, extra={API_KEY: unsafe.to_dict()})
    health.failed("HTTP 502", 9_500)
    safe = _health(
        last_success_ms=9_000, extra={API_KEY: KeyCheck("b").read(SAFE_KEY, 1).to_dict()}
    )
    rows = [
        JobStatus("account_reader", "main", JobState.RUNNING, 0, health.to_dict(10_000)),
        JobStatus("account_reader", "b", JobState.RUNNING, 0, safe.to_dict(10_000)),
        JobStatus("ledger", "main", JobState.RUNNING, 0, _health().to_dict(10_000)),
    ]

    table = format_status(rows, 10_000).splitlines()

    assert table[1].endswith(
        "HTTP 502; API key unsafe: withdrawals are enabled: whoever has the key can move the "
        "funds off Binance"
    )
    assert table[2].endswith("0")  # a safe key: no note
    assert [check["account"] for check in key_checks(rows)] == ["main", "b"]


@pytest.mark.parametrize(
    ("answered_before", "age_ms", "state"),
    [
        (False, 0, JobState.STARTING),
        (False, PENDING_AFTER_MS - 1, JobState.STARTING),
        (False, PENDING_AFTER_MS, JobState.PENDING),
        (True, 0, JobState.UNRESPONSIVE),
        (True, 10 * PENDING_AFTER_MS, JobState.UNRESPONSIVE),
    ],
)
def test_a_job_that_does_not_answer_is_starting_then_pending_or_unresponsive_once_it_answered(
    answered_before: bool, age_ms: int, state: JobState
) -> None:
    assert unanswered_state(answered_before, age_ms) is state


@pytest.mark.parametrize(
    ("answered_before", "age_ms", "state"),
    [
        (False, 0, JobState.PENDING),
        (False, PENDING_AFTER_MS, JobState.PENDING),
        (True, 0, JobState.PENDING),
    ],
)
def test_a_job_no_alive_node_can_take_is_pending_at_once_even_once_it_answered(
    answered_before: bool, age_ms: int, state: JobState
) -> None:
    assert unanswered_state(answered_before, age_ms, placeable=False) is state


@pytest.mark.parametrize("state", list(JobState))
def test_a_state_shows_as_its_bare_word_in_text_and_json(state: JobState) -> None:
    row = JobStatus("account_reader", "main", state, 0)
    assert row.problem() == f"account_reader:main {state.value}"
    assert format_status([row], 0).splitlines()[1].split()[2] == state.value
    assert json.dumps({"state": row.state}) == f'{{"state": "{state.value}"}}'


@pytest.mark.parametrize("state", [s for s in JobState if s is not JobState.RUNNING])
def test_a_job_in_any_state_but_running_is_not_healthy(state: JobState) -> None:
    fresh = _health(last_success_ms=1_000).to_dict(1_500)
    assert not JobStatus("account_reader", "main", state, 0, fresh).healthy()
