"""Does the microphone hear the speaker at all?

With a headset the microphone hears none of the reply. The double-talk detector then
never finds an echo path (so it never flags the user talking), and AEC3, converging on a
path that is not there, takes most of a user's voice out while the reply is loud: a user
who spoke over the first seconds of a reply was not heard (docs/echo.md, "No echo at
all"). :class:`CouplingMonitor` gathers the evidence that there is no echo to cancel: the
microphone stays quiet — :data:`QUIET_UNDER_DB` under the reply, or under
:data:`QUIET_FLOOR` — while the reply has played loud for longer than the longest echo
delay. Once it has :data:`EVIDENCE_BLOCKS` of that, the canceller passes the microphone
untouched, until the detector hears an echo again. It cannot help a user who talks from a
reply's very first moment in a session (the microphone is never quiet then); later replies
keep the verdict.
"""

from __future__ import annotations

from collections import deque

#: The reference (mean square over the last 0.5 s, full scale 1.0) that counts as playing
#: loud: -45 dBFS.
LOUD_REFERENCE = 10 ** (-45 / 10)
#: Blocks of a stretch of playback before a quiet microphone counts: the longest echo
#: delay the detector looks for (0.5 s, Bluetooth and device buffers included).
SETTLE_BLOCKS = 50
#: A block is quiet when its mean square is this far under the reference's ...
QUIET_UNDER_DB = 50.0
#: ... or under this (-65 dBFS).
QUIET_FLOOR = 10 ** (-65 / 10)
#: Quiet blocks (0.3 s, over any number of stretches) that show there is no echo.
EVIDENCE_BLOCKS = 30


class CouplingMonitor:
    """Per 10 ms block, whether the microphone is known not to hear the speaker."""

    def __init__(self) -> None:
        self._reference: deque[float] = deque(maxlen=SETTLE_BLOCKS)
        self._blocks = 0
        self._quiet = 0
        self.uncoupled = False

    def restart(self) -> None:
        """A new stretch of playback; the evidence gathered so far is kept."""
        self._reference.clear()
        self._blocks = 0

    def observe(self, mic_energy: float, reference_energy: float, echo_heard: bool) -> bool:
        """One block's mean squares (full scale 1.0) and whether the double-talk detector
        hears an echo now; returns :attr:`uncoupled`."""
        self._reference.append(reference_energy)
        self._blocks += 1
        if echo_heard:
            self._quiet = 0
            self.uncoupled = False
            return False
        playing = sum(self._reference) / len(self._reference)
        if self._blocks > SETTLE_BLOCKS and playing >= LOUD_REFERENCE \
                and mic_energy < max(playing * 10 ** (-QUIET_UNDER_DB / 10), QUIET_FLOOR):
            self._quiet += 1
            self.uncoupled = self.uncoupled or self._quiet >= EVIDENCE_BLOCKS
        return self.uncoupled
