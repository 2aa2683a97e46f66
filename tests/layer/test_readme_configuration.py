"""The README's configuration table names every variable a user can set, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from xraylayer import config

README = Path(__file__).resolve().parents[2] / "README.md"


def _user_settable() -> set[str]:
    """What users set: not Lambda's own variables, not the wrapper's internal hand-offs."""
    return {
        name
        for name, _, _, doc in config.reference()
        if not doc.startswith(("Internal", "Set by Lambda"))
    }


def test_every_user_variable_is_in_the_readme_table_and_only_those() -> None:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section, flags=re.MULTILINE))
    assert listed == _user_settable()
