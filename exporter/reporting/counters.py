"""Exact counter increases over consecutive time intervals, read from Prometheus.

Why not ``increase()``: it extrapolates to the edges of its window, so 150 requests come back as
152.6; a series that first appears inside the window (a route's first request, a new status, a
restarted process) is counted only from its first scraped value, and a series with a single
sample in the window is not counted at all. A report that says "N requests" must say the number
that was served. So, per series and interval, we ask Prometheus for the last value, the minimum
and the number of resets, plus the last value before the window, and compute:

* no reset: ``last - previous`` (the value at the end of the interval before);
* the minimum is below the previous value: the counter restarted at the boundary, so ``last``;
* resets inside the interval: the sum of the increments of the raw samples (fetched for the
  instances concerned only), the way Prometheus itself corrects resets;
* a series seen for the first time: it was created during the interval (counters start at 0), so
  ``last``; except when Prometheus began scraping its process in that interval and the process
  is older than the window: then what it served before the window is unknown, we count from the
  first sample, and say so in a note.

A request is attributed to the interval of the first scrape that saw it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from exporter.promapi import PrometheusClient, Series
from exporter.reporting.timerange import iso

LabelKey = tuple[tuple[str, str], ...]

#: most raw samples fetched for one (interval, instance); beyond, increase() with a note
RAW_SAMPLE_LIMIT = 250_000


def label_key(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def quote(value: str) -> str:
    """A PromQL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@dataclass
class Window:
    """What Prometheus reports about one series in one interval."""

    last: float | None = None  # None: no sample in the interval
    minimum: float = 0.0
    resets: float = 0.0
    raw: list[float] | None = None  # raw samples, fetched only when resets > 0
    approximate: float | None = None  # Prometheus' increase(), when raw was too large


def increases(
    previous: float | None,
    windows: Sequence[Window],
    start_value: Callable[[int, float], float],
) -> list[float]:
    """The increase of one series in each interval.

    ``previous`` is its last value before the first interval (None: never seen);
    ``start_value(k, first)`` is the value to count from when the series is first seen in
    interval ``k`` with ``first`` as its first sample (0 when it was created then).
    """
    out = []
    for k, w in enumerate(windows):
        if w.last is None:
            out.append(0.0)
            continue
        if w.resets > 0 and w.raw:
            total, before = 0.0, previous
            for value in w.raw:
                if before is None:
                    before = start_value(k, value)
                total += value - before if value >= before else value
                before = value
        elif w.resets > 0 and w.approximate is not None:
            total = w.approximate
        elif previous is None:
            total = w.last - start_value(k, w.minimum)
        elif w.minimum < previous:
            total = w.last  # restarted between the previous sample and this interval's first
        else:
            total = w.last - previous
        out.append(max(total, 0.0))
        previous = w.last
    return out


@dataclass
class Presence:
    """When each target was first scraped, and when its process started, for a window."""

    boundaries: list[float]
    #: (job, instance) -> -1 when scraped before the window, else the first interval's index
    first_scraped: dict[tuple[str, str], int]
    #: (job, instance) -> earliest process_start_time_seconds seen in the window
    process_start: dict[tuple[str, str], float]
    notes: set[str] = field(default_factory=set)

    def start_value(self, labels: Mapping[str, str], k: int, first: float) -> float:
        target = (labels.get("job", ""), labels.get("instance", ""))
        seen = self.first_scraped.get(target)
        if seen is not None and seen < k:
            return 0.0  # the target was scraped before without this series: it is new
        started = self.process_start.get(target)
        if started is not None and started >= self.boundaries[0]:
            return 0.0  # the process itself started in the window
        self.notes.add(
            f"Prometheus began scraping {target[1]} (job {target[0]}) inside the window, after "
            "the process had started: what it served before its first scrape "
            f"(around {iso(self.boundaries[max(k, 0)])}) is not counted"
        )
        return first


def lookback(boundaries: Sequence[float]) -> int:
    """How far before the window to look for a counter's previous value, in seconds."""
    window = boundaries[-1] - boundaries[0]
    return int(min(max(window, 3600), 7 * 86400))


def _step_ms(boundaries: Sequence[float]) -> int:
    return round((boundaries[1] - boundaries[0]) * 1000)


def _by_interval(
    series: list[Series], boundaries: Sequence[float]
) -> dict[LabelKey, dict[int, float]]:
    """Range-query points -> {series: {interval index: value}}."""
    first_end, step = boundaries[1], boundaries[1] - boundaries[0]
    out: dict[LabelKey, dict[int, float]] = {}
    for s in series:
        points = out.setdefault(label_key(s.labels), {})
        for t, v in s.points:
            points[round((t - first_end) / step)] = v
    return out


def _range(
    client: PrometheusClient, expr: str, boundaries: Sequence[float]
) -> dict[LabelKey, dict[int, float]]:
    step = boundaries[1] - boundaries[0]
    return _by_interval(client.query_range(expr, boundaries[1], boundaries[-1], step), boundaries)


