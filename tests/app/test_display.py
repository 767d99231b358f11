"""``xtalk-app`` where no window can open: one clear message and exit 2, never Qt's abort."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from paths import ROOT

from app.display import debian_package, missing_libraries, window_unavailable_reason

LDD = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /opt/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-cursor.so.0 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)
"""


def test_missing_x11_libraries_are_named_with_their_package() -> None:
    assert missing_libraries(LDD) == ["libxcb-cursor.so.0", "libxkbcommon-x11.so.0"]
    assert [debian_package(n) for n in missing_libraries(LDD)] == [
        "libxcb-cursor0", "libxkbcommon-x11-0"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check is Linux's")
def test_what_counts_as_a_display() -> None:
    assert "no display" in window_unavailable_reason({})
    assert window_unavailable_reason({"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert window_unavailable_reason({"QT_QPA_PLATFORM": "offscreen"}) is None
    # with DISPLAY, only libraries can be missing: whatever this machine lacks is named
    reason = window_unavailable_reason({"DISPLAY": ":0"})
    assert reason is None or "apt-get install" in reason


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the check is Linux's")
def test_no_display_exits_2_with_the_alternatives(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["XTALK_CONFIG_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "no window can open: there is no display" in done.stderr
    assert "--no-window" in done.stderr and "xtalk-server" in done.stderr
    assert "Traceback" not in done.stderr and "qt.qpa" not in done.stderr
