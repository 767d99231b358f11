"""The protocol side of ``xtalk-client``: login, connecting, and handling server messages.

See ``docs/protocol.md``. The session prints what happens to a :class:`Console`, applies
playback messages to a :class:`~xtalk.client.playback.PlaybackController`, and sends
everything through one outbox (a single writer task keeps the order).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from xtalk.client.playback import PlaybackController
from xtalk.client.wire import ReplyAudio, WireDecoder, WireFormatError

# exit codes
EXIT_OK = 0
EXIT_ERROR = 1  # connection refused / closed, protocol or file error
EXIT_USAGE = 2  # bad arguments, no audio device
EXIT_AUTH = 3  # login or token refused
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

AUTH_CLOSE_CODES = {
    4401: "the server requires a valid token (missing, invalid or expired): pass --token, "
          "or --user and --password",
    4403: "access denied by the server (origin or host refused)",
}
OTHER_CLOSE_CODES = {
    4400: "the server refused the request as malformed",
    4404: "no such session (check --session)",
    4409: "that session is already open elsewhere",
}


class ClientError(Exception):
    """A failure to report to the user as one clear line, with an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --------------------------------------------------------------------------- console
class Console:
    """Terminal output: transcripts and replies on ``out``, problems on ``err``.

    On a terminal, partial transcripts / replies are shown inline (rewritten in place);
    otherwise only final lines are printed.
    """

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None,
                 inline: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.inline = self.out.isatty() if inline is None else inline
        self._partial = False

    def _clear_partial(self) -> None:
        if self._partial:
            self.out.write("\r\033[K")
            self._partial = False

    def partial(self, text: str) -> None:
        if not self.inline:
            return
        width = 200
        self.out.write("\r\033[K" + (text if len(text) <= width else "…" + text[-width:]))
        self.out.flush()
        self._partial = True

    def line(self, text: str) -> None:
        self._clear_partial()
        print(text, file=self.out, flush=True)

    def status(self, text: str) -> None:
        self._clear_partial()
        self.out.flush()
        print(text, file=self.err, flush=True)

    def error(self, text: str) -> None:
        self.status(f"xtalk-client: {text}")


# --------------------------------------------------------------------------- URLs / auth
def check_ws_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ClientError(f"not a WebSocket URL: {url!r} (expected ws://host:port/ws)",
                          EXIT_USAGE)
    return url


def session_url(url: str, token: str | None = None, session_id: str | None = None) -> str:
    """``url`` with ``?token=`` / ``?session_id=`` added."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in ("token", "session_id")]
    if token:
        query.append(("token", token))
    if session_id:
        query.append(("session_id", session_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


def redact(url: str) -> str:
    """``url`` without its query (which may hold a token)."""
    return urlunsplit(urlsplit(url)._replace(query=""))


def login_url(ws_url: str) -> str:
    """``http(s)://host:port[/prefix]/api/auth/login`` for ``ws(s)://host:port[/prefix]/ws``."""
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    path = parts.path.rstrip("/")
    prefix = path[: -len("/ws")] if path.endswith("/ws") else ""
    return urlunsplit((scheme, parts.netloc, prefix + "/api/auth/login", "", ""))


def ssl_context(url: str, cafile: str | None) -> ssl.SSLContext | None:
    if urlsplit(url).scheme not in ("wss", "https"):
        return None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ClientError(f"cannot load the CA file {cafile}: {exc}", EXIT_USAGE) from exc


def _reason_text(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error: {getattr(reason, 'reason', None) or reason}"
    if isinstance(reason, OSError):
        return reason.strerror or str(reason)
    return str(reason)


def login(ws_url: str, username: str, password: str, *, cafile: str | None = None,
          timeout: float = 15.0) -> str:
    """Log in with ``POST /api/auth/login``; returns the token."""
    url = login_url(ws_url)
    body = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout,
                                    context=ssl_context(url, cafile)) as response:
            payload = json.loads(response.read().decode("utf-8") or "{}")
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise ClientError("login failed: wrong user name or password", EXIT_AUTH) from None
        if exc.code == 429:
            raise ClientError("login refused: too many failed attempts, try again later",
                              EXIT_AUTH) from None
        if exc.code == 403:
            raise ClientError("login refused by the server (HTTP 403)", EXIT_AUTH) from None
        if exc.code == 404:
            raise ClientError(f"the server has no login endpoint ({url} not found)") from None
        raise ClientError(f"login failed: HTTP {exc.code} from {url}") from None
    except urllib.error.URLError as exc:
        raise ClientError(f"cannot connect to {url}: {_reason_text(exc.reason)}") from None
    except (OSError, ValueError) as exc:
        raise ClientError(f"login at {url} failed: {_reason_text(exc)}") from None
    token = payload.get("token") if isinstance(payload, dict) else None
    if not isinstance(token, str) or not token:
        raise ClientError(f"login at {url} returned no token")
    return token


# --------------------------------------------------------------------------- connecting
def _websockets_connect() -> Callable[..., Any]:
    try:
        from websockets.asyncio.client import connect
    except ImportError:  # websockets < 13
        from websockets import connect  # type: ignore[no-redef]
    return connect


