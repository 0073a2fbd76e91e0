"""The load generator tells why requests got no answer, not only how many."""

from __future__ import annotations

import pytest

from exporter.cli import main
from exporter.loadgen import MAX_ERROR_KINDS, LoadStats
from exporter.stack.servers import free_port


def test_requests_with_no_answer_say_why(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["load", "--url", url, "--requests", "3", "--rps", "50"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert "failed 3" in lines[-2]
    assert lines[-1] == "failed 3: ConnectError: All connection attempts failed"


def test_a_request_count_shows_no_planned_duration(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    main(["load", "--url", url, "--requests", "2", "--rps", "50", "--duration", "60"])
    assert "/60s]" not in capsys.readouterr().out


def test_failure_reasons_are_bounded_whatever_the_errors() -> None:
    stats = LoadStats()
    for i in range(MAX_ERROR_KINDS + 5):
        stats.record_error(OSError(f"reason {i}"))
    stats.record_error(OSError("reason 0"))
    assert len(stats.errors) == MAX_ERROR_KINDS + 1
    assert stats.errors["OSError: reason 0"] == 2
    assert stats.errors["other errors"] == 5
    assert stats.error_lines()[:2] == ["failed 5: other errors", "failed 2: OSError: reason 0"]
