"""The README's configuration table lists every environment variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def test_readme_lists_every_environment_variable():
    source = (BASE_DIR / "issuer_portal" / "settings.py").read_text()
    names = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source))
    names |= set(re.findall(r'_required_secret\(\s*"([A-Z_]+)"', source))
    readme = (BASE_DIR / "README.md").read_text()
    assert len(names) > 15
    missing = sorted(name for name in names if f"| `{name}` |" not in readme)
    assert missing == []


def test_readme_keeps_the_two_setup_commands():
    readme = (BASE_DIR / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (BASE_DIR / ".ci" / "run").read_text()
