"""The stand-in for the managed Python runtime: ``/var/lang`` (interpreter) and ``/var/runtime``.

Lambda runs a function with an interpreter whose site-packages hold only what AWS ships
(``awslambdaric`` and boto3), started by two small scripts in ``/var/runtime``. To run a layer
exactly as Lambda does, each Python version gets a cached, clean virtual environment with the
same packages (``provision``), and the two scripts are rendered per sandbox with the local paths
filled in (``render_runtime_dir``).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

AWSLAMBDARIC_VERSION = "4.2.2"
BOTO3_VERSION = "1.44.5"
BOTOCORE_VERSION = "1.44.5"

# Real executable and version; a free-threaded build reports "t" (no awslambdaric wheels for it).
_PROBE = (
    "import os, sys, sysconfig; print(os.path.realpath(sys.executable)); "
    "print('%d.%d' % sys.version_info[:2] + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') "
    "else ''))"
)
_PROBE_TIMEOUT_S = 30.0


# The Python versions the layer ships for (build.sh builds byte-code for the same list).
SUPPORTED_VERSIONS = ("3.10", "3.11", "3.12", "3.13")


class RuntimeNotFoundError(RuntimeError):
    """No interpreter of the requested version exists on this machine."""


class RuntimeProvisionError(RuntimeError):
    """Building the clean runtime environment failed (venv creation or package install)."""


@dataclass(frozen=True)
class Runtime:
    """A provisioned runtime: ``lang_bin`` plays ``/var/lang/bin``, ``python`` its interpreter."""

    version: str
    lang_bin: Path
    python: Path

    @property
    def site_packages(self) -> Path:
        """Where the runtime's own packages live (``/var/lang/lib/pythonX.Y/site-packages``)."""
        return self.lang_bin.parent / "lib" / f"python{self.version}" / "site-packages"


@functools.cache
def find_interpreter(version: str) -> Path:
    """The real path of a ``python{version}`` interpreter (never a version-manager shim).

    A shim adds tens of milliseconds to every process start and may not even work for a
    version that is not selected, so each candidate is asked for its own resolved executable.
    Cached per process (a failure is not cached).
    """
    tried: list[str] = []
    for candidate in _candidates(version):
        real, reason = _probe(candidate, version)
        if real is not None:
            return real
        tried.append(f"{candidate} ({reason})")
    listing = "\n  ".join(tried) if tried else "(no candidate found)"
    raise RuntimeNotFoundError(f"no Python {version} interpreter found; tried:\n  {listing}")


