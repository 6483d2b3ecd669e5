"""`python -m lowlight.report` on multirun folders."""

from __future__ import annotations

import json

import pytest

from conftest import cli_args, tiny, train_cli
from lowlight.report import find_jobs, main, report, varying


def _job(root, num, overrides, psnr, epochs=2, results=True):
    job = root / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    rows = ["epoch,step,train/loss_epoch,val/loss"] + [
        f"{e},{e * 10},{1.0 / (e + 1)},{1.5 / (e + 1)}" for e in range(epochs)
    ]
    (job / "metrics.csv").write_text("\n".join(rows) + "\n")
    if results:
        payload = {
            "epochs": epochs,
            "fit_seconds": 60.0,
            "val": {"val/loss": 0.5},
            "test": {"test/psnr": psnr, "test/input_psnr": 9.0, "psnr_gain_over_input": psnr - 9},
        }
        (job / "results.json").write_text(json.dumps(payload))


def test_report_table_and_figures(tmp_path):
    common = ["+experiment=dce_net", "data.root=/x"]
    for i, (ab, psnr) in enumerate(
        [("dce_full", 15.0), ("dce_no_color", 13.5), ("dce_iter4", 14.25)]
    ):
        _job(tmp_path, i, [*common, f"+ablation={ab}"], psnr)
    _job(tmp_path, 10, [*common, "+ablation=dce_deep"], 0.0, results=False)  # a failed job
    jobs = find_jobs(tmp_path)
    assert [j.folder.name for j in jobs] == ["0", "1", "2", "10"]
    assert varying(jobs) == ["+ablation"]
    written = report(tmp_path)
    assert written["metric"] == "test/psnr"
    table = (tmp_path / "report.md").read_text().splitlines()
    assert table[0].startswith("| job | +ablation | test/psnr |")
    assert table[3].startswith("| 1 | dce_no_color | 13.50 | 0.5000 | 2 |")  # test, val, rest
    assert table[5].startswith("| 10 | dce_deep |  |"), "a failed job keeps its row, empty"
    assert table[6].startswith("| input | (no enhancement) | 9.0000 |")
    csv_rows = (tmp_path / "report.csv").read_text().splitlines()
    assert len(csv_rows) == 6 and csv_rows[2].split(",")[2] == "13.5"
    for name in ("metric_per_setting.png", "curves.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_report_cli_errors_clearly_on_a_non_multirun(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "no multirun jobs" in capsys.readouterr().err


def test_report_writes_elsewhere_on_request(tmp_path):
    _job(tmp_path / "sweep", 0, ["a=1"], 12.0)
    _job(tmp_path / "sweep", 1, ["a=2"], 13.0)
    assert (
        main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out"), "--metric", "test/psnr"])
        == 0
    )
    assert (tmp_path / "out" / "report.md").is_file()
    assert main([str(tmp_path / "sweep"), "--columns", "val/loss", "test/psnr"]) == 0
    header = (tmp_path / "sweep" / "report.md").read_text().splitlines()[0]
    assert header == "| job | a | val/loss | test/psnr |"
    assert main([str(tmp_path / "sweep"), "--columns", "test/nope"]) == 2
    with pytest.raises(FileNotFoundError):
        report(tmp_path / "nothing")


def test_report_on_a_real_dce_loss_ablation_multirun(tmp_path):
    """The study's own command, shrunk: 5 jobs, then the report over them."""
    args = ["-m", *cli_args(tiny("dce_net")), "+sweep=dce_losses", "paths.log_dir=logs"]
    sweep = train_cli(args, tmp_path)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    (multirun,) = (tmp_path / "logs" / "dce_net" / "multirun").iterdir()
    assert main([str(multirun)]) == 0
    table = (multirun / "report.md").read_text().splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header[:3] == ["job", "+ablation", "test/psnr"]
    settings = [row.split("|")[2].strip() for row in table[2:7]]
    assert settings == [
        "dce_full",
        "dce_no_smoothness",
        "dce_no_spatial",
        "dce_no_color",
        "dce_no_exposure",
    ]
    assert table[7].startswith("| input | (no enhancement) |"), "synthetic pairs score the input"
    for row in table[2:8]:
        assert float(row.split("|")[3]) > 0  # every job and the input have a test PSNR
    assert (multirun / "metric_per_setting.png").stat().st_size > 1000
