from xtalk.serving.managers.audio_in.vad_segmenter import SpeechSegmenter, VADSettings

FRAME = 512


def run(probabilities, **settings):
    seg = SpeechSegmenter(VADSettings(**settings))
    events = []
    for i, p in enumerate(probabilities):
        ev = seg.process(i * FRAME, FRAME, p)
        if ev is not None:
            events.append((ev.kind, ev.sample))
    return events


def test_start_after_min_speech_with_pre_roll_and_end_after_min_silence():
    probs = [0.0] * 20 + [0.9] * 20 + [0.0] * 20
    events = run(probs, min_speech_s=0.064, min_silence_s=0.3, pre_roll_s=0.1)
    kinds = [k for k, _ in events]
    assert kinds == ["start", "pause", "end"]
    assert events[0][1] == 20 * FRAME - 1600
    assert events[-1][1] == 40 * FRAME  # where silence began


def test_a_click_shorter_than_min_speech_is_ignored():
    assert run([0.0] * 5 + [0.9] + [0.0] * 40, min_speech_s=0.1) == []


def test_short_pause_resumes_the_same_segment():
    probs = [0.9] * 10 + [0.0] * 3 + [0.9] * 10 + [0.0] * 30
    kinds = [k for k, _ in run(probs, min_silence_s=0.3)]
    assert kinds == ["start", "pause", "resume", "pause", "end"]


def test_hysteresis_keeps_speech_between_thresholds():
    probs = [0.9] * 10 + [0.4] * 30
    kinds = [k for k, _ in run(probs, threshold=0.5, neg_threshold=0.3)]
    assert kinds == ["start"]


def test_force_end():
    seg = SpeechSegmenter(VADSettings())
    for i in range(10):
        seg.process(i * FRAME, FRAME, 0.9)
    ev = seg.force_end(5000)
    assert ev is not None and ev.kind == "end" and ev.sample == 5000
    assert seg.force_end(6000) is None
