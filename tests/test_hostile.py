"""Untrusted run folders and weights files are data, not code: nothing in them runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import yaml
from hydra.utils import instantiate

from conftest import TINY, compose_cfg, make_pairs
from lowlight import enhance, evaluate, export
from lowlight.safe import UnsafeConfigError, allowed_targets, build_untrusted, check_untrusted
from lowlight.train import train

pytestmark = pytest.mark.chaos


class Boom:
    """Unpickling this runs `touch MARKER` (unless the loader refuses code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile_configs(marker: Path, pickle: Path) -> dict[str, dict]:
    """Generator configs that would run code if instantiated as they are."""
    return {
        "torch.load": {"_target_": "torch.load", "f": str(pickle), "weights_only": False},
        "os.system": {"_target_": "os.system", "_args_": [f"touch {marker}"]},
        "builtins.eval": {"_target_": "builtins.eval", "_args_": [f"open('{marker}', 'w')"]},
        "subprocess.run": {"_target_": "subprocess.run", "args": ["touch", str(marker)]},
        "nested": {
            "_target_": "lowlight.models.generators.UNet",
            "channels": {"_target_": "os.system", "_args_": [f"touch {marker}"]},
        },
        "interpolation": {"_target_": "lowlight.models.generators.UNet", "norm": "${oc.env:HOME}"},
    }


@pytest.fixture
def bait(tmp_path: Path):
    marker = tmp_path / "PWNED"
    pickle = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"generator.x": Boom(marker)}}, pickle)
    return marker, pickle


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A genuine (untrained) run folder of the LLE GAN."""
    run = tmp_path / "run"
    cfg = compose_cfg(["+experiment=lle_gan", *TINY], run)
    system = instantiate(cfg.system)
    (run / "checkpoints").mkdir(parents=True)
    torch.save({"state_dict": system.state_dict()}, run / "checkpoints" / "last.ckpt")
    from omegaconf import OmegaConf

    OmegaConf.save(cfg, run / "config.yaml", resolve=True)
    return run


def _poison(run: Path, generator: dict) -> None:
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["system"]["generator"] = generator
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))


def _entry_points(run: Path, tmp_path: Path):
    photos = make_pairs(tmp_path / "photos", n=1, size=(32, 32)) / "low"
    return {
        "enhance": lambda: enhance.main(
            [str(photos), "-o", str(tmp_path / "o"), "-q", "--model", str(run)]
        ),
        "evaluate": lambda: evaluate.main(
            [
                "--data",
                str(tmp_path / "photos"),
                "--methods",
                str(run),
                "-o",
                str(tmp_path / "e"),
                "-q",
            ]
        ),
        "export": lambda: export.main(
            [str(run), "--format", "torchscript", "-o", str(tmp_path / "m.pt")]
        ),
    }


@pytest.mark.parametrize("attack", list(hostile_configs(Path("m"), Path("p"))))
def test_a_hostile_run_config_runs_nothing_in_any_entry_point(
    attack, bait, run_folder, tmp_path, capsys
):
    marker, pickle = bait
    _poison(run_folder, hostile_configs(marker, pickle)[attack])
    for name, call in _entry_points(run_folder, tmp_path).items():
        assert call() == 2, name
        err = capsys.readouterr().err
        assert "system.generator" in err and "not allowed" in err, (name, err)
        assert not marker.exists(), f"{attack} ran code through {name}"


def test_the_allow_list_is_this_packages_generators():
    allowed = allowed_targets()
    assert "lowlight.models.generators.UNet" in allowed and "lowlight.models.dce.DCENet" in allowed
    assert not any(t.startswith(("torch.", "os.", "builtins.")) for t in allowed)
    check_untrusted({"_target_": "torch.nn.Conv2d"}, "k", "f", allowed)  # a torch.nn layer
    for target in ("torch.nn.functional.conv2d", "torch.nn.modules.module.Module.__init__"):
        with pytest.raises(UnsafeConfigError, match=r"k\._target_"):
            check_untrusted({"_target_": target}, "k", "f", allowed)
    net = build_untrusted(
        {"_target_": "lowlight.models.generators.UNet", "channels": [4, 8]}, "g", "f"
    )
    assert isinstance(net, torch.nn.Module)


def test_a_hostile_pickle_runs_nothing_in_any_entry_point(bait, run_folder, tmp_path, capsys):
    marker, pickle = bait
    (run_folder / "checkpoints" / "last.ckpt").write_bytes(pickle.read_bytes())
    for name, call in _entry_points(run_folder, tmp_path).items():
        assert call() == 2, name
        err = capsys.readouterr().err
        assert "pickled code and cannot be loaded safely" in err, err
        assert "Traceback" not in err and err.count("\n") <= 2, err
        assert not marker.exists(), f"the pickle ran through {name}"
    evil_pth = tmp_path / "evil.pth"
    evil_pth.write_bytes(pickle.read_bytes())
    assert (
        enhance.main(
            [
                str(tmp_path),
                "-o",
                str(tmp_path / "z"),
                "--model",
                str(evil_pth),
                "--arch",
                "zero_dce",
            ]
        )
        == 2
    )
    with pytest.raises(ValueError, match="ckpt_path=.*loaded safely"):
        train(compose_cfg(["+experiment=lle_gan", *TINY, f"ckpt_path={pickle}"], tmp_path / "t"))
    with pytest.raises(Exception, match="init_checkpoint=.*loaded safely"):
        instantiate(compose_cfg(["+experiment=lle_gan", f"system.init_checkpoint={pickle}"]).system)
    assert not marker.exists()


# ---------------------------------------------------------------- evaluate never loses work


def test_evaluate_keeps_existing_results_and_skips_an_image_that_fails(tmp_path, capsys):
    import csv

    import numpy as np

    from lowlight.data.io import write_image

    data = make_pairs(tmp_path / "d", n=3, size=(24, 24))
    tiny = np.full((1, 1, 3), 0.5, np.float32)  # SSIM cannot score a 1x1 image
    write_image(data / "low" / "dot.png", tiny * 0.2)
    write_image(data / "high" / "dot.png", tiny)
    out = tmp_path / "e"
    argv = ["--data", str(data), "--methods", "identity", "gamma", "-o", str(out), "-q"]
    assert evaluate.main(argv) == 1, "an image left out: exit 1, as lowlight-enhance does"
    assert "1 image(s) left out of the tables: dot" in capsys.readouterr().err
    rows = {r["method"]: r for r in csv.DictReader((out / "results.csv").open())}
    assert rows["identity"]["images"] == "3", "3 of 4 images scored, and the table says so"
    assert "dot" in rows["identity"]["note"] and "failed" in rows["identity"]["note"]
    assert "4 images" in (out / "results.md").read_text()
    (out / "grids" / "stale.png").write_bytes(b"old")
    before = (out / "results.csv").read_bytes()
    assert evaluate.main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "results.csv").read_bytes() == before, "nothing was touched"
    (out / "notes.txt").write_text("mine")
    assert evaluate.main([*argv, "--overwrite"]) == 1
    assert not (out / "grids" / "stale.png").exists(), "stale grids are gone"
    assert (out / "notes.txt").read_text() == "mine", "files evaluate did not write are kept"


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken zip"])
def test_an_unreadable_model_file_is_one_clear_line(tmp_path, content, capsys):
    bad = tmp_path / "model.ckpt"
    bad.write_bytes(content)
    photos = make_pairs(tmp_path / "p", n=1, size=(16, 16))
    assert enhance.main([str(photos / "low"), "-o", str(tmp_path / "o"), "--model", str(bad)]) == 2
    assert (
        evaluate.main(["--data", str(photos), "--methods", str(bad), "-o", str(tmp_path / "e")])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("model.ckpt: not a checkpoint" in line for line in err), err
    assert not any("PyTorch 2.6" in line or "pickled code" in line for line in err), err


# ---------------------------------------------------------------- config values


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "trainer.max_epochs=abc",
            "trainer.max_epochs must be an integer >= -1 or null, got 'abc'",
        ),
        ("system.optimizer_g.lr=-0.001", "system.optimizer_g.lr must be a number > 0, got -0.001"),
        ("system.optimizer_d.betas=[0.5,1.5]", "system.optimizer_d.betas must be two numbers"),
        ("data.batch_size=0", "data.batch_size must be an integer >= 1, got 0"),
        ("data.num_workers=two", "data.num_workers must be an integer >= 0"),
        ("trainer.precision=8-mixed", "trainer.precision must be one of"),
        ("trainer.devices=-2", "trainer.devices must be auto"),
        ("system.loss_weights.adv=-1", "system.loss_weights.adv must be a number >= 0"),
        ("trainer.deterministic=maybe", "trainer.deterministic must be one of True, False, warn"),
    ],
)
def test_bad_config_values_are_refused_before_any_work(override, message, tmp_path):
    from lowlight.config_check import ConfigError

    cfg = compose_cfg(["+experiment=lle_gan", *TINY, override], tmp_path / "run")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        train(cfg)
    assert not (tmp_path / "run").exists(), "nothing was written"


def test_every_shipped_experiment_passes_the_config_check():
    from conftest import CONF
    from lowlight.config_check import ConfigError, check_config

    needs = {  # the mandatory values an experiment states (a missing one is its own test)
        "esrgan": ["system.init_checkpoint=stage1.ckpt"],
        "lol_gan": ["data.root=LOL"],
        "lol_gan_seed": ["data.root=LOL"],
        "lol_iat": ["data.root=LOL"],
        "lol_iat_best": ["data.root=LOL"],
        "lle_iat": ["data.sources.lol.root=LOL", "data.sources.synthetic.source_dir=PHOTOS"],
    }
    for path in sorted((CONF / "experiment").glob("*.yaml")):
        check_config(compose_cfg([f"+experiment={path.stem}", *needs.get(path.stem, [])]))
    with pytest.raises(ConfigError, match="system.init_checkpoint is mandatory"):
        check_config(compose_cfg(["+experiment=esrgan"]))
