import pytest

from exporter.reporting.trends import analyse_trends, direction
from exporter.thresholds import parse_thresholds
from tests.report_samples import interval

SEED = parse_thresholds({})


def test_a_step_up_is_rising_and_compares_the_first_and_last_thirds() -> None:
    way, early, late = direction([0.1, 0.1, 0.1, 0.1, 0.1, 1.5, 1.5, 1.5, 1.5, 1.5], noise=0.005)
    assert way == "rising"
    assert early == pytest.approx(0.1)
    assert late == pytest.approx(1.5)


def test_a_spike_in_the_middle_is_not_a_trend() -> None:
    assert direction([0, 0, 0, 0, 0.04, 0, 0, 0, 0, 0], noise=0.01)[0] == "stable"


def test_small_absolute_changes_are_noise_whatever_their_ratio() -> None:
    assert direction([0.001, 0.001, 0.001, 0.004, 0.004, 0.004], noise=0.005)[0] == "stable"


def test_a_fall_is_falling() -> None:
    assert direction([50, 48, 52, 30, 20, 10, 9, 11, 10], noise=0.1)[0] == "falling"


def test_fewer_than_three_intervals_with_data_is_no_data() -> None:
    assert direction([None, 1.0, None, 2.0], noise=0.1) == ("no data", None, None)


def test_a_slow_second_half_gives_a_rising_response_time_insight_and_a_degradation() -> None:
    rows = [interval(k, 0.08 if k < 5 else 1.6) for k in range(10)]
    trends = analyse_trends(rows, SEED)
    by_metric = {t.metric: t for t in trends.trends}
    assert by_metric["response_time_p95"].direction == "rising"
    assert by_metric["throughput"].direction == "stable"
    assert by_metric["gpu"].direction == "no data"
    assert trends.insights[0].startswith("Response time is rising: p95 80 ms early in the window")
    assert any("degraded 20.0x" in line for line in trends.insights)


def test_steady_intervals_say_there_is_no_clear_trend() -> None:
    trends = analyse_trends([interval(k, 0.2) for k in range(10)], SEED)
    assert trends.insights == [
        "No clear trend: response time, latency (time to first byte), throughput, error rate, "
        "cpu use, memory use are stable."
    ]
    assert trends.interval_seconds == 360


def test_a_window_without_traffic_has_no_trend_but_says_so() -> None:
    rows = [interval(k, None, requests=0, cpu=None, memory=None) for k in range(10)]
    trends = analyse_trends(rows, SEED)
    assert {t.direction for t in trends.trends} == {"no data"}
    assert trends.insights == ["Not enough data in this window for trends."]
