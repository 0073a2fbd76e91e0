import itertools

import pytest

from exporter.errors import ExporterError
from exporter.reporting.timerange import (
    TimeRange,
    human_duration,
    iso,
    parse_duration,
    parse_time,
    resolve,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("24h", 86400), ("7d", 604800), ("1h30m", 5400)],
)
def test_durations_are_read_in_prometheus_syntax(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "-1h", "1x", "1h 30m", "0s", "1h-"])
def test_a_bad_duration_is_one_line_naming_the_argument(text: str) -> None:
    with pytest.raises(ExporterError, match=r"^--window: expected a duration like 30s") as err:
        parse_duration(text)
    assert "\n" not in str(err.value)


def test_times_are_read_as_unix_seconds_rfc3339_or_relative_to_now() -> None:
    assert parse_time("1700000000.5", "--start", NOW) == 1700000000.5
    assert parse_time("2023-11-14T22:13:20Z", "--start", NOW) == NOW
    assert parse_time("2023-11-14T23:13:20+01:00", "--start", NOW) == NOW
    assert parse_time("now", "--end", NOW) == NOW
    assert parse_time("now-2h", "--start", NOW) == NOW - 7200


def test_a_bad_time_names_the_argument_and_shows_what_works() -> None:
    with pytest.raises(ExporterError, match=r"^--start: expected a time like .*'yesterday'"):
        parse_time("yesterday", "--start", NOW)


def test_a_window_alone_ends_now() -> None:
    assert resolve(window="1h", now=NOW) == TimeRange(NOW - 3600, NOW)


def test_start_with_a_window_sets_the_end() -> None:
    assert resolve(window="10m", start="now-1h", now=NOW) == TimeRange(NOW - 3600, NOW - 3000)


def test_no_arguments_mean_the_last_hour() -> None:
    assert resolve(now=NOW) == TimeRange(NOW - 3600, NOW)


def test_an_end_in_the_future_is_cut_to_now() -> None:
    assert resolve(start="now-1h", end=str(NOW + 500), now=NOW) == TimeRange(NOW - 3600, NOW)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "now-1h", "end": "now-2h"}, "must be before --end"),
        ({"window": "1h", "start": "now-2h", "end": "now"}, "not both"),
        ({"end": "now-1h"}, "--end needs --start or --window"),
        ({"window": "5s"}, "at least 10s"),
        ({"start": "now+1h"}, "--start: expected a time like"),
    ],
)
def test_inconsistent_arguments_are_one_clear_line(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ExporterError, match=message):
        resolve(now=NOW, **kwargs)


def test_intervals_are_equal_millisecond_steps_ending_at_the_end() -> None:
    bounds = TimeRange(100.0, 200.001).boundaries(3)
    steps = {round((b - a) * 1000) for a, b in itertools.pairwise(bounds)}
    assert steps == {33333}
    assert bounds[-1] == 200.001
    assert bounds[0] == pytest.approx(100.002)


def test_times_print_as_utc_rfc3339() -> None:
    assert iso(NOW) == "2023-11-14T22:13:20Z"
    assert iso(NOW + 0.25) == "2023-11-14T22:13:20.250Z"
    assert human_duration(3600) == "1h"
    assert human_duration(5400) == "1h30m"
    assert human_duration(4.5) == "4.5s"
