"""The main window and :func:`run_gui` (``xtalk-app`` / ``python -m app``).

The window appears at once; the models load in the background (progress in the header)
on the qasync event loop that runs both Qt and asyncio. The engine
(:class:`app.engine.EngineHost`) talks to the window through its listener messages; the
microphone (:class:`app.audio.capture.Microphone`) and the speaker
(:class:`app.audio.playback.Speaker`) talk to the engine directly.

Audio modes (``audio=``):

* ``"devices"``: the real microphone and speaker; without an output device replies are
  played on a silent virtual speaker (in real time, so the state stays truthful) and the
  window says so; without a microphone the window says so and text input still works.
* ``"virtual"``: no microphone stream and a virtual speaker (tests, scripted demos: feed
  audio with :meth:`MainWindow.submit_microphone`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.audio.capture import meter_level
from app.engine import EngineHost
from app.settings import load_settings, merge_into_config, normalize, save_settings
from app.ui.controls import Controls, PushToTalkKey
from app.ui.conversation_view import ConversationView
from app.ui.latency import LatencyPanel
from app.ui.settings_dialog import SettingsDialog
from app.ui.sidebar import Sidebar
from app.ui.status import STATE_LOOK, LevelMeter, StatusIndicator
from app.ui.theme import STYLE_SHEET, app_icon
from app.ui.tray import Tray

if TYPE_CHECKING:
    import numpy as np

    from app.audio.devices import AudioDevice, DeviceMonitor

logger = logging.getLogger(__name__)

STAGE_NAMES = {"asr": "speech recognition", "vad": "voice detection", "tts": "voice",
               "agent": "language model", "ready": "ready"}
ENGINE_KEYS = ("voice", "speed", "asr_model", "llm", "system_prompt")
METER_INTERVAL_MS = 50
SIDEBAR_REFRESH_MS = 400
AUDIO_MODES = ("devices", "virtual")
DEVICE_ROLES = {"input": "Microphone", "output": "Speaker"}  # watched role → what it is


class Notices(QWidget):
    """Problems and hints above the conversation, one line each, keyed so that a problem
    is replaced when it changes and removed when it is solved."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: dict[str, tuple[str, QFrame, QLabel]] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(16, 8, 16, 0)
        self._layout.setSpacing(6)
        self.hide()

    def set(self, key: str, level: str, text: str) -> None:
        """Show ``text`` (level ``error`` / ``warning`` / ``info``) under ``key``."""
        if key in self._rows:
            _level, frame, label = self._rows[key]
        else:
            frame = QFrame(self)
            frame.setObjectName("banner")
            label = QLabel(frame)
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            close = QToolButton(frame)
            close.setText("✕")
            close.setAutoRaise(True)
            close.setToolTip("Dismiss")
            close.clicked.connect(lambda: self.clear(key))
            row = QHBoxLayout(frame)
            row.setContentsMargins(10, 6, 6, 6)
            row.addWidget(label, 1)
            row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
            self._layout.addWidget(frame)
        icon = {"error": "⚠", "warning": "⚠", "info": "ℹ"}.get(level, "")
        label.setText(f"{icon}  {text}" if icon else text)
        frame.setProperty("level", level)
        frame.style().unpolish(frame)
        frame.style().polish(frame)
        self._rows[key] = (level, frame, label)
        self.show()

    def clear(self, key: str) -> None:
        row = self._rows.pop(key, None)
        if row is not None:
            self._layout.removeWidget(row[1])
            row[1].deleteLater()
        self.setVisible(bool(self._rows))

    def text(self, key: str) -> str | None:
        row = self._rows.get(key)
        return row[2].text() if row is not None else None

    def texts(self) -> dict[str, str]:
        return {key: row[2].text() for key, row in self._rows.items()}


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
        if audio not in AUDIO_MODES:
            raise ValueError(f"audio must be one of {AUDIO_MODES}")
        self.base_config = dict(config)
        self.store = store
        self.settings = normalize(settings if settings is not None else load_settings())
        self.merge_settings = merge_settings
        self.audio_mode = audio
        self.lan_host = lan_host
        self.engine: EngineHost | None = None
        self.microphone: Any = None
        self.speaker: Any = None
        self.monitor: DeviceMonitor | None = None
        self.devices: list[AudioDevice] = []
        self.lan_code: str | None = None
        self.settings_dialog: SettingsDialog | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._ptt_held = False
        self._muted = False
        self._ready = False
        self._closing = False
        self._shut_down = False
        self._engine_lock = asyncio.Lock()
        self._info_timers: dict[str, QTimer] = {}

        self.setWindowTitle("Xtalk")
        self.setWindowIcon(app_icon())
        self.resize(1180, 760)
        self.setMinimumSize(QSize(820, 520))
        self._build()
        self._shortcuts()

        self.tray: Tray | None = None
        if use_tray and Tray.available():
            self.tray = Tray(app_icon(), self)
            self.tray.toggle_window.connect(self.toggle_visible)
            self.tray.mute_toggled.connect(self.set_muted)
            self.tray.quit_requested.connect(self.request_quit)
            self.tray.show()

        self._meter_timer = QTimer(self)
        self._meter_timer.setInterval(METER_INTERVAL_MS)
        self._meter_timer.timeout.connect(self._update_meter)
        self._sidebar_timer = QTimer(self)
        self._sidebar_timer.setSingleShot(True)
        self._sidebar_timer.setInterval(SIDEBAR_REFRESH_MS)
        self._sidebar_timer.timeout.connect(lambda: self._spawn(self.sidebar.reload()))

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.sidebar = Sidebar(None, self)
        self.sidebar.setMinimumWidth(200)
        self.sidebar.new_requested.connect(self.new_conversation)
        self.sidebar.open_requested.connect(self.open_conversation)
        self.sidebar.deleted.connect(self._conversation_deleted)

        header = QWidget(self)
        header.setObjectName("header")
        self.status = StatusIndicator(header)
        self.meter = LevelMeter(header)
        self.meter.setFixedWidth(150)
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

        self.notices = Notices(self)
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

        side = QWidget(self)
        side.setObjectName("sidePanel")
        self.latency = LatencyPanel(side)
        self.engine_label = QLabel("", side)
        self.engine_label.setObjectName("noteLine")
        self.engine_label.setWordWrap(True)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(14, 14, 14, 14)
        side_layout.addWidget(self.latency, 1)
        side_layout.addWidget(self.engine_label)
        side.setMinimumWidth(230)

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
        rate = 48000
        if self.audio_mode == "devices":
            from app.audio.playback import output_rate

            rate = await asyncio.to_thread(output_rate, self.settings["output_device"])
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
        await self._start_audio(engine)
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
        if engine.xtalk is None:
            return
        agent = engine.xtalk.service_prototype.pipeline.get_agent()
        resolve = getattr(agent, "aresolve", None)
        if resolve is None:
            self.engine_label.setText(f"Assistant: {type(agent).__name__}")
            return
        connected = await resolve()
        describe = getattr(agent, "describe_endpoint", None)
        where = describe() if callable(describe) else ""
        self.engine_label.setText(f"Language model: {where}" if connected else
                                  "Language model: offline assistant")
        if connected:
            self.notices.clear("llm")
        else:
            self.notices.set("llm", "info",
                             "No language model is connected, so a small offline assistant "
                             "answers (time, voice and speed commands). Connect Ollama, "
                             "llama.cpp or an OpenAI-compatible server in Settings → "
                             "Language model.")

    async def _start_audio(self, engine: EngineHost) -> None:
        from app.audio.playback import Speaker

        if self.audio_mode == "virtual":
            self.speaker = Speaker(engine, virtual=True, on_status=self._speaker_status)
            await self.speaker.start()
            self.mic_label.setText("Mic")
            return
        from app.audio.capture import Microphone
        from app.audio.devices import DeviceMonitor, list_devices, output_devices

        self.devices = await asyncio.to_thread(list_devices)
        virtual = not output_devices(self.devices)
        self.speaker = Speaker(engine, self.settings["output_device"], virtual=virtual,
                               on_status=self._speaker_status)
        if virtual:
            self.notices.set("output", "warning",
                             "No speaker found: replies are shown as text only. Xtalk "
                             "uses a speaker as soon as one is plugged in.")
        await self.speaker.start()
        self.microphone = Microphone(self.submit_microphone, self.settings["input_device"],
                                     on_status=self._mic_status)
        await self.microphone.start()
        if self.monitor is None:
            # compared with the listing used here: a device plugged in or out before
            # the monitor's first poll is reported too
            self.monitor = DeviceMonitor(self._device_event, devices=self.devices)
            self.monitor.start()
        self.monitor.watch("input", "input", self.settings["input_device"])
        self.monitor.watch("output", "output", self.settings["output_device"])
        self._refresh_dialog_devices()

    async def _stop_audio(self) -> None:
        mic, self.microphone = self.microphone, None
        speaker, self.speaker = self.speaker, None
        if mic is not None:
            await mic.stop()
        if speaker is not None:
            await speaker.stop()
        self.meter.set_active(False)

    async def restart_engine(self) -> None:
        """Stop the audio and the engine and start them again with the current settings
        (after voice / ASR / LLM changes). The LAN server restarts if it was on."""
        async with self._engine_lock:
            engine, self.engine = self.engine, None
            self._ready = False
            self._meter_timer.stop()
            await self._stop_audio()
            if engine is not None:
                engine.remove_listener(self._on_engine_message)
                await engine.stop()
            self.lan_code = None
            self._show_lan(None)
            await self._start_engine_locked()

    # ------------------------------------------------------------------ audio status
    def submit_microphone(self, block: np.ndarray, sample_rate: int) -> None:
        """A captured block (any thread): to the engine when hands-free or while
        push-to-talk is held."""
        engine = self.engine
        if engine is not None and (self.settings["hands_free"] or self._ptt_held):
            engine.submit_microphone(block, sample_rate)

    def _mic_status(self, status: str, detail: str) -> None:
        if status == "running":
            if self.notices.text("input") is not None:
                self.notices.set("input", "info", f"Microphone connected: {detail}.")
                self._clear_info_later("input")
            self.mic_label.setText("Mic")
            self.meter.set_active(not self._muted)
        elif status == "lost":
            name = self.settings["input_device"]
            which = f"Microphone “{name}” lost" if name else "Microphone lost"
            self.notices.set("input", "error",
                             f"{which}: {detail}. Xtalk reconnects as soon as it is back; "
                             "you can type meanwhile.")
            self.mic_label.setText("Mic lost")
            self.meter.set_active(False)
        elif status == "unavailable":
            self.notices.set("input", "warning",
                             f"No microphone: {detail}. Type your messages below; Xtalk "
                             "starts listening when a microphone is plugged in.")
            self.mic_label.setText("No mic")
            self.meter.set_active(False)
        if self.settings_dialog is not None:
            problem = detail if status in ("lost", "unavailable") else None
            self.settings_dialog.set_device_problem("input", problem)

    def _speaker_status(self, status: str, detail: str) -> None:
        if status == "running" and detail != "virtual":
            self._clear_if_problem("output")
        elif status in ("lost", "unavailable"):
            name = self.settings["output_device"]
            which = f"Speaker “{name}” lost" if name else "Speaker lost"
            self.notices.set("output", "error",
                             f"{which}: {detail}. Replies continue when it is back.")
        if self.settings_dialog is not None:
            problem = detail if status in ("lost", "unavailable") else None
            self.settings_dialog.set_device_problem("output", problem)

    def _clear_info_later(self, key: str, ms: int = 4000) -> None:
        timer = self._info_timers.get(key)
        if timer is None:
            timer = self._info_timers[key] = QTimer(self)
            timer.setSingleShot(True)
            timer.timeout.connect(lambda: self._clear_if_info(key))
        timer.start(ms)

    def _clear_if_info(self, key: str) -> None:
        text = self.notices.text(key)
        if text is not None and text.startswith("ℹ"):
            self.notices.clear(key)

    def _clear_if_problem(self, key: str) -> None:
        text = self.notices.text(key)
        if text is not None and text.startswith("⚠"):
            self.notices.clear(key)

    def _device_event(self, kind: str, device: AudioDevice, role: str | None) -> None:
        """The device monitor: lists changed, or the device of a role ("input": the
        microphone, "output": the speaker) was lost / returned. Notices are keyed by that
        role, not by the device's channels (a headset is both)."""
        if self.monitor is not None:
            self.devices = list(self.monitor.devices)
        self._refresh_dialog_devices()
        if kind in ("lost", "returned") and role in DEVICE_ROLES:
            what, name = DEVICE_ROLES[role], device.name
            if kind == "lost":
                self.notices.set(role, "error", f"{what} lost: {name}. Xtalk reconnects as "
                                 "soon as it is back" + ("; you can type meanwhile."
                                                         if role == "input" else "."))
            else:
                self.notices.set(role, "info", f"{what} is back: {name}.")
                self._clear_info_later(role)
        elif kind == "added" and device.is_output and self.speaker is not None \
                and self.speaker.virtual and self.engine is not None:
            self._spawn(self._use_real_speaker())

    async def _use_real_speaker(self) -> None:
        from app.audio.playback import Speaker

        engine = self.engine
        if engine is None or self.speaker is None or not self.speaker.virtual:
            return
        await self.speaker.stop()
        self.speaker = Speaker(engine, self.settings["output_device"],
                               on_status=self._speaker_status)
        await self.speaker.start()  # its status clears "No speaker found", or says why not

    def _refresh_dialog_devices(self) -> None:
        if self.settings_dialog is None:
            return
        inputs = [d.name for d in self.devices if d.is_input]
        outputs = [d.name for d in self.devices if d.is_output]
        self.settings_dialog.set_devices(inputs, outputs)

    def _update_meter(self) -> None:
        mic = self.microphone
        if mic is not None and mic.status == "running" and not self._muted:
            self.meter.set_active(True)
            self.meter.set_level(mic.level)

    # ------------------------------------------------------------------ engine messages
    def _on_engine_message(self, message: dict[str, Any]) -> None:
        action = message.get("action")
        data = message.get("data") if isinstance(message.get("data"), dict) else {}
        if action == "audio":
            return
        if action == "engine_state":
            state, detail = str(data.get("state")), str(data.get("detail") or "")
            if state == "loading" and self.status.state == "loading":
                return  # the progress callback says which stage
            if state == "hearing" and self._ptt_held:
                detail = "push-to-talk"
            self.status.set_state(state, detail)
            if state == "listening" and self.store is not None:
                self._sidebar_timer.start()  # a turn is over: it has been stored
            if self.tray is not None:
                self.tray.set_state(STATE_LOOK.get(state, (state,))[0])
            if state == "error" and detail:
                self.notices.set("engine", "error", detail[:1].upper() + detail[1:] + ".")
            return
        if action == "speech_level":
            if self.microphone is None:  # no capture stream: show what the engine hears
                self.meter.set_active(True)
                # the engine's "rms" is in dBFS
                self.meter.set_level(meter_level(float(data.get("rms") or -120.0)))
            return
        if action in ("session_info", "session_attached"):  # another conversation
            if action == "session_info":
                self.view.clear()
            self.latency.clear()
            self.sidebar.current_id = str(data.get("session_id") or "") or None
            self._sidebar_timer.start()
        elif action == "latency_metrics":
            self.latency.add_metrics(data)
        elif action in ("finish_resp", "finish_asr", "tts_finished", "tts_stopped"):
            self._sidebar_timer.start()  # titles and message counts change
        self.view.handle_message(message)

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

    def _hands_free_toggled(self, on: bool) -> None:
        self.settings["hands_free"] = bool(on)
        self._spawn(asyncio.to_thread(save_settings, dict(self.settings)))

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
        self._refresh_dialog_devices()
        if self.microphone is not None and self.microphone.status in ("lost", "unavailable"):
            dialog.set_device_problem("input", self.microphone.detail)
        if self.speaker is not None and self.speaker.status in ("lost", "unavailable"):
            dialog.set_device_problem("output", self.speaker.detail)
        engine = self.engine
        dialog.set_lan_enabled(engine is not None and engine.lan_url is not None)
        dialog.set_lan_info(engine.lan_url if engine is not None else None, self.lan_code)
        dialog.lan_toggled.connect(self.set_lan_enabled)
        dialog.new_code_requested.connect(lambda: self._spawn(self._new_code()))
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
        self.controls.set_shortcut(new["push_to_talk_shortcut"])
        if not self.ptt_key.set_shortcut(new["push_to_talk_shortcut"]):
            self.notices.set("settings", "warning",
                             f"“{new['push_to_talk_shortcut']}” is not a key: push-to-talk "
                             f"stays on {self.ptt_key.shortcut}.")
        self.controls.hands_free.blockSignals(True)
        self.controls.hands_free.setChecked(new["hands_free"])
        self.controls.hands_free.blockSignals(False)
        engine_changed = self.merge_settings and any(old[k] != new[k] for k in ENGINE_KEYS)
        if engine_changed:
            await self.restart_engine()
            return
        if self.monitor is not None:
            self.monitor.watch("input", "input", new["input_device"])
            self.monitor.watch("output", "output", new["output_device"])
        if self.microphone is not None and old["input_device"] != new["input_device"]:
            await self.microphone.set_device(new["input_device"])
        if self.speaker is not None and old["output_device"] != new["output_device"]:
            await self.speaker.set_device(new["output_device"])

    # ------------------------------------------------------------------ LAN
    def set_lan_enabled(self, on: bool) -> asyncio.Future[Any]:
        """Start or stop LAN access (and remember the choice)."""
        self.settings["lan_enabled"] = bool(on)
        return self._spawn(self._set_lan(bool(on)))

    async def _set_lan(self, on: bool) -> None:
        await asyncio.to_thread(save_settings, dict(self.settings))
        await (self._start_lan() if on else self._stop_lan())

    async def _start_lan(self) -> None:
        engine = self.engine
        error = None
        if self.store is None:
            error = "LAN access needs the conversation store."
        elif engine is None or not self._ready:
            error = "The engine is still loading; LAN access starts when it is ready."
        if error is None and engine is not None and engine.lan_url is None:
            try:
                _url, self.lan_code = await engine.start_lan_server(self.lan_host, 0)
            except Exception as exc:
                error = f"LAN access could not start: {exc}"
        if error is not None and not (engine is None or not self._ready):
            self.settings["lan_enabled"] = False
            await asyncio.to_thread(save_settings, dict(self.settings))
            if self.settings_dialog is not None:
                self.settings_dialog.set_lan_enabled(False)
        self._show_lan(error)

    async def _stop_lan(self) -> None:
        if self.engine is not None:
            await self.engine.stop_lan_server()
        self.lan_code = None
        self._show_lan(None)

    async def _new_code(self) -> None:
        if self.engine is None or self.engine.lan_url is None:
            return
        self.lan_code = await self.engine.new_pairing_code()
        self._show_lan(None)

    def _show_lan(self, error: str | None) -> None:
        url = self.engine.lan_url if self.engine is not None else None
        if url:
            self.lan_badge.setText(f"● LAN  {url.removeprefix('http://').rstrip('/')}")
            self.lan_badge.show()
        else:
            self.lan_badge.hide()
        if self.settings_dialog is not None:
            self.settings_dialog.set_lan_info(url, self.lan_code, error)
        if error:
            self.notices.set("lan", "warning", error)
        else:
            self.notices.clear("lan")

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
        for timer in self._info_timers.values():
            timer.stop()
        self.ptt_key.detach()
        if self.settings_dialog is not None:
            self.settings_dialog.reject()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.monitor is not None:
            await self.monitor.stop()
            self.monitor = None
        await self._stop_audio()
        engine, self.engine = self.engine, None
        if engine is not None:
            await engine.stop()
        if self.tray is not None:
            self.tray.hide()
        self._shut_down = True
        self.close()


