"""The managed-runtime stand-in: interpreter lookup, the clean environment, the two scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from xraylayer_local import runtimes

VERSION = "3.11"
SCRIPT_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def runtime() -> runtimes.Runtime:
    return runtimes.provision(VERSION)


def _fake_runtime(tmp_path: Path) -> runtimes.Runtime:
    """A runtime whose 'interpreter' is a script recording its arguments (for bootstrap only)."""
    lang_bin = tmp_path / "lang" / "bin"
    lang_bin.mkdir(parents=True)
    python = lang_bin / f"python{VERSION}"
    _write_recorder(python, tmp_path / "interpreter-args.json")
    return runtimes.Runtime(version=VERSION, lang_bin=lang_bin, python=python)


def _write_recorder(path: Path, record_to: Path) -> None:
    """An executable that writes its argv and AWS_EXECUTION_ENV as JSON, then exits 0."""
    path.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(record_to)!r}, 'w').write(json.dumps("
        "{'argv': sys.argv[1:], 'exec_env': os.environ.get('AWS_EXECUTION_ENV')}))\n"
    )
    path.chmod(0o755)


def _run_bootstrap(bootstrap: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bootstrap)],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )


# --- find_interpreter -------------------------------------------------------------------------


def test_find_interpreter_returns_the_real_interpreter_of_that_version() -> None:
    found = runtimes.find_interpreter(VERSION)
    assert found == Path(os.path.realpath(found))
    assert "shims" not in found.parts
    done = subprocess.run(
        [str(found), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == VERSION


def test_find_interpreter_lists_what_it_tried_when_none_exists(monkeypatch, tmp_path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    impostor = fake_bin / "python3.99"
    impostor.write_text("#!/bin/sh\necho 'not this one' >&2\nexit 3\n")
    impostor.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake_bin))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    with pytest.raises(runtimes.RuntimeNotFoundError) as caught:
        runtimes.find_interpreter("3.99")
    message = str(caught.value)
    assert "3.99" in message
    assert str(impostor) in message
    assert "exit 3" in message


# --- provision ------------------------------------------------------------------------------


def test_provisioned_runtime_has_lang_bin_like_var_lang(runtime: runtimes.Runtime) -> None:
    assert runtime.python == runtime.lang_bin / f"python{VERSION}"
    assert (runtime.lang_bin / "python3").exists()
    assert runtime.python.exists()


def test_provisioned_runtime_holds_only_what_the_managed_runtime_ships(runtime) -> None:
    code = textwrap.dedent(
        """
        import importlib.util, json, sys
        import awslambdaric, boto3, botocore
        print(json.dumps({
            "ric": awslambdaric.__version__,
            "boto3": boto3.__version__,
            "botocore": botocore.__version__,
            "pip": importlib.util.find_spec("pip") is not None,
            "moto": importlib.util.find_spec("moto") is not None,
            "pytest": importlib.util.find_spec("pytest") is not None,
            "prefix": sys.prefix,
        }))
        """
    )
    done = subprocess.run(
        [str(runtime.python), "-c", code], capture_output=True, text=True, check=True
    )
    seen = json.loads(done.stdout)
    assert seen["ric"] == runtimes.AWSLAMBDARIC_VERSION
    assert seen["boto3"] == runtimes.BOTO3_VERSION
    assert seen["botocore"] == runtimes.BOTOCORE_VERSION
    assert not seen["pip"] and not seen["moto"] and not seen["pytest"]
    assert Path(seen["prefix"]) == runtime.lang_bin.parent


def test_provision_is_cached(runtime: runtimes.Runtime) -> None:
    assert runtimes.provision(VERSION) == runtime


@pytest.mark.slow
def test_parallel_provisioning_builds_once_without_racing(tmp_path: Path) -> None:
    """Two processes provisioning into an empty cache both get the same complete runtime."""
    code = (
        "from xraylayer_local import runtimes; "
        f"r = runtimes.provision({VERSION!r}); print(r.python)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    paths = {out.decode().strip() for out, _ in outputs}
    assert len(paths) == 1
    homes = [p for p in (tmp_path / "cache" / "xraylayer-local").iterdir() if p.is_dir()]
    assert len(homes) == 1, "a staging folder was left behind or built twice"


# --- bootstrap (bash) -----------------------------------------------------------------------


def test_bootstrap_without_wrapper_execs_the_interpreter_with_bootstrap_py(tmp_path) -> None:
    fake = _fake_runtime(tmp_path)
    bootstrap = runtimes.render_runtime_dir(tmp_path / "runtime", fake, tmp_path / "opt")
    done = _run_bootstrap(bootstrap)
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = json.loads((tmp_path / "interpreter-args.json").read_text())
    assert recorded["argv"] == [str(tmp_path / "runtime" / "bootstrap.py")]
    assert recorded["exec_env"] == f"AWS_Lambda_python{VERSION}"


def test_bootstrap_execs_the_wrapper_with_exactly_interpreter_and_bootstrap_py(tmp_path) -> None:
    fake = _fake_runtime(tmp_path)
    bootstrap = runtimes.render_runtime_dir(tmp_path / "runtime", fake, tmp_path / "opt")
    wrapper = tmp_path / "wrapper"
    _write_recorder(wrapper, tmp_path / "wrapper-args.json")
    done = _run_bootstrap(bootstrap, AWS_LAMBDA_EXEC_WRAPPER=str(wrapper))
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = json.loads((tmp_path / "wrapper-args.json").read_text())
    assert recorded["argv"] == [str(fake.python), str(tmp_path / "runtime" / "bootstrap.py")]
    assert recorded["exec_env"] == f"AWS_Lambda_python{VERSION}"
    assert not (tmp_path / "interpreter-args.json").exists()


def test_bootstrap_exits_127_when_the_wrapper_does_not_exist(tmp_path) -> None:
    fake = _fake_runtime(tmp_path)
    bootstrap = runtimes.render_runtime_dir(tmp_path / "runtime", fake, tmp_path / "opt")
    missing = tmp_path / "no-such-wrapper"
    done = _run_bootstrap(bootstrap, AWS_LAMBDA_EXEC_WRAPPER=str(missing))
    assert done.returncode == 127
    assert done.stdout.strip() == f"{missing}: does not exist"


def test_bootstrap_exits_126_when_the_wrapper_is_not_executable(tmp_path) -> None:
    fake = _fake_runtime(tmp_path)
    bootstrap = runtimes.render_runtime_dir(tmp_path / "runtime", fake, tmp_path / "opt")
    wrapper = tmp_path / "wrapper"
    wrapper.write_text('#!/bin/sh\nexec "$@"\n')
    wrapper.chmod(0o644)
    done = _run_bootstrap(bootstrap, AWS_LAMBDA_EXEC_WRAPPER=str(wrapper))
    assert done.returncode == 126
    assert done.stdout.strip() == f"{wrapper}: is not an executable"


def test_rendered_bootstrap_is_executable_and_quotes_paths(tmp_path) -> None:
    spaced = tmp_path / "with space"
    fake = _fake_runtime(spaced)
    bootstrap = runtimes.render_runtime_dir(spaced / "runtime dir", fake, spaced / "opt")
    assert os.access(bootstrap, os.X_OK)
    done = _run_bootstrap(bootstrap)
    assert done.returncode == 0, done.stdout + done.stderr
    recorded = json.loads((spaced / "interpreter-args.json").read_text())
    assert recorded["argv"] == [str(spaced / "runtime dir" / "bootstrap.py")]


# --- bootstrap.py (sys.path), end to end with the real runtime ------------------------------


def _path_probe_function(task_root: Path) -> None:
    """A handler module that reports sys.path and PYTHONPATH at import (init), then exits."""
    task_root.mkdir(parents=True)
    (task_root / "path_probe.py").write_text(
        "import json, os, sys\n"
        "print(json.dumps({'path': sys.path, 'PYTHONPATH': os.environ.get('PYTHONPATH')}))\n"
        "sys.stdout.flush()\n"
        "os._exit(0)\n"
    )
    extra = task_root / "from_pth"
    extra.mkdir()
    (task_root / "extra.pth").write_text(f"{extra}\n")


def _layer_dirs(opt: Path) -> tuple[Path, Path]:
    site_packages = opt / "python" / "lib" / f"python{VERSION}" / "site-packages"
    site_packages.mkdir(parents=True)
    (site_packages / "layer.pth").write_text(f"{opt / 'from_layer_pth'}\n")
    (opt / "from_layer_pth").mkdir()
    return site_packages, opt / "python"


def _import_time_view(runtime, tmp_path: Path, **extra_env: str) -> dict:
    task_root, opt = tmp_path / "task", tmp_path / "opt"
    _path_probe_function(task_root)
    _layer_dirs(opt)
    runtime_dir = tmp_path / "runtime"
    bootstrap = runtimes.render_runtime_dir(runtime_dir, runtime, opt)
    done = _run_bootstrap(
        bootstrap,
        LAMBDA_TASK_ROOT=str(task_root),
        LAMBDA_RUNTIME_DIR=str(runtime_dir),
        _HANDLER="path_probe.handler",
        AWS_LAMBDA_RUNTIME_API="127.0.0.1:9",
        **extra_env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bootstrap_py_adds_layer_paths_when_pythonpath_is_unset(runtime, tmp_path) -> None:
    seen = _import_time_view(runtime, tmp_path)
    opt = tmp_path / "opt"
    assert seen["path"][:4] == [
        str(tmp_path / "task"),
        str(opt / "python" / "lib" / f"python{VERSION}" / "site-packages"),
        str(opt / "python"),
        str(runtime.site_packages),
    ]
    assert str(tmp_path / "task" / "from_pth") in seen["path"]
    assert str(opt / "from_layer_pth") in seen["path"]
    assert seen["PYTHONPATH"] == str(tmp_path / "runtime")


def test_bootstrap_py_adds_only_the_task_root_when_pythonpath_is_set(runtime, tmp_path) -> None:
    own = tmp_path / "wrapper-path"
    own.mkdir()
    seen = _import_time_view(runtime, tmp_path, PYTHONPATH=str(own))
    opt = tmp_path / "opt"
    assert seen["path"][0] == str(tmp_path / "task")
    assert str(own) in seen["path"]
    assert str(opt / "python") not in seen["path"]
    assert str(opt / "python" / "lib" / f"python{VERSION}" / "site-packages") not in seen["path"]
    assert str(opt / "from_layer_pth") not in seen["path"]
    assert str(tmp_path / "task" / "from_pth") in seen["path"]
    assert seen["PYTHONPATH"] == str(own)
