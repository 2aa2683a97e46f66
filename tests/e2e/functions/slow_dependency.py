"""A dependency that takes 20 ms to import: the cold start's import profile must show it."""

import time

time.sleep(0.02)
