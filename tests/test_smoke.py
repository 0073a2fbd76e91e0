from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import exporter


def test_instrumented_app_exposes_its_own_request(registry: CollectorRegistry) -> None:
    app = Starlette(routes=[Route("/hello/{name}", lambda r: PlainTextResponse("hi"))])
    exporter.instrument(app, registry=registry, system_metrics=False, gpu_metrics=False)
    with TestClient(app) as client:
        assert client.get("/hello/world").text == "hi"
    labels = {"method": "GET", "route": "/hello/{name}", "status": "200"}
    count = registry.get_sample_value("http_server_request_duration_seconds_count", labels)
    assert count == 1
