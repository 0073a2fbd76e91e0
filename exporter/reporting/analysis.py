"""Computes the performance report of a time range from Prometheus' HTTP API.

Reads the raw metrics of the metric contract (no recording rules needed): exact request counts
and histogram buckets per interval from :mod:`exporter.reporting.counters`, quantiles from
:mod:`exporter.reporting.quantiles`, resource use from range queries; then adds the
bottlenecks (:mod:`exporter.reporting.bottlenecks`) and trends
(:mod:`exporter.reporting.trends`). Each piece is computed on first use, so the live endpoints
ask Prometheus only what they show.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import cached_property

from exporter.errors import ExporterError
from exporter.promapi import PrometheusClient, Series
from exporter.reporting.bottlenecks import find_bottlenecks
from exporter.reporting.counters import CounterReader, LabelKey, Presence, fetch_presence, quote
from exporter.reporting.model import (
    DurationStats,
    Interval,
    Report,
    RouteReport,
    Throughput,
    Totals,
    Usage,
)
from exporter.reporting.quantiles import histogram_quantile
from exporter.reporting.timerange import TimeRange, human_duration, iso, parse_duration
from exporter.reporting.trends import analyse_trends
from exporter.thresholds import Thresholds

RESPONSE_TIME = "http_server_request_duration_seconds"
LATENCY = "http_server_time_to_first_byte_seconds"
RESOURCES = ("cpu", "memory", "gpu", "gpu_memory")
#: resource series are read at this many points per window at most
RESOURCE_POINTS = 600
#: scrape interval assumed when Prometheus cannot tell (its own default)
DEFAULT_SCRAPE_INTERVAL = 60.0

Keep = Callable[[dict[str, str]], bool]


def _everything(labels: dict[str, str]) -> bool:
    return True


def job_matchers(job: str | None) -> str:
    """Label matchers selecting the job's series (every job's when ``job`` is None)."""
    return f"job={quote(job)}" if job else 'job!=""'


class Analysis:
    """The report of one time range, computed piece by piece from Prometheus."""

    def __init__(
        self,
        client: PrometheusClient,
        time_range: TimeRange,
        job: str | None = None,
        intervals: int = 10,
    ) -> None:
        self.client = client
        self.range = time_range
        self.job = job
        self.matchers = job_matchers(job)
        self.boundaries = time_range.boundaries(intervals)
        self.intervals = intervals
        self.all_intervals = range(intervals)

    # -- what Prometheus knows about the targets ----------------------------------------------
    @cached_property
    def scrape_interval(self) -> float:
        """The job's scrape interval, from the targets API, else from the ``up`` samples."""
        seconds = []
        for target in self.client.targets():
            labels = target.get("labels", {})
            if self.job is None or labels.get("job") == self.job:
                try:
                    seconds.append(parse_duration(str(target.get("scrapeInterval", ""))))
                except ExporterError:
                    continue  # an older Prometheus without the field
        if seconds:
            return max(seconds)
        counts = self.client.query(
            f"count_over_time(up{{{self.matchers}}}[{self._window_ms}ms])", self.range.end
        )
        most = max((s.value for s in counts), default=0.0)
        return self.range.seconds / most if most > 1 else DEFAULT_SCRAPE_INTERVAL

    @cached_property
    def presence(self) -> Presence:
        return fetch_presence(self.client, self.matchers, self.boundaries)

    @cached_property
    def _reader(self) -> CounterReader:
        return CounterReader(self.client, self.matchers, self.presence, self.scrape_interval)

    @property
    def _window_ms(self) -> int:
        return round(self.range.seconds * 1000)

    @cached_property
    def data_start(self) -> float:
        """Where the window's data begins: its start, or later when nothing was scraped before.

        A target scraped before the window covers all of it. Otherwise its requests are
        counted from its process start when that lies in the window (counters begin at 0),
        else from its first scrape. Averages divide by the time from here to the end, so a
        ``--window 1h`` over a stack started five minutes ago reports the rate it served.
        """
        start = self.range.start
        first = self.presence.first_scraped
        if not first or min(first.values()) < 0:
            return start
        begins = [
            t for target, t in self.presence.process_start.items() if target in first and t >= start
        ]
        # the first successful scrape, to the scrape interval, within the first scraped interval
        k = min(first.values())
        span_ms = round((self.boundaries[k + 1] - self.boundaries[0]) * 1000)
        scrape_ms = max(1, round(self.scrape_interval * 1000))
        expr = (
            f"min(min_over_time(timestamp(up{{{self.matchers}}} == 1)[{span_ms}ms:{scrape_ms}ms]))"
        )
        scraped = self.client.value(expr, self.boundaries[k + 1])
        if scraped is not None and math.isfinite(scraped):
            begins.append(scraped)
        return min(max(min(begins, default=start), start), self.range.end)

    @property
    def data_seconds(self) -> float:
        """Seconds from :attr:`data_start` to the end (the whole window when data is older)."""
        return max(self.range.end - self.data_start, 1e-3)

    # -- exact counts --------------------------------------------------------------------------
    @cached_property
    def counts(self) -> dict[LabelKey, list[float]]:
        return self._reader.increases(f"{RESPONSE_TIME}_count")

    def _histogram(self, metric: str) -> tuple[dict[LabelKey, list[float]], ...]:
        return self._reader.increases(f"{metric}_bucket"), self._reader.increases(f"{metric}_sum")

    @cached_property
    def response_time_data(self) -> tuple[dict[LabelKey, list[float]], ...]:
        return self._histogram(RESPONSE_TIME)

    @cached_property
    def latency_data(self) -> tuple[dict[LabelKey, list[float]], ...]:
        return self._histogram(LATENCY)

    def totals(self, keep: Keep = _everything, ks: Iterable[int] | None = None) -> Totals:
        ks = list(self.all_intervals if ks is None else ks)
        by_class: dict[str, float] = defaultdict(float)
        for key, incs in self.counts.items():
            labels = dict(key)
            if keep(labels):
                by_class[_status_class(labels.get("status", ""))] += sum(incs[k] for k in ks)
        requests = round(sum(by_class.values()))
        failed = round(by_class["failed"])
        return Totals(
            requests=requests,
            successful=round(by_class["successful"]),
            client_errors=round(by_class["client_errors"]),
            failed=failed,
            error_rate=failed / requests if requests else None,
        )

    def _cumulative(
        self, metric: str, keep: Keep, ks: Iterable[int] | None
    ) -> tuple[dict[float, float], float]:
        """({le: cumulative count}, total observed seconds) of the selected series."""
        buckets, sums = self.response_time_data if metric == RESPONSE_TIME else self.latency_data
        ks = list(self.all_intervals if ks is None else ks)
        cumulative: dict[float, float] = defaultdict(float)
        for key, incs in buckets.items():
            labels = dict(key)
            if "le" in labels and keep(labels):
                cumulative[float(labels["le"])] += sum(incs[k] for k in ks)
        total_time = sum(sum(incs[k] for k in ks) for key, incs in sums.items() if keep(dict(key)))
        return cumulative, total_time

    def durations(
        self, metric: str, keep: Keep = _everything, ks: Iterable[int] | None = None
    ) -> DurationStats:
        cumulative, total_time = self._cumulative(metric, keep, ks)
        count = cumulative.get(math.inf, 0.0)
        if count <= 0:
            return DurationStats()
        return DurationStats(
            count=round(count),
            mean=total_time / count,
            p50=histogram_quantile(0.5, cumulative),
            p95=histogram_quantile(0.95, cumulative),
            p99=histogram_quantile(0.99, cumulative),
        )

    def quantile(self, name: str, route: str | None, q: float) -> float | None:
        """The ``q`` quantile of ``response_time`` or ``latency`` over the whole window."""
        metric = RESPONSE_TIME if name == "response_time" else LATENCY
        keep = _everything if route is None else self.route_filter(route)
        return histogram_quantile(q, self._cumulative(metric, keep, None)[0])

    # -- throughput and resources --------------------------------------------------------------
    @cached_property
    def resolution(self) -> tuple[int, int]:
        """(step, rate window) in ms for resource and peak-rate series."""
        scrape_ms = round(self.scrape_interval * 1000)
        step = max(scrape_ms, math.ceil(self._window_ms / RESOURCE_POINTS))
        return step, max(step, 4 * scrape_ms)

    def _series(self, expr: str) -> list[Series]:
        step_ms, _ = self.resolution
        step = step_ms / 1000
        n = max(1, math.floor(self.range.seconds / step))
        return self.client.query_range(expr, self.range.end - (n - 1) * step, self.range.end, step)

    def throughput(self) -> Throughput:
        requests = self.totals().requests
        _, rate_ms = self.resolution
        expr = f"sum(rate({RESPONSE_TIME}_count{{{self.matchers}}}[{rate_ms}ms]))"
        points = [v for s in self._series(expr) for _, v in s.points] if requests else []
        return Throughput(
            average=requests / self.data_seconds if requests else None,
            peak=max(points) if points else None,
            peak_window=rate_ms / 1000,
            seconds=round(self.data_seconds, 3),
        )

    @cached_property
    def _resource_exprs(self) -> dict[str, tuple[str, str]]:
        step, rate = self.resolution
        m = self.matchers
        cpu = (
            f'1 - sum by (job, instance) (rate(system_cpu_seconds_total{{{m},mode="idle"}}'
            f"[{rate}ms])) / sum by (job, instance) (system_cpu_logical_cpus{{{m}}})"
        )
        avail, total = f"system_memory_available_bytes{{{m}}}", f"system_memory_total_bytes{{{m}}}"
        used, size = f"gpu_memory_used_bytes{{{m}}}", f"gpu_memory_total_bytes{{{m}}}"
        gpu = f"gpu_utilization_ratio{{{m}}}"
        return {
            "cpu": (cpu, cpu),
            "memory": (
                f"1 - avg_over_time({avail}[{step}ms]) / avg_over_time({total}[{step}ms])",
                f"1 - min_over_time({avail}[{step}ms]) / max_over_time({total}[{step}ms])",
            ),
            "gpu": (f"avg_over_time({gpu}[{step}ms])", f"max_over_time({gpu}[{step}ms])"),
            "gpu_memory": (
                f"avg_over_time({used}[{step}ms]) / avg_over_time({size}[{step}ms])",
                f"max_over_time({used}[{step}ms]) / max_over_time({size}[{step}ms])",
            ),
        }

    @cached_property
    def usage(self) -> dict[str, tuple[Usage, list[float | None]] | None]:
        """Per resource: (window average and peak, average per interval); None: not exported."""
        out: dict[str, tuple[Usage, list[float | None]] | None] = {}
        for name, (average_expr, peak_expr) in self._resource_exprs.items():
            averages = _points(self._series(average_expr))
            if not averages:
                out[name] = None
                continue
            peaks = averages if peak_expr == average_expr else _points(self._series(peak_expr))
            per_interval: list[list[float]] = [[] for _ in self.all_intervals]
            for t, v in averages:
                per_interval[self._interval_of(t)].append(v)
            out[name] = (
                Usage(
                    average=sum(v for _, v in averages) / len(averages),
                    peak=max((v for _, v in peaks), default=None),
                ),
                [sum(vs) / len(vs) if vs else None for vs in per_interval],
            )
        return out

    def _interval_of(self, t: float) -> int:
        step = self.boundaries[1] - self.boundaries[0]
        k = math.ceil((t - self.boundaries[0]) / step - 1e-9) - 1
        return min(max(k, 0), self.intervals - 1)

    # -- per route and per interval ------------------------------------------------------------
    def route_names(self) -> list[str]:
        """Routes that served requests in the window, busiest first."""
        requests: dict[str, float] = defaultdict(float)
        for key, incs in self.counts.items():
            requests[dict(key).get("route", "")] += sum(incs)
        return sorted((r for r, n in requests.items() if round(n) > 0), key=lambda r: -requests[r])

    @staticmethod
    def route_filter(route: str) -> Keep:
        return lambda labels: labels.get("route") == route

    def routes(self) -> list[RouteReport]:
        methods: dict[str, set[str]] = defaultdict(set)
        for key, incs in self.counts.items():
            labels = dict(key)
            if round(sum(incs)) > 0:
                methods[labels.get("route", "")].add(labels.get("method", ""))
        out = []
        for route in self.route_names():
            keep = self.route_filter(route)
            totals = self.totals(keep)
            out.append(
                RouteReport(
                    route=route,
                    methods=tuple(sorted(methods[route])),
                    totals=totals,
                    throughput=totals.requests / self.data_seconds,
                    response_time=self.durations(RESPONSE_TIME, keep),
                    latency=self.durations(LATENCY, keep),
                )
            )
        return out

    def interval_rows(self) -> list[Interval]:
        empty: list[float | None] = [None] * self.intervals
        usage = {name: u[1] if u else empty for name, u in self.usage.items()}
        rows = []
        for k in self.all_intervals:
            totals = self.totals(ks=[k])
            response = self.durations(RESPONSE_TIME, ks=[k])
            start, end = self.boundaries[k], self.boundaries[k + 1]
            # before the data begins there is no rate to tell, not a rate of 0
            observed = end - max(start, self.data_start)
            rows.append(
                Interval(
                    start=start,
                    end=end,
                    requests=totals.requests,
                    throughput=totals.requests / observed if observed > 0 else None,
                    error_rate=totals.error_rate,
                    response_time_mean=response.mean,
                    response_time_p95=response.p95,
                    latency_p95=self.durations(LATENCY, ks=[k]).p95,
                    cpu=_ratio(usage["cpu"][k]),
                    memory=_ratio(usage["memory"][k]),
                    gpu=_ratio(usage["gpu"][k]),
                )
            )
        return rows

    # -- the whole report ----------------------------------------------------------------------
    def report(self, thresholds: Thresholds, trends: bool = True) -> Report:
        keys = [dict(key) for key in self.counts]
        resources: dict[str, Usage | None] = {}
        for name, found in self.usage.items():
            resources[name] = None if found is None else _clamped(found[0])
        report = Report(
            start=self.range.start,
            end=self.range.end,
            job=self.job,
            jobs=sorted({k.get("job", "") for k in keys}),
            instances=sorted({k.get("instance", "") for k in keys}),
            scrape_interval=self.scrape_interval,
            totals=self.totals(),
            throughput=self.throughput(),
            response_time=self.durations(RESPONSE_TIME),
            latency=self.durations(LATENCY),
            routes=self.routes(),
            resources=resources,
        )
        intervals = self.interval_rows() if trends else []
        report = replace(
            report,
            bottlenecks=find_bottlenecks(report, thresholds, self.quantile),
            trends=analyse_trends(intervals, thresholds) if trends else None,
        )
        return replace(report, notes=self.notes(report))

    def notes(self, report: Report) -> list[str]:
        notes = sorted(self.presence.notes)
        if not self.presence.first_scraped:
            target = f"job {self.job!r}" if self.job else "any job"
            notes.insert(0, f"Prometheus scraped no target of {target} in this window")
        elif report.no_data:
            notes.insert(0, "no requests were recorded in this window")
        if self.presence.first_scraped and self.data_start > self.boundaries[0]:
            notes.append(
                f"the data begins at {iso(self.data_start)}, {human_duration(self.data_seconds)} "
                f"before the end of this {human_duration(report.seconds)} window: averages and "
                "throughput are over that part"
            )
        missing = [name for name, usage in report.resources.items() if usage is None]
        if missing and self.presence.first_scraped:
            notes.append(f"not exported in this window: {', '.join(missing)}")
        return notes


def _status_class(status: str) -> str:
    if status.startswith("5"):
        return "failed"
    if status.startswith("4"):
        return "client_errors"
    return "successful"


def _points(series: Sequence[Series]) -> list[tuple[float, float]]:
    return [(t, v) for s in series for t, v in s.points]


def _ratio(value: float | None) -> float | None:
    return None if value is None else min(max(value, 0.0), 1.0)


def _clamped(usage: Usage) -> Usage:
    return Usage(average=_ratio(usage.average), peak=_ratio(usage.peak))
