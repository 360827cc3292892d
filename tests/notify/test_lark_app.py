"""The Feishu app receiver (lark-oapi) against the fake Feishu."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator

import pytest

from riskd.core.secrets import Secret
from riskd.notify.lark_app import TOKEN_REFRESH_MARGIN_S, LarkAppConfig, LarkAppReceiver
from riskd.notify.receiver import DeliveryError, Message
from tests.kit.clock import ManualClock
from tests.kit.fake_feishu import FakeFeishu
from tests.kit.imports import loaded_by

CARD = {
    "header": {"title": {"tag": "plain_text", "content": "ALL banned"}, "template": "red"},
    "elements": [{"tag": "markdown", "content": "account 24h PnL **−3 012.50 USDT** ≤ −3000"}],
}


def message(uuid: str = "alert-1") -> Message:
    return Message(uuid=uuid, card=CARD, text="ALL banned")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def feishu(clock: ManualClock) -> AsyncIterator[FakeFeishu]:
    async with FakeFeishu(now_s=clock) as fake:
        yield fake


def make_receiver(
    feishu: FakeFeishu,
    clock: ManualClock,
    *,
    app_secret: str | None = None,
    chat_id: str | None = None,
) -> LarkAppReceiver:
    return LarkAppReceiver(
        feishu.app_id,
        Secret(app_secret or feishu.app_secret),
        chat_id or feishu.chat_id,
        LarkAppConfig(base_url=feishu.url, timeout_ms=1000),
        now_s=clock,
    )


@pytest.fixture
def receiver(feishu: FakeFeishu, clock: ManualClock) -> LarkAppReceiver:
    return make_receiver(feishu, clock)


async def failure(receiver: LarkAppReceiver, sent: Message | None = None) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        await receiver.send(sent or message())
    return caught.value


async def test_a_card_arrives_intact_in_the_chat(
    feishu: FakeFeishu, receiver: LarkAppReceiver
) -> None:
    await receiver.send(message("alert-7"))

    [delivered] = feishu.delivered
    assert delivered.card == CARD
    assert delivered.uuid == "alert-7"
    assert delivered.chat_id == feishu.chat_id


async def test_the_token_fetch_does_not_block_the_event_loop(
    feishu: FakeFeishu, receiver: LarkAppReceiver
) -> None:
    """The fake answers on this test's event loop: a token fetch made on the loop (lark-oapi's
    own blocking fetch, or ours called in place) could not be answered and would time out."""
    await receiver.send(message())

    assert feishu.token_fetches == 1
    assert len(feishu.delivered) == 1


async def test_the_token_is_fetched_once_for_many_messages(
    feishu: FakeFeishu, receiver: LarkAppReceiver
) -> None:
    for n in range(10):
        await receiver.send(message(f"alert-{n}"))

    assert feishu.token_fetches == 1
    assert len({r.headers["Authorization"] for r in feishu.requests_of("message")}) == 1
    assert len(feishu.delivered) == 10


async def test_the_token_is_refreshed_shortly_before_it_expires(
    feishu: FakeFeishu, receiver: LarkAppReceiver, clock: ManualClock
) -> None:
    await receiver.send(message("a"))
    clock.advance(feishu.token_ttl_s - TOKEN_REFRESH_MARGIN_S - 1)
    await receiver.send(message("b"))
    assert feishu.token_fetches == 1

    clock.advance(1)
    await receiver.send(message("c"))

    assert feishu.token_fetches == 2
    assert len(feishu.delivered) == 3


async def test_an_expired_token_answer_refreshes_the_token_and_retries_once(
    feishu: FakeFeishu, receiver: LarkAppReceiver
) -> None:
    await receiver.send(message("a"))
    feishu.expire_token_next(1)

    await receiver.send(message("b"))

    assert feishu.token_fetches == 2
    assert len(feishu.requests_of("message")) == 3
    assert [d.uuid for d in feishu.delivered] == ["a", "b"]


async def test_a_token_rejected_twice_is_a_retryable_failure(
    feishu: FakeFeishu, receiver: LarkAppReceiver
) -> None:
    feishu.expire_token_next(2)

    error = await failure(receiver)

    assert error.retryable
    assert "99991663" in str(error)
    assert feishu.token_fetches == 2
    assert len(feishu.requests_of("message")) == 2


async def test_the_same_message_twice_is_delivered_once(
    feishu: FakeFeishu, receiver: LarkAppReceiver
) -> None:
    await receiver.send(message("alert-1"))
    await receiver.send(message("alert-1"))

    assert len(feishu.requests_of("message")) == 2
    assert len(feishu.delivered) == 1


async def test_an_unknown_chat_is_not_retried(feishu: FakeFeishu, clock: ManualClock) -> None:
    error = await failure(make_receiver(feishu, clock, chat_id="oc_unknown"))

    assert not error.retryable
    assert "230002" in str(error)


async def test_a_rate_limit_is_retried_after_the_wait_feishu_asks_for(
    feishu: FakeFeishu, receiver: LarkAppReceiver
) -> None:
    feishu.rate_limit_next(1, retry_after_s=3)

    error = await failure(receiver)

    assert error.retryable
    assert error.retry_after_ms == 3000
    assert "11232" in str(error)


async def test_feishu_rate_limits_refuse_the_sixth_message_in_a_second(
    feishu: FakeFeishu, receiver: LarkAppReceiver, clock: ManualClock
) -> None:
    feishu.enforce_rate_limits(per_second=5, per_minute=100)
    for n in range(5):
        await receiver.send(message(f"alert-{n}"))

    error = await failure(receiver, message("alert-5"))
    clock.advance(1)
    await receiver.send(message("alert-5"))

    assert error.retryable
    assert len(feishu.delivered) == 6


async def test_a_gateway_error_is_retryable(feishu: FakeFeishu, receiver: LarkAppReceiver) -> None:
    feishu.fail_next(1, status=502)

    error = await failure(receiver)

    assert error.retryable
    assert "HTTP 502" in str(error)


async def test_a_hung_send_times_out_as_retryable(
    feishu: FakeFeishu, receiver: LarkAppReceiver
) -> None:
    feishu.hang_next(1, kinds=["message"])

    error = await failure(receiver)

    assert error.retryable
    assert "no answer" in str(error)


async def test_a_token_endpoint_outage_is_retryable_and_passes(
    feishu: FakeFeishu, receiver: LarkAppReceiver
) -> None:
    feishu.fail_next(1, status=503, kinds=["token"])

    error = await failure(receiver)
    await receiver.send(message())

    assert error.retryable
    assert "tenant token" in str(error)
    assert len(feishu.delivered) == 1


async def test_bad_app_credentials_are_not_retried(feishu: FakeFeishu, clock: ManualClock) -> None:
    error = await failure(make_receiver(feishu, clock, app_secret="wrong-secret"))

    assert not error.retryable
    assert "10014" in str(error)
    assert feishu.requests_of("message") == []


async def test_the_app_secret_and_tokens_never_leak(
    feishu: FakeFeishu, receiver: LarkAppReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors = []
    await receiver.send(message("ok"))
    for inject in (
        lambda: feishu.expire_token_next(2),
        lambda: feishu.fail_next(1, status=502),
        lambda: feishu.rate_limit_next(1),
        lambda: feishu.hang_next(1),
    ):
        inject()
        errors.append(await failure(receiver))
    feishu.revoke_tokens()
    errors.append(await failure(make_receiver(feishu, ManualClock(), app_secret="wrong-secret")))

    tokens = {
        r.headers["Authorization"].removeprefix("Bearer ") for r in feishu.requests_of("message")
    }
    shown = [repr(receiver), str(receiver), caplog.text]
    shown += ["".join(traceback.format_exception(error)) for error in errors]
    for text in shown:
        assert feishu.app_secret not in text
        assert "wrong-secret" not in text
        for token in tokens:
            assert token not in text


def test_only_the_lark_app_receiver_imports_lark_oapi() -> None:
    # Every actor class (the Controller imports them all), the CLI and the pipeline: only the
    # Alerter, building an app receiver, imports riskd.notify.lark_app.
    imports = ("actors.controller", "actors.alerter", "riskd.cli", "riskd.notify.pipeline")
    imports += ("riskd.notify.webhook", "riskd.notify.console")

    assert loaded_by(imports, ["lark_oapi"]) == []
