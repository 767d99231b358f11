"""Can a window open here? Asked before Qt is started, because Qt aborts the process (core
dump) when its platform plugin cannot load — no display, or a missing X11 library.

On Linux the check is: a display to talk to (``DISPLAY`` or ``WAYLAND_DISPLAY``), and for
X11 every shared library Qt's xcb plugin links (``ldd`` on the plugin: Debian's
``libxcb-cursor0`` is the usual one missing). Other platforms, and an explicit
``QT_QPA_PLATFORM`` such as ``offscreen``, are left to Qt.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ALTERNATIVES = ("without a window: xtalk-app --no-window --input-wav question.wav "
                "--output-wav reply.wav (or --text \"...\"); or run the server and use the "
                "browser client: xtalk-server")


def _xcb_plugin_files() -> list[Path]:
    spec = importlib.util.find_spec("PySide6")
    folders = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    files = []
    for folder in folders:
        files += sorted((folder / "Qt" / "plugins" / "platforms").glob("libqxcb.so*"))
        files += sorted((folder / "Qt" / "lib").glob("libQt6XcbQpa.so*"))
    return files


def missing_libraries(ldd_output: str) -> list[str]:
    """The ``name.so.N`` entries ``ldd`` reports as ``not found``."""
    return sorted(set(re.findall(r"^\s*(\S+)\s*=>\s*not found", ldd_output, re.MULTILINE)))


def debian_package(soname: str) -> str:
    """A Debian/Ubuntu package name for ``libxcb-cursor.so.0`` → ``libxcb-cursor0``."""
    match = re.match(r"lib(.+?)\.so\.(\d+)", soname)
    if not match:
        return soname
    stem, major = match.groups()
    return f"lib{stem}{'-' if stem[-1].isdigit() else ''}{major}"


def window_unavailable_reason(env: Mapping[str, str] | None = None) -> str | None:
    """Why no window can open here (``None``: Qt should manage)."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return None
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith(("xcb", "wayland")):
        return None  # offscreen, vnc, eglfs...: the user chose
    wayland = bool(env.get("WAYLAND_DISPLAY")) and not platform.startswith("xcb")
    if not env.get("DISPLAY") and not wayland:
        return "there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    if wayland:
        return None
    missing: list[str] = []
    for plugin in _xcb_plugin_files():
        try:
            done = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True,
                                  timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None  # cannot tell: let Qt try
        missing += missing_libraries(done.stdout)
    if missing:
        packages = ", ".join(sorted({debian_package(m) for m in missing}))
        return (f"Qt's X11 platform plugin cannot load: {', '.join(sorted(set(missing)))} "
                f"missing (Debian/Ubuntu: apt-get install {packages})")
    return None


__all__ = ["ALTERNATIVES", "debian_package", "missing_libraries", "window_unavailable_reason"]
