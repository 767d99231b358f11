"""The ``service_config["turn"]`` section, read by both turn managers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TurnSettings:
    """Attributes:
        speculative_replies: Prepare the reply during the user's pause.
        continuation_s: Speech starting this soon after a turn's end (input audio), while
            its reply has only begun, may continue that turn (a hesitation the turn
            detector took for the end); 0 turns merging off.
        transcript_wait_s: How long a pause's check waits for the pause's own transcript
            before the freshest partial is judged.
    """

    speculative_replies: bool = True
    continuation_s: float = 1.5
    transcript_wait_s: float = 1.0


__all__ = ["TurnSettings"]
