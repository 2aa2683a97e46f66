"""The environment variables Lambda gives the runtime and, reduced, its extensions.

Pure functions: the sandbox composes a `FunctionConfig` and these turn it into the two
environments, following the managed runtime's values (lambda-platform.md §4.3) and the
extension rules (§2.5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Variables Lambda withholds from extensions (§2.5); every `_`-prefixed variable goes too.
EXTENSION_WITHHELD = frozenset(
    {
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)

# Customer variables may not override these (Lambda rejects such a configuration).
RESERVED = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_XRAY_DAEMON_ADDRESS",
        "AWS_XRAY_CONTEXT_MISSING",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

OPT = "/opt"


@dataclass(frozen=True)
class FunctionConfig:
    """What a function's configuration and its sandbox's addresses say about its environment."""

    function_name: str
    handler: str
    region: str
    memory_mb: int
    task_root: Path
    runtime_dir: Path
    lang_bin: Path
    opt_dir: Path
    tmp_dir: Path  # this sandbox's /tmp (TMPDIR)
    runtime_api: str
    daemon_address: str
    initialization_type: str = "on-demand"
    function_version: str = "$LATEST"
    customer_env: Mapping[str, str] = field(default_factory=dict)


class ReservedVariable(ValueError):
    """A customer variable tried to set one Lambda reserves."""


def map_opt(value: str, opt_dir: Path) -> str:
    """Point a `/opt/...` path into the folder standing in for /opt, as a layer would see it."""
    if value == OPT or value.startswith(OPT + "/"):
        return str(opt_dir) + value[len(OPT) :]
    return value


def runtime_environment(config: FunctionConfig) -> dict[str, str]:
    """The runtime process environment: Lambda's variables, then the customer's."""
    reserved = sorted(RESERVED.intersection(config.customer_env))
    if reserved:
        raise ReservedVariable(f"reserved environment variables cannot be set: {reserved}")
    daemon_host, _, daemon_port = config.daemon_address.rpartition(":")
    env = {
        "_HANDLER": config.handler,
        "LAMBDA_TASK_ROOT": str(config.task_root),
        "LAMBDA_RUNTIME_DIR": str(config.runtime_dir),
        "AWS_LAMBDA_RUNTIME_API": config.runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": config.function_version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]00000000000000000000000000000000",
        "AWS_LAMBDA_INITIALIZATION_TYPE": config.initialization_type,
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_XRAY_DAEMON_ADDRESS": config.daemon_address,
        "_AWS_XRAY_DAEMON_ADDRESS": daemon_host,
        "_AWS_XRAY_DAEMON_PORT": daemon_port,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "PATH": f"{config.lang_bin}:/usr/local/bin:/usr/bin/:/bin:{config.opt_dir}/bin",
        "LD_LIBRARY_PATH": f"{config.task_root}:{config.task_root}/lib:{config.opt_dir}/lib",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        # Not set by Lambda: this environment's own stand-in for /tmp, so that sandboxes
        # running side by side do not share files (or sockets) under the machine's /tmp.
        "TMPDIR": str(config.tmp_dir),
    }
    env.update({key: map_opt(value, config.opt_dir) for key, value in config.customer_env.items()})
    return env


def extension_environment(runtime_env: Mapping[str, str]) -> dict[str, str]:
    """What an external extension gets: the runtime's environment less what Lambda withholds."""
    return {
        key: value
        for key, value in runtime_env.items()
        if not key.startswith("_") and key not in EXTENSION_WITHHELD
    }
