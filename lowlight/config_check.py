"""Check the settings users change most, before any work, each error naming its key.

One table rather than checks scattered through constructors: `train` calls
`check_config(cfg)` before it builds data, networks or a trainer, so `trainer.max_epochs=abc`
or a negative learning rate is one line naming the key, not an AssertionError from inside
Lightning or torch.optim after the model was built. (Hydra structured configs would type
the values but not their ranges, and would fix every group's keys in a schema.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


class ConfigError(ValueError):
    """A config value of the wrong type or out of range; the message names the key."""


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def int_at_least(low: int, null: bool = False) -> tuple[Callable[[Any], bool], str]:
    text = f"an integer >= {low}" + (" or null" if null else "")
    return (lambda v: (null and v is None) or (_int(v) and v >= low)), text


def number(low: float, strict: bool = False, null: bool = False):
    text = f"a number {'>' if strict else '>='} {low}" + (" or null" if null else "")

    def ok(v: Any) -> bool:
        return (null and v is None) or (_num(v) and (v > low if strict else v >= low))

    return ok, text


def one_of(*allowed: Any):
    return (lambda v: v in allowed), "one of " + ", ".join(map(str, allowed))


def _devices(v: Any) -> bool:
    if v == "auto" or (_int(v) and v >= -1):
        return True
    return isinstance(v, (list, ListConfig)) and all(_int(d) and d >= 0 for d in v)


def _betas(v: Any) -> bool:
    return (
        isinstance(v, (list, ListConfig)) and len(v) == 2 and all(_num(b) and 0 <= b < 1 for b in v)
    )


def _split(v: Any) -> bool:
    ok = isinstance(v, (list, ListConfig)) and len(v) == 3 and all(_num(r) and r >= 0 for r in v)
    return ok and v[0] > 0 and abs(sum(v) - 1.0) <= 1e-6


# A value an experiment cannot do without: `key: ${mandatory:why}` (not `???`, which a merge
# over an earlier null silently drops). Setting the key replaces the marker.
MANDATORY = "${mandatory:"


def _mandatory_message(key: str, why: str) -> str:
    return f"{key} is mandatory here ({why}): give {key}=..."


def mandatory(why: str, _node_: Any = None) -> Any:
    """The `${mandatory:...}` resolver: reached only when nothing replaced the marker."""
    key = _node_._get_full_key(None) if _node_ is not None else "a mandatory value"
    raise ConfigError(_mandatory_message(key, why))


def _missing_mandatory(node: Any, key: str = "") -> list[str]:
    if isinstance(node, dict):
        return [m for k, v in node.items() for m in _missing_mandatory(v, f"{key}{k}.")]
    if isinstance(node, list):
        return [m for i, v in enumerate(node) for m in _missing_mandatory(v, f"{key}{i}.")]
    if isinstance(node, str) and node.startswith(MANDATORY):
        why = node[len(MANDATORY) : -1].strip().strip("'\"")
        return [_mandatory_message(key.rstrip("."), why)]
    return []


PRECISIONS = ("32-true", "32", 32, "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true", 64)

# key -> (check, what it must be). Keys absent from a config are skipped.
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": int_at_least(0),
    "trainer.max_epochs": int_at_least(-1, null=True),
    "trainer.max_steps": int_at_least(-1),
    "trainer.devices": (_devices, "auto, an integer >= -1 or a list of device indices"),
    "trainer.accelerator": one_of("auto", "cpu", "gpu", "cuda", "mps", "tpu"),
    "trainer.precision": one_of(*PRECISIONS),
    "trainer.log_every_n_steps": int_at_least(1),
    "trainer.check_val_every_n_epoch": int_at_least(1, null=True),
    "trainer.num_sanity_val_steps": int_at_least(-1),
    "trainer.deterministic": one_of(True, False, "warn"),
    "trainer.gradient_clip_val": number(0, strict=True, null=True),
    "data.batch_size": int_at_least(1),
    "data.eval_batch_size": int_at_least(1),
    "data.num_workers": int_at_least(0),
    "data.train_samples": int_at_least(1, null=True),
    "data.val_samples": int_at_least(1, null=True),
    "data.test_samples": int_at_least(1, null=True),
    "data.split": (_split, "three non-negative fractions [train, val, test] summing to 1"),
    "data.augment.crop_size": int_at_least(1, null=True),
    "data.eval_crop": int_at_least(1, null=True),
    # synthetic data: auto / photos / regions; paired data: random / blocks (each
    # DataModule names the values it takes)
    "data.split_by": one_of("auto", "photos", "regions", "random", "blocks"),
    "data.block_size": int_at_least(1),
    "system.score_8bit": one_of(True, False),
    "system.channels_last": one_of(True, False),
    "system.compile": one_of(True, False),
    "callbacks.model_checkpoint.save_top_k": int_at_least(-1),
    "callbacks.model_checkpoint.every_n_train_steps": int_at_least(1, null=True),
}
# the same rules for every optimizer of a system (optimizer, optimizer_g, optimizer_d, ...)
OPTIMIZER_RULES = {
    "lr": number(0, strict=True),
    "weight_decay": number(0),
    "betas": (_betas, "two numbers in [0, 1)"),
    "eps": number(0, strict=True),
}


def _problems(cfg: DictConfig) -> list[str]:
    problems = _missing_mandatory(OmegaConf.to_container(cfg, resolve=False))

    def check(key: str, rule: tuple[Callable[[Any], bool], str]) -> None:
        try:
            value = OmegaConf.select(cfg, key, throw_on_missing=False, default="<absent>")
        except Exception as e:  # a broken interpolation
            problems.append(f"{key}: {e}")
            return
        if isinstance(value, str) and value == "<absent>":
            return
        ok, what = rule
        if not ok(value):
            problems.append(f"{key} must be {what}, got {value!r}")

    for key, rule in RULES.items():
        check(key, rule)
    system = cfg.get("system") or {}
    for name in [k for k in system if str(k).startswith("optimizer")]:
        for arg, rule in OPTIMIZER_RULES.items():
            check(f"system.{name}.{arg}", rule)
    for term in system.get("loss_weights") or {}:
        check(f"system.loss_weights.{term}", number(0))
    return problems


def check_config(cfg: DictConfig) -> None:
    """Raise `ConfigError` listing every bad value (type or range) with its key."""
    problems = _problems(cfg)
    if problems:
        raise ConfigError("invalid config: " + "; ".join(problems))
