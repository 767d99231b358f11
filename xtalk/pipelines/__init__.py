"""Pipelines: the bundle of models a session uses."""

from xtalk.pipelines.default import DefaultPipeline
from xtalk.pipelines.interfaces import Pipeline

__all__ = ["DefaultPipeline", "Pipeline"]