def _handshake_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status is None:
        status = getattr(exc, "status_code", None)
    return int(status) if isinstance(status, int) else None


async def open_connection(url: str, *, cafile: str | None = None,
                          open_timeout: float = 10.0) -> Any:
    """Open the WebSocket; failures become :class:`ClientError` with a clear message."""
    import websockets.exceptions as wse

    shown = redact(url)
    try:
        return await _websockets_connect()(
            url, max_size=None, open_timeout=open_timeout, ping_interval=20,
            ssl=ssl_context(url, cafile))
    except ClientError:
        raise
    except wse.InvalidHandshake as exc:
        status = _handshake_status(exc)
        if status in (401, 403):
            raise ClientError(
                f"the server refused the connection (HTTP {status}): authentication "
                "needed — pass --token, or --user and --password", EXIT_AUTH) from None
        if status is not None:
            raise ClientError(f"the server rejected the WebSocket at {shown} "
                              f"(HTTP {status})") from None
        raise ClientError(f"WebSocket handshake with {shown} failed: {exc}") from None
    except (OSError, TimeoutError) as exc:
        raise ClientError(f"cannot connect to {shown}: {_reason_text(exc)}") from None


def close_error(code: int | None, reason: str | None) -> ClientError:
    """The error for a connection the server closed before the client was done."""
    if code in AUTH_CLOSE_CODES:
        return ClientError(f"authentication failed: {AUTH_CLOSE_CODES[code]} "
                           f"(close code {code})", EXIT_AUTH)
    if code in OTHER_CLOSE_CODES:
        return ClientError(f"{OTHER_CLOSE_CODES[code]} (close code {code})")
    if code in (None, 1006):
        return ClientError("the connection to the server was lost")
    detail = f"code {code}" + (f": {reason}" if reason else "")
    return ClientError(f"the server closed the connection ({detail})")


# --------------------------------------------------------------------------- session
@dataclass
class TurnLog:
    """What was said in the session (for the final summary and tests)."""

    transcripts: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def format_latency(data: dict[str, Any]) -> str:
    names = [("e2e_ms", "e2e"), ("endpoint_ms", "endpoint"), ("asr_ms", "asr"),
             ("llm_first_token_ms", "llm first token"), ("llm_sentence_ms", "llm sentence"),
             ("tts_first_chunk_ms", "tts first chunk"), ("network_ms", "network")]
    parts = []
    for key, label in names:
        value = data.get(key)
        if isinstance(value, int | float):
            parts.append(f"{label} {value:.0f} ms")
    saved = data.get("speculation_saved_ms")
    if isinstance(saved, int | float) and saved > 0:
        parts.append(f"saved by preparing early {saved:.0f} ms")
    cue = data.get("cue_ms")
    if isinstance(cue, int | float) and cue > 0:
        parts.append(f"“hmm” after {cue:.0f} ms")
    turn = data.get("turn_id")
    return f"[latency] turn {turn}: " + (", ".join(parts) if parts else "no figures")


