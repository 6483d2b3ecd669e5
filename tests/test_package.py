"""Installing lowlight like a library: the wheel carries conf/ and the shipped models, the
console scripts exist, `lowlight-train --help` lists the experiments."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import CONF, ROOT, TINY
from lowlight import zoo
from lowlight.train import config_dir


def build_wheel(tmp: Path) -> Path:
    """The wheel `pip install .` builds, made from a copy of the sources (no build/ litter)."""
    src = tmp / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for item in ("lowlight", "conf"):
        shutil.copytree(ROOT / item, src / item, ignore=ignore)
    for item in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / item, src / item)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp / "wheels"), str(src)],
        check=True,
    )
    (wheel,) = (tmp / "wheels").glob("lowlight-*.whl")
    return wheel


def test_the_wheel_carries_every_module_config_and_shipped_model(tmp_path):
    names = set(zipfile.ZipFile(build_wheel(tmp_path)).namelist())
    for module in (ROOT / "lowlight").rglob("*.py"):
        assert module.relative_to(ROOT).as_posix() in names
    for yaml_file in CONF.rglob("*.yaml"):
        assert f"lowlight/conf/{yaml_file.relative_to(CONF).as_posix()}" in names
    for name in zoo.shipped_names():
        for ext in (".safetensors", ".yaml", ".md"):
            assert f"lowlight/zoo/{name}{ext}" in names
    assert not any(n.startswith(("conf/", "tests/")) for n in names)


def test_console_scripts_point_at_main_functions():
    import importlib

    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {
        "lowlight-train",
        "lowlight-enhance",
        "lowlight-evaluate",
        "lowlight-export",
        "lowlight-report",
        "lowlight-demo",
    }
    for target in scripts.values():
        module, func = target.split(":")
        if module == "lowlight.demo":
            continue  # imports gradio (the optional `demo` extra): tested in test_demo.py
        assert callable(getattr(importlib.import_module(module), func))


def test_a_source_checkout_uses_the_top_level_conf():
    assert config_dir() == CONF


def test_train_help_lists_experiments_sweeps_and_groups():
    out = subprocess.run(
        [sys.executable, "-m", "lowlight.train", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    for group in ("experiment", "sweep", "hparams_search", "generator", "logger"):
        options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
        assert f"{group}: {', '.join(options)}" in out
    assert "lowlight-train +experiment=lle_gan" in out
    assert "--config-dir" in out


@pytest.mark.slow
def test_the_wheel_installs_into_a_fresh_venv_and_trains_outside_the_clone(tmp_path):
    """`pip install` of the built wheel (not -e) into a new venv, then a tiny run from a
    folder that has nothing of the clone. The venv reuses this one's dependencies through a
    .pth line (no download), but not its editable lowlight."""
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([py, "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run(
        [
            py,
            "-c",
            "import lowlight.train as t; print(t.__file__, t.config_dir())",
        ],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        check=True,
    ).stdout.split()
    installed = Path(site) / "lowlight"
    assert where == [str(installed / "train.py"), str(installed / "conf")]

    overrides = ["+experiment=lle_gan", *TINY, "logger=csv", "paths.log_dir=runs"]
    done = subprocess.run(
        [venv / "bin" / "lowlight-train", *overrides],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (results,) = (work / "runs" / "lle_gan").glob("*/results.json")
    assert json.loads(results.read_text())["status"] == "finished"
    for script in ("lowlight-enhance", "lowlight-evaluate", "lowlight-export", "lowlight-report"):
        shown = subprocess.run(
            [venv / "bin" / script, "--help"], capture_output=True, text=True, cwd=work, env=env
        )
        assert shown.returncode == 0 and "usage:" in shown.stdout, (script, shown.stderr)


def test_a_users_config_dir_adds_experiments_that_use_the_package_groups(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /generator: seed_unet\n"
        "task_name: mine\ntrainer:\n  max_epochs: 3\n"
    )
    command = [sys.executable, "-m", "lowlight.train", "--config-dir", str(tmp_path)]
    shown = subprocess.run(
        [*command, "+experiment=mine", "--cfg", "job"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert "lowlight.models.generators.SeedUNet" in shown and "task_name: mine" in shown
    listed = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, cwd=tmp_path, check=True
    ).stdout
    assert "experiment: dce_net, esrgan, esrgan_psnr, lle_gan, lle_gan_seed, lle_iat," in listed
    assert "lol_gan_seed, lol_iat, lol_iat_best, mine," in listed