def _candidates(version: str) -> Iterator[Path]:
    """Every ``python{version}`` on PATH, then every pyenv installation of that version."""
    seen: set[Path] = set()
    name = f"python{version}"
    path_dirs = [Path(d) for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    pyenv_dirs = sorted((pyenv_root / "versions").glob(f"{version}.*/bin"), reverse=True)
    for directory in [*path_dirs, *pyenv_dirs]:
        candidate = directory / name
        if candidate in seen or not os.access(candidate, os.X_OK) or candidate.is_dir():
            continue
        seen.add(candidate)
        yield candidate


def _probe(candidate: Path, version: str) -> tuple[Path | None, str]:
    """Ask ``candidate`` for its real executable; ``(None, why)`` when it is not usable."""
    try:
        done = subprocess.run(
            [str(candidate), "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if done.returncode != 0:
        first_line = (done.stderr.strip().splitlines() or ["no output"])[0]
        return None, f"exit {done.returncode}: {first_line}"
    real, reported = done.stdout.split()
    if reported != version:
        return None, f"reports Python {reported}"
    return Path(real), "ok"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/xraylayer-local`` (default ``~/.cache/xraylayer-local``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xraylayer-local"


def _machine() -> str:
    """The manylinux architecture tag of this machine (``x86_64`` or ``aarch64``)."""
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _cache_key(version: str, interpreter: Path) -> str:
    """Changes whenever the environment would come out different."""
    parts = [version, str(interpreter), AWSLAMBDARIC_VERSION, BOTO3_VERSION, BOTOCORE_VERSION]
    parts.append(_machine())
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def _runtime_at(home: Path, version: str) -> Runtime:
    lang_bin = home / "lang" / "bin"
    return Runtime(version=version, lang_bin=lang_bin, python=lang_bin / f"python{version}")


def provision(version: str) -> Runtime:
    """The cached clean runtime for ``version``, built on first use.

    Built in a temporary folder and renamed into place under a file lock, so parallel test
    workers neither race nor ever see a half-built environment.
    """
    interpreter = find_interpreter(version)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    home = root / f"python{version}-{_cache_key(version, interpreter)}"
    if home.is_dir():
        return _runtime_at(home, version)
    with _locked(root / f"{home.name}.lock"):
        if not home.is_dir():
            _build_atomically(home, version, interpreter)
    return _runtime_at(home, version)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_atomically(home: Path, version: str, interpreter: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=home.parent))
    staging.chmod(0o755)
    try:
        _build(staging, version, interpreter)
        os.rename(staging, home)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _build(home: Path, version: str, interpreter: Path) -> None:
    """venv without pip, then only the managed runtime's packages, compiled for ``version``."""
    lang = home / "lang"
    _run([str(interpreter), "-m", "venv", "--without-pip", str(lang)])
    runtime = _runtime_at(home, version)
    for name in ("python3", f"python{version}"):
        if not (runtime.lang_bin / name).exists():
            raise RuntimeProvisionError(f"venv at {lang} has no bin/{name}")
    _run(_pip_install_command(runtime))
    _run([str(runtime.python), "-m", "compileall", "-q", "-j", "0", str(runtime.site_packages)])


def _pip_install_command(runtime: Runtime) -> list[str]:
    """Install wheels built for the runtime's version and this machine, with the dev venv's pip."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(runtime.site_packages),
        "--python-version",
        runtime.version,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        "--platform",
        f"manylinux2014_{_machine()}",
        f"awslambdaric=={AWSLAMBDARIC_VERSION}",
        f"boto3=={BOTO3_VERSION}",
        f"botocore=={BOTOCORE_VERSION}",
    ]


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeProvisionError(
            f"command failed with exit {done.returncode}: {shlex.join(command)}\n"
            f"{done.stdout}{done.stderr}"
        )


def render_runtime_dir(dest: Path, runtime: Runtime, opt_dir: Path) -> Path:
    """Write the runtime's ``bootstrap`` and ``bootstrap.py`` into ``dest``; return ``bootstrap``.

    ``dest`` plays ``/var/runtime`` (the sandbox sets ``LAMBDA_RUNTIME_DIR`` to it) and
    ``opt_dir`` plays ``/opt`` in the layer search paths of ``bootstrap.py``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    bootstrap_py = dest / "bootstrap.py"
    bootstrap_py.write_text(render_bootstrap_py(opt_dir))
    bootstrap = dest / "bootstrap"
    bootstrap.write_text(render_bootstrap(runtime, bootstrap_py))
    bootstrap.chmod(0o755)
    return bootstrap


def render_bootstrap(runtime: Runtime, bootstrap_py: Path) -> str:
    """The bash ``/var/runtime/bootstrap`` with this machine's interpreter and script paths."""
    return (
        _template("bootstrap")
        .replace("@VERSION@", runtime.version)
        .replace("@PYTHON@", shlex.quote(str(runtime.python)))
        .replace("@BOOTSTRAP_PY@", shlex.quote(str(bootstrap_py)))
    )


def render_bootstrap_py(opt_dir: Path) -> str:
    """The runtime's ``bootstrap.py`` with ``opt_dir`` where Lambda has ``/opt``."""
    return _template("bootstrap.py").replace('"@OPT_DIR@"', repr(str(opt_dir)))


def _template(name: str) -> str:
    return (resources.files(__package__) / "runtime_files" / name).read_text()