class ClientSession:
    """Handles the server's messages for one connection.

    Args:
        ws: The open WebSocket.
        console: Where to print.
        playback: Receives the playback messages and reply audio.
    """

    def __init__(self, ws: Any, console: Console, playback: PlaybackController) -> None:
        self.ws = ws
        self.console = console
        self.playback = playback
        self.log = TurnLog()
        self.outbox: asyncio.Queue[str | bytes] = asyncio.Queue()
        self.ready = asyncio.Event()  # session_info arrived
        self.session_id: str | None = None
        self.finished_turns: set[Any] = set()  # turns whose tts_finished arrived
        self.stopped_turns: set[Any] = set()
        self.merged_turns: set[Any] = set()  # turns withdrawn into a later one (turn_merged)
        self.speech_recognised = False  # the server reported any (partial) transcript
        self.noise_heard = False  # the server rejected an utterance as noise
        self.last_final_turn: int | None = None  # turn id of the latest finish_asr
        self.input_done = asyncio.Event()  # the scripted input was all sent
        self.changed = asyncio.Event()  # set after every message (for waiters)
        self._decoder = WireDecoder()
        playback.on_change = self.changed.set

    @property
    def replies_finished(self) -> int:
        """Replies whose audio was all sent (``tts_finished``), also ones cut off later;
        not those withdrawn because the speaker went on (``turn_merged``)."""
        return len(self.finished_turns - self.merged_turns)

    def replies_expected(self, turns: int) -> int:
        """How many replies ``turns`` spoken turns get: the server merges a turn into the
        next when the speaker went on after a pause, which leaves one reply fewer."""
        return max(1, turns - len(self.merged_turns))

    @property
    def latest_reply_complete(self) -> bool:
        """The reply to the latest recognised turn was sent in full and not stopped (a
        reply's audio is sent faster than real time, so its ``tts_finished`` may come
        before a barge-in stops it)."""
        if self.last_final_turn is not None and self.last_final_turn not in self.finished_turns:
            return False
        latest = max((t for t in self.finished_turns if isinstance(t, int)), default=None)
        return latest is None or latest not in self.stopped_turns

    def mark_input_done(self) -> None:
        self.input_done.set()
        self.changed.set()

    # ---------------------------------------------------------------- sending
    def send_json(self, message: dict[str, Any]) -> None:
        self.outbox.put_nowait(json.dumps(message))

    def send_audio(self, frame: bytes) -> None:
        if self.ready.is_set():
            self.outbox.put_nowait(frame)

    async def writer(self) -> None:
        while True:
            item = await self.outbox.get()
            try:
                await self.ws.send(item)
            finally:
                self.outbox.task_done()

    # ---------------------------------------------------------------- receiving
    async def reader(self) -> None:
        """Handle messages until the server closes the connection; a close the client did
        not ask for raises :class:`ClientError`."""
        import websockets.exceptions as wse

        try:
            async for message in self.ws:
                self.handle(message)
        except wse.ConnectionClosed:
            pass
        code = getattr(self.ws, "close_code", None)
        reason = getattr(self.ws, "close_reason", None)
        raise close_error(code, reason)

    def handle(self, message: str | bytes) -> None:
        try:
            try:
                decoded = self._decoder.decode(message)
            except WireFormatError as exc:
                self.console.error(f"{exc} (ignored)")
                return
            if isinstance(decoded, ReplyAudio):
                self._audio(decoded)
            else:
                handler = getattr(self, f"_on_{decoded.action}", None)
                if handler is not None:
                    handler(decoded.data)
        finally:
            self.changed.set()

    def _audio(self, audio: ReplyAudio) -> None:
        if audio.turn_id in self.stopped_turns:
            return
        self.playback.chunk(audio.pcm, audio.sample_rate, turn_id=audio.turn_id,
                            chunk_index=audio.chunk_index)

    # ---------------------------------------------------------------- handlers
    def _on_session_info(self, data: dict[str, Any]) -> None:
        self.session_id = data.get("session_id")
        self.console.status(f"connected, session {self.session_id}")
        self.ready.set()

    def _on_session_attached(self, data: dict[str, Any]) -> None:
        messages = data.get("messages") or []
        self.console.status(f"attached to session {data.get('session_id')} "
                            f"({len(messages)} earlier messages)")

    def _on_queue_status(self, data: dict[str, Any]) -> None:
        self.console.status(f"the server is busy: waiting in line (position "
                            f"{data.get('position')})")

    def _on_queue_granted(self, data: dict[str, Any]) -> None:
        self.console.status("admitted")

    def _on_update_asr(self, data: dict[str, Any]) -> None:
        self.speech_recognised = True
        self.console.partial(f"You: {data.get('text', '')}")

    def _on_finish_asr(self, data: dict[str, Any]) -> None:
        self.speech_recognised = True
        turn = data.get("turn_id")
        if isinstance(turn, int) and (self.last_final_turn is None
                                      or turn > self.last_final_turn):
            self.last_final_turn = turn
        text = str(data.get("text", ""))
        self.log.transcripts.append(text)
        self.console.line(f"You: {text}")

    def _on_update_resp(self, data: dict[str, Any]) -> None:
        self.console.partial(f"Assistant: {data.get('text', '')}")

    def _on_finish_resp(self, data: dict[str, Any]) -> None:
        text = str(data.get("text", ""))
        self.log.replies.append(text)
        self.console.line(f"Assistant: {text}")

    def _on_start_tts(self, data: dict[str, Any]) -> None:
        self.playback.start()

    def _on_pause_tts(self, data: dict[str, Any]) -> None:
        self.playback.pause()

    def _on_resume_tts(self, data: dict[str, Any]) -> None:
        self.playback.resume()

    def _on_stop_tts(self, data: dict[str, Any]) -> None:
        self.stopped_turns.add(data.get("turn_id"))
        self.playback.stop()

    def _on_invalid_asr_result(self, data: dict[str, Any]) -> None:
        self.noise_heard = True
        self.console.status("(the server heard noise, not speech)")

    def _on_backchannel(self, data: dict[str, Any]) -> None:
        self.console.status(f"(heard {str(data.get('text', '')).strip()!r} as listening: "
                            "the reply goes on)")

    def _on_turn_merged(self, data: dict[str, Any]) -> None:
        self.merged_turns.add(data.get("turn_id"))
        self.console.status(f"(you went on: turn {data.get('turn_id')} and its reply give "
                            f"way to turn {data.get('into_turn_id')}, the whole request)")
        self.console.line(f"You: {data.get('text', '')}")

    def _on_tts_finished(self, data: dict[str, Any]) -> None:
        self.finished_turns.add(data.get("turn_id"))
        self.playback.tts_finished()

    def _on_latency_metrics(self, data: dict[str, Any]) -> None:
        self.console.line(format_latency(data))

    def _on_error(self, data: dict[str, Any]) -> None:
        code = data.get("code")
        message = str(data.get("message", ""))
        self.log.errors.append(f"{code}: {message}")
        self.console.error(f"server error{f' [{code}]' if code else ''}: {message}")

    def _on_tool_called(self, data: dict[str, Any]) -> None:
        self.console.line(f"[tool] {data.get('name')}")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 3.0)
