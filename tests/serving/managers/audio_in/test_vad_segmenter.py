from xtalk.serving.managers.audio_in.vad_segmenter import SpeechSegmenter
from xtalk.serving.session_settings import VADSettings

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
    assert kinds == ["onset", "start", "pause", "end"]
    assert events[0][1] == 20 * FRAME  # the first speech frame, announced at once
    assert events[1][1] == 20 * FRAME - 1600
    assert events[-1][1] == 40 * FRAME  # where silence began


def test_a_click_shorter_than_min_speech_is_an_onset_dismissed_at_once():
    assert run([0.0] * 5 + [0.9] + [0.0] * 40, min_speech_s=0.1) == [
        ("onset", 5 * FRAME), ("dismissed", 6 * FRAME)]


def test_an_onset_is_announced_once_per_run_of_speech_frames():
    events = run([0.0] * 3 + [0.9] * 2 + [0.2] + [0.9] * 5, min_speech_s=0.1)
    assert [k for k, _ in events] == ["onset", "dismissed", "onset", "start"]


def test_a_frame_long_enough_for_min_speech_starts_without_an_onset():
    assert [k for k, _ in run([0.0, 0.9, 0.9], min_speech_s=0.032)] == ["start"]


def test_short_pause_resumes_the_same_segment():
    probs = [0.9] * 10 + [0.0] * 3 + [0.9] * 10 + [0.0] * 30
    kinds = [k for k, _ in run(probs, min_silence_s=0.3)]
    assert kinds == ["onset", "start", "pause", "resume", "pause", "end"]


def test_hysteresis_keeps_speech_between_thresholds():
    probs = [0.9] * 10 + [0.4] * 30
    kinds = [k for k, _ in run(probs, threshold=0.5, neg_threshold=0.3)]
    assert kinds == ["onset", "start"]


def test_force_end():
    seg = SpeechSegmenter(VADSettings())
    for i in range(10):
        seg.process(i * FRAME, FRAME, 0.9)
    ev = seg.force_end(5000)
    assert ev is not None and ev.kind == "end" and ev.sample == 5000
    assert seg.force_end(6000) is None


def test_force_end_dismisses_a_pending_onset():
    seg = SpeechSegmenter(VADSettings(min_speech_s=0.2))
    assert seg.process(0, FRAME, 0.9).kind == "onset"
    ev = seg.force_end(FRAME)
    assert ev is not None and ev.kind == "dismissed"
    assert seg.force_end(2 * FRAME) is None


def test_a_start_soon_after_a_dismissed_onset_keeps_that_onset():
    """A soft word start scored speech for one frame, then less, then clearly: the word's
    first frames belong to the segment (the longer pre-roll of an uncertain start counted
    from the dismissed onset)."""
    probs = [0.0] * 10 + [0.6] + [0.2] * 10 + [0.9] * 5
    events = run(probs, min_speech_s=0.064, pre_roll_s=0.1, onset_memory_s=1.0,
                 onset_pre_roll_s=0.25)
    assert [k for k, _ in events] == ["onset", "dismissed", "onset", "start"]
    assert events[-1][1] == 10 * FRAME - 4000


def test_a_dismissed_onset_long_before_does_not_stretch_the_start():
    probs = [0.0] * 10 + [0.6] + [0.2] * 40 + [0.9] * 5
    events = run(probs, min_speech_s=0.064, pre_roll_s=0.1, onset_memory_s=1.0)
    assert events[-1] == ("start", 51 * FRAME - 1600)


def test_the_pause_sample_is_known_only_inside_a_pause():
    seg = SpeechSegmenter(VADSettings(min_silence_s=1.0))
    for i in range(5):
        seg.process(i * FRAME, FRAME, 0.9)
    assert seg.pause_sample is None
    seg.process(5 * FRAME, FRAME, 0.0)
    seg.process(6 * FRAME, FRAME, 0.0)
    assert seg.pause_sample == 5 * FRAME


def test_a_soft_lead_in_belongs_to_the_segment():
    """"Ask" spoken over the reply, through a browser's echo cancellation (Silero's
    scores of a real recording): it never reaches 0.5, "not" does; the start reaches back
    over the soft frames (gaps of up to 0.3 s), not over the silence before them."""
    probs = ([0.0] * 20 + [0.15, 0.41, 0.30, 0.40, 0.32, 0.20, 0.11, 0.21, 0.14, 0.14, 0.23,
                           0.23, 0.34, 0.31, 0.20, 0.17, 0.18, 0.16, 0.16, 0.14, 0.11, 0.14,
                           0.26, 0.44, 0.71, 0.73, 0.65])
    events = run(probs, min_speech_s=0.064, pre_roll_s=0.2)
    assert [k for k, _ in events] == ["onset", "start"]
    assert events[-1][1] == 21 * FRAME - 3200  # from "ask" (0.41), with the pre-roll


def test_soft_frames_far_from_the_speech_are_not_a_lead_in():
    probs = [0.0] * 20 + [0.4] * 3 + [0.05] * 15 + [0.9] * 3
    events = run(probs, min_speech_s=0.064, pre_roll_s=0.2)
    assert events[-1] == ("start", 38 * FRAME - 3200)
