"""GET /v1/orders: the pre-trade gate's decisions."""

from __future__ import annotations

import pytest

from tests.kit.gateway import robot_tokens, serving


async def test_decisions_are_listed_per_robot_newest_first() -> None:
    async with serving(robots=robot_tokens("r1", "r2")) as gateway:
        gateway.backend.decisions["main"] = [{"robot": "r2", "id": 2}, {"robot": "r1", "id": 1}]
        status, _, answer = await gateway.call("GET", "/v1/orders?robot=r1&limit=5")
    assert status == 200 and answer == {"orders": [{"robot": "r1", "id": 1}]}
    assert gateway.backend.calls == [("orders", ("main", "r1", 5))]


@pytest.mark.parametrize(
    ("query", "status", "named"),
    [
        ("?limit=0", 400, "limit"),
        ("?limit=1001", 400, "limit"),
        ("?limit=x", 400, "limit"),
        ("?robot=nobody", 404, "robot"),
        ("?account=other", 404, "account"),
        ("?colour=red", 400, "colour"),
    ],
)
async def test_bad_queries_are_refused_naming_the_parameter(
    query: str, status: int, named: str
) -> None:
    async with serving(robots=robot_tokens("r1")) as gateway:
        answered, _, answer = await gateway.call("GET", f"/v1/orders{query}")
    assert answered == status and named in answer["error"]
    assert gateway.backend.calls == []