def fetch_presence(
    client: PrometheusClient, matchers: str, boundaries: Sequence[float]
) -> Presence:
    """Scrape history of the targets selected by ``matchers`` (e.g. ``job="demo"``)."""
    step, back = _step_ms(boundaries), lookback(boundaries)
    window_ms = round((boundaries[-1] - boundaries[0]) * 1000)
    first: dict[tuple[str, str], int] = {}
    for s in client.query(f"max_over_time(up{{{matchers}}}[{back}s]) == 1", at=boundaries[0]):
        first[(s.labels.get("job", ""), s.labels.get("instance", ""))] = -1
    scraped = _range(client, f"max_over_time(up{{{matchers}}}[{step}ms]) == 1", boundaries)
    for key, points in scraped.items():
        labels = dict(key)
        target = (labels.get("job", ""), labels.get("instance", ""))
        if target not in first and points:
            first[target] = min(points)
    started: dict[tuple[str, str], float] = {}
    expr = f"min_over_time(process_start_time_seconds{{{matchers}}}[{window_ms}ms])"
    for s in client.query(expr, at=boundaries[-1]):
        target = (s.labels.get("job", ""), s.labels.get("instance", ""))
        started[target] = min(started.get(target, s.value), s.value)
    return Presence(list(boundaries), first, started)


class CounterReader:
    """Reads exact per-interval increases of counters of the targets ``matchers`` selects."""

    def __init__(
        self,
        client: PrometheusClient,
        matchers: str,
        presence: Presence,
        scrape_interval: float,
    ) -> None:
        self.client = client
        self.matchers = matchers
        self.presence = presence
        self.scrape_interval = scrape_interval
        self.boundaries = presence.boundaries
        self.step_ms = _step_ms(self.boundaries)

    def increases(self, metric: str) -> dict[LabelKey, list[float]]:
        """Exact increase of every series of ``metric`` in each interval."""
        selector = f"{metric}{{{self.matchers}}}"
        over_step = f"{selector}[{self.step_ms}ms]"
        lasts = _range(self.client, f"last_over_time({over_step})", self.boundaries)
        if not lasts:
            return {}
        minima = _range(self.client, f"min_over_time({over_step})", self.boundaries)
        resets = _range(self.client, f"resets({over_step})", self.boundaries)
        back = f"last_over_time({selector}[{lookback(self.boundaries)}s])"
        before = {label_key(s.labels): s.value for s in self.client.query(back, self.boundaries[0])}
        windows: dict[LabelKey, list[Window]] = {}
        reset: dict[tuple[int, str, str], list[LabelKey]] = {}
        for key, points in lasts.items():
            labels = dict(key)
            row = []
            for k in range(len(self.boundaries) - 1):
                w = Window(last=points.get(k))
                if w.last is not None:
                    w.minimum = minima.get(key, {}).get(k, w.last)
                    w.resets = resets.get(key, {}).get(k, 0.0)
                    if w.resets > 0:
                        where = (k, labels.get("job", ""), labels.get("instance", ""))
                        reset.setdefault(where, []).append(key)
                row.append(w)
            windows[key] = row
        for where, keys in reset.items():
            self._fill_resets(metric, where, keys, windows)
        return {
            key: increases(before.get(key), row, self._starter(dict(key)))
            for key, row in windows.items()
        }

    def _starter(self, labels: dict[str, str]) -> Callable[[int, float], float]:
        return lambda k, first: self.presence.start_value(labels, k, first)

    def _fill_resets(
        self,
        metric: str,
        where: tuple[int, str, str],
        keys: list[LabelKey],
        windows: dict[LabelKey, list[Window]],
    ) -> None:
        """Raw samples (or, when too many, Prometheus' increase()) for series that reset."""
        k, job, instance = where
        selector = f"{metric}{{{self.matchers},job={quote(job)},instance={quote(instance)}}}"
        at = self.boundaries[k + 1]
        series = sum(1 for row in windows if dict(row).get("instance") == instance)
        expected = series * (self.step_ms / 1000) / max(self.scrape_interval, 0.001)
        if expected <= RAW_SAMPLE_LIMIT:
            found = self.client.samples(f"{selector}[{self.step_ms}ms]", at)
            raw = {label_key(s.labels): [v for _, v in s.points] for s in found}
            for key in keys:
                windows[key][k].raw = raw.get(key)
            return
        found_increase = self.client.query(f"increase({selector}[{self.step_ms}ms])", at)
        approx = {label_key(s.labels): s.value for s in found_increase}
        for key in keys:
            windows[key][k].approximate = approx.get(key, 0.0)
        self.presence.notes.add(
            f"{instance} restarted between {iso(self.boundaries[k])} and {iso(at)}: the counts "
            "of that interval are Prometheus' extrapolated increase(), not exact"
        )
