"""Data files are found the same way from a checkout and from a PyInstaller bundle."""

from __future__ import annotations

import json
import sys

from paths import ROOT

from xtalk.models.asr.whisper_models import _package_dir
from xtalk.resource_paths import default_config_path, resources_dir, web_client_dir


def test_checkout_resources_are_the_repository_folder():
    assert resources_dir() == ROOT / "resources"
    assert isinstance(json.loads(default_config_path().read_text()), dict)
    assert (web_client_dir() / "index.html").is_file()


def test_frozen_resources_are_inside_the_bundle(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_dir() == tmp_path / "resources"
    assert default_config_path() == tmp_path / "resources" / "default_config.json"
    assert web_client_dir() == tmp_path / "resources" / "web"


def test_not_frozen_ignores_a_stray_meipass(monkeypatch, tmp_path):
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_dir() == ROOT / "resources"


def test_model_package_folder_of_a_namespace_package(monkeypatch, tmp_path):
    # In a bundle a data-only model package can be a namespace package, for which
    # importlib.resources.files() gives a MultiplexedPath (no usable str()).
    package = tmp_path / "xtalk_test_ns_models"
    (package / "model").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _package_dir("xtalk_test_ns_models") == package
    assert _package_dir("xtalk_test_no_such_package") is None
