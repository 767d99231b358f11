"""A scripted OpenAI-compatible chat server: a test double for LLM agents.

A real HTTP server (FastAPI + uvicorn, in a background thread, on a free port of 127.0.0.1)
implementing ``GET /v1/models`` and ``POST /v1/chat/completions`` (streaming SSE and
non-streaming), replying from a script::

    with ScriptedLLMServer(model="tiny") as server:
        server.script("Hello there!", ToolCall("get_current_time", {}), "It is noon.")
        chat = ChatOpenAI(base_url=server.base_url, api_key="x", model="tiny")
        ...
        assert server.requests[0]["max_tokens"] == 256

Every chat completion request consumes the next step (when the script is exhausted the
server answers :attr:`ScriptedLLMServer.default_reply`); steps added with
``script_for(key, ...)`` are only consumed by requests whose last user message contains
``key`` (a speculative reply to half a sentence does not take the whole sentence's
answer). A step is

* a ``str`` or :class:`Text` — plain text, streamed word by word (optional delays);
* a :class:`ToolCall` (or a list of them) — streamed as ``tool_calls`` deltas: id and name
  first, then the JSON arguments in several pieces; ``finish_reason == "tool_calls"``;
* :class:`Fail` — an HTTP error (500 by default) with an OpenAI-style error body;
* :class:`Hang` — the server sleeps before answering (longer than the client's timeout);
* :class:`NoDone` — text is streamed but ``data: [DONE]`` never comes: the server then
  keeps the connection open (``then="hang"``) or closes it (``then="close"``).

``reject_tools=True`` makes the server answer HTTP 400 ("tools are not supported") to any
request carrying ``tools``, without consuming a step (a server without tool calling).

Every chat request body is recorded in :attr:`requests` (and its ``Authorization`` header in
:attr:`auth_headers`), so tests can assert on ``messages``, ``tools``, ``max_tokens``...
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from threaded_server import ThreadedServer

__all__ = ["Fail", "Hang", "NoDone", "ScriptedLLMServer", "Text", "ToolCall", "free_port"]


# --------------------------------------------------------------------------- script steps
@dataclass
class Text:
    """A plain text reply, streamed word by word."""

    text: str
    token_delay_s: float = 0.0
    first_token_delay_s: float = 0.0


@dataclass
class ToolCall:
    """One tool call of the assistant (``arguments``: a dict, or a raw JSON string)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@dataclass
class Fail:
    """An HTTP error reply."""

    status: int = 500
    message: str = "internal server error (scripted)"


@dataclass
class Hang:
    """Sleep ``seconds`` before answering (then answer ``then``, a text)."""

    seconds: float = 30.0
    then: str = "Sorry I'm late."


@dataclass
class NoDone:
    """Stream ``text`` but never send ``data: [DONE]``; then hang or close the stream."""

    text: str = "This reply never ends"
    then: str = "hang"  # "hang" | "close"
    hang_s: float = 30.0


Step = str | Text | ToolCall | list[ToolCall] | Fail | Hang | NoDone


def _as_step(step: Any) -> Step:
    if isinstance(step, str):
        return Text(step)
    if isinstance(step, Text | ToolCall | Fail | Hang | NoDone):
        return step
    if isinstance(step, list | tuple) and step and all(isinstance(s, ToolCall) for s in step):
        return list(step)
    raise TypeError(f"not a script step: {step!r}")


def _words(text: str) -> list[str]:
    """Word pieces that concatenate back to ``text``, each with the whitespace before it
    (" is", " a", " question."), as a real model's tokenizer streams them."""
    pieces = re.findall(r"\s*\S+", text)
    rest = text[len("".join(pieces)):]
    if pieces and rest:
        pieces[-1] += rest
    return pieces or ([text] if text else [])


