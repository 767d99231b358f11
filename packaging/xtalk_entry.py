"""Entry point of the PyInstaller build (``xtalk``): the desktop app, ``--no-window`` for
one headless exchange, ``--server`` for the HTTP/WebSocket server (see :mod:`app.cli`).

A frozen program has no Python interpreter to run ``sys.executable -c CODE`` with, yet the
app starts such children (the audio device list in a fresh process, the PortAudio/ALSA
probe of ``xtalk.client.cli``). ``xtalk -c CODE`` therefore runs CODE like ``python -c``
would; everything else goes to :func:`app.cli.main`.
"""

from __future__ import annotations

import multiprocessing
import sys


def run_code(code: str, args: list[str]) -> int:
    """Run ``code`` as ``python -c code args...`` does (``__name__ == "__main__"``)."""
    sys.argv = ["-c", *args]
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(code, "<string>", "exec"), namespace)
    except SystemExit as exc:
        code_ = exc.code
        if code_ is None or isinstance(code_, int):
            return code_ or 0
        print(code_, file=sys.stderr)
        return 1
    return 0


def main() -> int:
    multiprocessing.freeze_support()
    argv = sys.argv[1:]
    if len(argv) >= 2 and argv[0] == "-c":
        return run_code(argv[1], argv[2:])
    from app.cli import main as app_main

    return int(app_main(argv) or 0)


if __name__ == "__main__":
    sys.exit(main())
