"""Shared fixtures: tiny image folders, composed configs, the real-data location."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

import lowlight.train  # noqa: F401  (registers the config's resolvers, as the entry point does)
from lowlight import api, zoo
from lowlight.zoo.pack import pack

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED_DATA = Path(os.environ.get("LOWLIGHT_SHARED_DATA", ROOT.parent / "shared" / "data"))

# Overrides that shrink an experiment to seconds on a CPU: per data config, then common.
TINY_DATA = {
    "synthetic_lowlight": [
        "data.augment.crop_size=32",
        "data.eval_crop=32",
        "data.train_samples=8",
        "data.val_samples=4",
        "data.test_samples=4",
        "data.batch_size=4",
        "data.eval_batch_size=4",
    ],
    "sr": ["data.crop_size=32", "data.train_samples=8", "data.batch_size=4"],
    "lol": [  # a tiny LOL layout, written on first use (tiny_lol)
        "data.root=${oc.env:LOWLIGHT_TINY_LOL}",
        "data.block_size=1",
        "data.augment.crop_size=32",
        "data.batch_size=2",
        "data.eval_crop=32",
        "data.val_samples=2",
        "data.test_samples=2",
    ],
    "lol_mixed": [  # the tiny LOL layout and its photos/high/ (tiny_lol)
        "data.sources.lol.root=${oc.env:LOWLIGHT_TINY_LOL}",
        "data.sources.lol.block_size=1",
        "data.sources.lol.eval_crop=32",
        "data.sources.lol.val_samples=2",
        "data.sources.lol.test_samples=2",
        "data.sources.synthetic.source_dir=${oc.env:LOWLIGHT_TINY_LOL}/photos/high",
        "data.sources.synthetic.eval_crop=32",
        "data.sources.synthetic.train_samples=2",
        "data.augment.crop_size=32",
        "data.batch_size=2",
    ],
}
TINY_COMMON = [
    "trainer.accelerator=cpu",
    "trainer.max_epochs=1",
    "trainer.log_every_n_steps=1",
    "trainer.enable_model_summary=false",
    "~callbacks.progress_bar",
    "~callbacks.model_summary",
]
TINY = TINY_DATA["synthetic_lowlight"] + TINY_COMMON


def data_choice(overrides: list[str]) -> str:
    """Which data config these overrides select (experiments pick their own)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    return cfg.hydra.runtime.choices["data"]


def tiny_lol() -> Path:
    """A tiny LOL folder (our485: 6 numbered pairs, eval15: 2, and photos/high/: 5 daylight
    stand-ins for data=lol_mixed's synthetic pairs), made once per session; its path is in
    LOWLIGHT_TINY_LOL, which TINY_DATA["lol"] reads (subprocesses inherit it)."""
    if "LOWLIGHT_TINY_LOL" not in os.environ:
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="lowlight-tiny-lol-"))
        make_pairs(root / "our485", n=6, size=(48, 40))
        make_pairs(root / "eval15", n=2, size=(48, 40), seed=1)
        for i, pair in enumerate(sorted((root / "eval15" / "low").iterdir())):
            for side in ("low", "high"):  # eval15 numbers apart from our485's
                (root / "eval15" / side / pair.name).rename(root / "eval15" / side / f"9{i}.png")
        make_pairs(root / "photos", n=5, size=(48, 48), seed=2)  # photos/high/: 5 photos
        os.environ["LOWLIGHT_TINY_LOL"] = str(root)
    return Path(os.environ["LOWLIGHT_TINY_LOL"])


def tiny(experiment: str) -> list[str]:
    """`+experiment=NAME` and the overrides that make it tiny."""
    first = [f"+experiment={experiment}"]
    data = data_choice(first)
    if data in ("lol", "lol_mixed"):
        tiny_lol()
    return first + TINY_DATA[data] + TINY_COMMON


def pytest_collection_modifyitems(config, items):
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"real data not found at {SHARED_DATA}")
    for item in items:
        if "realdata" in item.keywords:
            item.add_marker(skip)


def cli_args(overrides: list[str]) -> list[str]:
    """Test overrides as command-line arguments (a removed callback is set to null)."""
    return [o if not o.startswith("~") else f"{o[1:]}=null" for o in overrides]


def train_cli(args: list[str], cwd: Path, **popen) -> subprocess.CompletedProcess:
    """`python -m lowlight.train ARGS` in a subprocess, as a user runs it (tests/ importable,
    for the fault-injection callbacks of chaos_callbacks.py)."""
    path = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    env = {**os.environ, "PYTHONPATH": path, "HYDRA_FULL_ERROR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "lowlight.train", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        **popen,
    )


