"""Speech enhancers (denoising, echo cancellation) for input frames."""

from xtalk.models._lazy import lazy_exports

_BACKENDS: dict[str, str] = {
    "EchoGate": "xtalk.models.enhancers.echo",
    "RNNoise": "xtalk.models.enhancers.rnnoise",
    "EnhancerChain": "xtalk.models.enhancers.chain",
}

__all__ = list(_BACKENDS)
__getattr__, __dir__ = lazy_exports(__name__, _BACKENDS)
