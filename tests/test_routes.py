"""The ``route`` label is the template the router chose, through mounts, routers and root_path."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Host, Mount, Route, Router
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from exporter import PrometheusMiddleware
from exporter.routes import RouteLabeler, method_label, route_path
from tests.helpers import requests_count, series


def ok(request: Request) -> Response:
    return PlainTextResponse("ok")


def routes_seen(registry: CollectorRegistry) -> set[tuple[str, str, str]]:
    return {
        (s["method"], s["route"], s["status"])
        for s in series(registry, "http_server_request_duration_seconds_count")
    }


def instrumented_starlette(routes: list, registry: CollectorRegistry, **kw: object) -> Starlette:
    app = Starlette(routes=routes, **kw)  # type: ignore[arg-type]
    app.add_middleware(PrometheusMiddleware, registry=registry)
    return app


def test_plain_route_and_path_parameters_are_labelled_by_template(
    registry: CollectorRegistry,
) -> None:
    app = instrumented_starlette(
        [Route("/health", ok), Route("/video/{video_id}", ok), Route("/n/{num:int}", ok)],
        registry,
    )
    client = TestClient(app)
    client.get("/health")
    for video in ("a", "b", "c"):
        client.get(f"/video/{video}")
    client.get("/n/42")
    assert routes_seen(registry) == {
        ("GET", "/health", "200"),
        ("GET", "/video/{video_id}", "200"),
        ("GET", "/n/{num}", "200"),
    }
    assert requests_count(registry, "/video/{video_id}") == 3


def test_unmatched_paths_are_counted_under_one_label(registry: CollectorRegistry) -> None:
    app = instrumented_starlette([Route("/known", ok)], registry)
    client = TestClient(app)
    for i in range(20):
        assert client.get(f"/scanner/probe/{i}").status_code == 404
    assert routes_seen(registry) == {("GET", "__unmatched__", "404")}
    assert requests_count(registry, "__unmatched__", "404") == 20


def test_wrong_method_keeps_the_route_and_records_405(registry: CollectorRegistry) -> None:
    app = instrumented_starlette([Route("/only-get", ok, methods=["GET"])], registry)
    assert TestClient(app).post("/only-get").status_code == 405
    assert routes_seen(registry) == {("POST", "/only-get", "405")}


def test_trailing_slash_redirect_is_not_a_new_route(registry: CollectorRegistry) -> None:
    app = instrumented_starlette([Route("/items", ok)], registry)
    client = TestClient(app, follow_redirects=False)
    response = client.get("/items/")
    assert response.status_code == 307
    assert routes_seen(registry) == {("GET", "__unmatched__", "307")}


def test_nonstandard_methods_are_grouped_as_other(registry: CollectorRegistry) -> None:
    app = instrumented_starlette([Route("/x", ok, methods=["GET", "PURGE", "BREW"])], registry)
    client = TestClient(app)
    client.request("PURGE", "/x")
    client.request("BREW", "/x")
    assert routes_seen(registry) == {("_OTHER", "/x", "200")}
    assert requests_count(registry, "/x", method="_OTHER") == 2


def test_mounted_router_and_sub_app_get_the_full_template(registry: CollectorRegistry) -> None:
    inner_app = Starlette(routes=[Route("/jobs/{job_id}", ok)])
    api = Router(routes=[Route("/users/{user_id}", ok)])
    tenant = Router(routes=[Mount("/projects/{project}", routes=[Route("/files/{name}", ok)])])
    app = instrumented_starlette(
        [
            Mount("/api/v1", app=api),
            Mount("/worker", app=inner_app),
            Mount("/tenants/{tenant}", app=tenant),
        ],
        registry,
    )
    client = TestClient(app)
    client.get("/api/v1/users/7")
    client.get("/api/v1/users/8")
    client.get("/worker/jobs/1")
    client.get("/tenants/acme/projects/p1/files/a.txt")
    client.get("/tenants/other/projects/p2/files/b.txt")
    client.get("/api/v1/nothing-here")
    assert routes_seen(registry) == {
        ("GET", "/api/v1/users/{user_id}", "200"),
        ("GET", "/worker/jobs/{job_id}", "200"),
        ("GET", "/tenants/{tenant}/projects/{project}/files/{name}", "200"),
        ("GET", "__unmatched__", "404"),
    }


def test_mounted_plain_asgi_app_is_labelled_by_its_mount(registry: CollectorRegistry) -> None:
    async def static(scope, receive, send):  # type: ignore[no-untyped-def]
        await PlainTextResponse("file")(scope, receive, send)

    app = instrumented_starlette([Mount("/static", app=static)], registry)
    client = TestClient(app)
    client.get("/static/css/site.css")
    client.get("/static/js/app.js")
    assert routes_seen(registry) == {("GET", "/static", "200")}


def test_host_routing_uses_the_inner_route(registry: CollectorRegistry) -> None:
    app = instrumented_starlette(
        [Host("api.example.com", app=Router(routes=[Route("/v/{id}", ok)]))], registry
    )
    client = TestClient(app, base_url="http://api.example.com")
    client.get("/v/1")
    client.get("/nope")
    assert routes_seen(registry) == {("GET", "/v/{id}", "200"), ("GET", "__unmatched__", "404")}


def test_fastapi_included_routers_keep_their_prefixes(registry: CollectorRegistry) -> None:
    app = FastAPI()
    videos = APIRouter(prefix="/videos")
    admin = APIRouter()

    @videos.get("/{video_id}/frames/{n}")
    async def frame(video_id: str, n: int) -> dict[str, int]:
        return {"n": n}

    @admin.post("/reindex")
    async def reindex() -> dict[str, str]:
        return {}

    app.include_router(videos, prefix="/api")
    app.include_router(admin, prefix="/admin")
    sub = FastAPI()

    @sub.get("/items/{item}")
    async def item(item: str) -> dict[str, str]:
        return {"item": item}

    sub_router = APIRouter()

    @sub_router.get("/things/{thing}")
    async def thing(thing: str) -> dict[str, str]:
        return {"thing": thing}

    sub.include_router(sub_router, prefix="/v2")
    app.mount("/legacy", sub)
    app.add_middleware(PrometheusMiddleware, registry=registry)
    client = TestClient(app)
    assert client.get("/api/videos/abc/frames/3").status_code == 200
    assert client.post("/admin/reindex").status_code == 200
    assert client.get("/legacy/items/x").status_code == 200
    assert client.get("/legacy/v2/things/t1").status_code == 200
    assert client.get("/api/videos/abc/frames/not-a-number").status_code == 422
    assert routes_seen(registry) == {
        ("GET", "/api/videos/{video_id}/frames/{n}", "200"),
        ("POST", "/admin/reindex", "200"),
        ("GET", "/legacy/items/{item}", "200"),
        ("GET", "/legacy/v2/things/{thing}", "200"),
        ("GET", "/api/videos/{video_id}/frames/{n}", "422"),
    }


async def plain_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"asset"})


def test_fastapi_non_api_routes_get_their_template_not_unmatched(
    registry: CollectorRegistry,
) -> None:
    # FastAPI's router records only APIRoutes in the scope: the docs, add_route and mounted
    # apps (plain ASGI or another FastAPI app) are found by replaying its routes.
    app = FastAPI()
    app.add_route("/reports/{day}", ok)
    app.mount("/static", plain_asgi)
    sub = FastAPI()
    sub.add_route("/health", ok)
    app.mount("/legacy", sub)
    app.add_middleware(PrometheusMiddleware, registry=registry)
    client = TestClient(app)
    for path in ["/docs", "/openapi.json", "/reports/2026-12-01", "/static/css/site.css"]:
        assert client.get(path).status_code == 200, path
    for path in ["/legacy/health", "/legacy/docs", "/nope", "/legacy/nope"]:
        client.get(path)
    assert routes_seen(registry) == {
        ("GET", "/docs", "200"),
        ("GET", "/openapi.json", "200"),
        ("GET", "/reports/{day}", "200"),
        ("GET", "/static", "200"),
        ("GET", "/legacy/health", "200"),
        ("GET", "/legacy/docs", "200"),
        ("GET", "__unmatched__", "404"),
    }
    assert requests_count(registry, route="__unmatched__", status="404") == 2


def test_starlette_app_mounting_a_fastapi_app_labels_its_plain_routes(
    registry: CollectorRegistry,
) -> None:
    sub = FastAPI()
    sub.add_route("/ping/{n}", ok)
    app = instrumented_starlette([Mount("/fast", app=sub)], registry)
    client = TestClient(app)
    assert client.get("/fast/ping/1").status_code == 200
    assert client.get("/fast/openapi.json").status_code == 200
    assert client.get("/fast/missing").status_code == 404
    assert routes_seen(registry) == {
        ("GET", "/fast/ping/{n}", "200"),
        ("GET", "/fast/openapi.json", "200"),
        ("GET", "__unmatched__", "404"),
    }


# FastAPI 0.16x deprecates its root_path parameter, but apps still set it
@pytest.mark.filterwarnings("ignore:The `root_path` parameter is deprecated")
def test_root_path_set_by_the_app_is_not_part_of_the_label(registry: CollectorRegistry) -> None:
    app = FastAPI(root_path="/gateway")

    @app.get("/orders/{order_id}")
    async def order(order_id: str) -> dict[str, str]:
        return {"id": order_id}

    app.add_middleware(PrometheusMiddleware, registry=registry)
    client = TestClient(app)
    assert client.get("/gateway/orders/1").status_code == 200
    assert client.get("/orders/2").status_code == 200
    assert routes_seen(registry) == {("GET", "/orders/{order_id}", "200")}


def test_root_path_set_by_the_server_is_not_part_of_the_label(
    registry: CollectorRegistry,
) -> None:
    app = instrumented_starlette(
        [Route("/orders/{order_id}", ok), Mount("/sub", routes=[Route("/x/{y}", ok)])], registry
    )
    client = TestClient(app, root_path="/proxy")
    assert client.get("/proxy/orders/1").status_code == 200
    assert client.get("/proxy/sub/x/1").status_code == 200
    assert routes_seen(registry) == {
        ("GET", "/orders/{order_id}", "200"),
        ("GET", "/sub/x/{y}", "200"),
    }


def test_replaying_the_router_gives_the_same_labels_as_the_scope() -> None:
    """The fallback for Starlette < 1.7 (no scope["route"]) agrees with the router's choice."""
    inner = Router(routes=[Route("/users/{user_id}", ok)])
    app = Starlette(
        routes=[Route("/a/{x}", ok), Mount("/api/{version}", app=inner), Mount("/s", app=ok)]
    )
    replay = RouteLabeler(router_sets_route=False)
    for path, expected in [
        ("/a/1", "/a/{x}"),
        ("/api/v2/users/9", "/api/{version}/users/{user_id}"),
        ("/s/anything", "/s"),
        ("/missing", "__unmatched__"),
    ]:
        scope = {"type": "http", "path": path, "root_path": "", "method": "GET", "headers": []}
        assert replay.label(scope, path, "", app) == expected, path


@pytest.mark.parametrize(
    ("method", "label"),
    [("GET", "GET"), ("PATCH", "PATCH"), ("get", "_OTHER"), ("PURGE", "_OTHER"), ("", "_OTHER")],
)
def test_method_label_is_bounded(method: str, label: str) -> None:
    assert method_label(method) == label


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/api/x", "/api", "/x"),
        ("/api", "/api", ""),
        ("/apix/y", "/api", "/apix/y"),
        ("/x", "", "/x"),
        ("/other/x", "/api", "/other/x"),
    ],
)
def test_route_path_strips_only_a_whole_root_path_segment(
    path: str, root: str, expected: str
) -> None:
    assert route_path(path, root) == expected
