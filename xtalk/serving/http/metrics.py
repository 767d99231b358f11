"""Prometheus text metrics on an opt-in endpoint (``xtalk-server --metrics``).

``GET /metrics`` (text exposition format 0.0.4) serves:

* ``xtalk_sessions_active`` (gauge) — sessions running on this replica;
* ``xtalk_sessions_queued`` (gauge) — clients waiting for a free session slot;
* ``xtalk_session_limit`` (gauge, only with a limit) — ``max_connections``;
* ``xtalk_sessions_started_total`` (counter) — sessions started since the process began;
* ``xtalk_turns_total{modality}`` (counter) — user turns accepted (``speech``/``text``);
* ``xtalk_stage_latency_seconds{stage}`` (histogram) — the engine's per-turn latency
  breakdown (``LatencyMeasured``, see :mod:`xtalk.serving.managers.metrics.latency`):
  stages ``endpoint``, ``asr``, ``llm_first_token``, ``llm_sentence``,
  ``tts_first_chunk``, ``e2e`` and ``network`` (half the measured round trip).

The numbers are per process: with several replicas, scrape each replica directly.

:class:`MetricsManager` is registered on the prototype service (bound to one
:class:`ServerMetrics` like the persistence manager is bound to the store); it only
counts, on the session's event loop. Access follows the routes' authentication: when a
request would need a login (LAN mode, users exist, or a non-loopback client) the scraper
must send ``Authorization: Bearer <token>`` of an **admin** user; otherwise (the loopback
desktop without users) it is open to loopback only.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING, Any, ClassVar

from fastapi import Request
from fastapi.responses import PlainTextResponse

from xtalk.serving.events import LatencyMeasured, SessionStarted, UserTurnAccepted
from xtalk.serving.interfaces import Manager

if TYPE_CHECKING:
    from xtalk.api import Xtalk
    from xtalk.serving.http.auth import AuthSettings
    from xtalk.store import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Latency histogram upper bounds in seconds (+Inf is implicit).
LATENCY_BUCKETS_S = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
#: Histogram stage label → ``LatencyMeasured`` field (milliseconds).
STAGES = {
    "endpoint": "endpoint_ms",
    "asr": "asr_ms",
    "llm_first_token": "llm_first_token_ms",
    "llm_sentence": "llm_sentence_ms",
    "tts_first_chunk": "tts_first_chunk_ms",
    "e2e": "e2e_ms",
    "network": "network_ms",
}


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Histogram:
    """A cumulative Prometheus histogram."""

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS_S) -> None:
        self.buckets = tuple(sorted(buckets))
        self.counts = [0] * len(self.buckets)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        if not math.isfinite(value) or value < 0:
            return
        self.count += 1
        self.sum += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out = [f'{name}_bucket{{{labels},le="{_number(bound)}"}} {count}'
               for bound, count in zip(self.buckets, self.counts, strict=True)]
        out.append(f'{name}_bucket{{{labels},le="+Inf"}} {self.count}')
        out.append(f"{name}_sum{{{labels}}} {_number(self.sum)}")
        out.append(f"{name}_count{{{labels}}} {self.count}")
        return out


class ServerMetrics:
    """The counters of one server process; :meth:`render` gives the exposition text."""

    def __init__(self, xtalk: Xtalk) -> None:
        self.xtalk = xtalk
        self.sessions_started = 0
        self.turns: Counter[str] = Counter()
        self.latency = {stage: Histogram() for stage in STAGES}

    def observe_latency(self, event: LatencyMeasured) -> None:
        for stage, attribute in STAGES.items():
            value = getattr(event, attribute, None)
            if value is not None:
                self.latency[stage].observe(float(value) / 1000.0)

    def render(self) -> str:
        limiter = self.xtalk.limiter
        lines = [
            "# HELP xtalk_sessions_active Sessions running on this server.",
            "# TYPE xtalk_sessions_active gauge",
            f"xtalk_sessions_active {len(self.xtalk.sessions)}",
            "# HELP xtalk_sessions_queued Clients waiting for a session (limit or load).",
            "# TYPE xtalk_sessions_queued gauge",
            f"xtalk_sessions_queued {self.xtalk.waiting_sessions}",
            "# HELP xtalk_sessions_refused_total Clients refused: too many were waiting.",
            "# TYPE xtalk_sessions_refused_total counter",
            f"xtalk_sessions_refused_total {self.xtalk.refused_sessions}",
            "# HELP xtalk_saturated 1 while new sessions wait for the load to fall.",
            "# TYPE xtalk_saturated gauge",
            f"xtalk_saturated {int(self.xtalk.load.saturated)}",
            "# HELP xtalk_event_loop_lag_seconds The event loop's lag (p90, last 2 s).",
            "# TYPE xtalk_event_loop_lag_seconds gauge",
            f"xtalk_event_loop_lag_seconds {self.xtalk.load.lag_s:.4f}",
        ]
        if limiter is not None:
            lines += ["# HELP xtalk_session_limit Sessions allowed at the same time.",
                      "# TYPE xtalk_session_limit gauge",
                      f"xtalk_session_limit {limiter.limit}"]
        lines += [
            "# HELP xtalk_sessions_started_total Sessions started since the server began.",
            "# TYPE xtalk_sessions_started_total counter",
            f"xtalk_sessions_started_total {self.sessions_started}",
            "# HELP xtalk_turns_total User turns accepted, by modality.",
            "# TYPE xtalk_turns_total counter",
        ]
        for modality in sorted(self.turns or {"speech": 0}):
            lines.append(f'xtalk_turns_total{{modality="{_label(modality)}"}} '
                         f"{self.turns[modality]}")
        lines += ["# HELP xtalk_stage_latency_seconds Per-turn latency of each pipeline "
                  "stage (see docs/protocol.md, latency_metrics).",
                  "# TYPE xtalk_stage_latency_seconds histogram"]
        for stage, histogram in self.latency.items():
            lines += histogram.lines("xtalk_stage_latency_seconds", f'stage="{stage}"')
        return "\n".join(lines) + "\n"


class MetricsManager(Manager):
    """Counts sessions, accepted turns and latency reports into a :class:`ServerMetrics`.

    Consumes: SessionStarted, UserTurnAccepted, LatencyMeasured. Emits: nothing.
    """

    metrics: ClassVar[ServerMetrics | None] = None

    @classmethod
    def bound_to(cls, metrics: ServerMetrics) -> type[MetricsManager]:
        """A subclass of this manager that counts into ``metrics``."""
        return type(cls.__name__, (cls,), {"metrics": metrics, "__module__": cls.__module__,
                                          "__doc__": cls.__doc__})

    @Manager.event_handler(SessionStarted, priority=-50)
    def on_session_started(self, _event: SessionStarted) -> None:
        if self.metrics is not None:
            self.metrics.sessions_started += 1

    @Manager.event_handler(UserTurnAccepted, priority=-50)
    def on_turn_accepted(self, event: UserTurnAccepted) -> None:
        if self.metrics is not None:
            self.metrics.turns[event.modality or "speech"] += 1

    @Manager.event_handler(LatencyMeasured, priority=-50)
    def on_latency(self, event: LatencyMeasured) -> None:
        if self.metrics is not None:
            self.metrics.observe_latency(event)


def mount_metrics(app: Any, xtalk: Xtalk, *, store: Store | None,
                  settings: AuthSettings | None, path: str = "/metrics") -> ServerMetrics:
    """Count into a new :class:`ServerMetrics` and serve it at ``path`` on ``app``.

    Call before sessions start (the manager is registered on the prototype service).
    Access is checked like the routes' (:meth:`~xtalk.serving.http.auth.AuthGate.principal`),
    plus: a logged-in caller must be an admin. Without a store nobody can log in, so only
    requests that need no login are answered.
    """
    from xtalk.serving.http.auth import AuthGate, AuthRefused, AuthSettings

    metrics = ServerMetrics(xtalk)
    xtalk.service_prototype.register_manager(MetricsManager.bound_to(metrics))
    gate = AuthGate(store, settings or AuthSettings())

    def refuse(status: int, message: str) -> PlainTextResponse:
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return PlainTextResponse(message + "\n", status_code=status, headers=headers)

    @app.get(path, tags=["server"], summary="Prometheus metrics (opt-in)",
             response_class=PlainTextResponse)
    async def serve_metrics(request: Request) -> PlainTextResponse:
        try:
            principal = await gate.principal(request.scope)  # the routes' own check
        except AuthRefused as exc:
            return refuse(exc.status, exc.message)
        if principal.user is not None and not principal.user.is_admin:
            return refuse(403, "Metrics are for admin users.")
        return PlainTextResponse(metrics.render(), media_type=CONTENT_TYPE,
                                 headers={"Cache-Control": "no-store"})

    return metrics


__all__ = ["CONTENT_TYPE", "Histogram", "MetricsManager", "ServerMetrics", "mount_metrics"]
