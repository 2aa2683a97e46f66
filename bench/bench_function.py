"""The benchmark function's folder (its task root): bench/function/ and the packages it bundles.

Built once per Python version in the benchmark cache, with its byte-code, as a deployment
package would be: its code, then ``requests`` and its dependencies (bench/requirements/
function.txt), as ``pip install requests -t .`` would leave them.
"""

from __future__ import annotations

from pathlib import Path

from peers.configuration import Context
from peers.install import installed

SOURCES = Path(__file__).resolve().parent / "function"


def function_folder(context: Context) -> Path:
    code = {path.name: path for path in sorted(SOURCES.glob("*.py"))}
    return installed("function", context, "function.txt", packages_in=".", extras=code)
