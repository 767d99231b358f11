"""Local audio for the desktop app: devices, microphone capture, speaker playback and the
echo gate (barge-in without self-interruption). Qt-free; sounddevice is imported lazily
so the app still starts without PortAudio (text input keeps working)."""
