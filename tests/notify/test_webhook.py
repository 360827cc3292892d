"""The custom-bot webhook receiver against the fake Feishu."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import AsyncIterator

import pytest

from riskd.core.secrets import Secret
from riskd.notify.feishu_codes import read_answer
from riskd.notify.receiver import DeliveryError, Message
from riskd.notify.webhook import WebhookConfig, WebhookReceiver
from tests.kit.clock import ManualClock
from tests.kit.fake_feishu import FakeFeishu

CARD = {
    "header": {"title": {"tag": "plain_text", "content": "BTCUSDT banned"}, "template": "red"},
    "elements": [{"tag": "markdown", "content": "4h PnL **−151.20 USDT** ≤ −150 ✅"}],
}
MESSAGE = Message(uuid="alert-1", card=CARD, text="BTCUSDT banned")


@pytest.fixture
async def feishu() -> AsyncIterator[FakeFeishu]:
    async with FakeFeishu() as fake:
        yield fake


def make_receiver(feishu: FakeFeishu, **overrides: object) -> WebhookReceiver:
    fields: dict[str, object] = {
        "url": Secret(feishu.hook_url),
        "secret": Secret(feishu.hook_secret) if feishu.hook_secret else None,
        "config": WebhookConfig(timeout_ms=500),
        **overrides,
    }
    return WebhookReceiver(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def receiver(feishu: FakeFeishu) -> AsyncIterator[WebhookReceiver]:
    webhook = make_receiver(feishu)
    yield webhook
    await webhook.close()


async def failure(receiver: WebhookReceiver, message: Message = MESSAGE) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        await receiver.send(message)
    return caught.value


async def test_a_signed_card_arrives_intact(feishu: FakeFeishu, receiver: WebhookReceiver) -> None:
    await receiver.send(MESSAGE)

    [delivered] = feishu.delivered
    assert delivered.card == CARD
    [request] = feishu.requests_of("hook")
    assert request.body["msg_type"] == "interactive"
    assert {"timestamp", "sign"} <= request.body.keys()


async def test_an_unsigned_hook_sends_no_timestamp_or_signature() -> None:
    async with FakeFeishu(hook_secret=None) as feishu:
        webhook = make_receiver(feishu, secret=None)
        await webhook.send(MESSAGE)
        await webhook.close()

    assert feishu.requests_of("hook")[0].body.keys() == {"msg_type", "card"}
    assert feishu.delivered[0].card == CARD


async def test_a_bad_signature_is_not_retried(feishu: FakeFeishu) -> None:
    webhook = make_receiver(feishu, secret=Secret("not-the-signing-secret"))

    error = await failure(webhook)
    await webhook.close()

    assert not error.retryable
    assert "19021" in str(error)
    assert feishu.delivered == []


async def test_a_timestamp_more_than_an_hour_off_is_refused(feishu: FakeFeishu) -> None:
    webhook = make_receiver(feishu, now_s=lambda: int(time.time()) - 2 * 3600)

    error = await failure(webhook)
    await webhook.close()

    assert not error.retryable
    assert "19021" in str(error)


async def test_an_error_code_in_an_http_200_answer_is_a_failure(
    feishu: FakeFeishu, receiver: WebhookReceiver
) -> None:
    feishu.bad_signature_next(1)

    error = await failure(receiver)

    assert not error.retryable
    assert "HTTP 200, code 19021: sign match fail" in str(error)


@pytest.mark.parametrize("code", [11232, 9499])
async def test_a_rate_limit_code_is_retried_after_the_wait_feishu_asks_for(
    feishu: FakeFeishu, receiver: WebhookReceiver, code: int
) -> None:
    feishu.rate_limit_next(1, code=code, retry_after_s=2)

    error = await failure(receiver)

    assert error.retryable
    assert error.retry_after_ms == 2000
    assert str(code) in str(error)


async def test_a_rate_limit_without_retry_after_leaves_the_wait_to_the_caller(
    feishu: FakeFeishu, receiver: WebhookReceiver
) -> None:
    feishu.rate_limit_next(1)

    error = await failure(receiver)

    assert error.retryable
    assert error.retry_after_ms is None


async def test_an_http_429_is_retryable(feishu: FakeFeishu, receiver: WebhookReceiver) -> None:
    feishu.fail_next(1, status=429)

    assert (await failure(receiver)).retryable


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_server_error_is_retryable(
    feishu: FakeFeishu, receiver: WebhookReceiver, status: int
) -> None:
    feishu.fail_next(1, status=status)

    error = await failure(receiver)

    assert error.retryable
    assert f"HTTP {status}" in str(error)


async def test_delivery_resumes_after_an_outage(receiver: WebhookReceiver) -> None:
    clock = ManualClock()
    async with FakeFeishu(now_s=clock) as feishu:
        webhook = make_receiver(feishu)
        feishu.outage(60)
        assert (await failure(webhook)).retryable
        clock.advance(61)
        await webhook.send(MESSAGE)
        await webhook.close()

    assert len(feishu.delivered) == 1


async def test_a_hung_request_times_out_as_retryable(
    feishu: FakeFeishu, receiver: WebhookReceiver
) -> None:
    feishu.hang_next(1)

    error = await failure(receiver)

    assert error.retryable
    assert "no answer" in str(error)


async def test_a_refused_connection_is_retryable() -> None:
    async with FakeFeishu() as feishu:
        url = feishu.hook_url
    webhook = WebhookReceiver(Secret(url), None, WebhookConfig(timeout_ms=500))

    error = await failure(webhook)
    await webhook.close()

    assert error.retryable


async def test_a_non_json_answer_is_not_retried(
    feishu: FakeFeishu, receiver: WebhookReceiver
) -> None:
    feishu.fail_next(1, status=200)

    error = await failure(receiver)

    assert not error.retryable
    assert "HTTP 200" in str(error)
    assert "not a JSON object" in str(error)


async def test_an_unknown_hook_token_is_not_retried(feishu: FakeFeishu) -> None:
    webhook = make_receiver(feishu, url=Secret(feishu.url + "/open-apis/bot/v2/hook/nope"))

    error = await failure(webhook)
    await webhook.close()

    assert not error.retryable
    assert "19001" in str(error)


def test_the_legacy_status_code_field_counts() -> None:
    assert read_answer(200, {}, b'{"StatusCode":0,"StatusMessage":"success"}').ok
    assert not read_answer(200, {}, b'{"StatusCode":19021,"StatusMessage":"sign"}').ok


async def test_feishu_rate_limits_refuse_the_sixth_message_in_a_second() -> None:
    clock = ManualClock()
    async with FakeFeishu(now_s=clock) as feishu:
        feishu.enforce_rate_limits(per_second=5, per_minute=100)
        webhook = make_receiver(feishu)
        for _ in range(5):
            await webhook.send(MESSAGE)
        error = await failure(webhook)
        clock.advance(1)
        await webhook.send(MESSAGE)
        await webhook.close()

    assert error.retryable
    assert len(feishu.delivered) == 6
    assert feishu.max_requests_in("hook", 1) == 6  # the refused one is counted as a request


async def test_a_closed_receiver_reopens_its_session(
    feishu: FakeFeishu, receiver: WebhookReceiver
) -> None:
    await receiver.send(MESSAGE)
    await receiver.close()
    await receiver.close()
    await receiver.send(MESSAGE)

    assert len(feishu.delivered) == 2


async def test_the_hook_url_and_secrets_never_leak(
    feishu: FakeFeishu, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    signing_secret = feishu.hook_secret
    assert signing_secret is not None
    webhook = make_receiver(feishu)
    errors = []
    for inject in (
        lambda: feishu.bad_signature_next(1),
        lambda: feishu.fail_next(1, status=502),
        lambda: feishu.fail_next(1, status=200),
        lambda: feishu.rate_limit_next(1),
        lambda: feishu.hang_next(1),
    ):
        inject()
        errors.append(await failure(webhook))
    await webhook.close()
    refused_url = f"http://127.0.0.1:1/open-apis/bot/v2/hook/{feishu.hook_token}"
    refused = WebhookReceiver(Secret(refused_url), None)
    errors.append(await failure(refused))
    await refused.close()

    shown = [repr(webhook), str(webhook), repr(refused), caplog.text]
    shown += ["".join(traceback.format_exception(error)) for error in errors]
    for text in shown:
        assert feishu.hook_token not in text
        assert signing_secret not in text
