"""The console receiver."""

from __future__ import annotations

import io
import logging

import pytest

from riskd.notify.console import ConsoleReceiver
from riskd.notify.receiver import Message

MESSAGE = Message(uuid="alert-1", card={"elements": []}, text="BTCUSDT banned for 4h")


async def test_the_text_is_written_with_a_utc_timestamp() -> None:
    stream = io.StringIO()
    console = ConsoleReceiver(stream, now_s=lambda: 86_400.0)

    await console.send(MESSAGE)

    assert stream.getvalue() == "1970-01-02T00:00:00Z BTCUSDT banned for 4h\n"


async def test_the_text_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="riskd.notify.console")

    await ConsoleReceiver(io.StringIO()).send(MESSAGE)

    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert "BTCUSDT banned for 4h" in record.getMessage()


async def test_standard_output_is_the_default_stream(capsys: pytest.CaptureFixture[str]) -> None:
    await ConsoleReceiver().send(MESSAGE)

    assert capsys.readouterr().out.endswith(" BTCUSDT banned for 4h\n")


async def test_a_closed_stream_does_not_fail_the_send(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    stream.close()
    console = ConsoleReceiver(stream)

    await console.send(MESSAGE)
    await console.close()

    assert any(record.levelno == logging.WARNING for record in caplog.records)
