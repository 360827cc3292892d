"""How the gateway answers what goes wrong: JSON ``{"error": ...}`` for every refusal and
failure, and for each failure one log line without a traceback. A request aiohttp cannot
parse is answered and logged without the parser's quote of it (:func:`unparsable`): the
offending line may be an ``Authorization`` header, its token in it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, InvalidURLError
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from riskd.core.bodies import shown
from riskd.gateway.ports import BackendUnavailable

_ERROR_CHARS: Final = 300

log = logging.getLogger(__name__)


def summary(exc: BaseException) -> str:
    """``Type: message`` on one line, cut short: of the error that made the backend
    unavailable, when there is one."""
    if isinstance(exc, BackendUnavailable) and exc.__cause__ is not None:
        exc = exc.__cause__
    message = " ".join(str(exc).split())[:_ERROR_CHARS]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def unparsable(exc: HttpProcessingError) -> str:
    """A request aiohttp could not parse, in words that never quote it. aiohttp's message
    quotes the offending bytes (a header with a stray CR: ``Authorization: Bearer <token>\\r``),
    or is the bad URL itself: only its words before any quote are kept, and none of a URL's."""
    kind = type(exc).__name__
    words = "" if isinstance(exc, InvalidURLError) else str(exc.message).split("\n", 1)[0]
    for quote in ("b'", 'b"', "'", '"'):
        words = words.partition(quote)[0]
    words = words.strip().rstrip(":").strip()
    return (
        f"the request cannot be parsed: {words} ({kind})"
        if words
        else f"the request cannot be parsed ({kind})"
    )


class _OneLine(logging.Filter):
    """aiohttp logs a request it cannot parse with its traceback: one line is enough, and
    without the request's text (:func:`unparsable`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            said = unparsable(error) if isinstance(error, HttpProcessingError) else summary(error)
            record.msg = f"{record.getMessage()}: {said}"
            record.args = None
            record.exc_info = record.exc_text = None
        return True


HTTP_LOG: Final = logging.getLogger(f"{__name__}.http")
"""aiohttp's own log (the requests it cannot parse), one line each."""
HTTP_LOG.addFilter(_OneLine())


class _RequestHandler(RequestHandler):
    """aiohttp's, but a request it cannot parse gets JSON ``{"error": …}`` without the
    parser's quote of it (:func:`unparsable`), as every other refusal does."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        body = json.dumps({"error": unparsable(exc)}, separators=(",", ":"))
        response = super().handle_error(request, status, exc, body)
        response.content_type = "application/json"
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _RequestHandler(self, loop=self._loop, **self._kwargs)


class QuietParseErrorsRunner(web.AppRunner):
    """An AppRunner whose connections answer a request aiohttp cannot parse as
    :class:`_RequestHandler` does (aiohttp offers no hook for that answer)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server  # the same object: only the handler it makes differs
        return server


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """*body* as compact JSON."""
    return web.Response(
        text=json.dumps(body, separators=(",", ":")),
        status=status,
        headers=headers,
        content_type="application/json",
    )


class Refused(Exception):
    """A request the gateway refuses: the status, riskd's words for the JSON error and any
    *extra* fields for it."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, **extra: object
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers
        self.extra = extra

    def response(self) -> web.Response:
        """The JSON answer: ``{"error": message, **extra}``."""
        return json_response({"error": str(self), **self.extra}, self.status, self.headers)


@contextmanager
def refusing(*errors: tuple[type[Exception], int]) -> Iterator[None]:
    """Refuse an error raised within of a kind in *errors* (``(kind, status)``, the first
    that matches) with its status and its message."""
    try:
        yield
    except Exception as exc:
        for kind, status in errors:
            if isinstance(exc, kind):
                raise Refused(status, str(exc)) from None
        raise


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error is JSON ``{"error": ...}``: a :class:`Refused` request, aiohttp's own (no
    route, method not allowed), riskd's actors being down (503) and, as the last line of
    defence, an unexpected exception: a 500 and one log line, no traceback."""
    try:
        return await handler(request)
    except Refused as refused:
        return refused.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        error = f"{exc.reason}: {request.method} {shown(request.path)}"
        return json_response({"error": error}, exc.status, allow)
    except BackendUnavailable as exc:
        if exc.__cause__ is not None:
            down = summary(exc)
            log.warning("%s %s: an actor is down: %s", request.method, shown(request.path), down)
        return json_response({"error": str(exc)}, 503)
    except Exception as exc:
        log.error("%s %s failed: %s", request.method, shown(request.path), summary(exc))
        return json_response(
            {"error": f"the gateway failed ({type(exc).__name__}); see its log"}, 500
        )
