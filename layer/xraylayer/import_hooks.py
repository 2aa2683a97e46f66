"""Post-import hooks: patch a library right after the function imports it; time imports.

A finder at the front of `sys.meta_path` finds nothing itself. For a watched module it asks
the finders behind it for the spec and marks that spec: importlib sets `spec._initializing`
to True just before it executes a module and back to False right after (in a `finally`), so
a property on a subclass swapped into the spec learns when the module starts and when it has
executed; at that moment the spec gets its own class back and the hook runs.

Why not wrap the loader, as wrapt and importlib.util.LazyLoader do: the wrapper's frame would
sit in the traceback of every exception raised while a module executes, so a failing import
in the user's code would print differently with the layer. No frame of ours is on that path.
Why not importlib.abc or wrapt: they cost milliseconds at interpreter start; this costs `sys`.
"""

import sys

from .instrument import patcher_of

# Type names only (no `from __future__ import annotations` either: that import costs 0.1 ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from .import_profile import ImportProfile


class PostImportFinder:
    """Runs the hook of each target in `hooks` (module name -> "module[:function]") once the
    target has executed, and tells `profile` when each module runs while the profile is on."""

    def __init__(self, hooks: "Mapping[str, str]", profile: "ImportProfile | None" = None) -> None:
        self.hooks = dict(hooks)
        self.profile = profile
        self._marked_classes: dict[type, type] = {}

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        """The spec the finders behind this one give, marked, for a watched module; else None
        (then importlib asks those finders itself)."""
        profile = self.profile
        if fullname not in self.hooks and (profile is None or not profile.active):
            return None
        spec = self._find_behind(fullname, path, target)
        if spec is not None and spec.loader is not None:
            self._mark(spec)
        return spec

    def run_hook(self, name: str, hook: str, module: object) -> None:
        """Patch `module` with `hook`; a failure is logged and the module stays as it is."""
        patcher, function = patcher_of(hook)
        try:
            __import__(patcher)
            getattr(sys.modules[patcher], function)(module)
        except Exception as error:
            _internal_error(f"instrumenting {name}", error)

    def _find_behind(self, fullname: str, path: object, target: object) -> object:
        finders = sys.meta_path
        if finders and finders[0] is self:  # where install() put it: skip the search
            position = 0
        else:
            position = next((i for i, finder in enumerate(finders) if finder is self), -1)
        for finder in finders[position + 1 :]:
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is not None:
                spec = find_spec(fullname, path, target)
                if spec is not None:
                    return spec
        return None

    def _mark(self, spec: object) -> None:
        base = type(spec)
        marked = self._marked_classes.get(base)
        if marked is None:
            marked = self._marked_classes[base] = _marked_class(base, self)
        try:
            spec.__class__ = marked
        except TypeError:  # a spec class of another layout: leave that module alone
            return

    def started(self, spec: object) -> None:
        """The module of a marked spec starts executing."""
        if self.profile is not None:
            self.profile.started(spec)

    def executed(self, spec: object) -> None:
        """The module of a marked spec has executed (or failed): time it, run its hook."""
        name: str = spec.name  # type: ignore[attr-defined]
        if self.profile is not None:
            self.profile.finished(spec, name)
        hook = self.hooks.get(name)
        module = sys.modules.get(name)  # absent when the module failed
        if hook is not None and module is not None:
            self.run_hook(name, hook, module)


def _marked_class(base: type, finder: PostImportFinder) -> type:
    """A subclass of the spec class `base` (same name, same layout) whose `_initializing`
    reports to `finder`; it gives the spec back its class as soon as the module has run."""

    def initializing(spec: object) -> object:
        return spec.__dict__.get("_initializing", False)

    def set_initializing(spec: object, value: object) -> None:
        spec.__dict__["_initializing"] = value
        try:
            if value:
                finder.started(spec)
            else:
                spec.__class__ = base
                finder.executed(spec)
        except Exception as error:  # never into the import that is going on
            _internal_error("watching imports", error)

    return type(
        base.__name__,
        (base,),
        {
            "__slots__": (),
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
            "_initializing": property(initializing, set_initializing),
        },
    )


def active_hooks(hooks: "Mapping[str, str]", disabled: frozenset[str]) -> dict[str, str]:
    """The hooks whose target is not in `disabled` (XRAYLAYER_DISABLED_INSTRUMENTATIONS)."""
    return {target: hook for target, hook in hooks.items() if target not in disabled}


def installed() -> "PostImportFinder | None":
    """The finder in `sys.meta_path`, if one was installed."""
    for finder in sys.meta_path:
        if isinstance(finder, PostImportFinder):
            return finder
    return None


def install(hooks: "Mapping[str, str]", profile: "ImportProfile | None" = None) -> PostImportFinder:
    """Put a finder first in `sys.meta_path` (once per process) and patch the targets that
    are already imported right away."""
    finder = installed()
    if finder is not None:
        return finder
    finder = PostImportFinder(hooks, profile)
    sys.meta_path.insert(0, finder)
    for name, hook in finder.hooks.items():
        module = sys.modules.get(name)
        if module is not None:
            finder.run_hook(name, hook, module)
    return finder


def _internal_error(where: str, error: BaseException) -> None:
    from . import diagnostics  # only now: it costs imports at interpreter start

    diagnostics.internal_error(where, error)
