"""Speech out: reply text to audio (clause by clause), and the playback of that audio."""
