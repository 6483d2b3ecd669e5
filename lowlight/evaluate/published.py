"""Published rows printed beside ours, with their sources, where the data is a benchmark
whose protocol we reproduce.

LOL-v1 eval15 (Wei et al., BMVC 2018: the 15 test pairs, 600x400): RGB PSNR / SSIM on
8-bit outputs, no GT-mean, as collected in Table 1 of Retinexformer (Cai et al., ICCV
2023), which re-evaluated every method on the same split; IAT from its own paper (Cui et
al., BMVC 2022). `tests/test_lol.py` reproduces the Zero-DCE row from the authors' weights
file to 0.02 dB with this suite's scoring.
"""

from __future__ import annotations

from collections.abc import Sequence

# (method, PSNR dB, SSIM, parameters in millions where the source states them, source)
LOL_EVAL15: Sequence[tuple[str, float, float, float | None, str]] = (
    ("Zero-DCE", 14.86, 0.562, 0.079, "Retinexformer Table 1"),
    ("RetinexNet", 16.77, 0.560, None, "Retinexformer Table 1"),
    ("EnlightenGAN", 17.48, 0.650, None, "Retinexformer Table 1"),
    ("RUAS", 18.23, 0.720, None, "Retinexformer Table 1"),
    ("DRBN", 20.13, 0.830, None, "Retinexformer Table 1"),
    ("KinD", 20.86, 0.790, None, "Retinexformer Table 1"),
    ("Restormer", 22.43, 0.823, None, "Retinexformer Table 1"),
    ("IAT", 23.38, 0.809, 0.09, "IAT (Cui et al., BMVC 2022)"),
    ("MIRNet", 24.14, 0.830, None, "Retinexformer Table 1"),
    ("SNR-Net", 24.61, 0.842, None, "Retinexformer Table 1"),
    ("Retinexformer", 25.16, 0.845, 1.61, "Retinexformer Table 1"),
)
BENCHMARKS = {"lol_eval15": LOL_EVAL15}


def published_lines(benchmark: str | None) -> list[str]:
    """A markdown table of the published rows for `benchmark` (empty when there are none)."""
    rows = BENCHMARKS.get(benchmark or "")
    if not rows:
        return []
    lines = [
        "",
        "Published on this test set (cited, same protocol: 8-bit outputs, no GT-mean):",
        "",
        "| method | psnr | ssim | params (M) | source |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, psnr, ssim, params, source in rows:
        size = "" if params is None else f"{params:g}"
        lines.append(f"| {name} (published) | {psnr:.2f} | {ssim:.3f} | {size} | {source} |")
    return lines