def _split_args(args: str, parts: int = 3) -> list[str]:
    if len(args) < parts:
        return [args]
    size = -(-len(args) // parts)
    return [args[i:i + size] for i in range(0, len(args), size)]


def free_port() -> int:
    """A port of 127.0.0.1 that was free a moment ago (for "endpoint down" tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- the server
class ScriptedLLMServer(ThreadedServer):
    """A scripted OpenAI-compatible server on 127.0.0.1 (a context manager).

    Args:
        steps: The initial script (see the module docstring).
        model: The model id listed by ``GET /v1/models`` (first of ``models``).
        models: More model ids to list after ``model``.
        reject_tools: Answer HTTP 400 to requests that carry ``tools``.
        default_reply: Text answered when the script is exhausted.
        token_delay_s: Default delay between streamed pieces.
        first_token_delay_s: Delay before the first piece of the default reply.
    """

    kind = "LLM"

    def __init__(self, steps: Iterable[Any] = (), *, model: str = "scripted-model",
                 models: Sequence[str] = (), reject_tools: bool = False,
                 default_reply: str = "Okay.", token_delay_s: float = 0.0,
                 first_token_delay_s: float = 0.0) -> None:
        super().__init__()
        self.model_ids = [model, *models]
        self.reject_tools = reject_tools
        self.default_reply = default_reply
        self.token_delay_s = token_delay_s
        self.first_token_delay_s = first_token_delay_s
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        self.models_requests = 0
        self._steps: list[Step] = [_as_step(s) for s in steps]
        self._keyed: list[tuple[str, list[Step]]] = []
        self._lock = threading.Lock()
        self.app = self._build_app()

    # ------------------------------------------------------------------ script
    def script(self, *steps: Any) -> ScriptedLLMServer:
        """Append steps to the script."""
        with self._lock:
            self._steps.extend(_as_step(s) for s in steps)
        return self

    def script_for(self, key: str, *steps: Any) -> ScriptedLLMServer:
        """Steps only for requests whose last user message contains ``key``."""
        with self._lock:
            self._keyed.append((key, [_as_step(s) for s in steps]))
        return self

    @property
    def pending_steps(self) -> int:
        with self._lock:
            return len(self._steps) + sum(len(steps) for _, steps in self._keyed)

    def _next_step(self, body: dict[str, Any] | None = None) -> Step:
        user = ""
        for message in (body or {}).get("messages") or []:
            if isinstance(message, dict) and message.get("role") == "user":
                user = str(message.get("content") or "")
        with self._lock:
            for key, steps in self._keyed:
                if key in user and steps:
                    return steps.pop(0)
            if self._steps:
                return self._steps.pop(0)
            return Text(self.default_reply, first_token_delay_s=self.first_token_delay_s)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def last_request(self) -> dict[str, Any]:
        return self.requests[-1]

    # ------------------------------------------------------------------ app
    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def list_models() -> dict[str, Any]:
            self.models_requests += 1
            return {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "scripted"}
                for m in self.model_ids]}

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> Any:
            body = await request.json()
            with self._lock:
                self.requests.append(body)
                self.auth_headers.append(request.headers.get("authorization"))
            if self.reject_tools and body.get("tools"):
                return JSONResponse(status_code=400, content={"error": {
                    "message": "tools are not supported by this model",
                    "type": "invalid_request_error", "param": "tools", "code": None}})
            step = self._next_step(body)
            if isinstance(step, Fail):
                return JSONResponse(status_code=step.status, content={"error": {
                    "message": step.message, "type": "server_error", "param": None,
                    "code": None}})
            if isinstance(step, Hang):
                await self._sleep(step.seconds)
                step = Text(step.then)
            model = body.get("model") or self.model_ids[0]
            if body.get("stream"):
                return StreamingResponse(self._stream(step, model),
                                         media_type="text/event-stream")
            return JSONResponse(self._complete(step, model))

        return app

    # ------------------------------------------------------------------ replies
    @staticmethod
    def _tool_calls(step: Step) -> list[ToolCall]:
        return step if isinstance(step, list) else [step]  # type: ignore[list-item]

    @staticmethod
    def _call_id(call: ToolCall, index: int) -> str:
        return call.id or f"call_{index}_{uuid.uuid4().hex[:8]}"

    @staticmethod
    def _args_json(call: ToolCall) -> str:
        return call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)

    def _complete(self, step: Step, model: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None}
        finish = "stop"
        if isinstance(step, Text | NoDone):
            message["content"] = step.text
        else:
            finish = "tool_calls"
            message["tool_calls"] = [
                {"id": self._call_id(c, i), "type": "function",
                 "function": {"name": c.name, "arguments": self._args_json(c)}}
                for i, c in enumerate(self._tool_calls(step))]
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
                "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    async def _stream(self, step: Step, model: str):
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            data = {"id": cid, "object": "chat.completion.chunk", "created": created,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(data)}\n\n"

        if isinstance(step, Text | NoDone):
            yield chunk({"role": "assistant", "content": ""})
            first_delay = step.first_token_delay_s if isinstance(step, Text) else 0.0
            delay = step.token_delay_s if isinstance(step, Text) else 0.0
            delay = delay or self.token_delay_s
            for i, piece in enumerate(_words(step.text)):
                wait = first_delay if i == 0 else delay
                if wait:
                    await self._sleep(wait)
                yield chunk({"content": piece})
            if isinstance(step, NoDone):
                if step.then == "hang":
                    await self._sleep(step.hang_s)
                return
            yield chunk({}, "stop")
        else:
            yield chunk({"role": "assistant", "content": None})
            for i, call in enumerate(self._tool_calls(step)):
                yield chunk({"tool_calls": [{
                    "index": i, "id": self._call_id(call, i), "type": "function",
                    "function": {"name": call.name, "arguments": ""}}]})
                for piece in _split_args(self._args_json(call)):
                    yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
            yield chunk({}, "tool_calls")
        yield "data: [DONE]\n\n"
