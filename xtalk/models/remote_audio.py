"""Shared pieces of the remote (HTTP) speech adapters: errors, requests, WAV.

Every HTTP failure of a remote model becomes a :class:`RemoteModelError` whose message
says which server failed and how (connection refused, timeout, HTTP status, a body that is
not audio); the adapter keeps no broken state, so the next request simply tries again.
Messages name the server by scheme, host, port and path only (credentials and query strings
are never included) and API keys are never part of an error or a log line.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import wave
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import numpy as np

__all__ = [
    "HttpConnection",
    "RemoteModelError",
    "bad_audio",
    "check_url",
    "decode_wav",
    "encode_wav",
    "error_from_response",
    "error_from_transport",
    "make_timeout",
    "safe_url",
]

_AUDIO_ERROR_BODY_CHARS = 200


class RemoteModelError(RuntimeError):
    """A remote model server could not serve a request (recoverable: retry later).

    Attributes:
        kind: ``"connection"`` (refused / unreachable), ``"timeout"``, ``"http_status"``
            (a non-200 answer), ``"bad_response"`` (a body that is not what was expected).
        status: The HTTP status for ``"http_status"``, else ``None``.
    """

    def __init__(self, message: str, kind: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


# --------------------------------------------------------------------------- URLs, timeouts
def check_url(url: Any, what: str) -> str:
    """``url`` without a trailing slash; ValueError unless it is an http(s) URL."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"{what} must be an http(s) URL string, got {url!r}")
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http(s) URL such as http://127.0.0.1:8000, "
                         f"got {safe_url(url)!r}")
    return url


def safe_url(url: str) -> str:
    """``url`` for messages: user info, query and fragment removed."""
    try:
        parts = urlsplit(str(url))
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<invalid url>"


def make_timeout(timeout_s: Any, connect_timeout_s: Any) -> httpx.Timeout:
    """An httpx timeout: ``connect_timeout_s`` to connect, ``timeout_s`` for the rest."""
    for name, value in (("timeout_s", timeout_s), ("connect_timeout_s", connect_timeout_s)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return httpx.Timeout(float(timeout_s), connect=float(connect_timeout_s))


# --------------------------------------------------------------------------- errors
def bearer_headers(api_key: str | None, base_url: str) -> dict[str, str]:
    """``Authorization`` for an OpenAI-compatible server: ``api_key``, else
    ``OPENAI_API_KEY`` when ``base_url`` is OpenAI's own (never sent to other servers);
    none without a key."""
    key = api_key or (os.environ.get("OPENAI_API_KEY", "") if "api.openai.com" in base_url
                      else "")
    return {"Authorization": f"Bearer {key}"} if key else {}


def error_from_transport(service: str, url: str, exc: httpx.HTTPError,
                         timeout: httpx.Timeout | None = None) -> RemoteModelError:
    """A clear :class:`RemoteModelError` for an httpx transport failure."""
    where = f"{service} server at {safe_url(url)}"
    if isinstance(exc, httpx.ConnectTimeout):
        limit = f" within {timeout.connect:g} s" if timeout and timeout.connect else ""
        return RemoteModelError(f"cannot connect to the {where}: no answer{limit} "
                                "(is the host reachable?)", "timeout")
    if isinstance(exc, httpx.TimeoutException):
        limit = f" within {timeout.read:g} s" if timeout and timeout.read else ""
        return RemoteModelError(f"the {where} did not answer{limit} (timeout)", "timeout")
    if isinstance(exc, httpx.ConnectError):
        return RemoteModelError(f"cannot connect to the {where}: connection refused or host "
                                f"unreachable ({_reason(exc)}); is the server running?",
                                "connection")
    return RemoteModelError(f"the request to the {where} failed: {_reason(exc)}",
                            "connection")


def error_from_response(service: str, url: str, status: int, body: bytes,
                        headers: Mapping[str, str] | None = None) -> RemoteModelError:
    """A clear :class:`RemoteModelError` for a non-200 answer (with a short body excerpt)."""
    detail = _body_excerpt(body, (headers or {}).get("content-type", ""))
    reason = httpx.codes.get_reason_phrase(status)
    text = f"the {service} server at {safe_url(url)} answered HTTP {status}"
    text += f" {reason}" if reason else ""
    return RemoteModelError(text + (f": {detail}" if detail else ""), "http_status", status)


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _body_excerpt(body: bytes, content_type: str) -> str:
    if not body:
        return ""
    if not content_type.startswith(("text/", "application/json", "application/problem")) \
            and b"\0" in body[:512]:
        return f"({len(body)} bytes of {content_type or 'binary data'})"
    text = " ".join(body[:_AUDIO_ERROR_BODY_CHARS * 2].decode("utf-8", "replace").split())
    if len(text) > _AUDIO_ERROR_BODY_CHARS:
        text = text[:_AUDIO_ERROR_BODY_CHARS - 3] + "..."
    return text


# --------------------------------------------------------------------------- requests
class HttpConnection:
    """How an adapter reaches its server: timeouts, default headers and one pooled
    ``httpx.Client`` for requests made in worker threads (shared by the adapter and its
    clones); :meth:`apost` uses a short-lived ``httpx.AsyncClient`` in the caller's loop.

    Args:
        service: The server's name for messages (``"IndexTTS"``...).
        timeout: The httpx timeout.
        headers: Default headers (an ``Authorization`` header here is sent, never shown).
    """

    def __init__(self, service: str, timeout: httpx.Timeout,
                 headers: Mapping[str, str] | None = None) -> None:
        self.service = service
        self.timeout = timeout
        self._headers = dict(headers or {})
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HttpConnection({self.service!r})"

    def _sync_client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout, headers=self._headers)
            return self._client

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST and read the whole answer (worker threads only).

        Raises:
            RemoteModelError: The server could not be reached, timed out or answered with
                a status other than 200.
        """
        try:
            response = self._sync_client().post(url, **kwargs)
        except httpx.HTTPError as exc:
            raise error_from_transport(self.service, url, exc, self.timeout) from exc
        return self._checked(url, response)

    async def apost(self, url: str, **kwargs: Any) -> httpx.Response:
        """:meth:`post` for asyncio code (never blocks the event loop)."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout, headers=self._headers) as client:
                response = await client.post(url, **kwargs)
        except httpx.HTTPError as exc:
            raise error_from_transport(self.service, url, exc, self.timeout) from exc
        return self._checked(url, response)

    def _checked(self, url: str, response: httpx.Response) -> httpx.Response:
        if response.status_code != 200:
            raise error_from_response(self.service, url, response.status_code,
                                      response.content, response.headers)
        return response

    def stream(self, url: str, **kwargs: Any) -> Any:
        """``httpx.Client.stream("POST", ...)`` context manager (worker threads only)."""
        return self._sync_client().stream("POST", url, **kwargs)

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def bad_audio(service: str, url: str, reason: str) -> RemoteModelError:
    return RemoteModelError(f"the {service} server at {safe_url(url)} answered with "
                            f"something that is not usable audio: {reason}", "bad_response")


