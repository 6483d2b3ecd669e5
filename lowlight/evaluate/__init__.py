"""`lowlight-evaluate`: score methods side by side on benchmark datasets.

The parts, each usable alone: `datasets` (a folder recognised by its layout), `methods`
(baselines, shipped models, runs), `scoring` (one output's scores), `run` (every method on
every image), `tables` (results and summary files), `published` (cited rows), `cli`.
Importing this package is light (no torch): `main` reads its arguments first.
"""

from lowlight.evaluate.cli import _parser, main

__all__ = ["_parser", "main", "resolve_dataset"]


def __getattr__(name: str):
    if name == "resolve_dataset":
        from lowlight.evaluate.datasets import resolve_dataset

        return resolve_dataset
    raise AttributeError(f"module 'lowlight.evaluate' has no attribute {name!r}")
