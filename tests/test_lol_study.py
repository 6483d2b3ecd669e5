"""The LOL study's scripts: table.py completes the table run by run across machines (rows of
the committed results.csv whose runs are gone are carried over with their grid tiles and
validation points; rows whose runs are here are scored again), and run.sh runs one job of
the losses stage alone as the sweep would."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image

from conftest import fake_run, tiny_lol
from lowlight.grids import GAP

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("lol_table", ROOT / "experiments/lol_study/table.py")
table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(table)


def _finished(log_dir: Path, stage: str, job: int, loss: str, val: list[float]) -> None:
    """A finished job of the study's sweeps as lowlight-train leaves it (untrained weights)."""
    folder = log_dir / stage / str(job)
    overrides = ["+experiment=lol_iat", f"data.root={tiny_lol()}", f"system.loss_weights={loss}"]
    _, system = fake_run(folder, overrides)
    torch.manual_seed(len(stage) * 10 + job + int(val[-1]))  # each run its own output
    with torch.no_grad():
        for p in system.generator.parameters():
            p.add_(0.2 * torch.randn_like(p))
    torch.save({"state_dict": system.state_dict()}, folder / "checkpoints" / "last.ckpt")
    (folder / ".hydra").mkdir()
    (folder / ".hydra" / "overrides.yaml").write_text(json.dumps([*overrides, "ckpt_path=auto"]))
    with (folder / "metrics.csv").open("w", newline="") as f:
        rows = [["epoch", "step", "val/psnr"], *[[9 + 10 * i, 0, v] for i, v in enumerate(val)]]
        csv.writer(f).writerows(rows)
    test = {"test/input_psnr": 7.5, "test/input_ssim": 0.2, "test/input_mae": 0.4}
    results = {"status": "finished", "best_score": max(val), "fit_seconds": 36.0, "test": test}
    (folder / "results.json").write_text(json.dumps(results))


def _rows(out: Path) -> dict[str, dict]:
    with (out / "results.csv").open() as f:
        return {row["run"]: row for row in csv.DictReader(f)}


def _tiles(path: Path, n: int) -> list[np.ndarray]:
    grid = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    step = (grid.shape[1] + GAP) // n
    assert step * n == grid.shape[1] + GAP
    return [grid[:, i * step : (i + 1) * step - GAP] for i in range(n)]


def test_a_later_machine_adds_rows_and_keeps_the_committed_ones(tmp_path):
    lol, out = tiny_lol(), tmp_path / "study"
    first, later = tmp_path / "logs_first", tmp_path / "logs_later"
    _finished(first, "losses", 0, "{pixel:1.0,adv:0.0}", [10.0, 12.5, 12.0])
    _finished(first, "iat", 0, "{pixel:1.0,adv:0.0}", [11.0, 11.5, 11.25])
    args = ["--lol", str(lol), "--out", str(out), "--grid", "90"]
    assert table.main([str(first), *args]) == 0
    before = _rows(out)
    assert list(before) == ["losses0", "iat0"]
    assert before["losses0"]["val"] == "12.50 (20)"  # the best epoch, counted from 1
    grid_before = _tiles(out / "grids" / "90.jpg", 4)

    # the next machine has none of those runs: one row is run again, one is new
    _finished(later, "iat", 0, "{pixel:1.0,adv:0.0}", [11.0, 13.0, 12.25])
    _finished(later, "mse", 0, "{pixel:1.0,adv:0.0}", [9.0, 9.5, 9.75])
    assert table.main([str(later), *args]) == 0
    after = _rows(out)
    assert list(after) == ["losses0", "mse0", "iat0"]  # table order, not the order they ran
    assert after["losses0"] == before["losses0"]  # carried as committed
    assert after["iat0"]["val"] == "13.00 (20)"  # scored again from the run that is here
    assert after["mse0"]["psnr"] != ""
    md = (out / "results.md").read_text()
    assert md.index("| losses0 |") < md.index("| mse0 |") < md.index("| iat0 |")
    with (out / "curves.csv").open() as f:
        points = [(r["run"], int(r["epoch"]), float(r["val_psnr"])) for r in csv.DictReader(f)]
    assert ("losses0", 20, 12.5) in points and ("iat0", 20, 13.0) in points
    grid_after = _tiles(out / "grids" / "90.jpg", 5)

    # the carried row's tile, the input and the ground truth are the committed ones (JPEG
    # twice), each nearer its old tile than any other; the run scored again has a new tile
    def nearest(tile):
        return int(np.argmin([np.abs(tile - old).mean() for old in grid_before]))

    assert [nearest(grid_after[j]) for j in (0, 1, 4)] == [0, 1, 3]
    assert np.abs(grid_after[1] - grid_before[1]).mean() < 6.0
    assert np.abs(grid_after[3] - grid_before[2]).mean() > 6.0  # iat0, new weights


def test_a_grid_that_does_not_hold_the_committed_rows_stops_before_writing(tmp_path, capsys):
    lol, out, logs = tiny_lol(), tmp_path / "study", tmp_path / "logs"
    _finished(logs, "losses", 0, "{pixel:1.0,adv:0.0}", [10.0])
    args = ["--lol", str(lol), "--out", str(out), "--grid", "90"]
    assert table.main([str(logs), *args]) == 0
    with (out / "results.csv").open() as f:
        committed = f.read()
    extra = committed.splitlines()[1].replace("losses0", "losses1", 1)
    (out / "results.csv").write_text(committed + extra + "\n")
    with_extra = (out / "results.csv").read_text()
    other = tmp_path / "logs_other"
    _finished(other, "mse", 0, "{pixel:1.0,adv:0.0}", [9.0])
    assert table.main([str(other), *args]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and re.match(r"error: .*90\.jpg: .*rebuild it from the runs", error[0])
    assert (out / "results.csv").read_text() == with_extra  # nothing written


def test_run_sh_runs_one_losses_job_alone_with_the_sweeps_loss(tmp_path):
    sweep = yaml.safe_load((ROOT / "conf/sweep/lol_losses.yaml").read_text())
    jobs = re.findall(r"\{[^}]*\}", sweep["hydra"]["sweeper"]["params"]["system.loss_weights"])
    assert len(jobs) == 5
    fake = tmp_path / "lowlight-train"  # prints the command run.sh would run
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "LOG_DIR": str(tmp_path / "logs")}
    for i, weights in enumerate(jobs):
        script = ROOT / "experiments/lol_study/run.sh"
        done = subprocess.run(
            ["bash", str(script), f"losses{i}"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        args = done.stdout.split()
        assert f"system.loss_weights={weights}" in args and f"hydra.sweep.subdir={i}" in args
        assert f"hydra.sweep.dir={tmp_path / 'logs'}/losses" in args
