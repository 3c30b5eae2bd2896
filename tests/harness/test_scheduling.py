"""harness.scheduling.session_order: the order every run (and every xdist worker) gives its tests."""

from __future__ import annotations

from harness.scheduling import session_order

IDS = ["plain_short", "auto_a", "breaks_auto", "plain_long", "breaks", "auto_b", "breaks_long"]
DESTRUCTIVE = {"breaks", "breaks_auto", "breaks_long"}
AUTO = {"auto_a", "auto_b", "breaks_auto"}


def test_serial_destructive_first_and_the_auto_tests_last_in_each_part() -> None:
    assert session_order(IDS, DESTRUCTIVE, AUTO) == [
        "breaks", "breaks_long", "breaks_auto", "plain_short", "plain_long", "auto_a", "auto_b"]


def test_parallel_longest_first_in_each_part_with_the_auto_tests_as_one_block() -> None:
    known = {"plain_short": 2, "auto_a": 30, "auto_b": 25, "plain_long": 40, "breaks": 10, "breaks_auto": 50,
             "breaks_long": 45}
    # the non-destructive AUTO tests weigh 55 s together: before plain_long (40 s), still next to each other
    assert session_order(IDS, DESTRUCTIVE, AUTO, known) == [
        "breaks_auto", "breaks_long", "breaks", "auto_a", "auto_b", "plain_long", "plain_short"]
    known["plain_long"] = 60
    assert session_order(IDS, DESTRUCTIVE, AUTO, known)[3:] == ["plain_long", "auto_a", "auto_b", "plain_short"]


def test_parallel_a_test_never_timed_counts_as_the_longest() -> None:
    known = {"plain_short": 2, "auto_a": 30, "auto_b": 25, "breaks": 10, "breaks_auto": 50, "breaks_long": 45}
    assert session_order(IDS, DESTRUCTIVE, AUTO, known)[3] == "plain_long"
    nothing = session_order(IDS, DESTRUCTIVE, AUTO, {})
    assert nothing[:3] == ["breaks_auto", "breaks", "breaks_long"]  # all alike: collected order
    assert nothing[3:] == ["plain_short", "plain_long", "auto_a", "auto_b"]  # the AUTO block still together
