"""The real config tree: composing, instantiating, training, resuming, logging, sweeping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch import Callback
from omegaconf import OmegaConf

from conftest import CONF, TINY, cli_args, compose_cfg, data_choice, make_pairs, tiny, train_cli
from lowlight.losses import AdversarialLoss
from lowlight.models.discriminators import DCGAN5
from lowlight.models.generators import SeedUNet
from lowlight.systems import GANSystem
from lowlight.train import train

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
LLE_DATA = ["lol", "paired", "synthetic_lowlight"]
LLE_EXPERIMENTS = [
    e for e in EXPERIMENTS if data_choice([f"+experiment={e}"]) == "synthetic_lowlight"
]
SWEEPS = sorted(p.stem for p in (CONF / "sweep").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_instantiates(name, tmp_path, extras):
    cfg = compose_cfg([*tiny(name), *extras(name)], tmp_path)
    assert cfg.task_name == name
    system = instantiate(cfg.system)
    instantiate(cfg.data)
    instantiate(cfg.trainer)
    assert isinstance(system, torch.nn.Module)


@pytest.mark.parametrize("name", LLE_EXPERIMENTS)
def test_every_experiment_gets_its_data_at_its_own_sizes(name):
    """As `python -m lowlight.train +experiment=NAME` runs, not shrunk: the bundled photos
    must split at the experiment's crop sizes (Zero-DCE's 256 px crops do not fit bands of
    every photo, so `split_by: auto` holds out whole photos for it)."""
    cfg = compose_cfg([f"+experiment={name}"])
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    crop = cfg.data.augment.crop_size
    assert datamodule.train_set[0]["lq"].shape[-2:] == (crop, crop)
    assert datamodule.val_set[0]["lq"].shape[-1] == cfg.data.eval_crop
    test_photos = {str(getattr(p, "path", p)) for p in datamodule.photos["test"]}
    train_photos = {str(getattr(p, "path", p)) for p in datamodule.photos["train"]}
    if len(train_photos) < 5:  # a split by photos: test photos are never trained on
        assert not test_photos & train_photos


@pytest.mark.parametrize("data", LLE_DATA)
@pytest.mark.parametrize("name", LLE_EXPERIMENTS)
def test_every_experiment_works_with_every_data_config(name, data, tmp_path):
    make_pairs(tmp_path / "LOL" / "our485", n=4, size=(128, 136))
    make_pairs(tmp_path / "LOL" / "eval15", n=2, size=(128, 136))
    root = [f"data.root={tmp_path / 'LOL'}"] if data != "synthetic_lowlight" else []
    root += ["data.block_size=1"] if data == "lol" else []  # 4 pairs: blocks of one number
    if data == "paired":
        root = [f"data.train_dir={tmp_path / 'LOL' / 'our485'}"]
    crop = ["data.augment.crop_size=128"]  # dce_net crops 256 by default
    cfg = compose_cfg([f"+experiment={name}", f"data={data}", *root, *crop], tmp_path / "run")
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    assert len(datamodule.train_set) > 0


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_fast_dev_run_of_every_experiment(name, tmp_path, extras):
    cfg = compose_cfg([*tiny(name), *extras(name), "+trainer.fast_dev_run=true"], tmp_path)
    results = train(cfg)
    assert results["test"]["test/psnr"] > 0
    if data_choice([f"+experiment={name}"]) == "sr":
        assert "test/psnr_y" in results["test"] and "test/input_psnr_y" in results["test"]
    assert (tmp_path / "results.json").is_file()


def test_the_brief_recipe_is_what_lle_gan_seed_builds(tmp_path):
    cfg = compose_cfg(["+experiment=lle_gan_seed"], tmp_path)
    system = instantiate(cfg.system)
    assert isinstance(system.generator, SeedUNet) and isinstance(system.discriminator, DCGAN5)
    assert system.discriminator.sigmoid and system.adversarial.mode == "bce"
    assert system.loss_weights == {"pixel": 1.0, "adv": 0.01, "perceptual": 0.0, "exposure": 0.0}
    opt_g, opt_d = system.configure_optimizers()[0]
    assert opt_g.defaults["lr"] == opt_d.defaults["lr"] == 1e-4
    assert cfg.data.batch_size == 8 and cfg.trainer.max_epochs == 100


def test_groups_swap_from_the_command_line(tmp_path):
    cfg = compose_cfg(
        [
            "adversarial=lsgan",
            "pixel_loss=mse",
            "system.loss_weights.adv=0",
            "data.color_space=ycrcb",
        ],
        tmp_path,
    )
    system: GANSystem = instantiate(cfg.system)
    assert isinstance(system.adversarial, AdversarialLoss) and system.adversarial.mode == "lsgan"
    assert isinstance(system.pixel_loss, torch.nn.MSELoss)
    assert system.loss_weights["adv"] == 0
    assert system.color_space == "ycrcb"


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("data.split=[0.5,0.5,0.5]", "data.split"),
        ("+system.loss_weights.color=1", "system.loss_weights.color"),
        ("data.color_space=lab", "data.color_space"),
        ("system.generator.norm=group", "generator.norm"),
    ],
)
def test_wrong_config_values_name_the_key(override, key, tmp_path):
    cfg = compose_cfg([override], tmp_path)
    with pytest.raises(InstantiationException, match=key.replace(".", r"\.")):
        instantiate(cfg.data)
        instantiate(cfg.system)


def test_a_run_writes_everything_into_its_folder(tmp_path):
    cfg = compose_cfg(["+experiment=lle_gan", *TINY, "logger=[csv,tensorboard]"], tmp_path)
    results = train(cfg)
    assert (tmp_path / "config.yaml").is_file()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    best = tmp_path / results["best_checkpoint"]  # relative to the run folder
    assert best.parent == tmp_path / "checkpoints" and best.name.startswith("epoch000-psnr")
    assert best.is_file() and not Path(results["best_checkpoint"]).is_absolute()
    assert "val/psnr" in (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert (tmp_path / "images" / "val_epoch000.png").is_file()
    assert (tmp_path / "images" / "test.png").is_file()
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["test"]) >= {"test/psnr", "test/ssim", "test/mae", "psnr_gain_over_input"}
    # the checkpoint holds plain data: it loads with weights_only=True
    ckpt = torch.load(best, weights_only=True)
    assert {"state_dict", "optimizer_states"} <= set(ckpt)


def test_an_existing_run_folder_is_never_overwritten(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"previous run")
    with pytest.raises(FileExistsError, match="ckpt_path="):
        train(compose_cfg(["+experiment=lle_gan", *TINY], tmp_path))
    assert (tmp_path / "checkpoints" / "last.ckpt").read_bytes() == b"previous run"
    with pytest.raises(FileNotFoundError, match="ckpt_path=.*nope.ckpt"):
        train(compose_cfg(["+experiment=lle_gan", *TINY, "ckpt_path=nope.ckpt"], tmp_path / "x"))


class _Capture(Callback):
    def on_train_start(self, trainer, pl_module):
        self.weights = {k: v.clone() for k, v in pl_module.state_dict().items()}
        self.adam_steps = [
            next(iter(opt.state.values()))["step"].item() for opt in trainer.optimizers
        ]
        self.epoch = trainer.current_epoch


def test_resume_continues_both_networks_and_optimizers(tmp_path):
    first = compose_cfg(["+experiment=lle_gan", *TINY], tmp_path / "a")
    train(first)
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    second = compose_cfg(
        ["+experiment=lle_gan", *TINY, f"ckpt_path={last}", "trainer.max_epochs=2"], tmp_path / "b"
    )
    capture = _Capture()
    results = train(second, callbacks=[capture])
    assert capture.epoch == 1 and results["epochs"] == 2
    for key in ("generator.head.weight", "discriminator.net.0.weight"):
        torch.testing.assert_close(capture.weights[key], saved["state_dict"][key])
    batches = 8 // 4  # train_samples / batch_size
    assert capture.adam_steps == [batches, batches], "both optimizers resumed mid-schedule"


def test_wandb_logs_offline_into_the_run_folder(tmp_path):
    import wandb

    cfg = compose_cfg(["+experiment=lle_gan", *TINY, "logger=wandb"], tmp_path)
    try:
        train(cfg)
    finally:
        wandb.finish()
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert runs, "an offline W&B run folder"
    assert list(runs[0].glob("run-*.wandb")), "with its run data"


def test_wandb_goes_online_only_with_credentials(tmp_path, monkeypatch):
    from lowlight.loggers import wandb_logged_in

    assert not wandb_logged_in()
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password abc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert wandb_logged_in()


def test_a_wandb_run_in_a_sweep_is_named_after_its_swept_values():
    from hydra.core.hydra_config import HydraConfig

    from lowlight.sweeps import _cli_sweep_keys, sweep_run_name

    overrides = ["+experiment=dce_net", "+sweep=dce_losses", "+ablation=dce_no_color"]
    names = {}
    for mode in ("MULTIRUN", "RUN"):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(
                "train",
                overrides=[*overrides, "logger=wandb", f"hydra.mode={mode}"],
                return_hydra_config=True,
            )
        try:
            HydraConfig.instance().set_config(cfg)
            names[mode] = cfg.logger.wandb.name
        finally:
            HydraConfig.instance().cfg = None
    assert names["MULTIRUN"] == "dce_net +ablation=dce_no_color"
    assert names["RUN"] == "dce_net", "a single run keeps the experiment's name"
    argv = ["-m", "+experiment=lle_gan", "system.loss_weights.adv=0.01,0.1", "seed=range(3)"]
    keys = _cli_sweep_keys([*argv, "trainer.max_epochs=2"])
    assert keys == {"system.loss_weights.adv", "seed"}
    job = ["+experiment=lle_gan", "system.loss_weights.adv=0.1", "seed=2", "trainer.max_epochs=2"]
    assert sweep_run_name("lle_gan", job, keys, 5) == "lle_gan system.loss_weights.adv=0.1 seed=2"
    assert sweep_run_name("lle_gan", job, set(), 5) == "lle_gan #5"


def sweep_jobs(name: str) -> list[list[str]]:
    """The override lists the basic sweeper makes from conf/sweep/NAME.yaml (cartesian)."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"+sweep={name}"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    assert params, f"sweep {name} defines hydra.sweeper.params"
    from hydra.core.override_parser.overrides_parser import OverridesParser

    jobs: list[list[str]] = [[]]
    parser = OverridesParser.create()
    for key, values in params.items():
        (override,) = parser.parse_overrides([f"{key}={values}"])  # as the sweeper parses it
        choices = list(override.sweep_string_iterator()) if override.is_sweep_override() else None
        choices = choices or [override.get_value_element_as_str()]
        jobs = [[*job, f"{key}={v}"] for job in jobs for v in choices]
    return jobs


