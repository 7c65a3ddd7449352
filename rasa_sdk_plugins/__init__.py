"""Prometheus metrics of the action server, without forking rasa_sdk.

rasa_sdk's server (rasa_sdk/endpoint.py ``run``) imports a package named ``rasa_sdk_plugins`` if it can
(rasa_sdk/plugin.py) and calls its ``attach_sanic_app_extensions(app)`` hook with the Sanic app before it
serves; ``rasa run actions`` puts the working directory (the repository root) on ``sys.path``, so this
package is found there. It adds ``GET /metrics`` (prometheus-client's default registry; ``METRICS=off``
removes it) and counts every action call by action name and outcome with its duration.

Label values are bounded: an action name is kept only when it looks like one of ours (``action_…`` /
``validate_…``, at most 64 characters, at most MAX_ACTIONS distinct names), else ``other``. The action server
is internal (its /webhook has no authentication either): /metrics is not meant for the internet, like the
server itself. One Sanic worker per container (ACTION_SERVER_SANIC_WORKERS unset or 1): a second worker would
have a registry of its own.
"""

from __future__ import annotations

import os
import re
import sys
import time

import pluggy

hookimpl = pluggy.HookimplMarker("rasa_sdk")

MAX_ACTIONS = 100
_NAME = re.compile(r"(?:action|validate)_[a-z0-9_]{1,57}")
_seen: set = set()


def init_hooks(manager: pluggy.PluginManager) -> None:
    """Called by rasa_sdk/plugin.py."""
    manager.register(sys.modules[__name__])


def _label(name) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return "other"
    if name not in _seen and len(_seen) >= MAX_ACTIONS:
        return "other"
    _seen.add(name)
    return name


def _outcome(status: int) -> str:
    return {200: "ok", 400: "rejected", 404: "unknown_action"}.get(status, "error" if status >= 500 else str(status))


@hookimpl
def attach_sanic_app_extensions(app) -> None:
    if os.environ.get("METRICS", "on").strip().lower() in ("off", "0", "false", "no"):
        return
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
    from sanic.response import HTTPResponse

    calls = Counter("actions_calls", "Action calls by action and outcome (ok, rejected, unknown_action, error)",
                    ["action", "outcome"])
    seconds = Histogram("actions_call_seconds", "How long an action call took", ["action"],
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))

    @app.middleware("request")
    async def _start(request) -> None:
        if request.path == "/webhook":
            request.ctx.metrics_started = time.perf_counter()

    @app.middleware("response")
    async def _count(request, response) -> None:
        started = getattr(request.ctx, "metrics_started", None)
        if started is None or response is None:
            return
        try:
            action = _label((request.json or {}).get("next_action"))
        except Exception:  # a body that is not JSON: rasa_sdk answered it already
            action = "other"
        calls.labels(action, _outcome(response.status)).inc()
        seconds.labels(action).observe(time.perf_counter() - started)

    async def metrics(request) -> HTTPResponse:
        return HTTPResponse(generate_latest(REGISTRY), headers={"Cache-Control": "no-store"},
                            content_type=CONTENT_TYPE_LATEST)

    app.add_route(metrics, "/metrics", methods=["GET"], name="metrics")
