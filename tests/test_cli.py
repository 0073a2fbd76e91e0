"""The CLI: thin, and a user error is one line on stderr with exit status 1."""

from __future__ import annotations

import socket

import pytest

from exporter import __version__
from exporter.cli import main
from exporter.stack.servers import ManagedProcess, free_port


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"exporter {__version__}"


def test_help_lists_the_commands_without_importing_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "load", "stack"):
        assert command in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["load", "--url", "ftp://host"], "exporter load: error: --url must start with http://"),
        (
            ["load", "--url", "http://x", "--rps", "0"],
            "exporter load: error: --rps must be above 0",
        ),
        (["load", "--url", "http://x", "--requests", "0"], "exporter load: error: --requests must"),
        (["demo", "--port", "70000"], "exporter demo: error: --port: not a TCP port: 70000"),
        (
            ["demo", "--error-rate", "2"],
            "exporter demo: error: --error-rate: must be between 0 and 1, got 2.0",
        ),
        (
            ["demo", "--latency-ms", "nan"],
            "exporter demo: error: --latency-ms: must be between 0 and 600000, got nan",
        ),
        (
            ["demo", "--latency-ms", "100000", "--slow-rate", "0.1"],
            "exporter demo: error: slow_factor: latency_ms x (1 + jitter) x slow_factor would be",
        ),
        (
            ["demo", "--host", "no-such-host.invalid", "--port", "8123"],
            "exporter demo: error: --host 'no-such-host.invalid': cannot resolve it",
        ),
        (["demo", "--workers", "0"], "exporter demo: error: --workers must be at least 1"),
        (
            ["load", "--url", "http://x", "--rps", "inf"],
            "exporter load: error: --rps must be above",
        ),
        (
            ["load", "--url", "http://x", "--rps", "nan"],
            "exporter load: error: --rps must be above",
        ),
        (["load", "--url", "http://x", "--duration", "inf"], "exporter load: error: --duration"),
        (["load", "--url", "http://x", "--path", "x"], "exporter load: error: --path must start"),
        (["stack", "--rps", "-1"], "exporter stack: error: --rps must be above 0"),
        (["stack", "--every", "0"], "exporter stack: error: --every must be a positive number"),
        (["stack", "--duration", "-3"], "exporter stack: error: --duration must be 0"),
        (["stack", "--app-port", "99999"], "exporter stack: error: --app-port: not a TCP port"),
    ],
)
def test_bad_arguments_print_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 1
    assert err.startswith(message)
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_demo_on_a_busy_port_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run_cli(capsys, "demo", "--port", str(port))
    assert code == 1
    assert err == (
        f"exporter demo: error: cannot listen on 127.0.0.1:{port}: Address already in use"
        " (is another server running there?)\n"
    )


def test_argparse_errors_exit_2_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["load"])
    assert caught.value.code == 2
    assert "the following arguments are required: --url" in capsys.readouterr().err


def test_load_against_nothing_reports_failures_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, _ = run_cli(capsys, "load", "--url", url, "--requests", "3", "--rps", "50")
    assert code == 1
    assert "sent 3" in out
    assert "failed 3" in out


def test_load_sends_the_requested_number_of_requests(
    capsys: pytest.CaptureFixture[str], demo_server: ManagedProcess
) -> None:
    code, out, _ = run_cli(
        capsys, "load", "--url", demo_server.url, "--requests", "20", "--rps", "40", "--seed", "3"
    )
    assert code == 0
    final = out.strip().splitlines()[-1]
    assert "sent 20" in final
    assert "failed 0" in final
