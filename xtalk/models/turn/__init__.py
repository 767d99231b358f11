"""Turn detectors: decide whether a pause ends the user's turn."""

from xtalk.models._lazy import lazy_exports

_BACKENDS: dict[str, str] = {
    "SmartTurnDetector": "xtalk.models.turn.smart_turn",
    "TextEndpointPolicy": "xtalk.models.turn.text_policy",
}

__all__ = list(_BACKENDS)
__getattr__, __dir__ = lazy_exports(__name__, _BACKENDS)
