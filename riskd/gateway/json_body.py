"""Request bodies: at most ``max_body_bytes`` (refused on the Content-Length before any of it
is read), complete within ``body_timeout_ms`` (``[gateway.limits]``), and JSON as
:func:`riskd.core.bodies.parse_json` reads it."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler

from riskd.core.bodies import parse_json, same_ascii_word, shown
from riskd.gateway.errors import Refused
from riskd.gateway.limits import limits_of


def _too_large(max_bytes: int) -> Refused:
    return Refused(413, f"the body is larger than {max_bytes} bytes (max_body_bytes)")


@web.middleware
async def bounded_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """413 for a body whose Content-Length is over the app's ``client_max_size``, before any
    of it is read; the connection then closes, so that the body is not drained either."""
    if request.content_length is not None and request.content_length > request.client_max_size:
        response = _too_large(request.client_max_size).response()
        response.force_close()
        return response
    return await handler(request)


async def read_body(request: web.Request) -> bytes:
    """The request's body, within ``body_timeout_ms`` and at most the app's
    ``client_max_size`` (a chunked body is cut off there). :class:`Refused` says what is
    wrong: 408, 413, or 400 for a body cut short."""
    timeout_s = limits_of(request.app).body_timeout_ms / 1000
    try:
        async with asyncio.timeout(timeout_s):
            return await request.read()
    except TimeoutError:
        message = f"the body did not arrive within {timeout_s:g} s (body_timeout_ms)"
        raise Refused(408, message) from None
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(request.client_max_size) from None
    except web.RequestPayloadError:
        raise Refused(400, "the body is cut short or malformed") from None


async def json_body(request: web.Request) -> object:
    """The request's body (:func:`read_body`), JSON as :func:`riskd.core.bodies.parse_json`
    reads it, sent as ``application/json`` (UTF-8) without a Content-Encoding.
    :class:`Refused` says what is wrong."""
    if request.content_type != "application/json":
        raise Refused(
            415, f"Content-Type: must be application/json, not {shown(request.content_type)}"
        )
    if request.charset is not None and not same_ascii_word(request.charset, "utf-8"):
        raise Refused(415, f"Content-Type: charset must be utf-8, not {shown(request.charset)}")
    encoding = request.headers.get("Content-Encoding", "identity")
    if not same_ascii_word(encoding, "identity"):
        raise Refused(415, f"Content-Encoding: send the JSON as it is, not {shown(encoding)}")
    raw = await read_body(request)
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise Refused(400, str(exc)) from None
