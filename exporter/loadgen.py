"""A small open-loop load generator for the demo (or any HTTP service).

Requests are started on a fixed schedule (``rps``), whether or not earlier ones have answered,
up to ``concurrency`` in flight, so a slow service shows up as latency instead of silently
lowering the offered load. A progress line reports what was sent and how it went.

    exporter load --url http://127.0.0.1:8000 --rps 20 --duration 60
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from exporter.errors import ExporterError

#: more than one event loop can start: past this, "requests per second" is a wish, not a rate
MAX_RPS = 5000.0
#: distinct failure reasons kept; the rest are counted together
MAX_ERROR_KINDS = 10


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: dict[str, Any] | None = None


def demo_mix(rng: random.Random) -> Call:
    """The demo's traffic: mostly processing, some reads, streams and health checks."""
    roll = rng.random()
    if roll < 0.50:
        resolution = rng.choice(["480p", "720p", "1080p", "2160p"])
        return Call(
            "POST",
            "/video/process",
            {"video_id": f"v{rng.randrange(200)}", "resolution": resolution},
        )
    if roll < 0.60:
        return Call("POST", "/video/process/batch", {"count": rng.randint(2, 4)})
    if roll < 0.80:
        return Call("GET", f"/video/v{rng.randrange(250)}")  # some were never processed: 404
    if roll < 0.90:
        return Call("GET", f"/video/v{rng.randrange(200)}/stream?chunks=4")
    return Call("GET", "/health")


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}ms"


@dataclass
class LoadStats:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0  # no HTTP answer at all (connection refused, timeout)
    #: why those failed: "ConnectError: All connection attempts failed" -> count
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    def by_class(self, first_digit: int) -> int:
        return sum(n for code, n in self.statuses.items() if code // 100 == first_digit)

    def quantile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies[-5000:])
        return ordered[min(int(q * len(ordered)), len(ordered) - 1)]

    def record_error(self, exc: Exception) -> None:
        reason = (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:200]
        if reason in self.errors or len(self.errors) < MAX_ERROR_KINDS:
            self.errors[reason] += 1
        else:
            self.errors["other errors"] += 1

    def error_lines(self) -> list[str]:
        """Why requests got no answer, most frequent first."""
        return [f"failed {n}: {reason}" for reason, n in self.errors.most_common()]

    def line(self, duration: float | None) -> str:
        elapsed = time.monotonic() - self.started
        total = f"/{duration:.0f}s" if duration else "s"
        p50, p95 = self.quantile(0.5), self.quantile(0.95)
        return (
            f"[{elapsed:5.0f}{total}] sent {self.sent}  2xx {self.by_class(2)}  "
            f"4xx {self.by_class(4)}  5xx {self.by_class(5)}  failed {self.failures}  "
            f"rate {self.sent / max(elapsed, 1e-9):.1f}/s  p50 {_ms(p50)}  p95 {_ms(p95)}"
        )


async def generate(
    url: str,
    rps: float,
    duration: float | None = None,
    requests: int | None = None,
    mix: Callable[[random.Random], Call] = demo_mix,
    concurrency: int = 64,
    request_timeout: float = 30.0,
    seed: int | None = None,
    on_progress: Callable[[LoadStats], None] | None = None,
    progress_every: float = 1.0,
) -> LoadStats:
    """Send load until ``duration`` seconds or ``requests`` requests (whichever is given)."""
    import httpx

    if not 0 < rps <= MAX_RPS:
        raise ExporterError(f"--rps must be above 0 and at most {MAX_RPS:g}")
    rng = random.Random(seed)
    stats = LoadStats()
    limit = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=request_timeout, limits=limits) as client:

        async def one(call: Call) -> None:
            start = time.monotonic()
            try:
                response = await client.request(call.method, call.path, json=call.json)
                await response.aread()
            except httpx.HTTPError as exc:
                stats.failures += 1
                stats.record_error(exc)
            else:
                stats.statuses[response.status_code] += 1
                stats.latencies.append(time.monotonic() - start)
                if len(stats.latencies) > 20_000:
                    del stats.latencies[:10_000]
            finally:
                limit.release()

        begin = time.monotonic()
        next_progress = begin + progress_every
        i = 0
        while True:
            if requests is not None and i >= requests:
                break
            due = begin + i / rps
            if duration is not None and due - begin >= duration:
                break
            now = time.monotonic()
            while True:
                if now >= next_progress:
                    if on_progress:
                        on_progress(stats)
                    next_progress = max(next_progress + progress_every, now)
                if now >= due:
                    break
                await asyncio.sleep(min(due - now, next_progress - now))
                now = time.monotonic()
            await asyncio.sleep(0)  # even behind schedule, let responses and signals in
            await limit.acquire()
            stats.sent += 1
            task = asyncio.create_task(one(mix(rng)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        if tasks:
            await asyncio.gather(*tasks)
    if on_progress:
        on_progress(stats)
    return stats


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="base URL of the service")
    parser.add_argument("--rps", type=float, default=20.0, help="requests started per second")
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds to run; 0 = until Ctrl-C"
    )
    parser.add_argument("--requests", type=int, help="stop after this many requests")
    parser.add_argument("--path", help="send only GET requests to this path (default: demo mix)")
    parser.add_argument("--concurrency", type=int, default=64, help="most requests in flight")
    parser.add_argument("--seed", type=int, help="random seed, for a repeatable mix")


def _printer(out: TextIO, duration: float | None) -> Callable[[LoadStats], None]:
    tty = out.isatty()
    last = [0.0]

    def show(stats: LoadStats) -> None:
        if tty:
            out.write("\r" + stats.line(duration) + "   ")
        elif time.monotonic() - last[0] >= 5:
            out.write(stats.line(duration) + "\n")
            last[0] = time.monotonic()
        out.flush()

    return show


def run(args: argparse.Namespace) -> int:
    if not str(args.url).startswith(("http://", "https://")):
        raise ExporterError(f"--url must start with http:// or https://, got {args.url!r}")
    if not 0 < args.rps <= MAX_RPS:
        raise ExporterError(f"--rps must be above 0 and at most {MAX_RPS:g}")
    if not 0 <= args.duration < float("inf"):
        raise ExporterError("--duration must be 0 (until Ctrl-C) or a positive number of seconds")
    if args.path is not None and not args.path.startswith("/"):
        raise ExporterError(f"--path must start with '/', got {args.path!r}")
    if args.requests is not None and args.requests < 1:
        raise ExporterError("--requests must be at least 1")
    if args.concurrency < 1:
        raise ExporterError("--concurrency must be at least 1")
    path = args.path
    mix = demo_mix if path is None else (lambda rng: Call("GET", path))
    # --requests wins over --duration, and the progress line then shows no planned length
    duration = (args.duration or None) if args.requests is None else None
    stats = asyncio.run(
        generate(
            args.url,
            args.rps,
            duration=duration,
            requests=args.requests,
            mix=mix,
            concurrency=args.concurrency,
            seed=args.seed,
            on_progress=_printer(sys.stdout, duration),
        )
    )
    sys.stdout.write("\n" + stats.line(duration) + "\n")
    for line in stats.error_lines():
        sys.stdout.write(line + "\n")
    return 0 if stats.answered else 1
