"""Where model classes are found, and how a config entry becomes a model.

A slot (``"asr"``, ``"tts"``, ``"llm_agent"`` ...) has a list of *import specs*, tried in
order when a configuration names a class for that slot:

* a module path: ``"my_pkg.custom_tts"`` — the class is an attribute of the module;
* ``"module:attribute"``: ``"my_pkg.custom_tts:registry"`` — the attribute is a mapping
  of names to classes, or an object/module whose attributes are the classes;
* a Python file: ``"/abs/path/custom_tts.py"``, ``Path("./custom_tts.py")``,
  ``"C:\\models\\custom_tts.py"`` (Windows drive letters work), optionally with
  ``":attribute"`` after ``.py``;
* a module object or a mapping given directly.

A config entry is ``"ClassName"`` or ``{"type": "ClassName", "params": {...}}``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

ImportSpec = str | Path | ModuleType | Mapping[str, Any]


class ConfigError(ValueError):
    """A configuration entry could not be turned into a model."""


SHARED_MODEL_REGISTRY: dict[str, list[ImportSpec]] = {
    "asr": ["xtalk.models.asr"],
    "tts": ["xtalk.models.tts"],
    "llm_agent": ["xtalk.models.agents"],
    "vad": ["xtalk.models.vad"],
    "turn_detector": ["xtalk.models.turn"],
    "wake_word": ["xtalk.models.wake"],
    "speech_enhancer": ["xtalk.models.enhancers"],
    "embeddings": ["xtalk.models.embeddings"],
    "captioner": ["xtalk.models.captioners"],
    "punt_restorer_model": ["xtalk.models.punctuation"],
    "caption_rewriter": ["xtalk.models.rewriters"],
    "speaker_encoder": ["xtalk.models.speakers"],
    "speech_speed_controller": ["xtalk.models.speed"],
}


def describe_spec(spec: ImportSpec) -> str:
    """A human-readable name of an import spec, for error messages."""
    if isinstance(spec, ModuleType):
        return f"module {spec.__name__}"
    if isinstance(spec, Mapping):
        return f"mapping with {sorted(spec)}"
    return str(spec)


def _split_file_spec(text: str) -> tuple[str, str | None] | None:
    """``"path.py"`` / ``"path.py:attr"`` → (path, attr); ``None`` if not a file spec."""
    head, sep, tail = text.rpartition(":")
    if sep and head.lower().endswith(".py") and tail.isidentifier():
        return head, tail
    if text.lower().endswith(".py"):
        return text, None
    return None


def _load_file(path_text: str) -> ModuleType:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ImportError(f"no such file: {path}")
    path = path.resolve()
    name = "xtalk_user_models_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_spec_target(spec: ImportSpec) -> Any:
    """Import what ``spec`` points to (a module, mapping or object)."""
    if isinstance(spec, ModuleType | Mapping):
        return spec
    if isinstance(spec, Path):
        return _load_file(str(spec))
    if not isinstance(spec, str):
        raise TypeError(f"unsupported import spec {spec!r}")
    file_spec = _split_file_spec(spec)
    if file_spec is not None:
        module = _load_file(file_spec[0])
        return getattr(module, file_spec[1]) if file_spec[1] else module
    module_name, sep, attr = spec.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr) if sep else module


def _lookup(target: Any, name: str) -> Any:
    if isinstance(target, Mapping):
        return target.get(name)
    return getattr(target, name, None)


def resolve_class(
    slot: str, type_name: str, registry: Mapping[str, list[ImportSpec]] | None = None
) -> Any:
    """Find ``type_name`` for ``slot`` in the registry.

    Raises:
        ConfigError: Naming the slot, the type, and every place searched (with why each
            place failed, when it could not be imported).
    """
    specs = list((registry if registry is not None else SHARED_MODEL_REGISTRY).get(slot, []))
    searched: list[str] = []
    for spec in specs:
        try:
            target = load_spec_target(spec)
        except Exception as exc:  # import failures are reported, not fatal to the search
            searched.append(f"{describe_spec(spec)} (could not be imported: "
                            f"{type(exc).__name__}: {exc})")
            continue
        found = _lookup(target, type_name)
        if found is not None:
            return found
        searched.append(describe_spec(spec))
    where = "; ".join(searched) if searched else "no search locations are registered"
    raise ConfigError(
        f"unknown type {type_name!r} for slot {slot!r}; searched: {where}. "
        f"Register a location with Xtalk.register_model_search_spec(slot={slot!r}, spec=...)."
    )


def parse_entry(slot: str, entry: Any) -> tuple[str, dict[str, Any]]:
    """Split a config entry into (type name, params)."""
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping):
        unknown = set(entry) - {"type", "params"}
        if unknown:
            raise ConfigError(
                f"slot {slot!r}: unexpected keys {sorted(unknown)}; "
                'use {"type": "ClassName", "params": {...}}'
            )
        type_name = entry.get("type")
        params = entry.get("params")
        if params is None:
            params = {}
        if not isinstance(type_name, str) or not type_name:
            raise ConfigError(f'slot {slot!r}: "type" must be a class name string')
        if not isinstance(params, Mapping):
            raise ConfigError(f'slot {slot!r}: "params" of {type_name} must be an object')
        return type_name, dict(params)
    raise ConfigError(
        f'slot {slot!r}: expected "ClassName" or {{"type", "params"}}, got {type(entry).__name__}'
    )


def instantiate(slot: str, cls: Any, params: dict[str, Any]) -> Any:
    """Call ``cls(**params)``; a parameter it does not take is named in the error."""
    name = getattr(cls, "__name__", repr(cls))
    if not callable(cls):
        raise ConfigError(f"slot {slot!r}: {name} is not a class or factory")
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
        accepted = [
            p.name for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        if not accepts_any:
            for key in params:
                if key not in accepted:
                    raise ConfigError(
                        f"slot {slot!r}: {name} has no parameter {key!r} "
                        f"(it accepts: {', '.join(accepted) or 'none'})"
                    )
        missing = [
            p.name for p in signature.parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and p.name not in params
        ]
        if missing:
            raise ConfigError(
                f"slot {slot!r}: {name} requires parameter {missing[0]!r} "
                f"(missing: {', '.join(missing)})"
            )
    try:
        return cls(**params)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"slot {slot!r}: {name} rejected its parameters: {exc}") from exc


def build_model(
    slot: str, entry: Any, registry: Mapping[str, list[ImportSpec]] | None = None
) -> Any:
    """Resolve and instantiate one config entry for ``slot``."""
    type_name, params = parse_entry(slot, entry)
    cls = resolve_class(slot, type_name, registry)
    return instantiate(slot, cls, params)
