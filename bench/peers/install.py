"""Pinned packages from PyPI in a cached folder laid out like a Lambda layer (or a task root).

``~/.cache/xraylayer-bench/<name>-<python>/`` gets the packages of one requirements file in
``bench/requirements/`` (every version pinned, installed with ``--no-deps`` so the folder holds
exactly the list), then the extra files a configuration needs (its exec wrapper, a handler
module), then byte-code for the function's Python version. The byte-code is hash-based, so it
stays valid wherever the folder is copied: ``/opt`` is read-only in Lambda, and a peer layer
without usable byte-code would recompile on every cold start. Giving every peer byte-code is
their best case, which keeps the comparison fair to them.

The folder is rebuilt only when its inputs change (a key over the requirements, the extra files
and the interpreter), in a temporary folder renamed into place under a lock, so parallel runs
never see half an installation.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from peers.configuration import Context, Unavailable

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements"
# The peers' exec wrappers and handler shims, re-created (they are not on PyPI).
RECREATED = Path(__file__).resolve().parent / "wrappers"
KEY_FILE = ".bench-key"
LAYOUT_VERSION = "1"  # bump when the way folders are built changes


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/xraylayer-bench`` (default ``~/.cache/xraylayer-bench``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xraylayer-bench"


def installed(
    name: str,
    context: Context,
    requirements: str,
    *,
    packages_in: str = "python",
    extras: Mapping[str, Path] | None = None,
) -> Path:
    """The cached folder for ``name``: ``requirements`` installed into ``packages_in`` (relative
    to the folder), each ``extras`` source copied to its relative destination."""
    extras = dict(extras or {})
    folder = context.cache / f"{name}-{context.python}"
    key = _key(context, REQUIREMENTS / requirements, extras)
    if _current(folder, key):
        return folder
    context.cache.mkdir(parents=True, exist_ok=True)
    with _locked(context.cache / f"{folder.name}.lock"):
        if not _current(folder, key):
            _build(
                folder,
                key=key,
                context=context,
                requirements=REQUIREMENTS / requirements,
                packages_in=packages_in,
                extras=extras,
            )
    return folder


def _key(context: Context, requirements: Path, extras: Mapping[str, Path]) -> str:
    digest = hashlib.sha256(f"{LAYOUT_VERSION}|{context.runtime.python.resolve()}".encode())
    digest.update(requirements.read_bytes())
    for destination, source in sorted(extras.items()):
        digest.update(destination.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def _current(folder: Path, key: str) -> bool:
    stamp = folder / KEY_FILE
    return stamp.is_file() and stamp.read_text() == key


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(
    folder: Path,
    *,
    key: str,
    context: Context,
    requirements: Path,
    packages_in: str,
    extras: Mapping[str, Path],
) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        _pip_install(requirements, staging / packages_in, context.python)
        for destination, source in extras.items():
            (staging / destination).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, staging / destination)
        _compile(context, staging)
        (staging / KEY_FILE).write_text(key)
        staging.chmod(0o755)
        old = folder.with_name(f".{folder.name}-old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _pip_install(requirements: Path, target: Path, python: str) -> None:
    """Wheels for the function's Python version and this machine, with this venv's pip."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower())
    command = [
        *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
        *("--no-compile", "--no-deps", "--target", str(target)),
        *("--python-version", python, "--implementation", "cp", "--only-binary=:all:"),
        *("--platform", f"manylinux2014_{machine or platform.machine().lower()}"),
        *("-r", str(requirements)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        why = (errors or done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"pip could not install {requirements.name}: {why}")


def _compile(context: Context, folder: Path) -> None:
    """Hash-based byte-code for the function's version; files that do not compile (templates,
    Python 2 leftovers in some packages) are skipped, as they are at import."""
    command = [str(context.runtime.python), "-m", "compileall", "-q", "-j", "0"]
    command += ["--invalidation-mode", "unchecked-hash", str(folder)]
    subprocess.run(command, capture_output=True, check=False)
