"""Echo cancellation for barge-in on laptop speakers: :class:`EchoGate`, a speech enhancer
that removes the reply's echo from the microphone (AEC3, or a correlation fallback)."""

from xtalk.models.enhancers.echo.gate import EchoGate, webrtc_available
from xtalk.models.enhancers.echo.reference import ReferenceTimeline

__all__ = ["EchoGate", "ReferenceTimeline", "webrtc_available"]
