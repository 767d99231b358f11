"""Audio plumbing: canonical format conversion, resampling, and input history."""
