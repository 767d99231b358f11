"""``xtalk-server``: serve the assistant over WebSocket (headless).

Binds to 127.0.0.1 by default. The full serving layer (login, stored sessions, uploads,
LAN mode) is built on ``Xtalk.mount_routes``; this command runs the session endpoint.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from fastapi import FastAPI, WebSocket

from xtalk.registry import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "resources" / "default_config.json"


def build_app(config: str | Path | dict):
    """A FastAPI app with the session WebSocket at ``/ws``."""
    from xtalk.api import Xtalk

    xtalk = Xtalk.from_config(config if isinstance(config, dict) else str(config))
    app = FastAPI(title="Xtalk", version="0.1.0")
    app.state.xtalk = xtalk

    @app.websocket("/ws")
    async def session(websocket: WebSocket) -> None:
        await xtalk.connect(websocket)

    @app.get("/healthz")
    async def health() -> dict[str, object]:
        return {"status": "ok", "sessions": len(xtalk.sessions)}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xtalk-server", description=__doc__)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG),
                        help="pipeline configuration (JSON, Xtalk.from_config format)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = build_app(args.config)
    except ConfigError as exc:
        print(f"xtalk-server: configuration error: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
