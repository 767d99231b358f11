"""A scripted HTTP server on 127.0.0.1: a test double for remote speech model servers
(index-tts, OpenAI-compatible /v1/audio/speech and /v1/audio/transcriptions).

A real HTTP server (``http.server``, threaded, in a background thread) that records every
request (method, path, headers, body) and answers through a handler given by the test::

    def handler(request: Recorded) -> Reply:
        assert request.path == "/tts_url"
        return Reply(200, "audio/wav", wav_bytes)

    with ScriptedSpeechServer(handler) as server:
        ...  # server.base_url, server.requests

Steps queued with :meth:`ScriptedSpeechServer.script` are used before the handler, one per
request: :class:`Fail` (an HTTP error status), :class:`Hang` (sleep before answering, longer
than the client's timeout) and :class:`Garbage` (200 with a body that is not audio).
:meth:`stop` takes the server down (connections are refused); :meth:`start` brings it back
on the same port. A :class:`Reply` may carry ``pieces`` to stream its body in parts.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Fail", "Garbage", "Hang", "Recorded", "Reply", "ScriptedSpeechServer"]


@dataclass
class Recorded:
    """One request as received."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def assert_bearer(self, key: str | None) -> None:
        """The request carries ``Authorization: Bearer key``, or none when ``key`` is
        ``None``."""
        if key is None:
            assert "authorization" not in self.headers
        else:
            assert self.headers.get("authorization") == f"Bearer {key}"

    def multipart(self) -> tuple[dict[str, str], dict[str, tuple[str | None, str, bytes]]]:
        """(fields, files) of a multipart/form-data body; files: name -> (filename,
        content type, data)."""
        content_type = self.headers.get("content-type", "")
        assert content_type.startswith("multipart/form-data"), content_type
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + self.body)
        fields: dict[str, str] = {}
        files: dict[str, tuple[str | None, str, bytes]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                files[str(name)] = (filename, part.get_content_type(), data)
            else:
                fields[str(name)] = data.decode()
        return fields, files


@dataclass
class Reply:
    status: int = 200
    content_type: str = "application/json"
    body: bytes = b""
    pieces: Sequence[bytes] = ()  # stream these (after ``body``), one write each
    piece_delay_s: float = 0.0


@dataclass
class Fail:
    status: int = 500
    body: bytes = b'{"error": {"message": "scripted failure"}}'


@dataclass
class Hang:
    seconds: float = 3.0


@dataclass
class Garbage:
    body: bytes = b"<html><body>502 Bad Gateway from some proxy</body></html>"
    content_type: str = "text/html"


Step = Fail | Hang | Garbage
Handler = Callable[[Recorded], Reply]


@dataclass
class ScriptedSpeechServer:
    """The scripted server (a context manager); see the module docstring."""

    handler: Handler
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0
    _steps: list[Step] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *steps: Step) -> ScriptedSpeechServer:
        with self._lock:
            self._steps.extend(steps)
        return self

    def _next_step(self) -> Step | None:
        with self._lock:
            return self._steps.pop(0) if self._steps else None

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> ScriptedSpeechServer:
        if self._server is not None:
            return self
        owner = self

        class RequestHandler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Recorded("POST", self.path,
                                   {k.lower(): v for k, v in self.headers.items()}, body)
                owner._record(request)
                step = owner._next_step()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    if isinstance(step, Hang):
                        time.sleep(step.seconds)
                        self._send(Reply(500, "text/plain", b"too late"))
                    elif isinstance(step, Fail):
                        self._send(Reply(step.status, "application/json", step.body))
                    elif isinstance(step, Garbage):
                        self._send(Reply(200, step.content_type, step.body))
                    else:
                        try:
                            reply = owner.handler(request)
                        except AssertionError as exc:  # a request the test did not expect
                            reply = Reply(400, "text/plain", f"bad request: {exc}".encode())
                        self._send(reply)

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                if not reply.pieces:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                for piece in reply.pieces:
                    self.wfile.flush()
                    if reply.piece_delay_s:
                        time.sleep(reply.piece_delay_s)
                    self.wfile.write(piece)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        server = Server(("127.0.0.1", self.port), RequestHandler)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"scripted-speech-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Take the server down: new connections are refused until :meth:`start`."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedSpeechServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
