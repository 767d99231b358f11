"""The main window of ``xtalk-app`` (run by :func:`app.gui.run_gui`).

The window appears at once; the models load in the background (progress in the header)
on the qasync event loop that runs both Qt and asyncio. The engine
(:class:`app.engine.EngineHost`) talks to the window through its typed messages
(:mod:`app.engine.messages`); the audio devices (:mod:`app.ui.audio_devices`, modes
``"devices"`` and ``"virtual"``) talk to the engine directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.audio.capture import meter_level
from app.engine import EngineHost, EngineStateChanged, ServerMessage, Shown, SpeechLevel
from app.settings import (
    active_wake_word,
    load_settings,
    merge_into_config,
    normalize,
    save_settings,
)
from app.ui.audio_devices import AudioDevices
from app.ui.controls import Controls, PushToTalkKey
from app.ui.conversation_view import ConversationView
from app.ui.knowledge import Knowledge
from app.ui.lan_control import LanControl
from app.ui.latency import SidePanel
from app.ui.notices import Notices
from app.ui.settings_dialog import SettingsDialog
from app.ui.sidebar import Sidebar
from app.ui.status import STATE_LOOK, LevelMeter, StatusIndicator
from app.ui.theme import STYLE_SHEET, app_icon
from app.ui.tray import Tray

if TYPE_CHECKING:
    import numpy as np

    from app.audio.devices import AudioDevice, DeviceMonitor
    from app.engine import EngineMessage

logger = logging.getLogger(__name__)

STAGE_NAMES = {"asr": "speech recognition", "vad": "voice detection",
               "turn_detector": "turn detection", "tts": "voice",
               "agent": "language model", "ready": "ready"}
ENGINE_KEYS = ("voice", "speed", "asr_model", "llm", "system_prompt", "noise_suppression",
               "thinking_cue", "patient")
METER_INTERVAL_MS = 50
SIDEBAR_REFRESH_MS = 400


class MainWindow(QMainWindow):
    """The desktop app's window.

    Args:
        config: The engine configuration (``Xtalk.from_config`` format).
        store: The conversation store shared with the server (``None``: nothing is kept,
            no sidebar entries, no LAN mode).
        settings: The user's settings (default: :func:`app.settings.load_settings`).
        merge_settings: Apply the settings' engine options (voice, speed, ASR, LLM, system
            prompt) to ``config``; ``False`` for an explicit ``--config``.
        audio: ``"devices"`` or ``"virtual"`` (see the module docstring).
        use_tray: Show a tray icon where the desktop has a tray.
        lan_host: The address LAN mode binds to.

    Signals:
        quit_requested(): the user asked to quit (menu, tray, closing without a tray).
    """

    quit_requested = Signal()

    def __init__(self, config: dict[str, Any], *, store: Any = None,
                 settings: dict[str, Any] | None = None, merge_settings: bool = True,
                 audio: str = "devices", use_tray: bool = True,
                 lan_host: str = "0.0.0.0") -> None:
        super().__init__()
        self.base_config = dict(config)
        self.store = store
        self.settings = normalize(settings if settings is not None else load_settings())
        self.merge_settings = merge_settings
        self.engine: EngineHost | None = None
        self.settings_dialog: SettingsDialog | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._ptt_held = False
        self._muted = False
        self._ready = False
        self._closing = False
        self._shut_down = False
        self._engine_lock = asyncio.Lock()

        self.setWindowTitle("Xtalk")
        self.setWindowIcon(app_icon())
        self.resize(1180, 760)
        self.setMinimumSize(QSize(820, 520))
        self._build()
        self.audio = AudioDevices(audio, notices=self.notices, mic_label=self.mic_label,
                                  meter=self.meter, settings=lambda: self.settings,
                                  submit=self.submit_microphone, muted=lambda: self._muted,
                                  dialog=lambda: self.settings_dialog, spawn=self._spawn,
                                  status=lambda: self.status)
        self.lan = LanControl(badge=self.lan_badge, notices=self.notices, host=lan_host,
                              has_store=store is not None, engine=lambda: self.engine,
                              dialog=lambda: self.settings_dialog)
        self._shortcuts()

        self.tray: Tray | None = None
        if use_tray and Tray.available():
            self.tray = Tray(app_icon(), self)
            self.tray.toggle_window.connect(self.toggle_visible)
            self.tray.mute_toggled.connect(self.set_muted)
            self.knowledge.attach_tray(self.tray)
            self.tray.quit_requested.connect(self.request_quit)
            self.tray.show()

        self._meter_timer = QTimer(self)
        self._meter_timer.setInterval(METER_INTERVAL_MS)
        self._meter_timer.timeout.connect(lambda: self.audio.update_meter())
        self._sidebar_timer = QTimer(self)
        self._sidebar_timer.setSingleShot(True)
        self._sidebar_timer.setInterval(SIDEBAR_REFRESH_MS)
        self._sidebar_timer.timeout.connect(lambda: self._spawn(self.sidebar.reload()))
        self._sidebar_timer.timeout.connect(self.knowledge.refresh)  # "remember that …"

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.notices = Notices(self)
        self.sidebar = Sidebar(None, self)
        self.sidebar.setMinimumWidth(200)
        self.sidebar.new_requested.connect(self.new_conversation)
        self.sidebar.open_requested.connect(self.open_conversation)
        self.sidebar.deleted.connect(self._conversation_deleted)
        self.knowledge = Knowledge(self, self.sidebar, store=self.store, notices=self.notices,
                                   spawn=self._spawn)
        self.sidebar.add_footer(self.knowledge.button)

        header = QWidget(self)
        header.setObjectName("header")
        self.status = StatusIndicator(header)
        self.meter = LevelMeter(header)
        self.meter.setMaximumWidth(150)  # narrower in a narrow window
        self.mic_label = QLabel("Mic", header)
        self.mic_label.setObjectName("noteLine")
        self.lan_badge = QPushButton("", header)
        self.lan_badge.setObjectName("lanBadge")
        self.lan_badge.setFlat(True)
        self.lan_badge.setToolTip("Phones and other computers can connect: click for the "
                                  "pairing code")
        self.lan_badge.clicked.connect(lambda: self.open_settings(tab=3))
        self.lan_badge.hide()
        self.settings_button = QPushButton("Settings", header)
        self.settings_button.setToolTip("Devices, voice, language model, LAN access "
                                        "(Ctrl+,)")
        self.settings_button.clicked.connect(lambda: self.open_settings())
        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(self.status, 1)
        top.addWidget(self.lan_badge)
        top.addWidget(self.mic_label)
        top.addWidget(self.meter)
        top.addWidget(self.settings_button)
        self.progress = QProgressBar(header)
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        head_layout = QVBoxLayout(header)
        head_layout.setContentsMargins(16, 10, 16, 10)
        head_layout.setSpacing(6)
        head_layout.addLayout(top)
        head_layout.addWidget(self.progress)

        self.view = ConversationView(self)

        bar = QWidget(self)
        bar.setObjectName("controlsBar")
        self.controls = Controls(bar, shortcut=self.settings["push_to_talk_shortcut"],
                                 hands_free=self.settings["hands_free"])
        self.controls.text_submitted.connect(self.send_text)
        self.controls.push_to_talk.connect(self.set_push_to_talk)
        self.controls.mute_toggled.connect(self.set_muted)
        self.controls.hands_free_toggled.connect(self._hands_free_toggled)
        self.controls.set_voice_enabled(False)
        self.controls.set_text_enabled(False)
        self.controls.text.setPlaceholderText("Loading the models…")
        bar_layout = QVBoxLayout(bar)
        bar_layout.setContentsMargins(16, 10, 16, 12)
        bar_layout.addWidget(self.controls)

        center = QWidget(self)
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.setSpacing(0)
        center_layout.addWidget(header)
        center_layout.addWidget(self.notices)
        center_layout.addWidget(self.view, 1)
        center_layout.addWidget(bar)

        side = SidePanel(self)
        self.latency, self.engine_label = side.latency, side.engine_label

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(center)
        splitter.addWidget(side)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([230, 690, 260])
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)
        self.setStyleSheet(STYLE_SHEET)

        self.ptt_key = PushToTalkKey(self, self.settings["push_to_talk_shortcut"])
        self.ptt_key.changed.connect(self.set_push_to_talk)
        self._apply_push_to_talk(self.settings)

    def _shortcuts(self) -> None:
        for keys, slot in (("Ctrl+M", lambda: self.set_muted(not self._muted)),
                           ("Ctrl+N", self.new_conversation),
                           ("Ctrl+,", lambda: self.open_settings()),
                           ("Ctrl+Q", self.request_quit)):
            QShortcut(QKeySequence(keys), self, activated=slot)

    # ------------------------------------------------------------------ tasks
    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """Run ``coro`` on the loop; failures are logged and shown, never lost."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not self._closing:
            logger.error("background task failed", exc_info=exc)
            self.notices.set("task", "error", str(exc) or type(exc).__name__)

    # ------------------------------------------------------------------ startup
    def engine_config(self) -> dict[str, Any]:
        if not self.merge_settings:
            return dict(self.base_config)
        return merge_into_config(self.base_config, self.settings)

    def start(self) -> asyncio.Future[Any]:
        """Load the models and open the audio devices in the background."""
        self.sidebar.set_store(self.store)
        return self._spawn(self._start_engine())

    async def _start_engine(self) -> None:
        async with self._engine_lock:
            await self._start_engine_locked()

    async def _start_engine_locked(self) -> None:
        self._ready = False
        self.controls.set_voice_enabled(False)
        self.controls.set_text_enabled(False)
        self.progress.setValue(0)
        self.progress.show()
        rate = await self.audio.output_rate()
        engine = EngineHost(self.engine_config(), store=self.store, output_sample_rate=rate)
        self.engine = engine
        engine.add_listener(self._on_engine_message)
        try:
            await engine.start(progress=self._on_progress)
        except Exception as exc:
            self.progress.hide()
            self.status.set_state("error", "the engine could not start")
            self.notices.set("engine", "error",
                             f"The engine could not start: {exc}. Check Settings; the "
                             "conversation history is still available.")
            logger.error("engine start failed: %s", exc)
            return
        self.notices.clear("engine")
        self.progress.hide()
        if self._closing:
            return
        await self.audio.start(engine)
        engine.set_muted(self._muted)
        self._ready = True
        self.controls.set_voice_enabled(True)
        self.controls.set_text_enabled(True)
        self.controls.text.setPlaceholderText("Type a message and press Enter…")
        self._meter_timer.start()
        self._sidebar_timer.start()
        self._spawn(self._check_llm(engine))
        if self.settings["lan_enabled"] and self.store is not None:
            await self._start_lan()

    def _on_progress(self, stage: str, fraction: float) -> None:
        self.progress.setValue(round(fraction * 100))
        if stage != "ready":
            self.status.set_state("loading", f"loading {STAGE_NAMES.get(stage, stage)}…")

    async def _check_llm(self, engine: EngineHost) -> None:
        """Tell the user when no language model is connected (offline answers)."""
        status = await engine.agent_status()
        self.engine_label.setText(f"Language model: {status.endpoint}" if status.connected
                                  else "Language model: offline assistant")
        if status.connected:
            self.notices.clear("llm")
        else:
            self.notices.set("llm", "info",
                             "No language model is connected, so a small offline assistant "
                             "answers (time, voice and speed commands). Connect Ollama, "
                             "llama.cpp or an OpenAI-compatible server in Settings → "
                             "Language model.")

    async def restart_engine(self) -> None:
        """Start audio and engine again with the current settings (LAN too if it was on)."""
        async with self._engine_lock:
            engine, self.engine = self.engine, None
            self._ready = False
            self._meter_timer.stop()
            await self.audio.stop()
            if engine is not None:
                engine.remove_listener(self._on_engine_message)
                await engine.stop()
            self.lan.forget()
            await self._start_engine_locked()

    # ------------------------------------------------------------------ audio status
    def submit_microphone(self, block: np.ndarray, sample_rate: int) -> None:
        """A captured block (any thread): to the engine when hands-free or while
        push-to-talk is held."""
        engine = self.engine
        if engine is not None and (self.settings["hands_free"] or self._ptt_held):
            engine.submit_microphone(block, sample_rate)

    # ------------------------------------------------------------------ engine messages
    def _on_engine_message(self, message: EngineMessage) -> None:
        match message:
            case EngineStateChanged():
                self._show_state(message.state, message.detail)
            case SpeechLevel(rms=rms):
                if self.microphone is None:  # no capture stream: show what the engine hears
                    self.meter.set_active(True)
                    self.meter.set_level(meter_level(rms))  # the engine's rms is in dBFS
            case ServerMessage(action="session_info" | "session_attached"):
                if message.action == "session_info":  # another conversation
                    self.view.clear()
                self.latency.clear()
                self.sidebar.current_id = message.text("session_id") or None
                self._sidebar_timer.start()
            case ServerMessage(action="latency_metrics"):
                self.latency.add_metrics(message.data)
            case ServerMessage(action="finish_resp" | "finish_asr" | "tts_finished"):
                self._sidebar_timer.start()  # titles and message counts change
        self.view.handle_message(message)

    def _show_state(self, state: Shown, detail: str) -> None:
        if state is Shown.LOADING and self.status.state == "loading":
            return  # the progress callback says which stage
        if state is Shown.HEARING and self._ptt_held:
            detail = "push-to-talk"
        self.status.set_state(state, detail)
        if state is Shown.LISTENING and self.store is not None:
            self._sidebar_timer.start()  # a turn is over: it has been stored
        if self.tray is not None:
            self.tray.set_state(*STATE_LOOK.get(state, (state, None)))
        if state is Shown.ERROR and detail:
            self.notices.set("engine", "error", detail[:1].upper() + detail[1:] + ".")

    # ------------------------------------------------------------------ user actions
    def send_text(self, text: str) -> None:
        text = text.strip()
        if not text or self.engine is None or not self._ready:
            return
        self.view.add_user_text(text)
        self._spawn(self.engine.send_text(text))

    def set_push_to_talk(self, pressed: bool) -> None:
        pressed = bool(pressed)
        if pressed == self._ptt_held:
            return
        self._ptt_held = pressed
        self.controls.set_talking(pressed)
        if pressed and self._muted:
            self.set_muted(False)  # holding the talk key means "listen to me now"
        if self.engine is not None and self._ready:
            self._spawn(self.engine.push_to_talk(pressed))

    def set_muted(self, muted: bool) -> None:
        muted = bool(muted)
        self._muted = muted
        self.controls.set_muted(muted)
        if self.tray is not None:
            self.tray.set_muted(muted)
        if muted:
            self.meter.set_active(False)
        if self.engine is not None and self._ready:
            self.engine.set_muted(muted)

    @property
    def ready(self) -> bool:
        """The models are loaded and the audio devices opened (or reported missing)."""
        return self._ready

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def microphone(self) -> Any:
        return self.audio.microphone

    @property
    def speaker(self) -> Any:
        return self.audio.speaker

    @property
    def monitor(self) -> DeviceMonitor | None:
        return self.audio.monitor

    @property
    def devices(self) -> list[AudioDevice]:
        return self.audio.devices

    def _hands_free_toggled(self, on: bool) -> None:
        before = active_wake_word(self.settings)
        self.settings["hands_free"] = bool(on)
        self._spawn(asyncio.to_thread(save_settings, dict(self.settings)))
        if self.merge_settings and active_wake_word(self.settings) != before:
            self._spawn(self.restart_engine())  # the wake word comes or goes with hands-free

    def new_conversation(self) -> None:
        if self.engine is None or not self._ready:
            return
        self._spawn(self._new_conversation())

    async def _new_conversation(self) -> None:
        assert self.engine is not None
        await self.engine.new_conversation()
        self.view.clear()
        await self.sidebar.reload()

    def open_conversation(self, session_id: str) -> None:
        if self.engine is None or not self._ready:
            return
        self._spawn(self._open_conversation(session_id))

    async def _open_conversation(self, session_id: str) -> None:
        assert self.engine is not None
        from app.engine import EngineError

        try:
            await self.engine.open_conversation(session_id)
        except EngineError as exc:
            self.notices.set("conversation", "warning", f"Cannot open it: {exc}.")
            await self.sidebar.reload()
            return
        self.notices.clear("conversation")
        await self.sidebar.reload()

    def _conversation_deleted(self, session_id: str) -> None:
        if self.engine is not None and session_id == self.engine.session_id:
            self.new_conversation()

    # ------------------------------------------------------------------ settings
    def open_settings(self, tab: int = 0) -> SettingsDialog:
        if self.settings_dialog is not None:
            self.settings_dialog.tabs.setCurrentIndex(tab)
            self.settings_dialog.raise_()
            return self.settings_dialog
        dialog = SettingsDialog(self.settings, self)
        dialog.setStyleSheet(STYLE_SHEET)
        dialog.tabs.setCurrentIndex(tab)
        self.settings_dialog = dialog
        self.audio.show_problems(dialog)
        self.lan.fill(dialog)
        dialog.lan_toggled.connect(self.set_lan_enabled)
        dialog.new_code_requested.connect(lambda: self._spawn(self.lan.new_code()))
        dialog.accepted.connect(lambda: self.apply_settings(dialog.values()))
        dialog.finished.connect(self._dialog_closed)
        dialog.open()
        return dialog

    def _dialog_closed(self, _result: int) -> None:
        dialog, self.settings_dialog = self.settings_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def apply_settings(self, values: dict[str, Any]) -> asyncio.Future[Any]:
        """Save ``values`` and apply them (devices now, engine options by a restart)."""
        return self._spawn(self._apply_settings(normalize(values)))

    async def _apply_settings(self, new: dict[str, Any]) -> None:
        old, self.settings = self.settings, new
        await asyncio.to_thread(save_settings, dict(new))
        self._apply_push_to_talk(new, old)
        self.controls.set_hands_free(new["hands_free"])
        wake_changed = active_wake_word(old) != active_wake_word(new)
        if self.merge_settings and (wake_changed or any(old[k] != new[k] for k in ENGINE_KEYS)):
            await self.restart_engine()
            return
        await self.audio.apply(old, new)

    def _apply_push_to_talk(self, new: dict[str, Any], old: dict[str, Any] | None = None
                            ) -> None:
        self.controls.set_shortcut(new["push_to_talk_shortcut"])
        for key, text in self.ptt_key.apply_settings(new, old):
            self.notices.set(key, "warning", text)

    # ------------------------------------------------------------------ LAN
    def set_lan_enabled(self, on: bool) -> asyncio.Future[Any]:
        """Start or stop LAN access (and remember the choice)."""
        self.settings["lan_enabled"] = bool(on)
        return self._spawn(self._set_lan(bool(on)))

    async def _set_lan(self, on: bool) -> None:
        await asyncio.to_thread(save_settings, dict(self.settings))
        await (self._start_lan() if on else self.lan.stop())

    async def _start_lan(self) -> None:
        ready = self.engine is not None and self._ready
        if await self.lan.start(ready) is not None and ready:
            self.settings["lan_enabled"] = False  # it cannot start: not again next time
            if self.settings_dialog is not None:
                self.settings_dialog.set_lan_enabled(False)
            await asyncio.to_thread(save_settings, dict(self.settings))

    @property
    def lan_code(self) -> str | None:
        """The pairing code shown to the user while LAN access is on."""
        return self.lan.code

    # ------------------------------------------------------------------ window / quit
    def toggle_visible(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.show()
            self.raise_()
            self.activateWindow()
        if self.tray is not None:
            self.tray.set_window_visible(self.isVisible())

    def request_quit(self) -> None:
        self._closing = True
        self.quit_requested.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._shut_down:
            event.accept()
            return
        event.ignore()
        if self.tray is not None and self.tray.visible and not self._closing:
            self.hide()
            self.tray.set_window_visible(False)
            self.tray.icon.showMessage("Xtalk", "Xtalk keeps running here. Quit from this "
                                       "icon's menu.", app_icon(), 3000)
            return
        self.request_quit()

    async def shutdown(self) -> None:
        """Stop everything cleanly: timers, device monitor, microphone and speaker
        streams, the LAN server and the engine. Idempotent."""
        if self._shut_down:
            return
        self._closing = True
        self._meter_timer.stop()
        self._sidebar_timer.stop()
        self.notices.stop_timers()
        self.ptt_key.detach()
        if self.settings_dialog is not None:
            self.settings_dialog.reject()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.audio.close()
        engine, self.engine = self.engine, None
        if engine is not None:
            await engine.stop()
        if self.tray is not None:
            self.tray.hide()
        self._shut_down = True
        self.close()


__all__ = ["MainWindow"]
