"""Speech speed controllers (tempo change without pitch change)."""

from xtalk.models._lazy import lazy_exports

_BACKENDS: dict[str, str] = {
    "WSOLASpeedController": "xtalk.models.speed.wsola",
}

__all__ = list(_BACKENDS)
__getattr__, __dir__ = lazy_exports(__name__, _BACKENDS)
