"""The /metrics endpoint: exact path, negotiation, gzip, auth, and a port of its own."""

from __future__ import annotations

import base64
import gzip
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import exporter
from exporter import ConfigError, MetricsApp, Settings
from exporter.exposition import MetricsRenderer
from exporter.stack.servers import free_port


def instrumented(registry: CollectorRegistry, **options: object) -> TestClient:
    app = Starlette(routes=[Route("/work", lambda r: PlainTextResponse("done"))])
    exporter.instrument(app, registry=registry, gpu_metrics=False, **options)
    return TestClient(app, follow_redirects=False)


def test_metrics_is_served_at_exactly_metrics_without_redirect(
    registry: CollectorRegistry,
) -> None:
    client = instrumented(registry)
    client.get("/work")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'route="/work"' in response.text
    # the scrape itself is not recorded as a request
    assert 'route="/metrics"' not in response.text
    assert client.get("/metrics/").status_code in (404, 307)


def test_metrics_route_wins_over_a_catch_all_route(registry: CollectorRegistry) -> None:
    app = Starlette(routes=[Route("/{anything:path}", lambda r: PlainTextResponse("app"))])
    exporter.instrument(app, registry=registry, gpu_metrics=False)
    response = TestClient(app).get("/metrics")
    assert "http_server_request_duration_seconds" in response.text


def test_openmetrics_is_negotiated_from_accept(registry: CollectorRegistry) -> None:
    client = instrumented(registry)
    client.get("/work")
    accept = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"
    response = client.get("/metrics", headers={"Accept": accept})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
    families = {f.name for f in text_string_to_metric_families(client.get("/metrics").text)}
    assert "http_server_request_duration_seconds" in families


def test_gzip_when_accepted_and_plain_when_refused(registry: CollectorRegistry) -> None:
    client = instrumented(registry)
    raw = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert "http_server_request_duration_seconds" in raw.text  # httpx decoded it
    refused = client.get("/metrics", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused.headers


def test_renderer_body_is_really_gzip_compressed(registry: CollectorRegistry) -> None:
    renderer = MetricsRenderer(registry, Settings(gpu_metrics=False))
    rendered = renderer.render("GET", None, "br, gzip", None)
    assert dict(rendered.headers)["Content-Encoding"] == "gzip"
    assert b"# TYPE system_cpu_logical_cpus gauge" in gzip.decompress(rendered.body)


def test_bearer_token_is_required_when_configured(registry: CollectorRegistry) -> None:
    client = instrumented(registry, bearer_token="s3cret")
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    # the app's own routes are not protected by the metrics token
    assert client.get("/work").status_code == 200


def test_basic_auth_is_required_when_configured(registry: CollectorRegistry) -> None:
    client = instrumented(registry, basic_auth_user="prom", basic_auth_password="pw")

    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    assert client.get("/metrics").headers["www-authenticate"].startswith("Basic")
    assert client.get("/metrics", headers=basic("prom", "nope")).status_code == 401
    assert client.get("/metrics", headers=basic("other", "pw")).status_code == 401
    bad = {"Authorization": "Basic !!not-base64!!"}
    assert client.get("/metrics", headers=bad).status_code == 401
    assert client.get("/metrics", headers=basic("prom", "pw")).status_code == 200


def test_only_get_and_head_are_allowed(registry: CollectorRegistry) -> None:
    client = instrumented(registry)
    head = client.head("/metrics")
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["content-length"]) > 0
    assert client.post("/metrics").status_code == 405


def test_invalid_auth_settings_fail_at_startup_with_one_line() -> None:
    with pytest.raises(
        ConfigError, match="'basic_auth_user' and 'basic_auth_password' go together"
    ):
        Settings.build(basic_auth_user="only-user")


def test_metrics_app_answers_lifespan_so_it_can_run_alone(registry: CollectorRegistry) -> None:
    with TestClient(MetricsApp(registry, Settings(gpu_metrics=False))) as client:
        assert client.get("/").status_code == 200


def test_separate_port_serves_the_same_metrics(registry: CollectorRegistry) -> None:
    port = free_port()
    app = Starlette(routes=[Route("/work", lambda r: PlainTextResponse("done"))])
    monitor = exporter.instrument(
        app, registry=registry, gpu_metrics=False, metrics_port=port, metrics_addr="127.0.0.1"
    )
    try:
        client = TestClient(app)
        client.get("/work")
        assert client.get("/metrics").status_code == 404  # not inside the app
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode()
            assert response.headers["Content-Type"].startswith("text/plain")
        assert 'route="/work"' in body
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
        caught.value.close()
        assert caught.value.code == 404
    finally:
        assert monitor.metrics_server is not None
        monitor.metrics_server.stop()


def test_separate_port_already_taken_is_a_warning_not_a_crash(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    first = exporter.start_metrics_server(port, "127.0.0.1", registry, Settings(gpu_metrics=False))
    try:
        monitor = exporter.instrument(
            Starlette(), registry=registry, metrics_port=port, metrics_addr="127.0.0.1"
        )
        assert monitor.metrics_server is None
        assert any("not served by this process" in r.message for r in caplog.records)
    finally:
        first.stop()
