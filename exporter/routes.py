"""Bounded ``route`` and ``method`` labels from an ASGI scope.

The label is the route *template* (``/video/{video_id}``), never the raw path, so the number of
series cannot grow with traffic. Starlette ≥ 1.7 leaves the route its router chose in
``scope["route"]`` (and recent FastAPI the full template through ``include_router`` prefixes
in ``scope["fastapi"]``); we use that decision rather than matching the path again. Only two
cases replay Starlette's own ``matches()``: requests that crossed a ``Mount`` (the mount
prefix is not in the inner route's template; only the mounts are replayed) and older Starlette
versions that do not set ``scope["route"]``. Replayed results are cached per (route, mount
prefix), so a hot route costs a dict lookup.

``root_path`` (set by the server, e.g. ``uvicorn --root-path``, or by the app) is not part of
the label: the same app behind different proxies produces the same series.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Host, Match, Mount, Router
from starlette.types import Scope

UNMATCHED = "__unmatched__"
OTHER_METHOD = "_OTHER"
STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)

logger = logging.getLogger(__name__)


def method_label(method: str) -> str:
    """The method itself when it is a standard HTTP method, else ``_OTHER``."""
    return method if method in STANDARD_METHODS else OTHER_METHOD


def route_path(path: str, root_path: str) -> str:
    """The path the app routes on: ``path`` without its ``root_path`` prefix."""
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest[0] == "/":
            return rest
    return path


def _router_sets_route() -> bool:
    from starlette import __version__

    try:
        major, minor = (int(p) for p in __version__.split(".")[:2])
    except ValueError:
        return True
    return (major, minor) >= (1, 7)


class RouteLabeler:
    """Turns the outcome of routing into a bounded ``route`` label."""

    def __init__(self, max_cached: int = 4096, router_sets_route: bool | None = None) -> None:
        self._max_cached = max_cached
        self._router_sets_route = (
            _router_sets_route() if router_sets_route is None else router_sets_route
        )
        # id(route) -> (route, template): identity is re-checked, ids can be reused
        self._templates: dict[int, tuple[Any, str]] = {}
        # (id(route), raw mount prefix) -> (route, template)
        self._mounted: dict[tuple[int, str], tuple[Any, str]] = {}
        # id(entry app) -> (app, whether its router records the route it chose)
        self._records_route: dict[int, tuple[Any, bool]] = {}

    def label(self, scope: Scope, entry_path: str, entry_root_path: str, entry_app: Any) -> str:
        """The label of a finished request.

        ``entry_*`` are the scope's values when the middleware received the request, before
        mounts changed ``root_path`` (and, on old Starlette versions, ``path``).
        """
        route = scope.get("route")
        if route is None:
            if self._router_sets_route and self._router_records_route(entry_app):
                return UNMATCHED
            return self._replay(entry_app, entry_path, entry_root_path, scope) or UNMATCHED
        inner = _fastapi_template(scope) or self._template(route)
        root_path: str = scope.get("root_path", "")
        if root_path == entry_root_path:
            return inner
        # The request crossed mounts: their templates are not in the inner route's template.
        key = (id(route), root_path)
        hit = self._mounted.get(key)
        if hit is not None and hit[0] is route:
            return hit[1]
        prefix = _mount_prefix(entry_app, entry_path, entry_root_path, root_path, scope)
        if prefix is None:
            label = inner
        elif isinstance(route, Mount) and route.routes:
            # The innermost recorded route is a mount over a router: that router matched
            # nothing, or it does not record its choice (FastAPI's). The answer depends on the
            # path, so it is replayed and not cached.
            return self._replay(entry_app, entry_path, entry_root_path, scope) or UNMATCHED
        elif isinstance(route, Mount):
            label = prefix or "/"  # a plain ASGI app is mounted: the mount is the route
        else:
            label = prefix + inner
        if len(self._mounted) < self._max_cached:
            self._mounted[key] = (route, label)
        return label

    def _router_records_route(self, app: Any) -> bool:
        """Whether ``app``'s router leaves its choice in ``scope["route"]``.

        Starlette's ``Router.app`` does (≥ 1.7); FastAPI ≥ 0.16x replaces it with its own
        dispatch, which records only ``APIRoute``s: the OpenAPI/docs routes, ``add_route`` and
        mounted apps are then replayed.
        """
        hit = self._records_route.get(id(app))
        if hit is not None and hit[0] is app:
            return hit[1]
        router = getattr(app, "router", app)
        dispatch = getattr(type(router), "app", None)
        records = not isinstance(router, Router) or dispatch is Router.app
        self._records_route[id(app)] = (app, records)
        return records

    def _template(self, route: Any) -> str:
        hit = self._templates.get(id(route))
        if hit is not None and hit[0] is route:
            return hit[1]
        # a Host left in the scope means its inner router found nothing
        label = UNMATCHED if isinstance(route, Host) else _own_template(route)
        if len(self._templates) < self._max_cached:
            self._templates[id(route)] = (route, label)
        return label

    def _replay(self, app: Any, path: str, root_path: str, scope: Scope) -> str | None:
        """Match the request again with Starlette's own ``matches()``, through mounts."""
        routes = _routes_of(app)
        if not routes:
            return None
        try:
            return _match(routes, _probe(path, root_path, scope))
        except Exception:  # a broken custom route must not break the request
            logger.debug("route replay failed for %r", path, exc_info=True)
            return None


