"""The managed Python runtime's ``/var/runtime/bootstrap.py``, with a local folder for ``/opt``.

Rendered by ``xraylayer_local.runtimes``: only the ``/opt`` location differs from Lambda's.
Layer paths are added only when ``PYTHONPATH`` is unset, which is why an exec wrapper that
exports ``PYTHONPATH`` must add the layer folders itself.
"""

import os
import site
import sys

import awslambdaric.__main__ as awslambdaricmain

OPT_DIR = "@OPT_DIR@"


def is_pythonpath_set():
    return "PYTHONPATH" in os.environ


def get_opt_site_packages_directory():
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return os.path.join(OPT_DIR, "python", "lib", f"python{version}", "site-packages")


def get_opt_python_directory():
    return os.path.join(OPT_DIR, "python")


def get_var_lang_site_package_directory():
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return os.path.join(sys.prefix, "lib", f"python{version}", "site-packages")


def set_default_sys_path():
    """Precedence: task root, then the layer's site-packages, /opt/python, the runtime's own."""
    if not is_pythonpath_set():
        sys.path.insert(0, get_var_lang_site_package_directory())
        sys.path.insert(0, get_opt_python_directory())
        sys.path.insert(0, get_opt_site_packages_directory())
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])


def add_default_site_directories():
    """Site directories, so that ``.pth`` files of the function and its layers are processed."""
    site.addsitedir(os.environ["LAMBDA_TASK_ROOT"])
    if not is_pythonpath_set():
        site.addsitedir(get_opt_site_packages_directory())
        site.addsitedir(get_opt_python_directory())


def set_default_pythonpath():
    if not is_pythonpath_set():
        os.environ["PYTHONPATH"] = os.environ["LAMBDA_RUNTIME_DIR"]


def main():
    set_default_sys_path()
    add_default_site_directories()
    set_default_pythonpath()
    awslambdaricmain.main([os.environ["LAMBDA_TASK_ROOT"], os.environ["_HANDLER"]])


if __name__ == "__main__":
    main()
