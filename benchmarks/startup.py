"""How fast each command answers `--help` (and a wrong model name), in fresh processes:
the median of 3 runs each. Part of `make bench`; the bar is < 2 s on the 2-core CPU.

    python benchmarks/startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "lowlight-enhance --help": [BIN / "lowlight-enhance", "--help"],
    "lowlight-evaluate --help": [BIN / "lowlight-evaluate", "--help"],
    "lowlight-export --help": [BIN / "lowlight-export", "--help"],
    "lowlight-train --help": [BIN / "lowlight-train", "--help"],
    "lowlight-report --help": [BIN / "lowlight-report", "--help"],
    "lowlight-demo --help": [BIN / "lowlight-demo", "--help"],
    "python -m lowlight.zoo list": [sys.executable, "-m", "lowlight.zoo", "list"],
    "lowlight-enhance x.png -o out --model nosuch": [
        BIN / "lowlight-enhance",
        "x.png",
        "-o",
        "out",
        "--model",
        "nosuch",
    ],
}
BAR = 2.0


def seconds(argv: list) -> float:
    started = time.perf_counter()
    subprocess.run([str(a) for a in argv], capture_output=True, check=False)
    return time.perf_counter() - started


def main() -> int:
    print(f"{'command':<48} {'median s':>9}  (3 runs; bar < {BAR} s)")
    slow = []
    for label, argv in COMMANDS.items():
        median = statistics.median(seconds(argv) for _ in range(3))
        print(f"{label:<48} {median:9.2f}")
        slow += [label] if median >= BAR and "--help" in label else []
    if slow:
        print(f"over {BAR} s: {', '.join(slow)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
