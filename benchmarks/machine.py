"""Describe the machine a benchmark ran on, and write a section of docs/BENCHMARKS.md.

Every benchmark records its numbers with the machine and the exact command,
replacing only its own section (``## <title>``) so benchmarks can run alone.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import sys
from pathlib import Path

import torch

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
HEADER = ("# Benchmarks\n\nMeasured, not asserted: each section is written by a script in `benchmarks/` "
          "(`make bench` runs them all) and says on which machine and with which command.\n")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(device: str = "cpu") -> str:
    parts = [f"CPU: {cpu_model()} ({os.cpu_count()} cores visible, torch threads {torch.get_num_threads()})"]
    if device.startswith("cuda") and torch.cuda.is_available():
        parts.append(f"GPU: {torch.cuda.get_device_name(torch.device(device))}")
    parts.append(f"Python {sys.version.split()[0]}, torch {torch.__version__}, "
                 f"{platform.system()} {platform.release()}")
    return "; ".join(parts)


def command_line() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0], Path.cwd())] + sys.argv[1:])


def write_section(title: str, body: str, device: str = "cpu") -> Path:
    """Replace (or append) section ``## title`` of docs/BENCHMARKS.md."""
    BENCHMARKS_MD.parent.mkdir(parents=True, exist_ok=True)
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else HEADER
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (f"## {title}\n\n- Machine: {describe(device)}\n- Command: `{command_line()}`\n- Date: {stamp}\n\n"
               f"{body.strip()}\n")
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    BENCHMARKS_MD.write_text(text.rstrip() + "\n")
    return BENCHMARKS_MD
