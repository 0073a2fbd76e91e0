"""Per-request overhead of HTTP instrumentation, in process, side by side in one run.

Every variant is the same Starlette (or FastAPI) app with one parametrised route; only the
instrumentation differs:

- bare: no instrumentation
- exporter: this project's PrometheusMiddleware (response time, TTFB, in-flight, exceptions)
- starlette_exporter: starlette_exporter.PrometheusMiddleware with its defaults
- instrumentator: prometheus_fastapi_instrumentator.Instrumentator().instrument(app)

Requests are ASGI calls made directly on one event loop (no sockets), so the figure is the
instrumentation's own CPU cost. Variants are interleaved in shuffled rounds so that drifts of
the machine hit all of them alike; the table shows medians over the rounds.

    python bench/overhead.py [--rounds 30] [--requests 2000] [--framework starlette|fastapi|both]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import random
import statistics
import sys
import warnings
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def item(request: Any) -> Any:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/items/{item_id}", item)])


def fastapi_app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    app = FastAPI()

    @app.get("/items/{item_id}", response_class=PlainTextResponse)
    async def item(item_id: str) -> str:
        return "ok"

    return app


def with_exporter(app: Any) -> Any:
    from prometheus_client import CollectorRegistry

    from exporter import PrometheusMiddleware

    app.add_middleware(PrometheusMiddleware, registry=CollectorRegistry())
    return app


def with_starlette_exporter(app: Any) -> Any:
    from starlette_exporter import PrometheusMiddleware

    app.add_middleware(PrometheusMiddleware)
    return app


def with_instrumentator(app: Any) -> Any:
    from prometheus_client import CollectorRegistry
    from prometheus_fastapi_instrumentator import Instrumentator

    Instrumentator(registry=CollectorRegistry()).instrument(app)
    return app


VARIANTS: dict[str, Callable[[Any], Any]] = {
    "bare": lambda app: app,
    "exporter": with_exporter,
    "starlette_exporter": with_starlette_exporter,
    "instrumentator": with_instrumentator,
}


def scope_for(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 5000),
        "server": ("bench", 80),
    }


async def run_batch(app: ASGI, requests: int) -> float:
    """Seconds per request over ``requests`` sequential ASGI calls."""
    template = scope_for("/items/42")
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        return None

    start = perf_counter()
    for _ in range(requests):
        await app(dict(template), receive, send)
    return (perf_counter() - start) / requests


async def measure(framework: str, rounds: int, requests: int, seed: int) -> dict[str, list[float]]:
    build = starlette_app if framework == "starlette" else fastapi_app
    apps = {name: wrap(build()) for name, wrap in VARIANTS.items()}
    for app in apps.values():  # build middleware stacks, warm caches
        await run_batch(app, 300)
    timings: dict[str, list[float]] = {name: [] for name in apps}
    rng = random.Random(seed)
    order = list(apps)
    gc.collect()
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            timings[name].append(await run_batch(apps[name], requests))
    return timings


def table(framework: str, timings: dict[str, list[float]]) -> str:
    medians = {name: statistics.median(values) * 1e6 for name, values in timings.items()}
    bare = medians["bare"]
    ours = medians["exporter"] - bare
    lines = [
        f"{framework}: µs per request, median of {len(timings['bare'])} interleaved rounds",
        "",
        "| variant | µs/request | p25-p75 | added µs/request | added vs exporter |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, value in medians.items():
        added = value - bare
        ratio = "-" if name == "bare" else f"{added / ours:.1f}x" if ours > 0 else "n/a"
        shown = "-" if name == "bare" else f"{added:.1f}"
        q1, _, q3 = statistics.quantiles([v * 1e6 for v in timings[name]], n=4)
        lines.append(f"| {name} | {value:.1f} | {q1:.1f}-{q3:.1f} | {shown} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--requests", type=int, default=2000, help="requests per batch")
    parser.add_argument("--framework", choices=["starlette", "fastapi", "both"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.requests < 1:
        parser.error("--rounds and --requests must be at least 1")
    warnings.simplefilter("ignore")  # the other libraries' deprecation notices
    print(f"Python {platform.python_version()} on {platform.machine()}, {_cpus()} CPUs")
    print(_versions())
    frameworks = ["starlette", "fastapi"] if args.framework == "both" else [args.framework]
    for framework in frameworks:
        timings = asyncio.run(measure(framework, args.rounds, args.requests, args.seed))
        print()
        print(table(framework, timings))
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in (
        "starlette",
        "fastapi",
        "prometheus-client",
        "api-perf-exporter",
        "starlette-exporter",
        "prometheus-fastapi-instrumentator",
    ):
        try:
            parts.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package} (missing)")
    return ", ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
