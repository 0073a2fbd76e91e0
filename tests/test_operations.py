"""Decorators and context managers time operations without changing their outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from exporter import PerformanceMonitor

pytestmark = pytest.mark.anyio


@pytest.fixture
def monitor(registry: CollectorRegistry) -> PerformanceMonitor:
    return PerformanceMonitor(registry=registry, system_metrics=False, gpu_metrics=False)


def count(registry: CollectorRegistry, operation: str, outcome: str) -> float:
    labels = {"operation": operation, "outcome": outcome}
    return registry.get_sample_value("operation_duration_seconds_count", labels) or 0.0


def total_seconds(registry: CollectorRegistry, operation: str, outcome: str) -> float:
    labels = {"operation": operation, "outcome": outcome}
    return registry.get_sample_value("operation_duration_seconds_sum", labels) or 0.0


def active(registry: CollectorRegistry, operation: str) -> float:
    return registry.get_sample_value("operation_active", {"operation": operation}) or 0.0


class Failure(Exception):
    pass


def test_sync_function_keeps_its_result_and_is_timed(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    @monitor.monitor_performance("resize")
    def resize(width: int, *, factor: int = 2) -> int:
        """Docstring kept."""
        time.sleep(0.02)
        return width * factor

    assert resize(10, factor=3) == 30
    assert resize.__name__ == "resize"
    assert resize.__doc__ == "Docstring kept."
    assert count(registry, "resize", "success") == 1
    assert total_seconds(registry, "resize", "success") >= 0.02
    assert active(registry, "resize") == 0


def test_sync_function_exception_is_reraised_unchanged_and_counted_as_error(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    error = Failure("bad frame")

    @monitor.monitor_performance("decode")
    def decode() -> None:
        raise error

    with pytest.raises(Failure) as caught:
        decode()
    assert caught.value is error
    assert count(registry, "decode", "error") == 1
    assert count(registry, "decode", "success") == 0


def test_default_operation_name_is_the_qualified_function_name(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    @monitor.monitor_performance()
    def thumbnail() -> str:
        return "ok"

    thumbnail()
    name = thumbnail.__qualname__
    assert name.endswith("thumbnail")
    assert count(registry, name, "success") == 1


async def test_coroutine_is_timed_across_its_awaits_not_at_creation(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    @monitor.monitor_performance("upload")
    async def upload(size: int) -> int:
        await asyncio.sleep(0.05)
        return size

    coroutine = upload(5)
    assert count(registry, "upload", "success") == 0
    assert await coroutine == 5
    assert count(registry, "upload", "success") == 1
    assert total_seconds(registry, "upload", "success") >= 0.05


async def test_coroutine_exception_and_cancellation_are_errors_and_propagate(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    @monitor.monitor_performance("fetch")
    async def fetch(fail: bool) -> None:
        if fail:
            raise Failure("503 from origin")
        await asyncio.sleep(10)

    with pytest.raises(Failure):
        await fetch(True)
    task = asyncio.ensure_future(fetch(False))
    await asyncio.sleep(0.01)
    assert active(registry, "fetch") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert count(registry, "fetch", "error") == 2
    assert active(registry, "fetch") == 0


def test_generator_is_timed_from_first_item_to_exhaustion_and_returns_its_value(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    @monitor.monitor_performance("frames")
    def frames(n: int) -> Iterator[int]:
        for i in range(n):
            time.sleep(0.01)
            received = yield i
            if received == "stop":
                return
        return

    gen = frames(3)
    assert count(registry, "frames", "success") == 0
    assert list(gen) == [0, 1, 2]
    assert count(registry, "frames", "success") == 1
    assert total_seconds(registry, "frames", "success") >= 0.03

    # send() reaches the inner generator, and its return value comes back through
    def delegating() -> Iterator[int]:
        result = yield from frames(5)
        assert result is None

    inner = frames(5)
    assert next(inner) == 0
    with pytest.raises(StopIteration):
        inner.send("stop")
    assert count(registry, "frames", "success") == 2
    assert list(delegating()) == [0, 1, 2, 3, 4]


def test_generator_closed_early_is_success_and_error_inside_is_error(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    @monitor.monitor_performance("chunks")
    def chunks(fail_at: int | None = None) -> Iterator[int]:
        for i in range(100):
            if i == fail_at:
                raise Failure("corrupt chunk")
            yield i

    gen = chunks()
    assert next(gen) == 0
    gen.close()
    assert count(registry, "chunks", "success") == 1
    with pytest.raises(Failure):
        list(chunks(fail_at=2))
    assert count(registry, "chunks", "error") == 1
    assert active(registry, "chunks") == 0


async def test_async_generator_forwards_items_sends_and_throws(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    @monitor.monitor_performance("segments")
    async def segments(n: int) -> AsyncIterator[str]:
        for i in range(n):
            await asyncio.sleep(0.01)
            try:
                reply = yield f"s{i}"
            except Failure:
                yield "recovered"
                continue
            if reply == "skip":
                yield "skipped"

    assert [s async for s in segments(3)] == ["s0", "s1", "s2"]
    assert count(registry, "segments", "success") == 1

    gen = segments(3)
    assert await gen.__anext__() == "s0"
    assert await gen.athrow(Failure("retry")) == "recovered"
    assert await gen.__anext__() == "s1"
    assert await gen.asend("skip") == "skipped"
    await gen.aclose()
    assert count(registry, "segments", "success") == 2
    assert active(registry, "segments") == 0


async def test_async_generator_error_is_counted_and_reraised(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    error = Failure("upstream closed")

    @monitor.monitor_performance("tail")
    async def tail() -> AsyncIterator[int]:
        yield 1
        raise error

    with pytest.raises(Failure) as caught:
        async for _ in tail():
            pass
    assert caught.value is error
    assert count(registry, "tail", "error") == 1


def test_sync_context_manager_times_the_block_and_never_swallows(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    with monitor.performance_context("encode") as timer:
        assert active(registry, "encode") == 1
        time.sleep(0.02)
    assert timer.elapsed is not None
    assert timer.elapsed >= 0.02
    assert count(registry, "encode", "success") == 1
    with pytest.raises(Failure), monitor.performance_context("encode"):
        raise Failure("disk full")
    assert count(registry, "encode", "error") == 1
    assert active(registry, "encode") == 0


async def test_async_context_manager_times_the_block_and_never_swallows(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    async with monitor.async_performance_context("store"):
        await asyncio.sleep(0.02)
    with pytest.raises(Failure):
        async with monitor.async_performance_context("store"):
            raise Failure("bucket gone")
    assert count(registry, "store", "success") == 1
    assert count(registry, "store", "error") == 1
    assert total_seconds(registry, "store", "success") >= 0.02


def test_track_custom_operation_records_a_caller_timed_operation(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    start = time.time()
    monitor.track_custom_operation("batch", start, start + 1.5)
    monitor.track_custom_operation("batch", start, start + 0.5, success=False)
    monitor.track_custom_operation("batch", start, start + 0.2, error="timeout talking to S3")
    assert count(registry, "batch", "success") == 1
    assert count(registry, "batch", "error") == 2
    assert total_seconds(registry, "batch", "success") == pytest.approx(1.5)


def test_track_custom_operation_rejects_an_end_before_the_start(
    monitor: PerformanceMonitor,
) -> None:
    with pytest.raises(ValueError, match=r"'batch': end_time 1\.0 is before 2\.0"):
        monitor.track_custom_operation("batch", 2.0, 1.0)


def test_operation_names_beyond_the_limit_are_grouped_as_other(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    monitor = PerformanceMonitor(
        registry=registry, max_operations=3, system_metrics=False, gpu_metrics=False
    )
    for i in range(10):
        with monitor.performance_context(f"job-{i}"):
            pass
    names = {
        s.labels["operation"]
        for family in registry.collect()
        for s in family.samples
        if s.name == "operation_duration_seconds_count"
    }
    assert names == {"job-0", "job-1", "job-2", "_OTHER"}
    assert count(registry, "_OTHER", "success") == 7
    assert sum("operation names" in r.message for r in caplog.records) == 1


@pytest.mark.parametrize("name", [123, None, b"bytes", ("a",), ["a"]])
def test_a_name_that_is_not_a_string_is_a_type_error_where_it_is_written(
    monitor: PerformanceMonitor, name: object
) -> None:
    with pytest.raises(TypeError, match="operation name must be a str"):
        monitor.performance_context(name)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="operation name must be a str"):
        monitor.track_custom_operation(name, 1.0, 2.0)  # type: ignore[arg-type]
    if name is not None:  # None means "the function's name" for the decorator
        with pytest.raises(TypeError, match="operation name must be a str"):
            monitor.monitor_performance(name)  # type: ignore[arg-type]


def test_an_empty_name_is_refused(monitor: PerformanceMonitor) -> None:
    with pytest.raises(ValueError, match="operation name must not be empty"):
        monitor.monitor_performance("")
    with pytest.raises(ValueError, match="operation name must not be empty"):
        monitor.performance_context("")


def test_the_decorator_without_parentheses_says_how_to_write_it(
    monitor: PerformanceMonitor,
) -> None:
    def encode() -> None:
        pass

    with pytest.raises(TypeError, match=r"with parentheses, @monitor_performance\(\)"):
        monitor.monitor_performance(encode)  # type: ignore[arg-type]


def test_a_name_utf8_cannot_encode_is_escaped_and_the_scrape_still_works(
    monitor: PerformanceMonitor, registry: CollectorRegistry
) -> None:
    with monitor.performance_context("clip-\ud800-decode"):
        pass
    body = TestClient(monitor.metrics_app()).get("/")
    assert body.status_code == 200
    assert 'operation_active{operation="clip-\\\\ud800-decode"} 0.0' in body.text
    assert count(registry, "clip-\\ud800-decode", "success") == 1


@pytest.mark.parametrize(
    ("start", "end", "error", "message"),
    [
        (float("nan"), 1.0, ValueError, "start_time must be finite, got nan"),
        (1.0, float("inf"), ValueError, "end_time must be finite, got inf"),
        ("1.0", 2.0, TypeError, "start_time must be a number of seconds, got '1.0'"),
        (1.0, True, TypeError, "end_time must be a number of seconds, got True"),
    ],
)
def test_track_custom_operation_refuses_times_that_are_not_finite_numbers(
    monitor: PerformanceMonitor,
    registry: CollectorRegistry,
    start: object,
    end: object,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        monitor.track_custom_operation("batch", start, end)  # type: ignore[arg-type]
    assert count(registry, "batch", "success") == count(registry, "batch", "error") == 0
