from riskd.exchange.clock import ServerClock


def test_offset_is_measured_at_the_round_trip_midpoint() -> None:
    now = [1_000]
    clock = ServerClock(local_ms=lambda: now[0])
    assert clock.update(server_ms=5_100, sent_local_ms=1_000, received_local_ms=1_200) == 4_000
    assert clock.now_ms() == 5_000 and clock.synced
    now[0] = 2_000
    assert clock.now_ms() == 6_000
