"""Build the one-folder binary of the desktop app: ``dist/xtalk/`` (``python packaging/build.py``).

Runs PyInstaller on ``packaging/xtalk.spec`` (install it with ``pip install -e ".[packaging]"``),
then prints the build time and the size of the result. Works the same on Linux, Windows and
macOS; the result runs only on the OS it was built on.

Options: ``--dist DIR`` (default ``dist``), ``--work DIR`` (default ``build/pyinstaller``),
``--no-clean`` to reuse PyInstaller's cache from an earlier build.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "xtalk.spec"
NAME = "xtalk"


def folder_size(path: Path) -> int:
    """Bytes of every regular file under ``path`` (symbolic links not followed)."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build dist/xtalk/ with PyInstaller.")
    parser.add_argument("--dist", default=str(ROOT / "dist"), metavar="DIR")
    parser.add_argument("--work", default=str(ROOT / "build" / "pyinstaller"), metavar="DIR")
    parser.add_argument("--no-clean", action="store_true",
                        help="keep PyInstaller's cache from an earlier build")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("PyInstaller") is None:
        print("build: PyInstaller is not installed: pip install -e \".[packaging]\"",
              file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
               "--distpath", args.dist, "--workpath", args.work, str(SPEC)]
    if not args.no_clean:
        command.insert(3, "--clean")
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        print(f"build: PyInstaller failed (exit {done.returncode})", file=sys.stderr)
        return done.returncode
    folder = Path(args.dist) / NAME
    executable = folder / (NAME + (".exe" if sys.platform == "win32" else ""))
    size = folder_size(folder)
    print(f"build: {executable} in {elapsed:.0f} s; {folder} holds {size / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
