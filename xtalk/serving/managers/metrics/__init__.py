"""Metrics: where each turn's latency goes."""
