"""The benchmark scripts run and print their tables (tiny sizes; the figures themselves
are `make bench` / `make bench-gpu`'s business, never a unit test's)."""

from __future__ import annotations

import re
import sys

import pytest
import torch

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu  # noqa: E402
import models  # noqa: E402
import speed  # noqa: E402


def _rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1:]
    return rows


def test_bench_gpu_runs_its_table_on_a_cpu(capsys):
    args = ["--device", "cpu", "--steps", "2", "--batch", "2", "--crop", "32"]
    args += ["--experiments", "lle_gan", "zero_dce_pp", "--modes", "fp32", "bf16"]
    assert gpu.main([*args, "--inference-size", "96x64"]) == 0
    rows = _rows(capsys.readouterr().out)
    for name in ("lle_gan", "zero_dce_pp"):
        fp32, bf16, ratio = rows[name]
        assert float(fp32) > 0 and float(bf16) > 0
        assert float(ratio.rstrip("x")) == pytest.approx(
            max(float(fp32), float(bf16)) / float(fp32), abs=0.01
        )
    for name in ("Zero-DCE++", "U-Net (lle_gan)"):
        assert float(rows[name][0]) > 0 and float(rows[name][1]) > 0
    assert "DCE-Net" not in rows  # only the experiments asked for


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_bench_gpu_says_it_needs_cuda(capsys):
    assert gpu.main([]) == 2
    assert "needs a CUDA device" in capsys.readouterr().err


def test_speed_dce_rows_compare_like_with_like():
    rows = speed.dce_rows(96, 64, rounds=1, dce_pp=None)
    assert len(rows) == 4
    plain, ours = rows[0], rows[1]
    assert "79,416 params" in plain[1] and "79.2 GMAC/MP" in plain[1]
    diff = float(re.search(r"max diff vs plain ([\d.e+-]+)", ours[1]).group(1))
    assert diff < 1e-5  # the same function, only faster
    assert "10,561 params" in rows[3][1]


def test_bench_models_times_every_shipped_model_and_the_extras(capsys):
    """benchmarks/models.py (make bench): one row per shipped model plus --models, the
    parameter counts of the loaded networks, and ratios to the fastest row's ms/MP."""
    from lowlight import zoo
    from lowlight.loading import load_model

    models.main(["--size", "64x48", "--rounds", "1", "--repeats", "1", "--models", "again=lle"])
    rows = [r.split("|")[1:-1] for r in capsys.readouterr().out.splitlines() if r.startswith("| ")]
    table = {r[0].strip(): [c.strip() for c in r[1:]] for r in rows[2:]}
    assert set(table) == {*zoo.shipped_names(), "again"}
    lle_params = sum(p.numel() for p in load_model("lle").net.parameters())
    assert table["lle"][0] == table["again"][0] == f"{lle_params:,}"
    ratios = {k: float(v[2]) for k, v in table.items()}
    assert min(ratios.values()) == 1.0
    # ms/MP is printed to the millisecond and the ratio to 0.01, from unrounded times:
    # the ratio must lie between the ratios of the printed figures' rounding bounds.
    fastest = float(table[min(ratios, key=ratios.get)][1])
    for k, v in table.items():
        ms = float(v[1])
        low, high = (ms - 0.5) / (fastest + 0.5), (ms + 0.5) / max(fastest - 0.5, 1e-9)
        assert low - 0.005 <= ratios[k] <= high + 0.005, (k, ms, fastest, ratios[k])
