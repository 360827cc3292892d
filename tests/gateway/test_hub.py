"""The ban-list hub: publish, wait for a newer version, subscribe."""

from __future__ import annotations

import asyncio

from riskd.gateway.hub import BanListHub
from riskd.risk.banlist import BanList
from tests.kit.samples import banlist, lock


async def test_hub_publish_keeps_only_newer_versions_per_account() -> None:
    hub = BanListHub()
    assert hub.latest("main") is None
    assert hub.publish(banlist(2))
    assert not hub.publish(banlist(2, lock()))
    assert not hub.publish(banlist(1))
    assert hub.latest("main").banlist == banlist(2)
    assert hub.publish(banlist(1, account="other"))
    assert hub.publish(banlist(3))
    assert hub.latest("main").banlist == banlist(3)
    assert hub.latest("other").banlist == banlist(1, account="other")


async def test_hub_wait_newer_returns_at_once_when_already_newer() -> None:
    hub = BanListHub()
    hub.publish(banlist(5))
    assert (await hub.wait_newer("main", 4, timeout_s=0)).banlist == banlist(5)


async def test_hub_wait_newer_times_out_with_none() -> None:
    hub = BanListHub()
    hub.publish(banlist(5))
    assert await hub.wait_newer("main", 5, timeout_s=0.01) is None
    assert await hub.wait_newer("nobody", 0, timeout_s=0.01) is None


async def test_hub_wait_newer_wakes_on_a_newer_publish_only() -> None:
    hub = BanListHub()
    hub.publish(banlist(5))
    waiter = asyncio.create_task(hub.wait_newer("main", 5, timeout_s=30))
    await asyncio.sleep(0)
    hub.publish(banlist(1, account="other"))
    hub.publish(banlist(4))
    await asyncio.sleep(0)
    assert not waiter.done()
    hub.publish(banlist(6))
    assert (await asyncio.wait_for(waiter, 10)).banlist == banlist(6)


async def test_hub_subscribe_yields_current_first_then_each_new_version() -> None:
    hub = BanListHub()
    hub.publish(banlist(1))
    versions = hub.subscribe("main")
    assert (await anext(versions)).banlist == banlist(1)
    hub.publish(banlist(2))
    assert (await anext(versions)).banlist == banlist(2)
    hub.publish(banlist(3))
    assert (await anext(versions)).banlist == banlist(3)
    await versions.aclose()


async def test_hub_subscribe_before_any_snapshot_waits_for_the_first() -> None:
    hub = BanListHub()
    versions = hub.subscribe("main")
    first = asyncio.create_task(anext(versions))
    await asyncio.sleep(0)
    assert not first.done()
    hub.publish(banlist(1))
    assert (await asyncio.wait_for(first, 10)).banlist == banlist(1)
    await versions.aclose()


async def test_hub_slow_subscriber_gets_only_the_newest_and_does_not_hold_up_others() -> None:
    hub = BanListHub()
    hub.publish(banlist(1))
    slow = hub.subscribe("main")
    fast = hub.subscribe("main")
    assert (await anext(slow)).banlist == banlist(1)
    assert (await anext(fast)).banlist == banlist(1)
    for version in range(2, 100):
        hub.publish(banlist(version))
        assert (await anext(fast)).banlist == banlist(version)
    assert (await anext(slow)).banlist == banlist(99)
    hub.publish(banlist(100))
    assert (await anext(slow)).banlist == banlist(100)
    await slow.aclose()
    await fast.aclose()


async def test_hub_closed_subscriber_is_dropped() -> None:
    hub = BanListHub()
    hub.publish(banlist(1))
    versions = hub.subscribe("main")
    await anext(versions)
    await versions.aclose()
    hub.publish(banlist(2))
    assert hub._subscribers["main"] == set()


async def test_hub_keeps_the_bytes_it_is_given() -> None:
    hub = BanListHub()
    sent = b' {"as": "the Ledger wrote it"} '
    hub.publish(banlist(1), sent)
    assert hub.latest("main").body is sent
    versions = hub.subscribe("main")
    assert (await anext(versions)).body is sent
    await versions.aclose()


async def test_hub_encodes_a_version_given_without_bytes_once(monkeypatch) -> None:
    expected = banlist(1).to_json()
    to_json = BanList.to_json
    encoded: list[int] = []

    def counting_to_json(self: BanList) -> bytes:
        encoded.append(self.version)
        return to_json(self)

    monkeypatch.setattr(BanList, "to_json", counting_to_json)
    hub = BanListHub()
    hub.publish(banlist(1))
    hub.publish(banlist(1))  # not newer: ignored
    versions = hub.subscribe("main")
    assert (await anext(versions)).body == hub.latest("main").body == expected
    await versions.aclose()
    assert encoded == [1]
