"""Timing of application operations: a decorator, context managers and manual tracking.

Records ``operation_duration_seconds{operation, outcome}`` and ``operation_active{operation}``.
Works on plain functions, ``async def``, generators and async generators (timed from the first
item requested to exhaustion or close), and never changes a return value or an exception.
Outcome is ``success``, or ``error`` when an exception (including a cancellation) escapes;
a generator closed early by its consumer counts as ``success``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from time import perf_counter
from types import TracebackType
from typing import Any, TypeVar, cast

from exporter.metrics import ExporterMetrics

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

OTHER_OPERATION = "_OTHER"
SUCCESS = "success"
ERROR = "error"


class Operations:
    """Records operations into ``metrics``; at most ``max_operations`` distinct names."""

    def __init__(self, metrics: ExporterMetrics, max_operations: int = 1000) -> None:
        self.metrics = metrics
        self._max = max_operations
        self._names: set[str] = set()
        self._lock = threading.Lock()
        self._warned = False

    def name(self, name: str) -> str:
        """``name``, or ``_OTHER`` once the limit of distinct names is reached.

        A name that is not a ``str`` is a TypeError here, where the mistake is made, rather
        than a broken ``/metrics`` later; characters UTF-8 cannot encode (lone surrogates) are
        written as backslash escapes.
        """
        try:
            if name in self._names:
                return name
        except TypeError:  # unhashable: _label_value says what is wrong
            pass
        name = _label_value(name)
        with self._lock:
            if name in self._names:
                return name
            if len(self._names) < self._max:
                self._names.add(name)
                return name
        if not self._warned:
            self._warned = True
            logger.warning(
                "more than %d operation names; recording %r and later ones as %s",
                self._max,
                name,
                OTHER_OPERATION,
            )
        return OTHER_OPERATION

    def record(self, name: str, seconds: float, success: bool = True) -> None:
        """Record one finished operation of ``seconds``."""
        outcome = SUCCESS if success else ERROR
        self.metrics.operation_duration.observe((self.name(name), outcome), seconds)

    def track(
        self,
        name: str,
        start_time: float,
        end_time: float,
        success: bool = True,
        error: BaseException | str | None = None,
    ) -> None:
        """Record an operation timed by the caller (seed-style ``track_custom_operation``).

        ``start_time``/``end_time`` are in seconds from the same clock (``time.time()`` or
        ``time.perf_counter()``); passing ``error`` marks it as failed. The error itself is not
        a label (that would be unbounded); it is logged at debug level.
        """
        for which, value in (("start_time", start_time), ("end_time", end_time)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(
                    f"operation {name!r}: {which} must be a number of seconds, got {value!r}"
                )
            if not math.isfinite(value):
                raise ValueError(f"operation {name!r}: {which} must be finite, got {value!r}")
        if end_time < start_time:
            raise ValueError(f"operation {name!r}: end_time {end_time} is before {start_time}")
        if error is not None:
            success = False
            logger.debug("operation %s failed: %s", name, error)
        self.record(name, end_time - start_time, success)

    def timer(self, name: str) -> OperationTimer:
        """A context manager for ``with`` and ``async with``."""
        return OperationTimer(self, self.name(name))

    def timed(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator; ``name`` defaults to the function's qualified name."""
        if callable(name):
            raise TypeError(
                f"{name.__qualname__ if hasattr(name, '__qualname__') else name!r} was passed as "
                "the operation name: write the decorator with parentheses, "
                "@monitor_performance() or @monitor_performance('name')"
            )
        op = None if name is None else self.name(name)

        def decorate(fn: F) -> F:
            return self._wrap(fn, op if op is not None else self.name(fn.__qualname__))

        return decorate

    def _wrap(self, fn: F, op: str) -> F:
        durations = self.metrics.operation_duration
        active = self.metrics.operation_active
        key = (op,)
        ok_key = (op, SUCCESS)
        error_key = (op, ERROR)

        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
                inner = fn(*args, **kwargs)
                active.inc(key)
                start = perf_counter()
                ok = False
                try:
                    to_send: Any = None
                    to_throw: BaseException | None = None
                    while True:
                        try:
                            if to_throw is not None:
                                item = await inner.athrow(to_throw)
                            else:
                                item = await inner.asend(to_send)
                        except StopAsyncIteration:
                            ok = True
                            return
                        to_send, to_throw = None, None
                        try:
                            to_send = yield item
                        except GeneratorExit:
                            ok = True
                            await inner.aclose()
                            raise
                        except BaseException as exc:  # forwarded into the inner generator
                            to_throw = exc
                finally:
                    durations.observe(ok_key if ok else error_key, perf_counter() - start)
                    active.dec(key)

            return cast(F, agen_wrapper)

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
                active.inc(key)
                start = perf_counter()
                ok = False
                try:
                    result = yield from fn(*args, **kwargs)
                    ok = True
                    return result
                except GeneratorExit:
                    ok = True
                    raise
                finally:
                    durations.observe(ok_key if ok else error_key, perf_counter() - start)
                    active.dec(key)

            return cast(F, gen_wrapper)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                active.inc(key)
                start = perf_counter()
                ok = False
                try:
                    result = await fn(*args, **kwargs)
                    ok = True
                    return result
                finally:
                    durations.observe(ok_key if ok else error_key, perf_counter() - start)
                    active.dec(key)

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            active.inc(key)
            start = perf_counter()
            ok = False
            try:
                result = fn(*args, **kwargs)
                ok = True
                return result
            finally:
                durations.observe(ok_key if ok else error_key, perf_counter() - start)
                active.dec(key)

        return cast(F, sync_wrapper)


def _label_value(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"operation name must be a str, got {type(name).__name__}: {name!r}")
    if not name:
        raise ValueError("operation name must not be empty")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return name


class OperationTimer:
    """Times the block of a ``with`` or ``async with``; never swallows its exception."""

    __slots__ = ("_key", "_ops", "_start", "elapsed")

    def __init__(self, ops: Operations, operation: str) -> None:
        self._ops = ops
        self._key = (operation,)
        self._start = 0.0
        #: seconds the block took, once it has finished
        self.elapsed: float | None = None

    def __enter__(self) -> OperationTimer:
        self._ops.metrics.operation_active.inc(self._key)
        self._start = perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.elapsed = perf_counter() - self._start
        outcome = SUCCESS if exc_type is None or exc_type is GeneratorExit else ERROR
        self._ops.metrics.operation_duration.observe((self._key[0], outcome), self.elapsed)
        self._ops.metrics.operation_active.dec(self._key)

    async def __aenter__(self) -> OperationTimer:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
