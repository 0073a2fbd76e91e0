"""A demo "video processing" API, instrumented with the exporter.

Endpoints do simulated work (sleeps and a little CPU) whose latency and error rate are set on
the command line or at run time through ``PUT /demo/config``, so the stack's alerts can be made
to fire and resolve on purpose. ``--fake-gpu`` exposes a simulated GPU whose utilisation follows
the number of videos being processed (see :mod:`exporter.collectors.fake_nvml`).

    exporter demo --port 8000 --latency-ms 40 --error-rate 0.01
"""

# No ``from __future__ import annotations`` here: FastAPI reads the endpoint annotations, and
# the FastAPI types are imported inside create_app so that the package works without FastAPI.
import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import threading
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

from exporter.errors import ExporterError
from exporter.listen import ensure_can_listen


@dataclass
class Chaos:
    """Knobs of the simulated work; changed at run time by ``PUT /demo/config``."""

    latency_ms: float = 40.0  # mean processing time of one video
    jitter: float = 0.5  # +- fraction of the latency
    error_rate: float = 0.01  # fraction of processing requests that fail
    slow_rate: float = 0.0  # fraction of requests that take slow_factor x longer
    slow_factor: float = 10.0

    def validate(self) -> None:
        """ValueError naming the first knob out of range."""
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if not (math.isfinite(value) and low <= value <= high):
                raise ValueError(f"{name}: must be between {low:g} and {high:g}, got {value!r}")
        slowest = self.latency_ms * (1 + self.jitter) * self.slow_factor
        if self.slow_rate and slowest > MAX_WORK_MS:
            raise ValueError(
                f"slow_factor: latency_ms x (1 + jitter) x slow_factor would be {slowest:g} ms, "
                f"more than {MAX_WORK_MS} ms"
            )


MAX_WORK_MS = 600_000  # ten minutes: longer than any client or Prometheus window waits
_RANGES = (
    ("latency_ms", 0.0, float(MAX_WORK_MS)),
    ("jitter", 0.0, 1.0),
    ("error_rate", 0.0, 1.0),
    ("slow_rate", 0.0, 1.0),
    ("slow_factor", 1.0, 1000.0),
)


class ProcessingFailed(RuntimeError):
    """The simulated transcoder failed; unhandled on purpose, so it is a 500."""


