"""Fuzzing the gateway with schemathesis from its own ``/openapi.json``, as
tests/gateway/test_fuzz.py and bench/fuzz.py both do: the configuration (a token for each
security scheme, the checks, the exceptions the protocols make), the check that every refusal
is a JSON error naming the problem, and the hook that keeps long-polls short.

Importing this module registers the check and the hook with schemathesis; the CLI imports it
as its hooks module (``hooks = "tests.kit.fuzz"``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import schemathesis
from schemathesis import Case, CheckContext, HookContext, Response

FUZZ_WAIT_S: Final = "0.05"
"""A long-poll's wait, at most: the gateway waits as long as asked, up to 60 s."""
_WAIT: Final = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3})?")
FMZ: Final = "POST /fmz/{label}"
"""FMZ's protocol answers 200 with ``{"error": …}`` whatever is wrong with the request."""


@dataclass(frozen=True, slots=True)
class FuzzTokens:
    """The bearer token schemathesis sends for each security scheme of the document."""

    read: str
    operator: str
    robot: str


def fuzz_config(tokens: FuzzTokens, *, max_examples: int, coverage: bool, max_steps: int) -> str:
    """Schemathesis's configuration (TOML): *max_examples* per operation and phase, the
    coverage phase (boundary and negative values of every parameter) only with *coverage*,
    stateful scenarios of at most *max_steps* calls, and the checks every answer must pass."""
    return f"""
hooks = "{__name__}"
continue-on-failure = true

[generation]
mode = "all"
max-examples = {max_examples}

[phases.examples]
enabled = false

[phases.coverage]
enabled = {json.dumps(coverage)}

[phases.stateful]
max-steps = {max_steps}

[checks]
enabled = false
not_a_server_error.enabled = true
status_code_conformance.enabled = true
content_type_conformance.enabled = true
response_headers_conformance.enabled = true
response_schema_conformance.enabled = true
negative_data_rejection.enabled = true
ignored_auth.enabled = true
refusals_are_json_errors.enabled = true

[auth.openapi.readToken]
bearer = "{tokens.read}"

[auth.openapi.operatorToken]
bearer = "{tokens.operator}"

[auth.openapi.robotToken]
bearer = "{tokens.robot}"

[[operations]]
include-name = "{FMZ}"
checks.negative_data_rejection.enabled = false
"""


@schemathesis.check
def refusals_are_json_errors(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx is ``{"error": "<what is wrong>"}`` as JSON (``riskd.gateway.errors``)."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    if not content_type.startswith("application/json"):
        raise AssertionError(f"a {response.status_code} answered as {content_type!r}, not JSON")
    body = json.loads(response.content)
    if not (isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]):
        raise AssertionError(f"a {response.status_code} without an error naming the problem")
    return True


def refused(case: Case, response: Response) -> bool:
    """Whether the gateway refused *case*: a 4xx or 5xx, or FMZ's error answer."""
    if response.status_code >= 400:
        return True
    is_fmz = f"{case.method} {case.operation.path}" == FMZ
    return is_fmz and "error" in json.loads(response.content)


@schemathesis.hook
def before_call(context: HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    """Long-polls wait at most FUZZ_WAIT_S (a wait the gateway takes is cut to it)."""
    wait = case.query.get("wait") if isinstance(case.query, dict) else None
    if isinstance(wait, str) and _WAIT.fullmatch(wait) and float(wait) > float(FUZZ_WAIT_S):
        case.query["wait"] = FUZZ_WAIT_S
