"""`make chaos`: the reliability matrix (tests marked `chaos`, slow ones included) and its
summary table, one row per scenario, for docs/reliability.md.

    python benchmarks/chaos.py            # about 4 minutes on 2 CPU cores
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# test-name fragment -> scenario (first match wins)
SCENARIOS = [
    ("bad_setting", "bad setting (CLI): one line, exit 1, no run folder"),
    ("full_error", "HYDRA_FULL_ERROR=1 still shows the whole trace"),
    ("esrgan_without", "esrgan without init_checkpoint: stops, naming the key"),
    ("bad_data", "bad data (CLI): one line naming the file, no untrained checkpoint"),
    ("empty_source_dir", "empty data.source_dir: one line"),
    ("refused_resume", "refused resume changes nothing in the run"),
    ("enhance_image_refuses", "API: floats outside [0, 1] / NaN refused; gray, RGBA as PIL"),
    ("diverged", "diverged model: an error in enhance, evaluate, export and the API"),
    ("copied_run_folder", "run folder self-contained (copied, edited results.json)"),
    ("export_keeps", "export: no silent overwrite, one record per exported file"),
    ("killed_write", "killed write: no truncated file under the real name"),
    ("one_exit_rule", "evaluate and enhance: one exit rule (1 when an image is left out)"),
    ("random_file", "random file as a checkpoint: says plainly what it is not"),
    ("size_keys", "the same size keys shrink every experiment (CLI)"),
    ("kill", "kill -9 and resume: bit-identical to the uninterrupted run"),
    ("last_ckpt", "last.ckpt is the last epoch"),
    ("best_checkpoint", "best checkpoint survives resume (same, moved, new folder)"),
    ("ddp", "2-process CPU DDP: divided training, test set scored once"),
    ("shards", "sharding: disjoint, no padding, every image once"),
    ("order", "sample order a function of (seed, epoch)"),
    ("same_second", "runs started in the same second"),
    ("nan", "NaN in epoch 0 / later: nothing misleading left"),
    ("hostile_run_config", "malicious config.yaml (enhance, evaluate, export)"),
    ("hostile_pickle", "malicious pickles (ckpt_path, init_checkpoint, enhance, evaluate, export)"),
    ("allow_list", "allow-list contents"),
    ("evaluate_keeps", "evaluate: no overwrite, failing image skipped"),
    ("unreadable_model", "unreadable model files: one clear line"),
    ("config", "bad config values refused before any work"),
]


def scenario(name: str) -> str:
    return next((s for key, s in SCENARIOS if key in name), name)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "chaos.xml"
        cmd = [sys.executable, "-m", "pytest", "-m", "chaos", "-q", f"--junitxml={report}"]
        done = subprocess.run([*cmd, *sys.argv[1:]], cwd=ROOT)
        rows: dict[str, list] = defaultdict(lambda: [0, 0, 0.0])
        for case in ET.parse(report).getroot().iter("testcase"):
            row = rows[scenario(case.get("name", ""))]
            failed = case.find("failure") is not None or case.find("error") is not None
            row[0] += 1
            row[1] += 0 if failed or case.find("skipped") is not None else 1
            row[2] += float(case.get("time", 0))
    lines = [
        f"Reliability matrix, {date.today()}, `make chaos` (python benchmarks/chaos.py):",
        "",
        "| scenario | tests | passed | seconds |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {s} | {n} | {ok} | {t:.0f} |" for s, (n, ok, t) in rows.items()]
    total = [sum(r[i] for r in rows.values()) for i in range(3)]
    lines.append(f"| **all** | {total[0]} | {total[1]} | {total[2]:.0f} |")
    print("\n".join(lines))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
