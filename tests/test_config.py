"""Settings are validated when built: a bad value is one clear line, at start-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from exporter import ConfigError, Settings
from exporter.yamlfile import read_yaml


def test_defaults_are_the_documented_ones() -> None:
    s = Settings()
    assert s.excluded_paths == frozenset({"/metrics"})
    assert s.buckets[0] == 0.005
    assert s.buckets[-1] == 60
    assert s.metrics_path == "/metrics"
    assert s.disk_mountpoints == ("/",)


def test_environment_variables_configure_the_exporter() -> None:
    env = {
        "EXPORTER_BEARER_TOKEN": "t0k",
        "EXPORTER_EXCLUDED_PATHS": "/metrics, /health",
        "EXPORTER_BUCKETS": "0.1,0.5,1",
        "EXPORTER_BODY_SIZES": "yes",
        "EXPORTER_METRICS_PORT": "9100",
        "EXPORTER_DISK_MOUNTPOINTS": "/,/data",
        "UNRELATED": "x",
    }
    s = Settings.from_env(env)
    assert s.bearer_token == "t0k"
    assert s.excluded_paths == frozenset({"/metrics", "/health"})
    assert s.buckets == (0.1, 0.5, 1.0)
    assert s.body_sizes is True
    assert s.metrics_port == 9100
    assert s.disk_mountpoints == ("/", "/data")


@pytest.mark.parametrize(
    "make",
    [
        lambda: Settings(excluded_paths="/health", disk_mountpoints="/data"),
        lambda: Settings.build(excluded_paths="/health", disk_mountpoints="/data"),
        lambda: Settings().with_(excluded_paths="/health", disk_mountpoints="/data"),
        lambda: Settings.from_env(
            {"EXPORTER_EXCLUDED_PATHS": "/health", "EXPORTER_DISK_MOUNTPOINTS": "/data"}
        ),
    ],
    ids=["constructor", "build", "with_", "environment"],
)
def test_a_plain_string_is_one_path_however_the_settings_are_made(
    make: Callable[[], Settings],
) -> None:
    s = make()
    assert s.excluded_paths == frozenset({"/health"})
    assert s.disk_mountpoints == ("/data",)


def test_a_plain_string_is_one_path_in_a_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "exporter.yml"
    path.write_text("excluded_paths: /health\ndisk_mountpoints: /data\n")
    s = Settings.from_yaml(path)
    assert s.excluded_paths == frozenset({"/health"})
    assert s.disk_mountpoints == ("/data",)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"EXPORTER_BUCKETS": "[1,0.5]"},
            "setting 'buckets': expected seconds in increasing order, comma-separated like "
            "0.1,0.5,1 or a list; got '[1'",
        ),
        (
            {"EXPORTER_BUCKETS": "1,0.5"},
            "setting 'buckets': buckets must be strictly increasing, got 1, 0.5",
        ),
        (
            {"EXPORTER_EXCLUDED_PATHS": '["/health"]'},
            "setting 'excluded_paths': every path must start with '/', got '[\"/health\"]'; "
            "expected paths starting with '/', comma-separated like /health,/ready or a list",
        ),
    ],
)
def test_a_bad_list_in_an_environment_variable_says_how_to_write_it(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert str(caught.value) == message


def test_keyword_overrides_win_over_the_environment() -> None:
    s = Settings.from_env({"EXPORTER_METRICS_PATH": "/env"}, metrics_path="/kw")
    assert s.metrics_path == "/kw"


def test_yaml_file_configures_the_exporter(tmp_path: Path) -> None:
    path = tmp_path / "exporter.yml"
    path.write_text(
        "buckets: [0.05, 0.5, 5]\nexcluded_paths: [/metrics, /ready]\ngpu_metrics: false\n"
    )
    s = Settings.from_yaml(path)
    assert s.buckets == (0.05, 0.5, 5.0)
    assert "/ready" in s.excluded_paths
    assert s.gpu_metrics is False


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"buckets": [1, 0.5]}, "setting 'buckets': buckets must be strictly increasing"),
        ({"buckets": [0, 1]}, "setting 'buckets': buckets must be finite positive numbers"),
        ({"buckets": ["fast"]}, "setting 'buckets': expected seconds in increasing order,"),
        ({"metrics_path": "metrics"}, "setting 'metrics_path': must start with '/'"),
        ({"metrics_port": 70000}, "setting 'metrics_port': not a TCP port: 70000"),
        ({"metrics_port": "ninety"}, "setting 'metrics_port': expected an integer, got 'ninety'"),
        ({"body_sizes": "maybe"}, "setting 'body_sizes': expected true or false, got 'maybe'"),
        ({"bearer_token": ""}, "setting 'bearer_token': must not be empty"),
        ({"max_operations": 0}, "setting 'max_operations': must be at least 1"),
        ({"excluded_paths": ["health"]}, "setting 'excluded_paths': every path must start"),
        ({"bucketz": [1]}, "unknown setting 'bucketz'; known: "),
    ],
)
def test_bad_settings_raise_one_line_naming_the_setting(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.build(**options)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("buckets: [1, 2\n", "not valid YAML: "),
        ("- a\n- b\n", "expected a mapping of settings, got list"),
        ("metrics_port: -1\n", "setting 'metrics_port': not a TCP port: -1"),
        (
            "metrics_port: 9100\nbuckets: [1]\nmetrics_port: 9200\n",
            "not valid YAML: duplicate key 'metrics_port' at line 3, column 1",
        ),
        (b"metrics_path: /m\xe9trics\n", "not UTF-8 text (byte 0xe9 at offset 16)"),
    ],
)
def test_bad_yaml_file_names_the_file_and_the_problem(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = tmp_path / "exporter.yml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        Settings.from_yaml(path)
    assert str(caught.value).startswith(f"{path}: {message}")
    assert "\n" not in str(caught.value)


def test_merge_keys_may_be_overridden_without_a_duplicate_key_error(tmp_path: Path) -> None:
    path = tmp_path / "exporter.yml"
    path.write_text("base: &base {a: 1, b: 2}\nderived:\n  <<: *base\n  b: 3\n")
    assert read_yaml(path) == {"base": {"a": 1, "b": 2}, "derived": {"a": 1, "b": 3}}


def test_missing_yaml_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read: No such file or directory"):
        Settings.from_yaml(tmp_path / "absent.yml")
