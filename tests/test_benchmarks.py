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
