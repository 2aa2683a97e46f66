"""Takes its time, and so does what it imports: the import profile must nest them."""

import time

time.sleep(0.03)
import slow_child  # noqa: E402, F401

time.sleep(0.01)
