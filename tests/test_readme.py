"""The README's tour runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    namespace: dict[str, object] = {"__name__": "readme_tour"}
    for code in blocks:  # one tour: later blocks use names the earlier ones defined
        exec(compile(code, str(README), "exec"), namespace)