# --------------------------------------------------------------------------- WAV
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE


def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Decode a WAV file to (PCM16 mono samples, sample rate).

    Integer PCM (8/16/24/32 bit) and IEEE float (32/64 bit) are read, also inside
    WAVE_FORMAT_EXTENSIBLE; several channels are averaged. A ``data`` chunk whose size is
    0 or 0xFFFFFFFF (written by streaming servers before the length was known) runs to the
    end of the file.

    Raises:
        ValueError: ``data`` is not a WAV file this function can read (the message says why).
    """
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        start = " ".join(data[:16].decode("latin-1").split())
        raise ValueError(f"not a WAV file ({len(data)} bytes starting with {start[:16]!r})")
    fmt: tuple[int, int, int, int] | None = None  # (format, channels, rate, bits)
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos:pos + 4]
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        start = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or start + 16 > len(data):
                raise ValueError("WAV file has a truncated fmt chunk")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[start:start + 16])
            if tag == _EXTENSIBLE and size >= 26 and start + 26 <= len(data):
                tag = struct.unpack("<H", data[start + 24:start + 26])[0]
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise ValueError("WAV file has no fmt chunk before its data")
            if size in (0, 0xFFFFFFFF) or start + size > len(data):
                size = len(data) - start
            return _to_pcm16(data[start:start + size], *fmt), fmt[2]
        pos = start + size + (size & 1)
    raise ValueError("WAV file has no data chunk")


def _to_pcm16(raw: bytes, tag: int, channels: int, rate: int, bits: int) -> np.ndarray:
    if channels < 1 or rate < 1000:
        raise ValueError(f"WAV file has an invalid format ({channels} channel(s), {rate} Hz)")
    width = bits // 8
    if bits % 8 or width == 0:
        raise ValueError(f"WAV sample size of {bits} bits is not supported")
    frame = width * channels
    raw = raw[:len(raw) - len(raw) % frame]
    if tag == _PCM and bits == 16:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    elif tag == _PCM and bits == 8:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    elif tag == _PCM and bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        samples = value.astype(np.float64) / 256.0
    elif tag == _PCM and bits == 32:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536.0
    elif tag == _FLOAT and bits in (32, 64):
        dtype = "<f4" if bits == 32 else "<f8"
        samples = np.frombuffer(raw, dtype=dtype).astype(np.float64) * 32767.0
    else:
        raise ValueError(f"WAV encoding (format {tag}, {bits} bit) is not supported; "
                         "expected integer PCM or IEEE float")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    samples = np.nan_to_num(samples, nan=0.0, posinf=32767.0, neginf=-32768.0)
    return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


def encode_wav(pcm: np.ndarray, sample_rate: int) -> bytes:
    """A PCM16 mono WAV file of ``pcm``."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(np.asarray(pcm, dtype="<i2").tobytes())
    return buffer.getvalue()
