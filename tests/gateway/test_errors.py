"""Every error is JSON, and each is one log line without a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMessage,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)

from riskd.gateway.app import gateway_runner
from riskd.gateway.errors import Refused, json_errors, unparsable
from riskd.gateway.ports import BackendUnavailable

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOGGER = "riskd.gateway"


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


BOOM = b"POST /boom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[int]]]:
    """``await serve(handler)``: *handler* on ``POST /boom`` behind json_errors, served as
    the gateway serves; its port."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> int:
        app = web.Application(middlewares=[json_errors])
        app.router.add_post("/boom", handler)
        runners.append(runner := gateway_runner(app))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    yield start
    for runner in runners:
        await runner.cleanup()


def _answer(raw: bytes) -> tuple[bytes, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"application/json" in head
    return head, json.loads(body)


async def test_an_unexpected_error_is_a_json_500_and_one_log_line(serve, caplog) -> None:
    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError("something\nbroke")

    port = await serve(boom)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        head, body = _answer(await _exchange(port, BOOM))
    assert head.startswith(b"HTTP/1.1 500 ")
    assert body == {"error": "the gateway failed (RuntimeError); see its log"}
    (record,) = [r for r in caplog.records if r.name.startswith(LOGGER)]
    assert record.getMessage() == "POST '/boom' failed: RuntimeError: something broke"
    assert record.exc_info is None


async def test_a_request_aiohttp_cannot_parse_logs_one_line_without_traceback(
    serve, caplog
) -> None:
    async def never(_request: web.Request) -> web.Response:
        raise AssertionError("not reached")

    port = await serve(never)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        answer = await _exchange(port, b"POST /boom HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ") or answer.startswith(b"HTTP/1.0 400 ")
    records = [r for r in caplog.records if r.name.startswith(LOGGER)]
    assert len(records) == 1 and records[0].exc_info is None
    assert "\n" not in records[0].getMessage()


async def test_a_token_in_a_head_aiohttp_cannot_parse_is_neither_answered_nor_logged(
    serve, caplog
) -> None:
    """A token file saved with Windows line ends, sent by curl: a stray CR in the header.
    aiohttp's answer and log line quoted the header, token and all (issue 19's audit)."""

    async def never(_request: web.Request) -> web.Response:
        raise AssertionError("not reached")

    port = await serve(never)
    token = b"tok-0123456789abcdef0123"
    head = b"GET /boom HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + b"\r\r\n\r\n"
    with caplog.at_level(logging.INFO, logger=LOGGER):
        answer = await _exchange(port, head)
    head_, body = _answer(answer)
    assert head_.split(b" ", 2)[1] == b"400"
    assert body["error"].startswith("the request cannot be parsed")
    assert b"0123456789" not in answer
    (record,) = [r for r in caplog.records if r.name.startswith(LOGGER)]
    assert "cannot be parsed" in record.getMessage() and "0123456789" not in record.getMessage()


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            BadHttpMessage("Invalid header value char:\n\n  b'Bearer tok\\x00'\n  ^"),
            "the request cannot be parsed: Invalid header value char (BadHttpMessage)",
        ),
        (
            LineTooLong(b"Bearer tok...", 2048),
            "the request cannot be parsed: Got more than 2048 bytes when reading (LineTooLong)",
        ),
        (
            InvalidHeader(b"Authorization: tok"),
            "the request cannot be parsed: Invalid HTTP header (InvalidHeader)",
        ),
        (InvalidURLError("/v1/locks?token=tok"), "the request cannot be parsed (InvalidURLError)"),
    ],
)
def test_what_aiohttp_could_not_parse_is_said_without_quoting_the_request(
    error: HttpProcessingError, said: str
) -> None:
    assert unparsable(error) == said


async def test_a_refused_request_is_its_status_with_its_words_extra_fields_and_headers(
    serve,
) -> None:
    async def refuse(_request: web.Request) -> web.Response:
        raise Refused(409, "taken", headers={"Retry-After": "1"}, owner="alice")

    head, body = _answer(await _exchange(await serve(refuse), BOOM))
    assert head.startswith(b"HTTP/1.1 409 ") and b"Retry-After: 1" in head
    assert body == {"error": "taken", "owner": "alice"}


async def test_an_actor_that_is_down_is_503_and_one_warning_naming_its_error(serve, caplog) -> None:
    async def down(_request: web.Request) -> web.Response:
        raise BackendUnavailable() from ConnectionError("the ledger\ndied")

    port = await serve(down)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        head, body = _answer(await _exchange(port, BOOM))
    assert head.startswith(b"HTTP/1.1 503 ")
    assert body == {"error": "a riskd actor this needs is not running; try again"}
    (record,) = [r for r in caplog.records if r.name.startswith(LOGGER)]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "POST '/boom': an actor is down: ConnectionError: the ledger died"


async def test_an_actor_that_does_not_exist_is_503_naming_it_without_a_log_line(
    serve, caplog
) -> None:
    async def missing(_request: web.Request) -> web.Response:
        raise BackendUnavailable("ledger:main is not running")

    port = await serve(missing)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        head, body = _answer(await _exchange(port, BOOM))
    assert head.startswith(b"HTTP/1.1 503 ")
    assert body == {"error": "ledger:main is not running"}
    assert not [r for r in caplog.records if r.name.startswith(LOGGER)]


async def test_no_route_and_a_wrong_method_are_json_naming_the_request(serve) -> None:
    async def ok(_request: web.Request) -> web.Response:
        return web.Response()

    port = await serve(ok)
    head, body = _answer(await _exchange(port, BOOM.replace(b"/boom", b"/nowhere", 1)))
    assert head.startswith(b"HTTP/1.1 404 ")
    assert body == {"error": "Not Found: POST '/nowhere'"}
    head, body = _answer(await _exchange(port, BOOM.replace(b"POST", b"PUT", 1)))
    assert head.startswith(b"HTTP/1.1 405 ") and b"Allow: POST" in head
    assert body == {"error": "Method Not Allowed: PUT '/boom'"}
