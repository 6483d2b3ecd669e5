"""Models that ship with lowlight, usable without training.

Each shipped model NAME is three files in this folder (package data of the wheel):

- `NAME.safetensors`: the generator's weights (safetensors: no pickle, nothing runs on load);
- `NAME.yaml`: how to build it (`generator`: the run's `system.generator` config,
  `color_space`) and what it is (`task`, `summary`, `data`, `licence`);
- `NAME.md`: the model card (training data and its terms, the exact commands, the figures
  measured with `lowlight-evaluate`).

This module only says which models ship and where their files are (no torch);
`lowlight.loading.load_model` builds them (and so `lowlight-enhance --model`,
`lowlight-evaluate --methods`, `lowlight-export`, `lowlight.enhance_image` accept these names
wherever they accept a run folder). `python -m lowlight.zoo list` lists them;
`python -m lowlight.zoo pack RUN --name NAME ...` (`lowlight.zoo.pack`) writes the first two
files from a run.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ZOO_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "lle"
FACTS = ("task", "summary", "data", "licence")  # what pack asks for and NAME.yaml says


def zoo_folder(folder: Path | None) -> Path:
    return ZOO_DIR if folder is None else Path(folder)


def shipped_names(folder: Path | None = None) -> list[str]:
    """The names whose weights and description are both present."""
    found = zoo_folder(folder).glob("*.yaml")
    return sorted(p.stem for p in found if p.with_suffix(".safetensors").is_file())


def is_shipped(spec: object, folder: Path | None = None) -> bool:
    return isinstance(spec, str) and spec in shipped_names(folder)


def model_not_found(spec: object) -> FileNotFoundError:
    """The error for a model that is neither a shipped name nor an existing path."""
    shipped = ", ".join(shipped_names()) or "none installed"
    return FileNotFoundError(
        f"model not found: {spec} (a shipped name: {shipped}; a run folder, .ckpt or .pth)"
    )


def describe(name: str, folder: Path | None = None) -> dict:
    """The model's `NAME.yaml` as a dict."""
    folder = zoo_folder(folder)
    path = folder / f"{name}.yaml"
    if not path.is_file() or not path.with_suffix(".safetensors").is_file():
        have = ", ".join(shipped_names(folder)) or "none"
        raise FileNotFoundError(
            f"no shipped model {name!r} in {folder} (shipped: {have}); a model is a shipped "
            "name, a run folder written by lowlight-train, or a checkpoint"
        )
    info = yaml.safe_load(path.read_text())
    if not isinstance(info, dict) or "generator" not in info:
        raise ValueError(f"{path}: not a shipped-model description (no `generator` key)")
    return info


def files(name: str, folder: Path | None = None) -> tuple[Path, Path]:
    """(`NAME.yaml`, `NAME.safetensors`) of a shipped model; an error naming the shipped
    ones when it is not."""
    describe(name, folder)
    folder = zoo_folder(folder)
    return folder / f"{name}.yaml", folder / f"{name}.safetensors"


def licence_lines(folder: Path | None = None) -> list[str]:
    """One line per shipped model: name, what it does, the terms of its weights."""
    lines = []
    for name in shipped_names(folder):
        info = describe(name, folder)
        lines.append(f"{name}: {info.get('summary', '')} Terms: {info.get('licence', '?')}")
    return lines
