"""``xtalk-client``: a terminal client for an Xtalk server (live microphone/speaker mode,
and a scripted mode driven by WAV files or typed text). See :mod:`xtalk.client.cli`."""
