"""LLMAgentConsumptionManager: runs, streams and cancels the agent's generations.

Consumes: GenerationRequested, GenerationCancelRequested, SpeculationConfirmed,
PlaybackStopped (a reply cut off — by barge-in or the client's ``interrupt`` — is not
generated further), ModelChangeRequested (kind "llm"), SessionStarted, SessionStopping.
Emits: ModelChanged, ReplyTextDelta, ToolCalled, ReplyTextCompleted (never for a
cancelled generation), ErrorOccurred (agent failures, with a safe message), VoiceChangeRequested /
SpeedChangeRequested (when the agent's built-in tools ask for them, through the handler
given with ``Agent.set_tool_action_handler``).

When the session starts, the agent resolves its endpoint in the background (``aresolve``:
endpoint probing, importing and building the chat client take ~0.7 s on a 2-core CPU,
which would otherwise be added to the first reply of the process).

One generation runs at a time; a new request cancels the previous one. When the agent
fails or does not start answering within ``agent_timeout_s`` (service config, default 20),
the user gets a short spoken apology instead of silence, and the session goes on.

A speculative generation streams its text as speculative deltas (synthesised, never sent)
and holds everything else until SpeculationConfirmed: tool calls (the agent is not asked
for the next item after a ToolCallPending, so the tool does not run), ToolCalled,
failures and ReplyTextCompleted. On confirmation the text so far goes out in one delta.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from xtalk.models.interfaces import (
    LLMEndpointError,
    TextDelta,
    ToolCallPending,
    ToolInvocation,
)
from xtalk.serving.events import (
    ErrorOccurred,
    GenerationCancelRequested,
    GenerationRequested,
    ModelChanged,
    ModelChangeRequested,
    PlaybackStopped,
    ReplyTextCompleted,
    ReplyTextDelta,
    SessionStarted,
    SessionStopping,
    SpeculationConfirmed,
    SpeedChangeRequested,
    ToolCalled,
    VoiceChangeRequested,
)
from xtalk.serving.interfaces import Manager

#: A cancelled generation that has not stopped after this long is cancelled again.
CANCEL_RETRY_S = 1.0
APOLOGY = "Sorry, I can't reach my language model right now. Please try again in a moment."


@dataclass
class _Generation:
    """One reply being generated; ``confirmed`` is set at once unless it is speculative."""

    turn_id: int
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)
    text: str = ""
    task: asyncio.Task[None] | None = None

    @property
    def speculative(self) -> bool:
        return not self.confirmed.is_set()


class LLMAgentConsumptionManager(Manager):
    """Streams one reply at a time from the session's agent."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._generation: _Generation | None = None
        self._warmup: asyncio.Task[Any] | None = None
        self.timeout_s = float(self.setting("agent_timeout_s", 20.0))
        agent = self.pipeline.get_agent()
        if agent is not None:
            agent.set_tool_action_handler(self._on_tool_action)

    async def _on_tool_action(self, action: str, args: dict[str, Any]) -> str | None:
        """Turn the agent's voice/speed tools into the session's change requests."""
        if action == "set_voice":
            await self.publish(VoiceChangeRequested(session_id=self.session_id,
                                                    voice_name=str(args.get("voice", ""))))
        elif action == "set_speed":
            speed = float(args.get("speed", 1.0))
            if not 0.5 <= speed <= 1.5:
                return "The speaking speed must be between 0.5 and 1.5."
            await self.publish(SpeedChangeRequested(session_id=self.session_id, speed=speed))
        return None

    @Manager.event_handler(GenerationRequested, priority=30)
    async def on_request(self, event: GenerationRequested) -> None:
        await self._cancel()
        generation = _Generation(event.turn_id)
        if not event.speculative:
            generation.confirmed.set()
        generation.task = asyncio.get_running_loop().create_task(
            self._generate(generation, event.messages), name=f"xtalk-gen-{event.turn_id}")
        self._generation = generation

    @Manager.event_handler(GenerationCancelRequested, priority=30)
    async def on_cancel(self, event: GenerationCancelRequested) -> None:
        current = self._generation
        if current is not None and event.turn_id in (None, current.turn_id):
            await self._cancel()

    @Manager.event_handler(SpeculationConfirmed, priority=30)
    async def on_confirmed(self, event: SpeculationConfirmed) -> None:
        generation = self._generation
        if generation is None or generation.turn_id != event.turn_id \
                or not generation.speculative:
            return
        generation.confirmed.set()
        if generation.text:
            await self.publish(ReplyTextDelta(session_id=self.session_id,
                                              turn_id=generation.turn_id, delta="",
                                              text=generation.text))

    @Manager.event_handler(ModelChangeRequested)
    async def on_model_change(self, event: ModelChangeRequested) -> None:
        if event.kind != "llm":
            return
        p = event.params
        try:
            await asyncio.to_thread(
                self.pipeline.set_llm_model, str(p.get("model", "")),
                str(p.get("base_url", "")), str(p.get("api_key", "")), p.get("extra_body"))
        except Exception as exc:  # never echo the key or raw errors to the client
            self.log.info("LLM change refused: %s", type(exc).__name__)
            await self.publish(ErrorOccurred(
                session_id=self.session_id, code="invalid_model",
                message="Cannot switch the language model.", source="agent"))
            return
        await self.publish(ModelChanged(session_id=self.session_id, kind="llm",
                                        name=str(p.get("model", ""))))

    @Manager.event_handler(PlaybackStopped, priority=30)
    async def on_playback_stopped(self, event: PlaybackStopped) -> None:
        if self._generation is not None and event.turn_id == self._generation.turn_id:
            await self._cancel()

    async def _cancel(self) -> None:
        """Stop the current generation and wait until it has. A library that swallows a
        cancellation (and lets the stream end as if finished) would leave a speculative
        generation waiting for a confirmation that never comes, and this handler — with
        the session's events behind it — waiting for that: the task is cancelled again
        every ``CANCEL_RETRY_S`` until it stops."""
        generation, self._generation = self._generation, None
        task = generation.task if generation is not None else None
        if task is None:
            return
        attempts = 0
        while not task.done():
            attempts += 1
            task.cancel()
            await asyncio.wait({task}, timeout=CANCEL_RETRY_S)
        if attempts > 1:
            self.log.warning("the generation of turn %s ignored a cancellation; stopped "
                             "after %d", generation.turn_id, attempts)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            task.result()  # retrieved: a failure was already reported by the task

    async def _generate(self, generation: _Generation, messages: list[dict[str, Any]]
                        ) -> None:
        turn_id = generation.turn_id
        agent = self.pipeline.get_agent()
        if agent is not None:
            await self._stream(generation, agent.astream(messages))
        await generation.confirmed.wait()
        if self._generation is generation:
            self._generation = None
        await self.publish(ReplyTextCompleted(session_id=self.session_id, turn_id=turn_id,
                                              text=generation.text))

    async def _stream(self, generation: _Generation, stream: Any) -> None:
        turn_id = generation.turn_id
        try:
            while True:
                try:
                    # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that
                    # lands just as the next item is ready, so a barge-in could not stop the
                    # generation (and _cancel() would block the bus until the reply ended).
                    async with asyncio.timeout(self.timeout_s):
                        item = await anext(stream)
                except StopAsyncIteration:
                    break
                if isinstance(item, TextDelta) and item.text:
                    generation.text += item.text
                    await self.publish(ReplyTextDelta(
                        session_id=self.session_id, turn_id=turn_id, delta=item.text,
                        text=generation.text, speculative=generation.speculative))
                elif isinstance(item, ToolCallPending):
                    await generation.confirmed.wait()  # the tool runs on the next item
                elif isinstance(item, ToolInvocation):
                    await generation.confirmed.wait()
                    await self.publish(ToolCalled(session_id=self.session_id, turn_id=turn_id,
                                                  name=item.name, args=dict(item.args)))
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await stream.aclose()
            raise
        except Exception as exc:
            if isinstance(exc, LLMEndpointError):  # the endpoint is down or refused: the
                # message says which and why; a traceback would add nothing
                self.log.warning("agent failed on turn %s: %s", turn_id, exc)
            else:
                reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
                self.log.exception("agent failed on turn %s (%s)", turn_id, reason)
            with contextlib.suppress(Exception):
                await stream.aclose()
            await generation.confirmed.wait()
            await self.publish(ErrorOccurred(
                session_id=self.session_id, code="agent_unavailable",
                message="The language model did not answer; please try again.",
                source="agent"))
            apology = (" " if generation.text and not generation.text.endswith(" ") else "") \
                + APOLOGY
            generation.text += apology
            await self.publish(ReplyTextDelta(session_id=self.session_id, turn_id=turn_id,
                                              delta=apology, text=generation.text))

    @Manager.event_handler(SessionStarted)
    def on_started(self, event: SessionStarted) -> None:
        agent = self.pipeline.get_agent()
        if agent is None or self._warmup is not None:
            return
        self._warmup = asyncio.get_running_loop().create_task(
            self._resolve(agent.aresolve), name=f"xtalk-agent-warmup-{self.session_id}")

    async def _resolve(self, resolve: Any) -> None:
        try:
            await resolve()
        except Exception:  # the first turn resolves again and reports the failure
            self.log.warning("resolving the language model endpoint failed", exc_info=True)

    def _cancel_warmup(self) -> None:
        if self._warmup is not None and not self._warmup.done():
            self._warmup.cancel()

    @Manager.event_handler(SessionStopping)
    async def on_stopping(self, event: SessionStopping) -> None:
        self._cancel_warmup()
        await self._cancel()

    async def shutdown(self) -> None:
        self._cancel_warmup()
        await self._cancel()
