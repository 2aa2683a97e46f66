"""A module of the user's that fails while it is imported, as a missing setting makes it fail."""

import os

SETTING = os.environ["XRAYLAYER_TEST_SETTING_THAT_IS_NEVER_SET"]
