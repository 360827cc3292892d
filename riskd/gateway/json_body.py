"""Request bodies: JSON, read as :func:`riskd.core.bodies.parse_json` reads it."""

from __future__ import annotations

import asyncio
from typing import Final

from aiohttp import web

from riskd.core.bodies import parse_json, same_ascii_word, shown
from riskd.gateway.errors import Refused

BODY_TIMEOUT_S: Final = 10.0


async def json_body(request: web.Request) -> object:
    """The request's body, JSON as :func:`riskd.core.bodies.parse_json` reads it: sent as
    ``application/json`` (UTF-8), without a Content-Encoding, within BODY_TIMEOUT_S and at
    most the app's ``client_max_size``. :class:`Refused` says what is wrong."""
    if request.content_type != "application/json":
        raise Refused(
            415, f"Content-Type: must be application/json, not {shown(request.content_type)}"
        )
    if request.charset is not None and not same_ascii_word(request.charset, "utf-8"):
        raise Refused(415, f"Content-Type: charset must be utf-8, not {shown(request.charset)}")
    encoding = request.headers.get("Content-Encoding", "identity")
    if not same_ascii_word(encoding, "identity"):
        raise Refused(415, f"Content-Encoding: send the JSON as it is, not {shown(encoding)}")
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            raw = await request.read()
    except TimeoutError:
        raise Refused(408, f"the body did not arrive within {BODY_TIMEOUT_S:g} s") from None
    except web.HTTPRequestEntityTooLarge:
        raise Refused(413, f"the body is larger than {request.client_max_size} bytes") from None
    except web.RequestPayloadError:
        raise Refused(400, "the body is cut short or malformed") from None
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise Refused(400, str(exc)) from None