def quiet_fit(system, loader, batches: int = 1, epochs: int = 1, **trainer_kw):
    """Fit `system` on CPU for a few batches with nothing written and nothing printed."""
    import lightning as L

    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        limit_train_batches=batches,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **trainer_kw,
    )
    trainer.fit(system, loader)
    return trainer


def compose_cfg(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """The real config tree, composed as `python -m lowlight.train OVERRIDES` would."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def fake_run(folder, overrides):
    """A run folder as lowlight.train leaves it (config.yaml + a checkpoint), untrained."""
    cfg = compose_cfg(overrides, folder)
    folder.mkdir(parents=True)
    OmegaConf.save(cfg, folder / "config.yaml", resolve=True)
    torch.manual_seed(0)  # the same weights whatever ran before in the process
    system = instantiate(cfg.system)
    with torch.no_grad():  # not the default init: loading must really replace weights
        for p in system.generator.parameters():
            p.add_(0.01 * torch.randn_like(p))
    (folder / "checkpoints").mkdir()
    torch.save({"state_dict": system.state_dict()}, folder / "checkpoints" / "last.ckpt")
    return folder, system


def random_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random colour image (float RGB in [0, 1])."""
    small = rng.random((max(2, h // 8), max(2, w // 8), 3))
    import cv2

    return np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1).astype(
        np.float32
    )


def make_pairs(root: Path, n: int = 10, size: tuple[int, int] = (48, 40), seed: int = 0) -> Path:
    """root/low/NN.png and root/high/NN.png: high = a random image, low = 0.2 * high."""
    from lowlight.data.io import write_image

    rng = np.random.default_rng(seed)
    for i in range(n):
        hi = random_image(rng, *size)
        write_image(root / "high" / f"{i:02d}.png", hi)
        write_image(root / "low" / f"{i:02d}.png", hi * 0.2)
    return root


@pytest.fixture
def pair_dir(tmp_path: Path) -> Path:
    return make_pairs(tmp_path / "pairs")


@pytest.fixture(autouse=True)
def _quiet_wandb(monkeypatch, tmp_path):
    # No test may reach W&B servers or read the developer's credentials.
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


@pytest.fixture
def tiny_vgg(tmp_path: Path) -> Path:
    """A VGG19 weights file holding only conv1_1/conv1_2 (random): enough for a conv1_2 loss."""
    import torch
    from torchvision.models import vgg19

    path = tmp_path / "vgg19-tiny.pth"
    state = vgg19(weights=None).features[:3].state_dict()
    torch.save({f"features.{k}": v for k, v in state.items()}, path)
    return path


def perceptual_overrides(vgg: Path) -> list[str]:
    return [
        f"system.perceptual_loss.weights_path={vgg}",
        "~system.perceptual_loss.layers",
        "+system.perceptual_loss.layers.conv1_2=1.0",
    ]


@pytest.fixture
def psnr_checkpoint(tmp_path: Path) -> Path:
    """A checkpoint of an (untrained) esrgan_psnr system: stage one of ESRGAN."""
    import torch
    from hydra.utils import instantiate

    system = instantiate(compose_cfg(["+experiment=esrgan_psnr"]).system)
    path = tmp_path / "esrgan_psnr.ckpt"
    torch.save({"state_dict": system.state_dict()}, path)
    return path


@pytest.fixture
def extras(psnr_checkpoint: Path, tiny_vgg: Path):
    """Overrides an experiment needs beyond its own config (files made by the tests)."""
    needs = {
        "esrgan": [f"system.init_checkpoint={psnr_checkpoint}", *perceptual_overrides(tiny_vgg)]
    }
    return lambda name: needs.get(name, [])


FACTS = {
    "task": "low-light enhancement",
    "summary": "a test model.",
    "data": "random numbers",
    "licence": "CC0 (test)",
}


@pytest.fixture(scope="module")
def zoo_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo_runs")
    lle = fake_run(root / "lle", ["+experiment=lle_gan", "data.color_space=ycrcb"])[0]
    sr = fake_run(root / "sr", ["+experiment=esrgan_psnr", "data.scale=4"])[0]
    return lle, sr


@pytest.fixture
def shipped(zoo_runs, tmp_path, monkeypatch):
    """A zoo folder holding `lle` and `sr_x4` packed from the fake runs, used by name."""
    folder = tmp_path / "zoo"
    pack(zoo_runs[0], "lle", FACTS, folder)
    pack(zoo_runs[1], "sr_x4", {**FACTS, "task": "x4 super-resolution"}, folder)
    monkeypatch.setattr(zoo, "ZOO_DIR", folder)
    api._LOADED.clear()
    yield folder
    api._LOADED.clear()
