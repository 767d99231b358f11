"""Where the app's data files live: ``resources/`` (default configuration, browser client).

From a source checkout (or an editable install) that is the ``resources/`` folder next to
the ``xtalk`` package. In a PyInstaller build (``sys.frozen``) it is ``resources/`` inside
the bundle's data folder, ``sys._MEIPASS`` (``_internal/`` of a one-folder build; on macOS
``Contents/Frameworks`` of an ``.app``). The model files are found through their Python
packages (``importlib.resources``), which PyInstaller's importer answers from the bundle;
a model file whose package's code is not bundled (Smart Turn's, from pipecat-ai) is looked
up under :func:`bundle_dir` at its package path.
"""

from __future__ import annotations

import sys
from pathlib import Path

RESOURCES_DIRNAME = "resources"


def bundle_dir() -> Path | None:
    """The data folder of a PyInstaller build (``sys._MEIPASS``), else ``None``."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) if getattr(sys, "frozen", False) and bundle else None


def resources_dir() -> Path:
    """The folder holding ``default_config.json`` and ``web/``."""
    bundle = bundle_dir()
    if bundle is not None:
        return bundle / RESOURCES_DIRNAME
    return Path(__file__).resolve().parent.parent / RESOURCES_DIRNAME


def default_config_path() -> Path:
    """The default engine configuration (``resources/default_config.json``)."""
    return resources_dir() / "default_config.json"


def web_client_dir() -> Path:
    """The browser client served at ``/`` (``resources/web``)."""
    return resources_dir() / "web"


__all__ = ["bundle_dir", "default_config_path", "resources_dir", "web_client_dir"]
