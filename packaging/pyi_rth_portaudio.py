"""PyInstaller runtime hook: let sounddevice load the PortAudio library in the bundle.

On Linux sounddevice looks PortAudio up with ``ctypes.util.find_library("portaudio")``,
which searches the system (ldconfig), never the bundle, although PyInstaller collected
``libportaudio.so.2`` into it. This hook answers that one lookup with the bundled copy.
On Windows and macOS the sounddevice wheel carries its own PortAudio
(``_sounddevice_data/portaudio-binaries``), which sounddevice finds itself.
"""


def _point_sounddevice_at_bundled_portaudio() -> None:
    import ctypes.util
    import glob
    import os
    import sys

    bundle = getattr(sys, "_MEIPASS", None)
    if not bundle or not sys.platform.startswith("linux"):
        return
    found = sorted(glob.glob(os.path.join(bundle, "libportaudio.so*")))
    if not found:
        return
    bundled = found[0]
    original = ctypes.util.find_library

    def find_library(name: str) -> str | None:
        if name == "portaudio":
            return bundled
        return original(name)

    ctypes.util.find_library = find_library


_point_sounddevice_at_bundled_portaudio()
