"""A small client for Prometheus' HTTP API (instant and range queries, alerts, targets).

Bounded timeouts everywhere; any failure (unreachable, slow, HTTP error, a PromQL error, a
malformed answer) is a :class:`PrometheusError` with one line saying what went wrong.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter.errors import ExporterError


class PrometheusError(ExporterError):
    """Prometheus could not answer the question."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector (or a scalar, with no labels)."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One series of a range query: (unix time, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


class PrometheusClient:
    def __init__(self, base_url: str, timeout: float = 5.0, budget: float | None = None) -> None:
        """``timeout`` bounds each request; ``budget`` (seconds) bounds all of them together."""
        if not base_url.startswith(("http://", "https://")):
            raise PrometheusError(f"not an http(s) URL: {base_url!r}")
        if timeout <= 0 or (budget is not None and budget <= 0):
            raise PrometheusError("Prometheus timeouts must be positive")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.budget = budget
        self._deadline = None if budget is None else time.monotonic() + budget

    def _request_timeout(self) -> float:
        if self._deadline is None:
            return self.timeout
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise PrometheusError(
                f"Prometheus at {self.base_url} did not answer all queries within {self.budget:g}s"
            )
        return min(self.timeout, left)

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        url = self.base_url + path
        timeout = self._request_timeout()
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            with exc:  # it holds the open response
                body = exc.read()
            detail = _error_text(body) or exc.reason
            raise PrometheusError(
                f"Prometheus at {self.base_url} answered {exc.code}: {detail}"
            ) from None
        except TimeoutError:
            raise PrometheusError(
                f"Prometheus at {self.base_url} did not answer within {timeout:.3g}s"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PrometheusError(f"cannot reach Prometheus at {self.base_url}: {reason}") from None
        try:
            payload = json.loads(body)
        except ValueError:
            raise PrometheusError(f"{url}: the answer is not JSON") from None
        if not isinstance(payload, dict) or payload.get("status") != "success":
            problem = payload.get("error") if isinstance(payload, dict) else None
            raise PrometheusError(f"Prometheus query failed: {problem or 'unexpected answer'}")
        return payload.get("data")

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Evaluate ``expr`` now (or at unix time ``at``); NaN samples are dropped."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params)
        kind = data.get("resultType")
        result = data.get("result")
        if kind == "scalar" or kind == "string":
            value = _number(result[1])
            return [] if math.isnan(value) else [Sample({}, value)]
        samples = [Sample(dict(s["metric"]), _number(s["value"][1])) for s in result]
        return [s for s in samples if not math.isnan(s.value)]

    def value(self, expr: str, at: float | None = None) -> float | None:
        """The single value of ``expr``, or None when it has no (non-NaN) sample."""
        samples = self.query(expr, at)
        if not samples:
            return None
        if len(samples) > 1:
            raise PrometheusError(f"expected one series from {expr!r}, got {len(samples)}")
        return samples[0].value

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        params = {
            "query": expr,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step:.3f}",
        }
        data = self._get("/api/v1/query_range", params)
        out = []
        for s in data.get("result", []):
            points = [(float(t), _number(v)) for t, v in s["values"]]
            out.append(Series(dict(s["metric"]), [p for p in points if not math.isnan(p[1])]))
        return out

    def samples(self, selector: str, at: float) -> list[Series]:
        """The raw samples of a range selector such as ``up[5m]``, evaluated at ``at``."""
        data = self._get("/api/v1/query", {"query": selector, "time": f"{at:.3f}"})
        if data.get("resultType") != "matrix":
            raise PrometheusError(f"expected a range selector, got {selector!r}")
        out = []
        for s in data.get("result", []):
            points = [(float(t), _number(v)) for t, v in s["values"]]
            out.append(Series(dict(s["metric"]), [p for p in points if not math.isnan(p[1])]))
        return out

    def alerts(self) -> list[dict[str, Any]]:
        """Active alerts (pending and firing) as Prometheus reports them."""
        data = self._get("/api/v1/alerts")
        return list(data.get("alerts", []))

    def targets(self) -> list[dict[str, Any]]:
        data = self._get("/api/v1/targets", {"state": "active"})
        return list(data.get("activeTargets", []))

    def rules(self) -> list[dict[str, Any]]:
        data = self._get("/api/v1/rules")
        return list(data.get("groups", []))

    def wait_for(
        self,
        expr: str,
        predicate: Callable[[list[Sample]], bool] = bool,
        timeout: float = 30.0,
        interval: float = 0.5,
    ) -> list[Sample]:
        """Poll ``expr`` until ``predicate(samples)`` holds; PrometheusError on timeout."""
        deadline = time.monotonic() + timeout
        last: list[Sample] = []
        while True:
            try:
                last = self.query(expr)
                if predicate(last):
                    return last
            except PrometheusError:
                if time.monotonic() >= deadline:
                    raise
            if time.monotonic() >= deadline:
                raise PrometheusError(
                    f"{expr!r} did not reach the expected state in {timeout:g}s; last: {last}"
                )
            time.sleep(interval)


def _number(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise PrometheusError(f"not a number in the answer: {raw!r}") from None


def _error_text(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:200]
    if isinstance(payload, dict):
        return str(payload.get("error", ""))
    return ""
