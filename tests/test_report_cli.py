"""``exporter report`` and the live endpoints when Prometheus is unreachable, silent or wrong,
and when the arguments are bad: one line, exit 1 (CLI), 503 or 400 (HTTP)."""

import socket
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

import exporter
from exporter.cli import main
from exporter.errors import ExporterError
from exporter.promapi import PrometheusClient, PrometheusError
from exporter.stack.servers import free_port


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that accepts connections and never answers (a hung Prometheus)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["report", *args])
    err = capsys.readouterr().err
    return code, err.splitlines()


def test_an_unreachable_prometheus_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, lines = report(capsys, "--prometheus", url, "--window", "1h")
    assert code == 1
    assert lines == [
        f"exporter report: error: cannot reach Prometheus at {url}: [Errno 111] Connection refused"
    ]


def test_a_prometheus_that_does_not_answer_times_out_with_one_line(
    capsys: pytest.CaptureFixture[str], silent_url: str
) -> None:
    code, lines = report(capsys, "--prometheus", silent_url, "--timeout", "0.5")
    assert code == 1
    assert lines == [
        f"exporter report: error: Prometheus at {silent_url} did not answer within 0.5s"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--window", "1 hour"], "--window: expected a duration like 30s, 15m, 1h, 24h or 7d"),
        (["--start", "tomorrow"], "--start: expected a time like 2024-05-01T10:00:00Z"),
        (["--start", "now-1h", "--end", "now-2h"], "must be before --end"),
        (["--format", "xml"], "--format: use one of json, csv, markdown, got 'xml'"),
        (["--intervals", "1"], "--intervals: a whole number from 2 to 100, got '1'"),
        (["--timeout", "soon"], "--timeout: a number from 0.1 to 300, got 'soon'"),
        (["--prometheus", "localhost:9090"], "not an http(s) URL: 'localhost:9090'"),
        (
            ["--thresholds", "/nonexistent/thresholds.yml"],
            "/nonexistent/thresholds.yml: cannot read",
        ),
        (["--job", ""], "--job: must not be empty"),
    ],
)
def test_bad_arguments_are_one_clear_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, lines = report(capsys, "--prometheus", f"http://127.0.0.1:{free_port()}", *args)
    assert code == 1
    assert len(lines) == 1
    assert message in lines[0]


def test_the_whole_report_is_bounded_by_the_budget(silent_url: str) -> None:
    client = PrometheusClient(silent_url, timeout=5, budget=0.3)
    with pytest.raises(PrometheusError, match=r"did not answer within 0\.3s"):
        client.query("up")
    with pytest.raises(PrometheusError, match=r"did not answer all queries within 0\.3s"):
        client.query("up")


def mounted(url: str, **options: float) -> TestClient:
    app = Starlette()
    app.mount("/performance", exporter.live_app(url, job="demo", **options))
    return TestClient(app)


@pytest.mark.parametrize(
    "path", ["/live", "/response-time", "/latency", "/throughput", "/trends", "/report"]
)
def test_every_live_endpoint_is_503_with_the_reason_when_prometheus_is_unreachable(
    path: str,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with mounted(url) as client:
        response = client.get("/performance" + path)
    assert response.status_code == 503
    assert response.json() == {
        "error": f"cannot reach Prometheus at {url}: [Errno 111] Connection refused"
    }


def test_a_hung_prometheus_is_a_503_within_the_timeout(silent_url: str) -> None:
    with mounted(silent_url, timeout=0.5) as client:
        response = client.get("/performance/response-time")
    assert response.status_code == 503
    assert response.json()["error"] == f"Prometheus at {silent_url} did not answer within 0.5s"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("/response-time?window=abc", "--window: expected a duration"),
        ("/throughput?window=2s", "the window must be at least 10s long"),
        ("/report?start=now-1h&end=now-2h", "must be before --end"),
        ("/report?format=xml", "format: use one of json, csv, markdown, got 'xml'"),
        ("/trends?intervals=1", "intervals: a whole number from 2 to 100, got '1'"),
    ],
)
def test_bad_parameters_are_a_400_with_one_line(query: str, message: str) -> None:
    with mounted(f"http://127.0.0.1:{free_port()}") as client:
        response = client.get("/performance" + query)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_live_app_refuses_a_url_that_is_not_http_at_once() -> None:
    with pytest.raises(ExporterError, match="not an http"):
        exporter.live_app("prometheus:9090")
