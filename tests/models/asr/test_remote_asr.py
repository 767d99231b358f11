"""OpenAI-compatible ASR adapter (POST /v1/audio/transcriptions) against scripted servers on
127.0.0.1 that check every request (path, auth header, multipart fields, the WAV itself).
One server recognises the uploaded audio with faster-whisper tiny.en, as speaches would.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from paths import SPEECH_DIR
from remote_speech_server import Fail, Garbage, Hang, Recorded, Reply, ScriptedSpeechServer
from wer import wer

from xtalk.audio.pcm import resample_int16
from xtalk.models.asr.openai_transcription import OpenAITranscriptionASR
from xtalk.models.remote_audio import RemoteModelError, decode_wav
from xtalk.registry import ConfigError, build_model

API_KEY = "sk-asr-secret-7777"
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, ask what "
            "you can do for your country.")


def checking_handler(expected_fields: dict[str, str], key: str | None = API_KEY,
                     answer: dict | None = None):
    """A transcription server that checks the request and answers ``answer`` (default: the
    number of samples it received, so the test sees the audio arrived whole)."""

    def handle(request: Recorded) -> Reply:
        assert request.path == "/v1/audio/transcriptions", request.path
        request.assert_bearer(key)
        fields, files = request.multipart()
        assert fields == expected_fields, fields
        assert list(files) == ["file"]
        filename, content_type, data = files["file"]
        assert filename.endswith(".wav") and content_type == "audio/wav"
        pcm, rate = decode_wav(data)
        assert rate == 16000
        body = answer or {"text": f" got {pcm.size} samples ", "checksum": int(pcm.sum())}
        return Reply(200, "application/json", json.dumps(body).encode())

    return handle


def test_request_fields_audio_and_answer() -> None:
    rng = np.random.default_rng(5)
    audio = rng.integers(-8000, 8000, 16000, dtype=np.int16)
    expected = {"model": "Systran/faster-whisper-small", "response_format": "json",
                "language": "en", "prompt": "Xtalk", "temperature": "0.0"}
    with ScriptedSpeechServer(checking_handler(expected)) as server:
        asr = OpenAITranscriptionASR(base_url=server.base_url + "/v1/",
                                     model="Systran/faster-whisper-small", api_key=API_KEY,
                                     language="en", prompt="Xtalk", temperature=0.0)
        result = asr.transcribe(audio)
        assert result.text == "got 16000 samples"
        assert (result.confidence, result.language, result.no_speech_prob) == (1.0, "en", 0.0)
        # the WAV carried exactly our samples
        _, files = server.requests[0].multipart()
        assert np.array_equal(decode_wav(files["file"][2])[0], audio)

        # no interim results: no request is made for a partial
        partial = asr.transcribe_partial(audio)
        assert partial.text == "" and len(server.requests) == 1
        assert asr.transcribe(np.zeros(0, dtype=np.int16)).text == ""
        assert len(server.requests) == 1
        with pytest.raises(ValueError, match="PCM16"):
            asr.transcribe(audio.astype(np.float32))


def test_minimal_form_without_key() -> None:
    expected = {"model": "whisper-1", "response_format": "json"}
    with ScriptedSpeechServer(checking_handler(expected, key=None)) as server:
        asr = OpenAITranscriptionASR(base_url=server.base_url + "/v1", model="whisper-1")
        assert asr.transcribe(np.ones(800, dtype=np.int16)).text == "got 800 samples"


async def test_async_transcription() -> None:
    expected = {"model": "m", "response_format": "json"}
    with ScriptedSpeechServer(checking_handler(expected)) as server:
        asr = OpenAITranscriptionASR(base_url=server.base_url + "/v1", model="m",
                                     api_key=API_KEY)
        result = await asr.atranscribe(np.full(1600, 3, dtype=np.int16))
        assert result.text == "got 1600 samples"
        server.stop()
        with pytest.raises(RemoteModelError, match="connection refused"):
            await asr.atranscribe(np.full(1600, 3, dtype=np.int16))


def test_real_recognition_through_a_speaches_like_server(whisper) -> None:
    """The server decodes the uploaded WAV and runs faster-whisper on it (verbose_json with
    segments), so the words come from the audio the adapter sent."""
    sf = pytest.importorskip("soundfile")
    path = SPEECH_DIR / "jfk.flac"
    if not path.is_file():
        pytest.skip(f"shared speech data not found: {path}")
    samples, rate = sf.read(str(path), dtype="int16")
    if samples.ndim > 1:
        samples = samples.mean(axis=1).astype(np.int16)
    samples = resample_int16(samples, rate, 16000)  # the engine's input format

    def speaches(request: Recorded) -> Reply:
        assert request.path == "/v1/audio/transcriptions"
        fields, files = request.multipart()
        assert fields == {"model": "tiny.en", "response_format": "verbose_json",
                          "language": "en"}
        pcm, _ = decode_wav(files["file"][2])
        segments, _ = whisper.transcribe(pcm.astype(np.float32) / 32768.0,
                                            language=fields["language"], beam_size=1)
        body = {"text": " ".join(s.text.strip() for s in segments), "language": "english",
                "segments": [{"text": s.text, "avg_logprob": s.avg_logprob,
                              "no_speech_prob": s.no_speech_prob} for s in segments]}
        if not segments:
            body["segments"] = []
        return Reply(200, "application/json", json.dumps(body).encode())

    with ScriptedSpeechServer(speaches) as server:
        asr = build_model("asr", {"type": "OpenAITranscriptionASR", "params": {
            "base_url": server.base_url + "/v1", "model": "tiny.en", "language": "en",
            "response_format": "verbose_json"}})
        result = asr.transcribe(samples)
    assert wer(JFK_TEXT, result.text) <= 0.15, result.text
    assert 0.3 < result.confidence <= 1.0 and result.language == "en"
    assert 0.0 <= result.no_speech_prob < 0.5


def test_failures_are_clear_recoverable_and_keep_the_key_secret(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    expected = {"model": "m", "response_format": "json"}
    audio = np.full(3200, 100, dtype=np.int16)
    with ScriptedSpeechServer(checking_handler(expected)) as server:
        asr = OpenAITranscriptionASR(base_url=server.base_url + "/v1", model="m",
                                     api_key=API_KEY, timeout_s=0.5)
        errors = []
        for step, kind, text in (
                (Fail(500), "http_status", "answered HTTP 500 Internal Server Error"),
                (Fail(401, b'{"error": "bad key"}'), "http_status", "HTTP 401"),
                (Hang(2.0), "timeout", "did not answer within 0.5 s"),
                (Garbage(), "bad_response", "not a transcription"),
                (Garbage(b'{"txt": 1}', "application/json"), "bad_response",
                 "not a transcription")):
            server.script(step)
            with pytest.raises(RemoteModelError) as caught:
                asr.transcribe(audio)
            assert caught.value.kind == kind and text in str(caught.value), caught.value
            assert "transcription (OpenAI-compatible) server at http://127.0.0.1:" \
                in str(caught.value)
            errors.append(caught.value)
            assert asr.transcribe(audio).text == "got 3200 samples"  # recovered
        server.stop()
        with pytest.raises(RemoteModelError, match="is the server running") as down:
            asr.transcribe(audio)
        assert down.value.kind == "connection"
        errors.append(down.value)
        server.start()
        assert asr.transcribe(audio).text == "got 3200 samples"
    shown = [str(e) for e in errors] + [repr(asr), caplog.text]
    assert all(API_KEY not in text for text in shown)


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="requires parameter 'model'"):
        build_model("asr", {"type": "OpenAITranscriptionASR",
                            "params": {"base_url": "http://gpu:8000/v1"}})
    with pytest.raises(ValueError, match="http"):
        OpenAITranscriptionASR(base_url="gpu:8000", model="m")
    with pytest.raises(ValueError, match="response_format"):
        OpenAITranscriptionASR(base_url="http://gpu:8000/v1", model="m", response_format="srt")
    with pytest.raises(ValueError, match="timeout_s"):
        OpenAITranscriptionASR(base_url="http://gpu:8000/v1", model="m", timeout_s=-1)


async def test_service_turn_with_remote_asr_down_then_back(transport) -> None:
    """A session's turns are recognised by a remote server that decodes the tone-coded
    audio it receives; while it is down the turn is rejected, once back the next turn is
    recognised and answered."""
    from harness import make_config

    from xtalk import Xtalk
    from xtalk.models import tone_code

    def tone_asr(request: Recorded) -> Reply:
        fields, files = request.multipart()
        assert fields == {"model": "tone-code", "response_format": "json"}
        assert request.headers.get("authorization") == f"Bearer {API_KEY}"
        pcm, rate = decode_wav(files["file"][2])
        text, confidence = tone_code.decode(pcm, rate)
        return Reply(200, "application/json",
                     json.dumps({"text": text if confidence >= 0.5 else ""}).encode())

    with ScriptedSpeechServer(tone_asr) as server:
        server.stop()
        config = make_config(agent={"default_reply": "You said {text}."})
        config["asr"] = {"type": "OpenAITranscriptionASR", "params": {
            "base_url": server.base_url + "/v1", "model": "tone-code", "api_key": API_KEY,
            "timeout_s": 5.0, "connect_timeout_s": 1.0}}
        client = await transport.open_session(Xtalk.from_config(config))

        await client.say("hello there")
        rejected = await client.wait_for("invalid_asr_result", timeout=8.0)
        assert rejected.data["reason"] == "asr_error"
        assert client.count("finish_asr") == 0

        server.start()
        start = len(client.messages)
        await client.say("good morning")
        final = await client.wait_for("finish_asr", start=start, timeout=8.0)
        assert final.data["text"] == "good morning"
        await client.wait_for("tts_finished", turn_id=final.turn_id, start=start, timeout=8.0)
        assert API_KEY not in json.dumps([m.raw for m in client.messages if m.action != "audio"])
