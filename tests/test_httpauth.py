"""Credentials: empty secrets are refused where they are configured, never matched."""

from __future__ import annotations

import base64

import pytest

from exporter.config import ConfigError, Settings
from exporter.httpauth import Credentials


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_an_empty_basic_auth_user_is_refused() -> None:
    with pytest.raises(ValueError, match="basic_user must not be empty"):
        Credentials(basic_user="", basic_password="")


def test_an_empty_basic_auth_user_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="setting 'basic_auth_user': must not be empty"):
        Settings.build(basic_auth_user="", basic_auth_password="")


def test_basic_auth_accepts_only_the_configured_pair() -> None:
    credentials = Credentials(basic_user="prometheus", basic_password="s3cret")
    assert credentials.accepts(basic("prometheus", "s3cret"))
    assert not credentials.accepts(basic("prometheus", ""))
    assert not credentials.accepts(basic("", ""))
    assert not credentials.accepts("Basic ")
    assert not credentials.accepts("Bearer s3cret")
