"""Where a LOL model's brightness goes wrong, on the validation blocks (never eval15): per
photo, the input's, the reference's and the output's mean level, PSNR and GT-mean PSNR
(labelled), and how the output's error in level, log(reference / output), follows the
input's level across photos.

    python experiments/lol_study/brightness.py RUN_FOLDER [--lol ../shared/data/lowlight/LOL]
        [--self-ensemble]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("run", type=Path, help="a run folder written by lowlight-train on data=lol")
    p.add_argument("--lol", type=Path, default=Path("../shared/data/lowlight/LOL"))
    p.add_argument("--self-ensemble", action="store_true", help="x8 flips and quarter turns")
    args = p.parse_args()
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    import lowlight.train  # noqa: F401  (the config's resolvers)
    from lowlight.api import enhance_image
    from lowlight.data.io import read_image

    cfg = OmegaConf.load(args.run / "config.yaml")
    pairs = instantiate(cfg.data, root=str(args.lol), cache=False).resolve_pairs()["val"]
    rows = []
    print(f"{'photo':>6} {'input':>6} {'ref':>6} {'output':>6} {'PSNR':>6} {'PSNR (GT-mean)':>14}")
    for lq, gt in pairs:
        x, y = read_image(lq), read_image(gt)
        out = enhance_image(x, model=args.run, self_ensemble=args.self_ensemble)
        out = np.floor(np.clip(out, 0, 1) * 255 + 0.5) / 255
        scaled = np.clip(out * (y.mean() / max(out.mean(), 1e-6)), 0, 1)
        psnr, psnr_gm = (-10 * np.log10(((o - y) ** 2).mean()) for o in (out, scaled))
        rows.append((x.mean(), y.mean(), out.mean(), psnr, psnr_gm))
        levels = f"{x.mean():6.3f} {y.mean():6.3f} {out.mean():6.3f}"
        print(f"{lq.stem:>6} {levels} {psnr:6.2f} {psnr_gm:14.2f}")
    r = np.array(rows)
    error = np.log(r[:, 1] / r[:, 2])
    print(f"mean PSNR {r[:, 3].mean():.2f} dB, GT-mean PSNR (labelled) {r[:, 4].mean():.2f} dB")
    print(f"log(ref / output): mean {error.mean():+.3f}, std {error.std():.3f}")
    corr = np.corrcoef(error, np.log(r[:, 0]))[0, 1]
    print(f"correlation with log(input level): {corr:+.2f} (negative: darker inputs too dark)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
