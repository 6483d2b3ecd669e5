"""`python -m lowlight.data.make_pairs`: paired evaluation sets from held-out photos."""

from __future__ import annotations

import numpy as np
from hydra.utils import instantiate

from conftest import compose_cfg, random_image
from lowlight.data.io import read_image, write_image
from lowlight.data.make_pairs import main


def _photos(folder, n=12):
    rng = np.random.default_rng(0)
    for i in range(n):
        write_image(folder / f"photo{i:02d}.jpg", random_image(rng, 70, 90))
    return folder


def test_the_test_part_is_the_photos_the_training_run_holds_out(tmp_path):
    photos = _photos(tmp_path / "photos")
    split = ["0.5", "0.25", "0.25"]
    assert (
        main(
            [
                str(photos),
                "-o",
                str(tmp_path / "pairs"),
                "--part",
                "test",
                "--split",
                *split,
                "--split-seed",
                "3",
            ]
        )
        == 0
    )
    cfg = compose_cfg(
        [
            "+experiment=lle_gan",
            f"data.source_dir={photos}",
            "data.split=[0.5,0.25,0.25]",
            "data.seed=3",
            "data.split_by=photos",
            "data.augment.crop_size=32",
            "data.eval_crop=32",
        ]
    )
    dm = instantiate(cfg.data)
    dm.setup("fit")
    held_out = sorted(p.stem for p in dm.photos["test"])
    written = sorted(p.stem for p in (tmp_path / "pairs" / "high").iterdir())
    assert written == held_out and len(written) == 3
    assert not set(written) & {p.stem for p in dm.photos["train"]}


def test_pairs_are_reproducible_darker_and_sized(tmp_path):
    photos = _photos(tmp_path / "photos", n=3)
    for out in ("a", "b"):
        assert main([str(photos), "-o", str(tmp_path / out), "--max-side", "45"]) == 0
    for name in ("photo00", "photo01", "photo02"):
        low_a = read_image(tmp_path / "a" / "low" / f"{name}.png")
        assert np.array_equal(low_a, read_image(tmp_path / "b" / "low" / f"{name}.png"))
        high = read_image(tmp_path / "a" / "high" / f"{name}.png")
        assert high.shape == low_a.shape == (35, 45, 3)
        assert low_a.mean() < 0.6 * high.mean()
    assert main([str(photos), "-o", str(tmp_path / "a")]) == 2, "never writes over a set"
