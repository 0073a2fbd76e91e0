"""Checking an ``Authorization`` header against a bearer token or basic-auth credentials.

What Alertmanager's ``http_config`` (``authorization`` or ``basic_auth``) and Prometheus'
scrape auth send. Comparisons take constant time, so timing does not reveal how much of a
secret was right.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class Credentials:
    """What a request must present; both None means no authentication."""

    bearer_token: str | None = None
    basic_user: str | None = None
    basic_password: str | None = None

    def __post_init__(self) -> None:
        # an empty token would let an empty "Authorization: Bearer" header in
        if self.bearer_token is not None and not self.bearer_token:
            raise ValueError("bearer_token must not be empty (None means no authentication)")
        # likewise an empty user (and password) would let a bare "Authorization: Basic" in
        if self.basic_user is not None and not self.basic_user:
            raise ValueError("basic_user must not be empty (None means no authentication)")

    @property
    def required(self) -> bool:
        return self.bearer_token is not None or self.basic_user is not None

    def challenge(self, realm: str) -> str:
        """The ``WWW-Authenticate`` value of a 401."""
        scheme = "Basic" if self.basic_user is not None else "Bearer"
        return f'{scheme} realm="{realm}"'

    def accepts(self, authorization: str | None) -> bool:
        """Whether the ``Authorization`` header value satisfies these credentials."""
        if not self.required:
            return True
        if not authorization:
            return False
        scheme, _, given = authorization.partition(" ")
        given = given.strip()
        if self.bearer_token is not None and scheme.lower() == "bearer":
            # never an empty token, whatever was configured
            return bool(given) and hmac.compare_digest(given.encode(), self.bearer_token.encode())
        if self.basic_user is not None and scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(given, validate=True)
            except (binascii.Error, ValueError):
                return False
            user, _, password = decoded.partition(b":")
            # both comparisons always run: no early exit telling which part was wrong
            ok_user = hmac.compare_digest(user, self.basic_user.encode())
            ok_password = hmac.compare_digest(password, (self.basic_password or "").encode())
            return ok_user and ok_password
        return False
