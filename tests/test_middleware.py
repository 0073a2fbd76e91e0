"""The middleware records every request, never changes the app's behaviour, and fails open."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from exporter import PrometheusMiddleware
from exporter.routes import RouteLabeler
from tests.helpers import call_asgi, http_scope, requests_count, series

pytestmark = pytest.mark.anyio


class Boom(Exception):
    pass


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def active(registry: CollectorRegistry, method: str = "GET") -> float:
    return sample(registry, "http_server_active_requests", method=method)


def bucket(registry: CollectorRegistry, metric: str, le: str, route: str) -> float:
    labels = {"method": "GET", "route": route, "status": "200", "le": le}
    return registry.get_sample_value(f"{metric}_bucket", labels) or 0.0


def app_with(routes: list[Any], registry: CollectorRegistry, **options: Any) -> Starlette:
    return Starlette(
        routes=routes,
        middleware=[Middleware(PrometheusMiddleware, registry=registry, **options)],
    )


def test_unhandled_exception_is_recorded_as_500_and_reraised_unchanged(
    registry: CollectorRegistry,
) -> None:
    raised = Boom("the app's own error")

    def fail(request: Request) -> Response:
        raise raised

    app = app_with([Route("/fail", fail)], registry)
    with pytest.raises(Boom) as caught:
        TestClient(app).get("/fail")
    assert caught.value is raised
    assert requests_count(registry, "/fail", "500") == 1
    assert (
        sample(
            registry,
            "http_server_time_to_first_byte_seconds_count",
            method="GET",
            route="/fail",
            status="500",
        )
        == 1
    )
    assert (
        sample(
            registry, "http_server_exceptions_total", method="GET", route="/fail", exception="Boom"
        )
        == 1
    )
    assert active(registry) == 0


def test_exception_handled_by_the_app_is_recorded_with_its_status(
    registry: CollectorRegistry,
) -> None:
    def missing(request: Request) -> Response:
        raise HTTPException(status_code=418, detail="teapot")

    app = app_with([Route("/tea", missing)], registry)
    assert TestClient(app).get("/tea").status_code == 418
    assert requests_count(registry, "/tea", "418") == 1
    assert series(registry, "http_server_exceptions_total") == []


def test_exception_after_headers_were_sent_is_a_500(registry: CollectorRegistry) -> None:
    async def broken_stream(request: Request) -> Response:
        async def body() -> Any:
            yield b"first chunk"
            raise Boom("mid-stream")

        return StreamingResponse(body())

    app = app_with([Route("/broken", broken_stream)], registry)
    with pytest.raises(Boom):
        TestClient(app).get("/broken")
    assert requests_count(registry, "/broken", "500") == 1
    assert requests_count(registry, "/broken", "200") == 0
    assert active(registry) == 0


async def test_cancelled_request_is_recorded_as_499_and_cancellation_propagates(
    registry: CollectorRegistry,
) -> None:
    started = asyncio.Event()

    async def slow(request: Request) -> Response:
        started.set()
        await asyncio.sleep(30)
        return PlainTextResponse("too late")

    app = app_with([Route("/slow", slow)], registry)
    task = asyncio.ensure_future(call_asgi(app, http_scope("/slow")))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert requests_count(registry, "/slow", "499") == 1
    assert series(registry, "http_server_exceptions_total") == []
    assert active(registry) == 0


async def test_client_disconnect_during_a_stream_is_recorded_as_499(
    registry: CollectorRegistry,
) -> None:
    async def endless(request: Request) -> Response:
        async def body() -> Any:
            while True:
                yield b"frame\n"
                await asyncio.sleep(0.01)

        return StreamingResponse(body())

    app = app_with([Route("/live", endless)], registry)
    incoming = [
        {"type": "http.request", "body": b"", "more_body": False},
        {"type": "http.disconnect"},
    ]
    sent = await asyncio.wait_for(call_asgi(app, http_scope("/live"), incoming), 5)
    assert sent[0]["type"] == "http.response.start"
    assert requests_count(registry, "/live", "499") == 1
    assert requests_count(registry, "/live", "200") == 0
    assert active(registry) == 0


async def test_in_flight_gauge_counts_running_requests_and_returns_to_zero(
    registry: CollectorRegistry,
) -> None:
    release = asyncio.Event()
    entered = asyncio.Semaphore(0)

    async def wait(request: Request) -> Response:
        entered.release()
        await release.wait()
        return PlainTextResponse("done")

    app = app_with([Route("/wait", wait)], registry)
    tasks = [asyncio.ensure_future(call_asgi(app, http_scope("/wait"))) for _ in range(3)]
    for _ in range(3):
        await asyncio.wait_for(entered.acquire(), 5)
    assert active(registry) == 3
    release.set()
    await asyncio.gather(*tasks)
    assert active(registry) == 0
    assert requests_count(registry, "/wait") == 3


async def test_stream_response_time_runs_to_the_last_chunk_and_ttfb_to_the_headers(
    registry: CollectorRegistry,
) -> None:
    async def slow_stream(request: Request) -> Response:
        async def body() -> Any:
            for _ in range(3):
                await asyncio.sleep(0.1)
                yield b"chunk"

        return StreamingResponse(body())

    app = app_with([Route("/stream", slow_stream)], registry)
    await call_asgi(app, http_scope("/stream"))
    ttfb = "http_server_time_to_first_byte_seconds"
    duration = "http_server_request_duration_seconds"
    # headers leave before the first chunk is produced...
    assert bucket(registry, ttfb, "0.1", "/stream") == 1
    # ...the response ends after three 0.1 s pauses
    assert bucket(registry, duration, "0.25", "/stream") == 0
    assert bucket(registry, duration, "+Inf", "/stream") == 1


async def test_background_tasks_are_not_part_of_response_time(
    registry: CollectorRegistry,
) -> None:
    ran = asyncio.Event()

    async def after() -> None:
        await asyncio.sleep(0.3)
        ran.set()

    async def with_task(request: Request) -> Response:
        return JSONResponse({"queued": True}, background=BackgroundTask(after))

    app = app_with([Route("/queue", with_task)], registry)
    await call_asgi(app, http_scope("/queue"))
    assert ran.is_set()
    assert bucket(registry, "http_server_request_duration_seconds", "0.1", "/queue") == 1


async def test_background_task_failure_keeps_the_sent_status_and_counts_the_exception(
    registry: CollectorRegistry,
) -> None:
    async def after() -> None:
        raise Boom("background")

    async def with_task(request: Request) -> Response:
        return JSONResponse({"queued": True}, background=BackgroundTask(after))

    app = app_with([Route("/queue", with_task)], registry)
    with pytest.raises(Boom):
        await call_asgi(app, http_scope("/queue"))
    assert requests_count(registry, "/queue", "200") == 1
    assert (
        sample(
            registry, "http_server_exceptions_total", method="GET", route="/queue", exception="Boom"
        )
        == 1
    )


async def test_lifespan_and_websocket_scopes_pass_through_untouched(
    registry: CollectorRegistry,
) -> None:
    seen: list[str] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = PrometheusMiddleware(inner, registry=registry)
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    await middleware({"type": "websocket", "path": "/ws"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan", "websocket"]
    assert series(registry, "http_server_request_duration_seconds_count") == []
    assert series(registry, "http_server_active_requests") == []


def test_websocket_endpoint_works_through_the_middleware(registry: CollectorRegistry) -> None:
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    app = app_with([WebSocketRoute("/ws", echo)], registry)
    with TestClient(app).websocket_connect("/ws") as ws:
        ws.send_text("ping")
        assert ws.receive_text() == "ping"
    assert series(registry, "http_server_request_duration_seconds_count") == []


def test_excluded_paths_are_served_but_not_recorded(registry: CollectorRegistry) -> None:
    app = app_with(
        [Route("/health", lambda r: PlainTextResponse("ok")), Route("/x", lambda r: Response())],
        registry,
        excluded_paths=["/health"],
    )
    client = TestClient(app)
    assert client.get("/health").text == "ok"
    client.get("/x")
    assert {s["route"] for s in series(registry, "http_server_request_duration_seconds_count")} == {
        "/x"
    }


def test_middleware_added_twice_or_rebuilt_shares_one_set_of_metrics(
    registry: CollectorRegistry,
) -> None:
    app = Starlette(routes=[Route("/x", lambda r: PlainTextResponse("x"))])
    app.add_middleware(PrometheusMiddleware, registry=registry)
    app.add_middleware(PrometheusMiddleware, registry=registry)
    client = TestClient(app)
    client.get("/x")
    app.middleware_stack = app.build_middleware_stack()  # what Starlette does on changes
    client.get("/x")
    # two middlewares each saw both requests, into the same metrics, without registration errors
    assert requests_count(registry, "/x") == 4


def test_metrics_go_to_the_injected_registry_only() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    app_with([Route("/a", lambda r: Response())], first)
    client = TestClient(app_with([Route("/a", lambda r: Response())], first))
    client.get("/a")
    assert requests_count(first, "/a") == 1
    assert requests_count(second, "/a") == 0


def test_a_failure_inside_recording_never_fails_the_request(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_label(*args: Any) -> str:
        raise RuntimeError("bug in the instrumentation")

    monkeypatch.setattr(RouteLabeler, "label", broken_label)
    app = app_with([Route("/x", lambda r: PlainTextResponse("fine"))], registry)
    client = TestClient(app)
    for _ in range(3):
        response = client.get("/x")
        assert (response.status_code, response.text) == (200, "fine")
    assert sample(registry, "exporter_collector_errors_total", collector="middleware") == 3
    assert active(registry) == 0
    # logged once, not once per request
    assert sum("recording a request failed" in r.message for r in caplog.records) == 1


def test_a_failure_inside_recording_never_hides_the_apps_exception(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_label(*args: Any) -> str:
        raise RuntimeError("bug in the instrumentation")

    def fail(request: Request) -> Response:
        raise Boom("the app's")

    monkeypatch.setattr(RouteLabeler, "label", broken_label)
    with pytest.raises(Boom):
        TestClient(app_with([Route("/fail", fail)], registry)).get("/fail")


def test_body_sizes_count_bytes_actually_sent_when_enabled(registry: CollectorRegistry) -> None:
    async def upload(request: Request) -> Response:
        body = await request.body()

        async def chunks() -> Any:
            yield b"x" * 700
            yield b"y" * 800  # no Content-Length: only counting the chunks gives the size

        return StreamingResponse(chunks(), headers={"x-received": str(len(body))})

    app = app_with([Route("/up", upload, methods=["POST"])], registry, body_sizes=True)
    response = TestClient(app).post("/up", content=b"z" * 5000)
    assert response.headers["x-received"] == "5000"
    labels = {"method": "POST", "route": "/up"}
    assert registry.get_sample_value("http_server_request_body_size_bytes_sum", labels) == 5000
    assert registry.get_sample_value("http_server_response_body_size_bytes_sum", labels) == 1500


def test_body_sizes_are_off_by_default(registry: CollectorRegistry) -> None:
    app = app_with([Route("/x", lambda r: PlainTextResponse("x"))], registry)
    TestClient(app).get("/x")
    assert series(registry, "http_server_response_body_size_bytes_count") == []


def test_response_is_byte_for_byte_what_the_app_sent(registry: CollectorRegistry) -> None:
    async def custom(request: Request) -> Response:
        return Response(b"\x00binary\xff", status_code=203, headers={"x-custom": "1"})

    bare = TestClient(Starlette(routes=[Route("/c", custom)])).get("/c")
    instrumented = TestClient(app_with([Route("/c", custom)], registry)).get("/c")
    assert instrumented.status_code == bare.status_code == 203
    assert instrumented.content == bare.content
    assert instrumented.headers["x-custom"] == "1"
    assert requests_count(registry, "/c", "203") == 1
