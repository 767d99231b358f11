"""Energy VAD: a **test/demo** voice activity detector, never a default model.

It maps a frame's RMS level to a speech probability; it cannot tell speech from any other
loud sound, which is exactly what deterministic tests (tone-coded audio, silence, quiet
noise) need.
"""

from __future__ import annotations

import numpy as np

from xtalk.models.interfaces import VAD

_FULL_SCALE = 32768.0


class EnergyVAD(VAD):
    """Speech probability from the frame level in dBFS (test/demo model).

    The probability is 0 at ``threshold_dbfs - range_db / 2`` or below, 1 at
    ``threshold_dbfs + range_db / 2`` or above, and linear in between.

    Args:
        threshold_dbfs: Level (dB relative to full scale) at which the probability is 0.5.
        range_db: Width in dB of the linear ramp from 0 to 1.
    """

    frame_samples = 512

    def __init__(self, threshold_dbfs: float = -35.0, range_db: float = 10.0) -> None:
        if range_db <= 0:
            raise ValueError(f"range_db must be positive, got {range_db}")
        self.threshold_dbfs = float(threshold_dbfs)
        self.range_db = float(range_db)

    @staticmethod
    def level_dbfs(frame: np.ndarray) -> float:
        """RMS level of a PCM16 frame in dBFS (``-inf`` for digital silence)."""
        x = np.asarray(frame, dtype=np.float64).reshape(-1)
        if x.size == 0:
            return float("-inf")
        rms = float(np.sqrt(np.mean(x * x))) / _FULL_SCALE
        return 20.0 * float(np.log10(rms)) if rms > 0 else float("-inf")

    def speech_probability(self, frame: np.ndarray) -> float:
        """Probability in [0, 1] that ``frame`` (PCM16, 16 kHz) is speech."""
        level = self.level_dbfs(frame)
        low = self.threshold_dbfs - self.range_db / 2
        return float(min(1.0, max(0.0, (level - low) / self.range_db)))

    def clone(self) -> EnergyVAD:
        """A new detector with the same settings."""
        return EnergyVAD(self.threshold_dbfs, self.range_db)


__all__ = ["EnergyVAD"]
