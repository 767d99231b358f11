"""Embeddings backends for retrieval (LangChain ``Embeddings``).

``OpenAIEmbeddings`` (langchain-openai) talks to any OpenAI-compatible ``/v1/embeddings``
endpoint (OpenAI, vLLM, Ollama, llama.cpp); with no embeddings configured, retrieval
uses BM25 over the session's documents and needs no model.
"""

from xtalk.models._lazy import lazy_exports

_BACKENDS: dict[str, str] = {"OpenAIEmbeddings": "langchain_openai"}

__all__ = list(_BACKENDS)
__getattr__, __dir__ = lazy_exports(__name__, _BACKENDS)
