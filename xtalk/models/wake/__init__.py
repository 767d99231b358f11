"""Wake-word detectors: nothing of the user's audio is heard until the wake phrase."""

from xtalk.models._lazy import lazy_exports

_BACKENDS: dict[str, str] = {
    "OpenWakeWord": "xtalk.models.wake.open_wake_word",
    "MicroWakeWord": "xtalk.models.wake.micro_wake_word",
    "ToneWakeWord": "xtalk.models.wake.testing",
}

__all__ = list(_BACKENDS)
__getattr__, __dir__ = lazy_exports(__name__, _BACKENDS)
