"""Time to render /metrics for large label spaces: this project's renderer vs prometheus_client.

Both render the same registry (the exporter's HTTP histograms filled with ``routes x 4``
label sets); prometheus_client's ``generate_latest`` is what a scrape would cost without the
fast path, and what the other libraries' ``/metrics`` costs for the same series.

    python bench/render.py [--routes 100 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from functools import partial
from time import perf_counter

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from exporter import Settings
from exporter.exposition import MetricsRenderer
from exporter.metrics import metrics_for

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def filled(routes: int) -> CollectorRegistry:
    registry = CollectorRegistry()
    metrics = metrics_for(registry)
    for i in range(routes):
        for status in ("200", "201", "404", "500"):
            key = ("GET", f"/api/resource{i}/{{id}}", status)
            metrics.requests.started(("GET",))
            metrics.requests.finished(("GET",), key, 0.03, 0.01)
    return registry


def timed(fn: object, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = perf_counter()
        fn()  # type: ignore[operator]
        runs.append(perf_counter() - start)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print("| label sets | format | prometheus_client ms | exporter ms | speed-up |")
    print("|---:|---|---:|---:|---:|")
    settings = Settings(system_metrics=False, gpu_metrics=False)
    for routes in args.routes:
        registry = filled(routes)
        renderer = MetricsRenderer(registry, settings)
        renderer.render("GET", None, None, None)  # warm the label cache, as after one scrape
        for name, accept, reference in (
            ("text 0.0.4", None, generate_latest),
            ("OpenMetrics", OPENMETRICS, openmetrics_latest),
        ):
            slow = timed(partial(reference, registry), args.repeat)
            fast = timed(partial(renderer.render, "GET", accept, None, None), args.repeat)
            print(
                f"| {routes * 4} | {name} | {slow * 1000:.0f} | {fast * 1000:.0f} | "
                f"{slow / fast:.1f}x |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
