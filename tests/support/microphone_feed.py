"""Speech fed to the desktop app as its microphone would: block by block from another
thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

MIC_RATE = 16000
BLOCK = 320  # 20 ms


def feed_in_background(window: Any, pcm: np.ndarray, speed: float = 4.0) -> threading.Thread:
    """Submit ``pcm`` (16 kHz int16) block by block from another thread, as PortAudio's
    callback does, ``speed`` times faster than real time."""

    def run() -> None:
        for i in range(0, pcm.size, BLOCK):
            window.submit_microphone(np.ascontiguousarray(pcm[i:i + BLOCK]), MIC_RATE)
            time.sleep(BLOCK / MIC_RATE / speed)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
