"""ThinkingCueManager: a short "Hmm." when the language model is slow to begin a reply.

Consumes: UserTurnAccepted (a reply is due), GenerationRequested (a fresh attempt at it),
ReplyTextDelta (its words have begun), UserTurnStarted / GenerationCancelRequested /
PlaybackStopped / UserTurnMerged (it is no longer due), SessionStopping.
Emits: ThinkingCueRequested.

When a spoken or typed turn is accepted and no reply text has come ``after_s`` later
(speculative text for the turn counts: it is confirmed at acceptance), the reply opens
with one of ``phrases`` (never the one used last). Its audio is reply audio — paused,
held and stopped with the reply — but it is not reply text: it reaches neither the
conversation nor ``update_resp``. Configuration: ``service_config["thinking_cue"]``
(``{"after_s": 0.3, "phrases": [...]}``; absent or ``false``: no cues).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

from xtalk.registry import ConfigError
from xtalk.serving.events import (
    GenerationCancelRequested,
    GenerationRequested,
    PlaybackStopped,
    ReplyTextDelta,
    SessionStopping,
    ThinkingCueRequested,
    UserTurnAccepted,
    UserTurnMerged,
    UserTurnStarted,
)
from xtalk.serving.interfaces import Manager

DEFAULT_AFTER_S = 0.3
#: Short and non-committal: they fit before any answer, and end before a slow model's
#: first sentence is ready (docs/architecture.md, "Turn-taking").
DEFAULT_PHRASES = ("Hmm.", "Well,")


def cue_settings(value: Any) -> tuple[float, tuple[str, ...]] | None:
    """``(after_s, phrases)`` from the ``thinking_cue`` setting, ``None`` when off.

    Raises ConfigError for a malformed setting."""
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError("thinking_cue must be true, false or an object")
    after_s = value.get("after_s", DEFAULT_AFTER_S)
    phrases = value.get("phrases", DEFAULT_PHRASES)
    if isinstance(after_s, bool) or not isinstance(after_s, int | float) \
            or not 0.0 <= after_s <= 5.0:
        raise ConfigError("thinking_cue.after_s must be a number of seconds from 0 to 5")
    if isinstance(phrases, str) or not isinstance(phrases, Sequence) \
            or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
        raise ConfigError("thinking_cue.phrases must be a list of non-empty strings")
    return float(after_s), tuple(p.strip() for p in phrases)


def _enabled(manager: ThinkingCueManager) -> bool:
    return manager.settings is not None


class ThinkingCueManager(Manager):
    """Opens a slow reply with a thinking cue."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.settings = cue_settings(self.config.get("thinking_cue"))
        self._due: tuple[int, asyncio.Task[None]] | None = None  # the accepted turn's timer
        self._texted: set[int] = set()  # turns whose reply text has begun
        self._last: str | None = None

    def _drop(self, turn_id: int | None) -> None:
        """Cancel the cue timer (of ``turn_id`` only, unless None)."""
        if self._due is not None and turn_id in (None, self._due[0]):
            self._due[1].cancel()
            self._due = None

    @Manager.event_handler(GenerationRequested, priority=5, enabled_if=_enabled)
    def on_generation(self, event: GenerationRequested) -> None:
        self._texted.discard(event.turn_id)  # a fresh attempt has said nothing yet

    @Manager.event_handler(ReplyTextDelta, priority=5, enabled_if=_enabled)
    def on_text(self, event: ReplyTextDelta) -> None:
        self._texted.add(event.turn_id)
        self._drop(event.turn_id)

    @Manager.event_handler(UserTurnAccepted, priority=5, enabled_if=_enabled)
    def on_accepted(self, event: UserTurnAccepted) -> None:
        # Text already heard may still be a discarded speculation's: the timer decides.
        self._drop(None)
        self._texted = {t for t in self._texted if t >= event.turn_id}  # older are done
        after_s, phrases = self.settings  # type: ignore[misc]  # enabled: not None
        task = asyncio.get_running_loop().create_task(
            self._cue_after(event.turn_id, after_s, phrases),
            name=f"xtalk-cue-{self.session_id}-{event.turn_id}")
        self._due = (event.turn_id, task)

    async def _cue_after(self, turn_id: int, after_s: float, phrases: tuple[str, ...]
                         ) -> None:
        await asyncio.sleep(after_s)
        self._due = None
        if turn_id in self._texted:
            return
        choices = [p for p in phrases if p != self._last] or list(phrases)
        self._last = random.choice(choices)
        self.log.debug("no reply text %.2f s after turn %s: cue %r",
                       after_s, turn_id, self._last)
        await self.publish(ThinkingCueRequested(session_id=self.session_id,
                                                turn_id=turn_id, text=self._last))

    @Manager.event_handler(UserTurnStarted, priority=5, enabled_if=_enabled)
    def on_user_speaks(self, event: UserTurnStarted) -> None:
        self._drop(None)  # the user talks on: a cue now would only talk over them

    @Manager.event_handler(GenerationCancelRequested, priority=5, enabled_if=_enabled)
    def on_cancelled(self, event: GenerationCancelRequested) -> None:
        if not event.speculative:
            self._drop(event.turn_id)

    @Manager.event_handler(PlaybackStopped, priority=5, enabled_if=_enabled)
    @Manager.event_handler(UserTurnMerged, priority=5, enabled_if=_enabled)
    def on_gone(self, event: PlaybackStopped | UserTurnMerged) -> None:
        self._drop(event.turn_id)

    @Manager.event_handler(SessionStopping, enabled_if=_enabled)
    async def on_stopping(self, event: SessionStopping) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        self._drop(None)
        await super().shutdown()