def sweep_experiment(name: str) -> str:
    """The experiment a sweep file is written for (its usage line says so)."""
    text = (CONF / "sweep" / f"{name}.yaml").read_text()
    (experiment,) = {e for e in EXPERIMENTS if f"+experiment={e} +sweep={name}" in text}
    return experiment


def _leaves(node, prefix=""):
    """Dotted key -> value for every leaf of a plain nested dict."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}{k}.")
    else:
        yield prefix[:-1], node


def ablation_settings(name: str) -> tuple[dict, dict]:
    """What conf/ablation/NAME.yaml asks for: ({group: choice}, {dotted key: value})."""
    raw = OmegaConf.to_container(OmegaConf.load(CONF / "ablation" / f"{name}.yaml"))
    groups = {}
    for entry in raw.pop("defaults", []):
        for key, choice in entry.items():
            groups[key.removeprefix("override ").strip("/")] = choice
    return groups, dict(_leaves(raw))


@pytest.mark.parametrize("name", SWEEPS)
def test_every_job_of_every_sweep_composes_and_builds(name, tmp_path):
    experiment = sweep_experiment(name)
    jobs = sweep_jobs(name)
    assert len(jobs) >= 1
    described = set()
    for job in jobs:
        # the sweeper puts its parameters before the command line's, as here (leaving out
        # the tiny settings that the sweep varies itself)
        swept = {o.split("=", 1)[0] for o in job}
        overrides = [*job, *(o for o in tiny(experiment) if o.split("=", 1)[0] not in swept)]
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            choices = compose("train", overrides=overrides, return_hydra_config=True)
            choices = choices.hydra.runtime.choices
        cfg = compose_cfg(overrides, tmp_path)
        for ablation in [o.split("=", 1)[1] for o in job if o.startswith("+ablation=")]:
            groups, values = ablation_settings(ablation)
            for group, choice in groups.items():
                assert choices[group] == choice, f"{name}: {ablation} did not set {group}"
            for key, value in values.items():
                got = OmegaConf.select(cfg, key)
                assert got == value, f"{name}: {ablation} sets {key}={value}, the run gets {got}"
        system = instantiate(cfg.system)
        instantiate(cfg.data)
        # what a job is: its hyper-parameters, the networks and losses it builds, its data
        # (crops, colour space), its length
        hparams = json.dumps(dict(system.hparams), sort_keys=True, default=str)
        data = json.dumps(OmegaConf.to_container(cfg.data, resolve=True), sort_keys=True)
        described.add(hparams + repr(system) + data + str(cfg.trainer.max_epochs))
    assert len(described) == len(jobs), f"{name}: some jobs build the same run"


def test_cli_run_and_multirun(tmp_path):
    tiny = cli_args(TINY)
    run = train_cli(["+experiment=lle_gan", *tiny, "paths.log_dir=logs"], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    (folder,) = (tmp_path / "logs" / "lle_gan").iterdir()
    assert {"config.yaml", "results.json", "checkpoints", "images", "metrics.csv"} <= {
        p.name for p in folder.iterdir()
    }

    sweep = train_cli(
        [
            "-m",
            "+experiment=lle_gan",
            *tiny,
            "paths.log_dir=logs",
            "system.loss_weights.adv=0,0.01",
        ],
        tmp_path,
    )
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    (multirun,) = (tmp_path / "logs" / "lle_gan" / "multirun").iterdir()
    assert (multirun / "multirun.yaml").is_file()
    weights = []
    for job in ("0", "1"):
        assert (multirun / job / "results.json").is_file()
        overrides = (multirun / job / ".hydra" / "overrides.yaml").read_text()
        weights.append("system.loss_weights.adv=0.01" in overrides)
    assert weights == [False, True]


@pytest.mark.slow
def test_lle_gan_learns_to_enhance(tmp_path):
    """A short real run: the test PSNR must clearly beat the unenhanced input (~1 min)."""
    cfg = compose_cfg(
        [
            "+experiment=lle_gan",
            "data.train_samples=1024",
            "data.val_samples=16",
            "data.test_samples=64",
            "trainer.max_epochs=2",
            "~callbacks.progress_bar",
            "~callbacks.model_summary",
            "trainer.enable_model_summary=false",
        ],
        tmp_path,
    )
    results = train(cfg)
    assert results["test"]["psnr_gain_over_input"] > 5.0, results["test"]
    assert results["test"]["test/ssim"] > results["test"]["test/input_ssim"]


SIZE_KEYS = ["data.eval_crop=32", "data.val_samples=2", "data.test_samples=2", "data.batch_size=2"]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_the_same_size_keys_shrink_every_experiment(name, tmp_path, extras):
    """One set of evaluation-size keys for every DataModule (docs/data.md): at most N
    validation / test images, centre-cropped to eval_crop."""
    make_pairs(tmp_path / "LOL" / "our485", n=6, size=(96, 100))
    make_pairs(tmp_path / "LOL" / "eval15", n=3, size=(96, 100))
    roots = {
        "lol": [f"data.root={tmp_path / 'LOL'}", "data.block_size=1"],
        "lol_mixed": [
            f"data.sources.lol.root={tmp_path / 'LOL'}",
            "data.sources.lol.block_size=1",
            f"data.sources.synthetic.source_dir={tmp_path / 'LOL' / 'our485' / 'high'}",
            "data.sources.synthetic.eval_crop=32",
        ],
    }
    data = data_choice([f"+experiment={name}"])
    overrides = [f"+experiment={name}", *roots.get(data, []), *SIZE_KEYS, *extras(name)]
    cfg = compose_cfg(overrides, tmp_path / "run")
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    for split in (datamodule.val_set, datamodule.test_set):
        assert 1 <= len(split) <= 2
        assert max(split[0]["gt"].shape[-2:]) <= 32