def create_app(
    chaos: "Chaos | None" = None,
    fake_gpu: bool = False,
    registry: Any = None,
    seed: int | None = None,
) -> Any:
    """The demo FastAPI app. ``registry`` defaults to the global prometheus registry."""
    try:
        from fastapi import FastAPI, HTTPException, Request
        from fastapi.responses import StreamingResponse
    except ImportError:
        raise ExporterError(
            "the demo needs FastAPI: pip install 'api-perf-exporter[demo]'"
        ) from None

    import exporter

    state = chaos or Chaos()
    state.validate()
    rng = random.Random(seed)
    videos: dict[str, dict[str, Any]] = {}
    app = FastAPI(title="Video processing demo", version=exporter.__version__)
    # the simulated GPU replaces NVML's collector, which would only count "no library" errors
    monitor = exporter.instrument(app, registry=registry, gpu_metrics=not fake_gpu)
    app.state.monitor = monitor
    app.state.chaos = state
    processing = {"active": 0}

    if fake_gpu:
        _install_fake_gpu(monitor, processing)

    def work_seconds() -> float:
        base = state.latency_ms / 1000.0
        seconds = base * (1.0 + rng.uniform(-state.jitter, state.jitter))
        if state.slow_rate and rng.random() < state.slow_rate:
            seconds *= state.slow_factor
        return max(seconds, 0.0)

    @monitor.monitor_performance("video.decode")
    async def decode(video_id: str, seconds: float) -> str:
        await asyncio.sleep(seconds * 0.3)
        return hashlib.sha256(video_id.encode()).hexdigest()[:16]

    @monitor.monitor_performance("video.transcode")
    async def transcode(video_id: str, seconds: float, resolution: str) -> dict[str, Any]:
        # a little real CPU, most of the time waiting on the (simulated) encoder
        hashlib.sha256(os.urandom(4096) * 16).hexdigest()
        await asyncio.sleep(seconds * 0.7)
        if state.error_rate and rng.random() < state.error_rate:
            raise ProcessingFailed(f"encoder crashed on {video_id}")
        return {"video_id": video_id, "resolution": resolution, "seconds": round(seconds, 4)}

    async def process_one(video_id: str, resolution: str) -> dict[str, Any]:
        seconds = work_seconds()
        processing["active"] += 1
        try:
            digest = await decode(video_id, seconds)
            result = await transcode(video_id, seconds, resolution)
        finally:
            processing["active"] -= 1
        result["digest"] = digest
        videos[video_id] = {"status": "done", **result}
        if len(videos) > 1000:  # keep the demo's memory flat under endless load
            videos.pop(next(iter(videos)))
        return result

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/video/process")
    async def process(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        video_id = str(body.get("video_id") or f"v{rng.randrange(10**6)}")
        resolution = str(body.get("resolution", "720p"))
        if resolution not in ("480p", "720p", "1080p", "2160p"):
            raise HTTPException(422, "resolution must be 480p, 720p, 1080p or 2160p")
        return await process_one(video_id, resolution)

    @app.post("/video/process/batch")
    async def process_batch(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        count = body.get("count", 3)
        if not isinstance(count, int) or not 1 <= count <= 20:
            raise HTTPException(422, "count must be an integer from 1 to 20")
        results = await asyncio.gather(
            *(process_one(f"b{rng.randrange(10**6)}", "720p") for _ in range(count)),
            return_exceptions=True,
        )
        failed = sum(isinstance(r, BaseException) for r in results)
        if failed == count:
            raise HTTPException(502, "every video of the batch failed")
        return {"processed": count - failed, "failed": failed}

    @app.get("/video/{video_id}")
    async def get_video(video_id: str) -> dict[str, Any]:
        video = videos.get(video_id)
        if video is None:
            raise HTTPException(404, f"no video {video_id}")
        return video

    @app.get("/video/{video_id}/stream")
    async def stream(video_id: str, chunks: int = 5) -> StreamingResponse:
        if not 1 <= chunks <= 100:
            raise HTTPException(422, "chunks must be from 1 to 100")
        pause = state.latency_ms / 1000.0 / chunks

        async def body() -> AsyncIterator[bytes]:
            for i in range(chunks):
                await asyncio.sleep(pause)
                yield f"{video_id} chunk {i}\n".encode()

        return StreamingResponse(body(), media_type="text/plain")

    @app.get("/demo/config")
    async def get_config() -> dict[str, float]:
        return asdict(state)

    @app.put("/demo/config")
    async def put_config(request: Request) -> dict[str, float]:
        body = await _json_body(request)
        unknown = sorted(set(body) - set(asdict(state)))
        if unknown:
            raise HTTPException(422, f"unknown setting {unknown[0]!r}")
        for key, value in body.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise HTTPException(422, f"{key}: must be a number, got {json.dumps(value)}")
        try:
            candidate = Chaos(**{**asdict(state), **{k: float(v) for k, v in body.items()}})
            candidate.validate()
        except (OverflowError, ValueError) as exc:
            raise HTTPException(422, str(exc)) from None
        for key, value in asdict(candidate).items():
            setattr(state, key, value)
        return asdict(state)

    return app


async def _json_body(request: Any) -> dict[str, Any]:
    from fastapi import HTTPException

    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
        raise HTTPException(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "body must be a JSON object")
    return body


def _install_fake_gpu(monitor: Any, processing: dict[str, int]) -> None:
    from exporter.collectors.fake_nvml import FakeGpu, FakeNvml
    from exporter.collectors.gpu import GpuCollector

    lock = threading.Lock()

    def follow_load(gpu: FakeGpu) -> None:
        with lock:
            busy = min(processing["active"] / 8.0, 1.0)
            gpu.utilization = round(100 * busy, 1)
            gpu.memory_utilization = round(60 * busy, 1)
            gpu.memory_used = int(gpu.memory_total * (0.1 + 0.6 * busy))
            gpu.temperature = int(40 + 40 * busy)
            gpu.power_mw = int(30_000 + 40_000 * busy)
            gpu.processes = [(os.getpid(), gpu.memory_used)]

    fake = FakeNvml([FakeGpu(name="NVIDIA Fake T4 (demo)")], before_read=follow_load)
    from prometheus_client import REGISTRY

    from exporter.collectors import add_collector

    collector = GpuCollector(monitor.metrics.collector_errors, nvml=fake)
    add_collector(monitor.registry or REGISTRY, monitor.metrics, collector)


_CHAOS_OPTIONS = ("--latency-ms", "--error-rate", "--slow-rate")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--latency-ms", type=float, default=40.0, help="mean processing time")
    parser.add_argument("--error-rate", type=float, default=0.01, help="fraction that fail")
    parser.add_argument("--slow-rate", type=float, default=0.0, help="fraction that are slow")
    parser.add_argument("--fake-gpu", action="store_true", help="expose a simulated GPU")


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        raise ExporterError(
            "the demo needs uvicorn: pip install 'api-perf-exporter[demo]'"
        ) from None
    chaos = Chaos(latency_ms=args.latency_ms, error_rate=args.error_rate, slow_rate=args.slow_rate)
    try:
        chaos.validate()
    except ValueError as exc:
        knob, _, problem = str(exc).partition(":")
        option = "--" + knob.replace("_", "-")
        raise ExporterError(f"{option if option in _CHAOS_OPTIONS else knob}:{problem}") from None
    if not 0 < args.port < 65536:
        raise ExporterError(f"--port: not a TCP port: {args.port}")
    if args.workers < 1:
        raise ExporterError("--workers must be at least 1")
    ensure_can_listen(args.host, args.port)
    # uvicorn imports the app in each worker: pass the settings through the environment
    os.environ["EXPORTER_DEMO_CHAOS"] = ",".join(f"{k}={v}" for k, v in asdict(chaos).items())
    os.environ["EXPORTER_DEMO_FAKE_GPU"] = "1" if args.fake_gpu else ""
    uvicorn.run(
        "exporter.demo:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )
    return 0


def app_from_env() -> Any:
    """App factory for uvicorn: settings from the variables ``run`` set."""
    values: dict[str, float] = {}
    for item in os.environ.get("EXPORTER_DEMO_CHAOS", "").split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            values[key] = float(value)
    return create_app(Chaos(**values), fake_gpu=bool(os.environ.get("EXPORTER_DEMO_FAKE_GPU")))
