"""Health and readiness endpoints for a reverse proxy or orchestrator.

* ``GET /healthz`` — liveness: the process answers (always 200): ``{"status": "ok"}``,
  or ``"busy"`` while the server is saturated, with ``"load"``: ``saturated``,
  ``loop_lag_ms`` (p90), ``cpu`` (share of the machine), ``loop`` (the loop thread's
  share), ``capacity`` (learnt sessions; null until learnt), ``sessions``, ``waiting``
  (:mod:`xtalk.serving.load`; new sessions wait while it is busy).
* ``GET /readyz`` — readiness: 200 ``{"status": "ready", "checks": {...}}`` when the
  pipeline's models are loaded (the prototype has its ASR, agent and TTS) and the store's
  database answers ``SELECT 1`` within ``db_timeout_s``; otherwise 503 with
  ``"status": "not_ready"`` and the failing check. A proxy takes a replica out of the
  pool while it is not ready (e.g. while its database is unreachable).

Neither needs a login (a load balancer has none) and neither reveals anything but these
states: a database error is logged (its type and message, never the URL) and reported to
the client only as ``"unreachable"``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from xtalk.api import Xtalk
    from xtalk.store import Store

logger = logging.getLogger(__name__)

DB_TIMEOUT_S = 3.0
REQUIRED_MODELS = {"asr": "get_asr_model", "llm_agent": "get_agent", "tts": "get_tts_model"}


def models_check(xtalk: Xtalk) -> str:
    """``"ok"``, or ``"missing: <slots>"`` when a required model is absent."""
    pipeline = xtalk.service_prototype.pipeline
    missing = [slot for slot, getter in REQUIRED_MODELS.items()
               if getattr(pipeline, getter, None) is None or getattr(pipeline, getter)() is None]
    return "ok" if not missing else f"missing: {', '.join(missing)}"


def _ping(store: Store) -> None:
    with store.database.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def database_check(store: Store | None, timeout_s: float = DB_TIMEOUT_S) -> str:
    """``"ok"``, ``"not used"`` (no store), ``"timeout"`` or ``"unreachable"``."""
    if store is None:
        return "not used"
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping, store), timeout_s)
    except TimeoutError:
        logger.warning("readiness: the database did not answer within %.1f s", timeout_s)
        return "timeout"
    except Exception as exc:
        logger.warning("readiness: the database is unreachable (%s: %s)",
                       type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        return "unreachable"
    return "ok"


def mount_health(app: Any, xtalk: Xtalk, *, health_path: str = "/healthz",
                 ready_path: str = "/readyz", db_timeout_s: float = DB_TIMEOUT_S) -> None:
    """Add the liveness and readiness routes to ``app`` (a FastAPI app). The store is
    read from ``xtalk.store`` at request time (set by ``attach_store``/``mount_routes``)."""
    from fastapi.responses import JSONResponse

    @app.get(health_path, tags=["server"], summary="Liveness check, with the load")
    async def healthz() -> dict[str, Any]:
        load: dict[str, Any] = {**xtalk.load.snapshot(), "sessions": len(xtalk.sessions),
                                "waiting": xtalk.waiting_sessions}
        return {"status": "busy" if load["saturated"] else "ok", "load": load}

    @app.get(ready_path, tags=["server"], summary="Readiness check (models and database)")
    async def readyz() -> JSONResponse:
        checks = {"models": models_check(xtalk),
                  "database": await database_check(xtalk.store, db_timeout_s)}
        ready = all(v in ("ok", "not used") for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks},
                            status_code=200 if ready else 503,
                            headers={"Cache-Control": "no-store"})


__all__ = ["database_check", "models_check", "mount_health"]
