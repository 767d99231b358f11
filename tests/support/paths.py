"""Where the tests find the repository, their fixtures and the shared recordings, and the
tone-code test configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
FIXTURES = TESTS / "fixtures"
TONE_CONFIG = FIXTURES / "tone_config.json"
SPEECH_DIR = ROOT.parent / "shared" / "data" / "speech"
JFK = SPEECH_DIR / "jfk.flac"


def tone_config(**overrides: Any) -> dict[str, Any]:
    """The tone-code model configuration (tests/fixtures/tone_config.json) with
    ``overrides`` applied at the top level."""
    config = json.loads(TONE_CONFIG.read_text())
    config.update(overrides)
    return config
