"""The echo gate's constants (16 kHz samples unless said otherwise; docs/echo.md has the
measurements behind them)."""

RATE = 16000
WEBRTC_BLOCK = RATE // 100  # AEC3 works on 10 ms blocks
# The capture path of the WebRTC audio processing module (band split filters) delays its
# output by 8 ms more (pywebrtc-audio 0.2 at 16 kHz).
WEBRTC_INTERNAL_DELAY = 128
# AEC3 residual gate: an output block with less than this share of its input's energy
# is echo residue (AEC3 removed > 12 dB); it is attenuated by RESIDUE_ATTENUATION (20 dB),
# with the next RESIDUE_HOLD - 1. Attenuated, not zeroed: zeros delay the VAD's onset and
# so barge-in (docs/echo.md). The price: a user ~12 dB quieter than the echo is attenuated.
RESIDUE_RATIO = 10 ** (-12 / 10)
RESIDUE_ATTENUATION = 0.1
# While the double-talk detector does not trust its echo path yet (a fresh or moved
# path), AEC3 is also still converging: a block it took more than 6 dB out of is residue.
STRICT_RESIDUE_RATIO = 10 ** (-6 / 10)
RESIDUE_HOLD = 3
SIGNAL_FLOOR = 100.0  # mean square in int16 units (about -70 dBFS): silence below
BACKENDS = ("auto", "webrtc", "correlation")
AUDIBLE = 10 ** (-80 / 20)  # a reference sample above -80 dBFS: something is playing
# The gate is transparent (no processing, no delay) unless audible reference audio was
# played less than this long ago (the speaker's buffer, the air and the room's tail).
IDLE_S = 0.6
# A played block is laid after the one before it while that one is still queued up to
# this far ahead (16 kHz samples); beyond, the reports outran real time: start afresh.
MAX_QUEUED = RATE // 2
# A timed played block (the device said when it sounds) that starts within this of the
# previous block's end continues it: a device plays back to back, its reported times
# jitter (host APIs estimate them) and its clock drifts against ours. Beyond, the block
# starts a stretch of its own (an underrun, or the drift caught up with).
TIMED_TOLERANCE_S = 0.005
# Leaving the canceller drops the input it has not output yet (its latency): only when
# that stretch is quiet (below QUIET_DBFS or QUIET_RELATIVE of the loudest recent 10 ms),
# so no speech is lost; after FORCE_IDLE_S of continuous sound it leaves anyway.
QUIET_DBFS = -60.0
QUIET_RELATIVE = 10 ** (-30 / 10)
FORCE_IDLE_S = 3.0
# Correlation gate: a microphone window this correlated with the reply is the reply.
ECHO_DOMINATES = 0.6