# --------------------------------------------------------------------------- entry point
def _open_store() -> Any:
    """The store the server uses by default (``XTALK_DATABASE_URL``, else SQLite in the
    user data folder); ``None`` (with a warning) when it cannot be opened."""
    from xtalk.store import Store, database_url_from_env

    try:
        return Store.open(database_url_from_env())
    except Exception as exc:
        logger.warning("conversation history is unavailable: %s", exc)
        return None


def run_gui(args: Any) -> int:
    """Run the window until the user quits (``args.engine_config``: the configuration;
    ``args.config``: set when it was given explicitly, so settings are not merged)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    import qasync  # after PySide6 (qasync uses the binding already imported)

    assert isinstance(app, QApplication)
    app.setApplicationName("Xtalk")
    app.setDesktopFileName("xtalk")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    explicit = getattr(args, "config", None) is not None
    base = dict(args.engine_config)
    store = _open_store()

    async def main() -> int:
        window = MainWindow(base, store=store, merge_settings=not explicit)
        done = asyncio.Event()
        window.quit_requested.connect(done.set)
        app.aboutToQuit.connect(done.set)
        for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl+C / kill: quit cleanly
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, lambda *_: window.request_quit())
        # Python runs signal handlers only between bytecodes: a timer keeps it looking
        wake = QTimer(window)
        wake.timeout.connect(lambda: None)
        wake.start(250)
        window.show()
        window.start()
        await done.wait()
        await window.shutdown()
        return 0

    try:
        return int(qasync.run(main()) or 0)
    except KeyboardInterrupt:
        return 130
    finally:
        if store is not None:
            store.close()


__all__ = ["MainWindow", "Notices", "run_gui"]
