"""Text handling shared by the engine and the models (no serving or model imports)."""
