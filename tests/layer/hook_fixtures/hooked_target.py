"""A library the function imports; its post-import hook must see it fully executed."""

VALUE = 1
COMPLETE = True
