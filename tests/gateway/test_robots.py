"""RobotTokens: a token names its robot; tokens never show."""

from __future__ import annotations

import pytest

from riskd.core.secrets import Secret, SecretSources
from riskd.gateway.robots import RobotTokens
from riskd.trade.config import RobotConfig
from tests.kit.gateway import robot_token, robot_tokens


def test_a_token_names_its_robot_and_anything_else_none() -> None:
    robots = robot_tokens("alice", "bob")
    assert robots.robot_for(robot_token("alice")) == "alice"
    assert robots.robot_for(robot_token("bob").encode()) == "bob"
    for wrong in ("", robot_token("alice")[:-1], robot_token("alice") + "x", "\udcff"):
        assert robots.robot_for(wrong) is None


def test_no_robots_is_falsy_and_names_nobody() -> None:
    assert not RobotTokens()
    assert robot_tokens("alice")
    assert RobotTokens().robot_for("anything") is None
    assert robot_tokens("bob", "alice").names == ("alice", "bob")


def test_tokens_never_show() -> None:
    robots = robot_tokens("alice")
    assert repr(robots) == "RobotTokens(['alice'])"
    assert robot_token("alice") not in repr(robots)


def test_two_robots_with_one_token_are_refused_without_showing_it() -> None:
    with pytest.raises(ValueError, match=r"^robots 'a' and 'b' have the same token$"):
        RobotTokens({"a": Secret("same"), "b": Secret("same")})


def test_the_tokens_of_configured_robots() -> None:
    robot = RobotConfig.model_validate(
        {"name": "alice", "account": "main", "token_env": "T"},
        context=SecretSources(env={"T": "alice-secret"}),
    )
    assert RobotTokens.of([robot]).robot_for("alice-secret") == "alice"
