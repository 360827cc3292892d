from riskd.core.pacing import MIN_RETRY_DELAY_MS, next_pass_delay_ms


def test_after_a_success_the_pass_waits_the_rest_of_its_interval() -> None:
    assert next_pass_delay_ms(5_000, 1_200, failures=0, spare=True) == 3_800
    assert next_pass_delay_ms(5_000, 7_000, failures=0, spare=True) == 0  # a slow pass


def test_failures_back_off_doubling_up_to_the_interval() -> None:
    delays = [next_pass_delay_ms(10_000, 300, failures=n, spare=True) for n in range(1, 7)]
    assert delays == [MIN_RETRY_DELAY_MS * 2**k for k in range(4)] + [10_000, 10_000]


def test_a_failing_job_without_spare_budget_waits_its_full_interval() -> None:
    assert next_pass_delay_ms(5_000, 300, failures=1, spare=False) == 5_000


def test_the_spare_does_not_matter_while_passes_succeed() -> None:
    assert next_pass_delay_ms(5_000, 1_000, failures=0, spare=False) == 4_000
