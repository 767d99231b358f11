"""The ``service_config`` sections that the session's managers read, as dataclasses.

One class per section; a manager reads its own section, and one stage that needs a value
of another's (the turn detector: the VAD's silence, whether the ASR speculates) reads it
through the same class, so a default lives in one place. ``config_check`` checks a
configuration's sections against these fields at build time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class VADSettings:
    """``service_config["vad"]``: thresholds and durations of the speech segmenter.

    Attributes:
        threshold: Probability at or above which a frame counts as speech.
        neg_threshold: Probability below which a frame counts as silence (hysteresis);
            defaults to ``threshold - 0.15``.
        min_speech_s: Speech needed before a start is declared (filters clicks).
        min_silence_s: Silence needed after speech before an end is declared.
        pre_roll_s: Audio kept before the detected start (the start of a word is quiet).
        onset_memory_s: A start this soon after a dismissed onset begins at that onset,
            with ``onset_pre_roll_s`` before it: the dismissed frames were the start of a
            word that scored low (a soft voice, or one that echo cancellation and noise
            suppression held down while the reply played), and its beginning lies
            further back than a clear word's.
        lead_in_threshold: A start also takes in the frames just before it that scored at
            least this (a soft word that never reached ``threshold``: a browser's echo
            cancellation holds a voice that starts over the reply down to 0.3 – 0.45)…
        lead_in_gap_s: …when no gap between them is longer than this…
        lead_in_max_s: …up to this far back.
    """

    threshold: float = 0.5
    neg_threshold: float | None = None
    min_speech_s: float = 0.064
    min_silence_s: float = 0.4
    pre_roll_s: float = 0.2
    onset_memory_s: float = 1.0
    onset_pre_roll_s: float = 0.5
    lead_in_threshold: float = 0.3
    lead_in_gap_s: float = 0.3
    lead_in_max_s: float = 1.0

    @property
    def silence_threshold(self) -> float:
        return self.neg_threshold if self.neg_threshold is not None else \
            max(0.0, self.threshold - 0.15)


@dataclass
class ASRSettings:
    """``service_config["asr"]``: when the recogniser decodes (see ``ASRManager``).

    Attributes:
        partial_interval_s: Seconds between interim decodes while the user speaks.
        min_partial_audio_s: Speech heard before the first interim decode.
        end_padding_s: Audio kept after the VAD's end of speech for the final decode.
        max_utterance_s: A turn longer than this is decoded from its last this-many
            seconds (Whisper's window is 30 s).
        min_confidence: Finals below this confidence are rejected as noise.
        speculative_final: Decode the turn at each pause before the turn ends.
        commit_after_s: A pause's decode that covers more audio than this is kept as a
            committed part of the turn.
    """

    partial_interval_s: float = 0.5
    min_partial_audio_s: float = 0.3
    end_padding_s: float = 0.15
    max_utterance_s: float = 30.0
    min_confidence: float = 0.0
    speculative_final: bool = True
    commit_after_s: float = 10.0


@dataclass
class TurnSettings:
    """``service_config["turn"]``, read by both turn managers.

    Attributes:
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


@dataclass
class WakeWordSettings:
    """``service_config["wake_word"]``: after a reply, speech within ``follow_up_s`` of
    input audio without speech needs no wake phrase."""

    follow_up_s: float = 8.0


#: Each section's key in ``service_config`` and its class.
SECTIONS: dict[str, type] = {"vad": VADSettings, "asr": ASRSettings, "turn": TurnSettings,
                             "wake_word": WakeWordSettings}

__all__ = ["SECTIONS", "ASRSettings", "TurnSettings", "VADSettings", "WakeWordSettings"]
