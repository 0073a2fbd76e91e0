from dataclasses import replace

import pytest

from exporter.reporting.bottlenecks import find_bottlenecks
from exporter.reporting.model import Throughput, Totals, Usage
from exporter.thresholds import Thresholds, parse_thresholds
from tests.report_samples import empty_report, report, route, stats

SEED = parse_thresholds({})


def kinds(found: list) -> list[tuple[str, str, str]]:
    return [(b.kind, b.severity, b.subject) for b in found]


def test_a_healthy_report_has_no_bottleneck() -> None:
    assert find_bottlenecks(report(), SEED) == []


def test_an_empty_window_has_no_bottleneck() -> None:
    assert find_bottlenecks(empty_report(), SEED) == []


@pytest.mark.parametrize(("p95", "severity"), [(1.5, "warning"), (2.5, "critical")])
def test_a_slow_p95_is_a_response_time_bottleneck_with_its_severity(
    p95: float, severity: str
) -> None:
    found = find_bottlenecks(report(response_time=stats(p95)), SEED)
    assert ("high_response_time", severity, "all routes") in kinds(found)
    (b,) = [b for b in found if b.kind == "high_response_time"]
    assert b.observed == p95
    assert b.threshold == (2.0 if severity == "critical" else 1.0)
    assert "Profile the slowest routes" in b.recommendation


def test_a_route_is_judged_by_its_own_thresholds() -> None:
    thresholds = parse_thresholds(
        {
            "routes": {
                "/video/process": {"response_time": {"warning_ms": 5000, "critical_ms": 10000}}
            }
        }
    )
    slow = report(routes=[route("/video/process", 120_000, 1.5), route("/health", 60_000, 1.5)])
    found = kinds(find_bottlenecks(slow, thresholds))
    assert ("high_response_time", "warning", "/health") in found
    assert not [k for k in found if k[2] == "/video/process" and k[0] == "high_response_time"]


def test_latency_and_errors_stay_quiet_below_the_minimum_request_rate() -> None:
    quiet = report(
        totals=Totals(100, 50, 0, 50, 0.5),  # 100 requests in an hour: 0.03 req/s
        response_time=stats(9.0, 100),
        routes=[route("/video/process", 100, 9.0, failed=50)],
        throughput=Throughput(100 / 3600, 1.0, 60.0),
    )
    found = kinds(find_bottlenecks(quiet, SEED))
    assert found == [("low_throughput", "critical", "all routes")]


@pytest.mark.parametrize(("rate", "severity"), [(0.07, "warning"), (0.2, "critical")])
def test_a_high_error_rate_is_a_bottleneck(rate: float, severity: str) -> None:
    found = find_bottlenecks(report(totals=Totals(180_000, 0, 0, int(180_000 * rate), rate)), SEED)
    assert ("high_error_rate", severity, "all routes") in kinds(found)


@pytest.mark.parametrize(("average", "severity"), [(8.0, "warning"), (2.0, "critical")])
def test_low_throughput_fires_below_the_thresholds(average: float, severity: str) -> None:
    found = find_bottlenecks(report(throughput=Throughput(average, average, 60.0)), SEED)
    assert kinds(found) == [("low_throughput", severity, "all routes")]
    assert "below the" in found[0].message


def test_high_cpu_memory_and_a_saturated_gpu_are_bottlenecks_critical_first() -> None:
    busy = report(
        resources={
            "cpu": Usage(0.85, 0.99),
            "memory": Usage(0.97, 0.98),
            "gpu": Usage(0.95, 1.0),
            "gpu_memory": Usage(0.5, 0.6),
        }
    )
    found = find_bottlenecks(busy, SEED)
    assert kinds(found) == [
        ("high_memory", "critical", "host"),
        ("high_cpu", "warning", "host"),
        ("gpu_saturation", "warning", "GPU"),
    ]
    assert "peak 99" in found[1].message


def test_a_quantile_other_than_p95_is_asked_for() -> None:
    asked = []

    def quantile(metric: str, route: str | None, q: float) -> float | None:
        asked.append((metric, route, q))
        return 3.0 if q == 0.9 else 0.0

    thresholds: Thresholds = parse_thresholds({"response_time": {"quantile": 0.9}})
    found = find_bottlenecks(replace(report(), routes=[]), thresholds, quantile)
    assert ("response_time", None, 0.9) in asked
    assert ("high_response_time", "critical", "all routes") in kinds(found)
