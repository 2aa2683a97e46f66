"""Runs at interpreter start in the function process; /opt/xray-instrument put it on the path.

Budget: under 2 ms (bench/sitecustomize_start.py measures it). In order, it
- notes when the process started (where the cold start's `Init` span begins);
- puts the layer's code at the END of sys.path (its private dependencies stay off it: a
  function must see exactly the packages it sees without the layer);
- installs the post-import hooks: botocore, requests, urllib3 and http.client are patched when
  the function imports them, and imports are timed during init (nothing is patched now);
- runs the next `sitecustomize` on the path (a user's own, or the runtime's), so it keeps
  working; an error in it is reported by `site` exactly as it would be without the layer;
- gives the runtime back the PYTHONPATH it had: when there was none, the runtime's bootstrap.py
  then adds /opt/python and processes its .pth files itself, exactly as without the layer, and
  the function's own Python subprocesses do not run this file.
An error of ours costs one `xraylayer:` line and the tracing, never the function: the runtime
then gets the function's own _HANDLER back, as it does when the layer is switched off.
"""

import os
import sys
import time

STARTED = time.time()
ADDED = "XRAYLAYER_ADDED_PYTHONPATH"  # the entries the wrapper put on PYTHONPATH
ORIGINAL = "XRAYLAYER_ORIGINAL_PYTHONPATH"  # PYTHONPATH before the wrapper, if it was set
HANDLER = "XRAYLAYER_ORIGINAL_HANDLER"  # the function's own _HANDLER, kept by the wrapper
LAYER_HANDLER = "xraylayer.bootstrap.handler"


def layer_paths(boot: str) -> list:
    """The layer's code beside `boot`. Its private dependencies stay off the function's path:
    the function-side code needs none of them, and on the path they would let a function that
    does not bundle requests (say) import the layer's copy, behaving differently with the layer.
    """
    return [os.path.join(os.path.dirname(boot), "python")]


def restored_pythonpath(current: str, added: str, original: str | None, own: tuple) -> tuple:
    """(the PYTHONPATH to give back, None to unset it; the entries to take off sys.path).

    `own` are the wrapper's entries that only this file needs (its folder, the layer's code);
    the wrapper's other entries stand in for the runtime's /opt/python setup. They all go when
    the runtime will do that setup itself (PYTHONPATH unset); when a PYTHONPATH must stay (the
    function had one, or a later wrapper added to it) the stand-ins stay too.
    """
    ours = _entries(added)
    others = [entry for entry in _entries(current) if entry not in ours]
    if original is None and not others:
        return None, ours
    if original is not None and others == _entries(original):
        return original, ours
    kept = [entry for entry in _entries(current) if entry not in own]
    return os.pathsep.join(kept), [entry for entry in ours if entry in own]


def _entries(value: str) -> list:
    return [entry for entry in value.split(os.pathsep) if entry]


def _report(step: str, error: BaseException) -> None:
    try:  # noqa: SIM105 (contextlib would cost imports at interpreter start)
        sys.stderr.write(
            f"xraylayer: ERROR {step} failed; the function runs untraced: "
            f"{type(error).__name__}: {error}\n"
        )
    except Exception:
        pass


def _put_last(entries: list) -> None:
    for entry in entries:
        while entry in sys.path:
            sys.path.remove(entry)
        sys.path.append(entry)


def _instrument(paths: list) -> bool:
    """Private dependencies on the path, post-import hooks and the import profile in place;
    False when the layer is switched off."""
    from xraylayer import config, import_hooks, import_profile, instrument

    settings = config.settings()
    if not settings.enabled:
        return False
    profile = import_profile.ImportProfile(STARTED, settings.import_profile_threshold_ms)
    hooks = import_hooks.active_hooks(instrument.HOOKS, settings.disabled_instrumentations)
    import_hooks.install(hooks, profile)
    return True


def _next_sitecustomize(boot: str) -> object:
    """The spec of the sitecustomize the interpreter would have run without this one."""
    external = sys.modules.get("_frozen_importlib_external")
    finder = getattr(external, "PathFinder", None)
    if finder is None:  # not CPython: pay for the public name
        from importlib.machinery import PathFinder

        finder = PathFinder
    spec = finder.find_spec("sitecustomize", [e for e in sys.path if e != boot])
    if spec is not None and spec.origin == os.path.abspath(__file__):
        return None
    return spec


def _execute(spec: object) -> None:
    """Run it as `sitecustomize` (which it then is in sys.modules); its errors propagate."""
    bootstrap = sys.modules.get("_frozen_importlib")
    module_from_spec = getattr(bootstrap, "module_from_spec", None)
    if module_from_spec is None:
        from importlib.util import module_from_spec
    module = module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


def _step_aside() -> bool:
    """Tracing is off or cannot be set up: the runtime loads the function's own handler (a
    layer whose code cannot even be imported must not stop the function). True if it did."""
    if os.environ.get("_HANDLER") != LAYER_HANDLER or HANDLER not in os.environ:
        return False
    os.environ["_HANDLER"] = os.environ.pop(HANDLER)
    return True


def _give_back_paths(boot: str, code: str) -> None:
    added = os.environ.pop(ADDED, None)
    original = os.environ.pop(ORIGINAL, None)
    if added is None:  # not started by the wrapper (a benchmark, a test)
        return
    value, removed = restored_pythonpath(
        os.environ.get("PYTHONPATH", ""), added, original, (boot, code)
    )
    if value is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = value
    for entry in removed:
        normal = os.path.abspath(entry)  # as site.py made every sys.path entry
        if normal in sys.path:
            sys.path.remove(normal)


def main() -> None:
    boot = os.path.dirname(os.path.abspath(__file__))
    paths = layer_paths(boot)
    if paths[0] not in sys.path:  # the wrapper puts it on PYTHONPATH; found fast there
        sys.path.insert(sys.path.index(boot) + 1 if boot in sys.path else 0, paths[0])
    enabled = False
    try:
        enabled = _instrument(paths)
    except Exception as error:
        _report("setting up the instrumentation", error)
    stepped_aside = not enabled and _step_aside()
    try:
        spec = _next_sitecustomize(boot)
    except Exception as error:
        _report("looking for the next sitecustomize", error)
        spec = None
    try:
        if spec is not None:
            _execute(spec)
    finally:
        try:
            _give_back_paths(boot, paths[0])
            # Last, so the function's own packages win; gone once the layer stepped aside.
            _put_last([] if stepped_aside else paths)
            if stepped_aside and paths[0] in sys.path:
                sys.path.remove(paths[0])
        except Exception as error:
            _report("restoring PYTHONPATH", error)


if __name__ == "sitecustomize":
    main()
