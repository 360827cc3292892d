from riskd.sim import SimServer


async def test_server_time_comes_from_simulator_clock(sim: SimServer, client) -> None:
    before = sim.clock.now_ms()
    answer = await client.futures_time()
    assert before <= answer["serverTime"] <= sim.clock.now_ms()
