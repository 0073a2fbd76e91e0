"""The demo under a real uvicorn: real HTTP, streaming, disconnects, workers, promtool."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.stack.servers import ManagedProcess, find_binary, free_port, start_python_app


def get(url: str, timeout: float = 10) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return bytes(response.read())


def send(url: str, method: str, body: dict[str, object] | None = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)


def scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = get(base + "/metrics").decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def http_sample(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    name: str,
    route: str,
    status: str,
    method: str = "GET",
    **extra: str,
) -> float:
    labels = {"method": method, "route": route, "status": status, **extra}
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def demo(demo_server: ManagedProcess) -> ManagedProcess:
    return demo_server


def test_metrics_output_passes_promtool_check_metrics(demo: ManagedProcess) -> None:
    send(demo.url + "/video/process", "POST", {"video_id": "p1"})
    get(demo.url + "/video/p1")
    get(demo.url + "/video/p1/stream?chunks=2")
    send(demo.url + "/video/nope", "GET")
    send(demo.url + "/does/not/exist", "GET")
    body = get(demo.url + "/metrics")
    check = subprocess.run(
        [find_binary("promtool"), "check", "metrics"],
        input=body,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout == b""
    assert check.stderr == b""


def test_streaming_over_real_http_ttfb_at_headers_response_time_at_last_chunk(
    demo: ManagedProcess,
) -> None:
    route = "/video/{video_id}/stream"
    ttfb = "http_server_time_to_first_byte_seconds_bucket"
    duration = "http_server_request_duration_seconds_bucket"
    before = scrape(demo.url)
    assert send(demo.url + "/demo/config", "PUT", {"latency_ms": 600, "jitter": 0}) == 200
    try:
        body = get(demo.url + "/video/s1/stream?chunks=3")
    finally:
        send(demo.url + "/demo/config", "PUT", {"latency_ms": 40, "jitter": 0.5})
    assert body.count(b"chunk") == 3
    after = scrape(demo.url)

    def added(name: str, le: str) -> float:
        return http_sample(after, name, route, "200", le=le) - http_sample(
            before, name, route, "200", le=le
        )

    # headers leave at once; the three chunks take 3 x 200 ms
    assert added(ttfb, "0.1") == 1
    assert added(duration, "0.5") == 0
    assert added(duration, "1.0") == 1


def test_client_that_disconnects_mid_stream_is_recorded_as_499(demo: ManagedProcess) -> None:
    assert send(demo.url + "/demo/config", "PUT", {"latency_ms": 20_000, "jitter": 0}) == 200
    try:
        host, port = demo.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(
                f"GET /video/gone/stream?chunks=10 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            )
            assert conn.recv(1024).startswith(b"HTTP/1.1 200")  # headers, then we hang up
        route = "/video/{video_id}/stream"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            samples = scrape(demo.url)
            if http_sample(samples, "http_server_request_duration_seconds_count", route, "499"):
                break
            time.sleep(0.2)
        assert http_sample(samples, "http_server_request_duration_seconds_count", route, "499") == 1
        active = samples.get(("http_server_active_requests", (("method", "GET"),)), 0.0)
        assert active == 0  # the scrape itself is not recorded
    finally:
        send(demo.url + "/demo/config", "PUT", {"latency_ms": 40, "jitter": 0.5})


def test_multiple_uvicorn_workers_are_aggregated_in_one_scrape(tmp_path: Path) -> None:
    mp_dir = tmp_path / "multiproc"
    mp_dir.mkdir()
    port = free_port()
    server = start_python_app(
        "demo-workers",
        ["exporter", "demo", "--port", str(port), "--workers", "2", "--error-rate", "0"],
        tmp_path,
        port,
        env={"PROMETHEUS_MULTIPROC_DIR": str(mp_dir)},
        timeout=60,
    )
    try:
        sent = 80
        url = server.url + "/video/process"
        # concurrent requests on separate connections: both workers get some
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(
                pool.map(lambda i: send(url, "POST", {"video_id": f"m{i}"}), range(sent))
            )
        assert statuses == [200] * sent
        pids = {p.name.split("_")[-1] for p in mp_dir.glob("histogram_*.db")}
        assert len(pids) >= 2, f"both workers should have served requests: {pids}"
        # whichever worker answers, the scrape shows every worker's requests
        counts = set()
        for _ in range(6):
            samples = scrape(server.url)
            counts.add(
                http_sample(
                    samples,
                    "http_server_request_duration_seconds_count",
                    "/video/process",
                    "200",
                    method="POST",
                )
            )
        assert counts == {sent}, "every scrape must show all requests of all workers"
        active = samples.get(("http_server_active_requests", (("method", "GET"),)), -1.0)
        assert active == 0

        # a worker that dies leaves no stale in-flight count behind
        victim = next(int(pid.removesuffix(".db")) for pid in sorted(pids))
        os.kill(victim, signal.SIGKILL)
        time.sleep(0.5)
        scrape(server.url)
        assert not list(mp_dir.glob(f"gauge_live*_{victim}.db"))
    finally:
        server.stop()
