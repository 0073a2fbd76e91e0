"""The exact-increase arithmetic, on the per-interval facts Prometheus reports for one series."""

import math

import pytest

from exporter.reporting.counters import Presence, Window, increases, label_key, quote


def born(k: int, first: float) -> float:
    return 0.0


def w(last: float, minimum: float | None = None, resets: float = 0, **kw: object) -> Window:
    return Window(last=last, minimum=last if minimum is None else minimum, resets=resets, **kw)


def test_a_steady_counter_increases_by_last_minus_previous() -> None:
    assert increases(10.0, [w(15, 11), w(15), w(40, 16)], born) == [5.0, 0.0, 25.0]


def test_an_interval_without_samples_adds_nothing_and_keeps_the_previous_value() -> None:
    assert increases(10.0, [w(12), Window(), w(20, 13)], born) == [2.0, 0.0, 8.0]


def test_a_series_created_in_the_window_counts_from_zero() -> None:
    assert increases(None, [Window(), w(3), w(7, 4)], born) == [0.0, 3.0, 4.0]


def test_a_restart_at_an_interval_boundary_counts_the_new_value() -> None:
    # 100 before; the process restarted; first sample after it is 4, last 9
    assert increases(100.0, [w(9, 4)], born) == [9.0]


def test_resets_inside_an_interval_sum_the_raw_increments() -> None:
    raw = [12.0, 15.0, 2.0, 6.0, 1.0, 3.0]  # two restarts
    assert increases(10.0, [w(3, 1, resets=2, raw=raw)], born) == [2 + 3 + 2 + 4 + 1 + 2]


def test_resets_with_a_too_large_raw_answer_use_the_approximation() -> None:
    assert increases(10.0, [w(3, 1, resets=1, approximate=7.5)], born) == [7.5]


def test_a_new_series_counts_from_what_start_value_decides() -> None:
    def from_first(k: int, first: float) -> float:
        return first

    assert increases(None, [w(9, 5)], from_first) == [4.0]
    # counted from 5: a restart to 1 (+1), then 3 (+2)
    assert increases(None, [w(3, 1, resets=1, raw=[5.0, 1.0, 3.0])], from_first) == [3.0]


def presence(first_scraped: dict[tuple[str, str], int], started: float | None) -> Presence:
    starts = {} if started is None else {("demo", "a:1"): started}
    return Presence([100.0, 110.0, 120.0], first_scraped, starts)


LABELS = {"job": "demo", "instance": "a:1", "route": "/x"}


def test_a_series_of_a_target_scraped_before_is_new_and_counts_from_zero() -> None:
    p = presence({("demo", "a:1"): -1}, None)
    assert p.start_value(LABELS, 0, 42.0) == 0.0
    p = presence({("demo", "a:1"): 0}, None)
    assert p.start_value(LABELS, 1, 42.0) == 0.0
    assert not p.notes


def test_a_target_first_scraped_in_the_window_counts_from_zero_when_its_process_started_then() -> (
    None
):
    p = presence({("demo", "a:1"): 1}, started=105.0)
    assert p.start_value(LABELS, 1, 42.0) == 0.0
    assert not p.notes


def test_an_older_process_scraped_first_in_the_window_counts_from_its_first_sample() -> None:
    p = presence({("demo", "a:1"): 1}, started=50.0)
    assert p.start_value(LABELS, 1, 42.0) == 42.0
    (note,) = p.notes
    assert note.startswith("Prometheus began scraping a:1 (job demo) inside the window")
    assert note.endswith("is not counted")


def test_label_keys_ignore_the_metric_name_and_label_order() -> None:
    assert label_key({"__name__": "x", "b": "2", "a": "1"}) == label_key({"a": "1", "b": "2"})


def test_label_values_are_quoted_for_promql() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'


@pytest.mark.parametrize("previous", [None, 0.0, 5.0])
def test_increases_are_never_negative_or_nan(previous: float | None) -> None:
    values = increases(previous, [w(1, 0), w(0.5, 0.5), Window(), w(2, 0.5, resets=1)], born)
    assert all(v >= 0 and not math.isnan(v) for v in values)