def _probe(path: str, root_path: str, scope: Scope) -> dict[str, Any]:
    return {
        "type": "http",
        "path": path,
        "root_path": root_path,
        "method": scope.get("method", "GET"),
        "headers": scope.get("headers", []),
        "path_params": {},
    }


def _fastapi_template(scope: Scope) -> str | None:
    """The full template FastAPI (>= 0.16x) resolved through ``include_router`` prefixes.

    Recent FastAPI no longer copies included routes into the app's router; the route left in
    ``scope["route"]`` then lacks the include prefixes, and FastAPI records the effective
    template in its own scope entry. Anything unexpected there is ignored.
    """
    fastapi_scope = scope.get("fastapi")
    if not isinstance(fastapi_scope, dict):
        return None
    context = fastapi_scope.get("effective_route_context")
    template = getattr(context, "path_format", None)
    return template if isinstance(template, str) and template.startswith("/") else None


def _mount_prefix(
    app: Any, path: str, entry_root_path: str, final_root_path: str, scope: Scope
) -> str | None:
    """The templates of the mounts that took ``root_path`` from entry to final value."""
    routes = _routes_of(app)
    probe = _probe(path, entry_root_path, scope)
    prefix = ""
    try:
        for _ in range(32):  # mounts nest a few levels at most; never loop forever
            if probe["root_path"] == final_root_path:
                return prefix
            for route in routes:
                if not isinstance(route, Mount):
                    continue
                match, child = route.matches(probe)
                if match is Match.FULL:
                    prefix += route.path_format.removesuffix("/{path}")
                    probe.update(child)
                    routes = route.routes
                    break
            else:
                return None
    except Exception:  # a broken custom route must not break the request
        logger.debug("mount prefix replay failed for %r", path, exc_info=True)
    return None


def _routes_of(app: Any) -> Sequence[BaseRoute]:
    # a Starlette/FastAPI app, a Router, or a Mount's inner app
    routes = getattr(app, "routes", None)
    if routes is None:
        router = getattr(app, "router", None)
        routes = getattr(router, "routes", None)
    return routes if isinstance(routes, list | tuple) else ()


def _match(routes: Sequence[BaseRoute], scope: dict[str, Any]) -> str | None:
    partial: str | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if match is Match.PARTIAL:
            if partial is None:
                partial = _own_template(route)
            continue
        if isinstance(route, Mount | Host):
            # a Mount's format ends with its catch-all "/{path}"; the prefix is what precedes it
            prefix = route.path_format.removesuffix("/{path}") if isinstance(route, Mount) else ""
            inner = route.routes
            if not inner:  # a plain ASGI app is mounted: the mount is the route
                return prefix or "/"
            rest = _match(inner, {**scope, **child})
            return None if rest is None else prefix + rest
        return _own_template(route)
    return partial


def _own_template(route: BaseRoute) -> str:
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else UNMATCHED
