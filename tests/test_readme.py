"""The README's examples run as written: the Python blocks as one tour, then each command
of the shell blocks, in a scratch directory (the tour writes the files they read)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_tour_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme_tour"}
    for code in blocks:  # one tour: later blocks use names the earlier ones defined
        exec(compile(code, str(README), "exec"), namespace)
    commands = [
        line for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S) for line in block.splitlines()
    ]
    assert commands, "README has no command-line example"
    exe = shutil.which("zkmargin")
    assert exe is not None
    for line in commands:
        argv = shlex.split(line)
        assert argv[0] == "zkmargin", line
        done = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (line, done.stderr)
    assert (tmp_path / "margin.csv").exists() and (tmp_path / "report.html").stat().st_size > 10_000
