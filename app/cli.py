"""Command line of the desktop app: ``xtalk-app`` / ``python -m app``.

::

    xtalk-app [--config FILE] [--no-window] [--input-wav FILE] [--output-wav FILE]
              [--text "..."] [--input-device NAME] [--output-device NAME] [--timeout S]
    xtalk-app --server [xtalk-server arguments]

``--config`` takes the ``Xtalk.from_config`` JSON format; by default
``resources/default_config.json`` merged with the user's settings
(``platformdirs.user_config_dir("xtalk")/settings.json``, see :mod:`app.settings`). An
explicit ``--config`` is used as given. Without ``--no-window`` the GUI starts
(``app.gui.run_gui(args)``); ``--no-window`` runs one exchange headless
(:mod:`app.headless`). ``--server`` (first argument) runs the HTTP/WebSocket server instead,
with every following argument passed to ``xtalk-server`` (:func:`xtalk.server_cli.main`), so
one binary serves both uses.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from xtalk.resource_paths import default_config_path

DEFAULT_CONFIG = default_config_path()
EXIT_USAGE = 2
SERVER_FLAG = "--server"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xtalk-app", description="Xtalk desktop voice assistant.")
    parser.add_argument("--config", metavar="FILE",
                        help="engine configuration (JSON, Xtalk.from_config format); "
                             "default: resources/default_config.json with your settings")
    parser.add_argument("--no-window", action="store_true",
                        help="run headless: one exchange, then exit")
    parser.add_argument("--input-wav", metavar="FILE",
                        help="headless: take the microphone from this file (real time)")
    parser.add_argument("--output-wav", metavar="FILE",
                        help="headless: write what was played to this WAV file")
    parser.add_argument("--text", metavar="TEXT", help="headless: type this message")
    parser.add_argument("--input-device", metavar="NAME",
                        help="microphone (name; default: settings, else system default)")
    parser.add_argument("--output-device", metavar="NAME",
                        help="speaker (name; default: settings, else system default)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S",
                        help="headless: give up this long after the input ended "
                             "(default 60)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument(SERVER_FLAG, action="store_true",
                        help="run the HTTP/WebSocket server (headless, also for the LAN) "
                             "instead of the app; must come first, every following argument "
                             "is xtalk-server's (see: --server --help)")
    return parser


def load_config(path: str | None, merge_settings: bool = True) -> dict[str, Any]:
    """The configuration to run: ``path`` as given, or the default configuration with the
    user's settings merged in (unless ``merge_settings`` is false: the window merges them
    itself, and again when they change).

    Raises:
        ValueError: The file cannot be read or is not a JSON object.
    """
    if path is not None:
        return _read_json(Path(path))
    config = _read_json(DEFAULT_CONFIG)
    if not merge_settings:
        return config
    from app.settings import load_settings, merge_into_config

    return merge_into_config(config, load_settings())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"config file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a JSON object")
    return data


def _devices_from_settings(args: argparse.Namespace) -> tuple[str | None, str | None]:
    input_device, output_device = args.input_device, args.output_device
    if input_device is None or output_device is None:
        try:
            from app.settings import load_settings

            settings = load_settings()
        except Exception:
            settings = {}
        input_device = input_device or settings.get("input_device")
        output_device = output_device or settings.get("output_device")
    return input_device, output_device


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == [SERVER_FLAG]:
        from xtalk.server_cli import main as server_main

        return int(server_main(argv[1:]) or 0)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.server:
        parser.error(f"{SERVER_FLAG} must be the first argument "
                     f"(xtalk-app {SERVER_FLAG} [xtalk-server arguments])")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    headless_only = [opt for opt, value in (("--input-wav", args.input_wav),
                                            ("--output-wav", args.output_wav),
                                            ("--text", args.text)) if value]
    if headless_only and not args.no_window:
        parser.error(f"{', '.join(headless_only)} need --no-window")
    try:
        config = load_config(args.config, merge_settings=args.no_window)
    except ValueError as exc:
        print(f"xtalk-app: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.no_window:
        from app.display import ALTERNATIVES, window_unavailable_reason

        reason = window_unavailable_reason()
        if reason is not None:
            print(f"xtalk-app: no window can open: {reason}.\nxtalk-app: {ALTERNATIVES}.",
                  file=sys.stderr)
            return EXIT_USAGE
        try:
            from app.gui import run_gui
        except ImportError as exc:
            print("xtalk-app: the window cannot start: the GUI (app.ui, PySide6 and qasync) "
                  f"is not available ({exc}). Use --no-window for the headless mode.",
                  file=sys.stderr)
            return EXIT_USAGE
        args.engine_config = config
        return int(run_gui(args) or 0)

    from app.headless import run_headless

    input_device, output_device = _devices_from_settings(args)
    try:
        return run_headless(config, input_wav=args.input_wav, output_wav=args.output_wav,
                            text=args.text, input_device=input_device,
                            output_device=output_device, timeout=args.timeout)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
