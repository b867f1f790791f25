"""What the commands show in a real terminal: lines printed while a progress bar is drawn land above it.

In a terminal stdout and stderr share one screen and the bar's line has no
newline until it ends, so a line printed to stdout while the bar is drawn
would continue the bar's line. These tests run the command under a
pseudo-terminal (stdout and stderr both on it, as in an interactive shell),
replay what it wrote through a small terminal model (carriage return, line
feed, cursor up, erase in line) and check the screen's lines.
"""

from __future__ import annotations

import os
import re
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyml import progress

NAB = Path(__file__).parent / "data" / "nab"
FILES = [NAB / "data" / "realTraffic" / "speed_7578.csv",
         NAB / "data" / "realAWSCloudwatch" / "iio_us-east-1_i-a2eb1cd9_NetworkIn.csv"]
NAMES = ["realTraffic/speed_7578.csv", "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv"]

pty = pytest.importorskip("pty", reason="pseudo-terminals are POSIX")
fcntl = pytest.importorskip("fcntl", reason="pseudo-terminals are POSIX")
termios = pytest.importorskip("termios", reason="pseudo-terminals are POSIX")

_CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


def screen_lines(output: str) -> list[str]:
    """The lines a terminal shows after receiving ``output`` (no wrapping, no scrolling limit)."""
    lines: list[list[str]] = [[]]
    row = col = 0
    i = 0
    while i < len(output):
        ch = output[i]
        if ch == "\x1b":
            m = _CSI.match(output, i)
            if m is None:
                i += 1
                continue
            arg, final = m.group(1), m.group(2)
            n = int(arg) if arg.isdigit() else 0
            if final == "A":
                row = max(0, row - max(n, 1))
            elif final == "B":
                row += max(n, 1)
            elif final == "K":
                while len(lines) <= row:
                    lines.append([])
                line = lines[row]
                if n == 0:
                    del line[col:]
                elif n == 1:
                    line[:col] = [" "] * min(col, len(line))
                else:
                    line.clear()
            i = m.end()
            continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row += 1
            col = 0
        elif ch == "\b":
            col = max(0, col - 1)
        elif ch >= " ":
            while len(lines) <= row:
                lines.append([])
            line = lines[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
        i += 1
    return ["".join(line).rstrip() for line in lines]


def test_the_terminal_model() -> None:
    assert screen_lines("abc\rxy\n") == ["xyc"]
    assert screen_lines("bar 10%\r       \rdone\n") == ["done"]
    assert screen_lines("one\ntwo\x1b[A\rONE\x1b[K\n") == ["ONE", "two"]


def run_in_terminal(args: list[str], cwd: Path, timeout: float = 300.0,
                    pythonpath: str | None = None) -> tuple[int, str]:
    """Run ``python -m pyml ARGS`` with stdout and stderr on a pseudo-terminal; its status and output."""
    main, child = pty.openpty()
    # A new pseudo-terminal is 0 x 0; a real one has a size (tqdm draws nothing in zero columns).
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {**os.environ, "TERM": "xterm"}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pythonpath, os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.Popen([sys.executable, "-m", "pyml", *args], stdin=subprocess.DEVNULL, stdout=child,
                            stderr=child, cwd=cwd, env=env, close_fds=True)
    os.close(child)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"pyml {' '.join(args)} did not finish in {timeout} s")
            ready, _, _ = select.select([main], [], [], 0.5)
            if ready:
                try:
                    data = os.read(main, 65536)
                except OSError:  # EIO: the child side is closed
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(main)
        proc.wait(timeout=60)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.parametrize("bar", ["tqdm", "plain"])
def test_replay_summaries_land_above_the_progress_bar(tmp_path: Path, bar: str) -> None:
    hide = None
    if bar == "tqdm":
        pytest.importorskip("tqdm")
    else:
        # The bar without tqdm: a sitecustomize hides tqdm from the command's process.
        hide = tmp_path / "hide"
        hide.mkdir()
        (hide / "sitecustomize.py").write_text("import sys\nsys.modules['tqdm'] = None\n", encoding="utf-8")
    args = ["replay", *map(str, FILES), "--out", str(tmp_path / "out")]
    status, output = run_in_terminal(args, tmp_path, pythonpath=None if hide is None else str(hide))
    assert status == 0, output
    assert "replay: " in output  # a bar was drawn: the test is about something
    lines = screen_lines(output)
    for name in NAMES:
        shown = [line for line in lines if f"{name}: " in line]
        assert len(shown) == 1, (name, lines)
        # The summary is its own line: it starts the line, and no bar text shares it.
        assert shown[0].startswith(f"{name}: ") and "points, update_every=" in shown[0], lines
        assert "%" not in shown[0].split("events=")[-1], lines
    replayed = [line for line in lines if line.startswith("replayed 2 file(s)")]
    assert len(replayed) == 1, lines
    assert not any("replay:" in line and "points, update_every" in line for line in lines), lines


def test_write_clears_and_redraws_the_plain_bar(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the bar without tqdm
    bar = progress.Progress(10, "work", True, unit="files")
    bar.update(5)
    progress.write("a line")
    bar.update(5)
    bar.close()
    captured = capsys.readouterr()
    err, out = captured.err, captured.out
    assert out == "a line\n"
    # The bar was taken off its line before the line was printed, and drawn again after.
    first, _, rest = err.partition("\r" + " " * len("work: 5/10 files ( 50.0%)") + "\r")
    assert first == "\rwork: 5/10 files ( 50.0%)"
    assert rest.startswith("\rwork: 5/10 files ( 50.0%)") and rest.endswith("\rwork: 10/10 files (100.0%)\n")
    # With no bar open, write is a print.
    progress.write("after", file=sys.stderr)
    assert capsys.readouterr().err == "after\n"
