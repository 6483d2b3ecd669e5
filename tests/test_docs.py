"""Every command line in README.md and docs/ parses as written, and every model name they
use is shipped (or a baseline): commands at `--help` level (the command's own argument
parser), training lines composed by Hydra as `--cfg job` would."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from conftest import CONF, ROOT
from lowlight import zoo
from lowlight.baselines import LLE_BASELINES, SR_BASELINES

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMANDS = ("lowlight-", "python -m lowlight.")
FENCE = re.compile(r"```(?:bash|sh|console)?\n(.*?)```", re.S)


def command_lines(page: Path) -> list[str]:
    """The shell lines of a page's code blocks that run a lowlight command (continuation
    lines joined, comments dropped)."""
    found = []
    for block in FENCE.findall(page.read_text()):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith(COMMANDS):
                found.append(shlex.split(line, comments=True))
    return found


CASES = [
    pytest.param(argv, id=f"{page.name}:{' '.join(argv)[:70]}")
    for page in PAGES
    for argv in command_lines(page)
]


def _command(argv: list[str]) -> tuple[str, list[str]]:
    if argv[0] == "python":
        return argv[2].removeprefix("lowlight."), argv[3:]
    return argv[0].removeprefix("lowlight-"), argv[1:]


def _first_of_sweep(override: str) -> str:
    """`a=1,2` -> `a=1` (a multirun's first job); commas inside brackets stay."""
    key, _, value = override.partition("=")
    depth, cut = 0, len(value)
    for i, ch in enumerate(value):
        depth += ch in "[{("
        depth -= ch in "]})"
        if ch == "," and depth == 0:
            cut = i
            break
    return f"{key}={value[:cut]}"


def _train_overrides(args: list[str]) -> list[str]:
    kept = []
    for arg in args:
        if arg in ("-m", "--multirun", "--cfg", "job", "--help"):
            continue
        if arg.startswith(("hydra.", "hydra/")):  # the launcher's settings, not the job's
            continue
        kept.append(_first_of_sweep(arg) if "=" in arg else arg)
    return kept


def _is_placeholder(word: str) -> bool:
    return word.isupper() or not word.replace("_", "").isalnum()


def _model_words(name: str, args: list[str], parsed) -> list[str]:
    if name == "enhance":
        return [parsed.model, *(parsed.chain or [])]
    if name == "evaluate":
        return [m.rpartition("=")[2] for m in parsed.methods or []]
    if name == "export":
        return [parsed.model]
    return []


@pytest.mark.parametrize("argv", CASES)
def test_a_documented_command_parses_and_names_real_models(argv):
    name, args = _command(argv)
    if name == "train":
        if "--config-dir" in args:
            pytest.skip("composes the reader's own config folder")
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            compose("train", overrides=_train_overrides(args))
        return
    if name == "zoo":
        assert args[:1] in (["list"], ["pack"]), argv
        return
    parsers = {
        "enhance": "lowlight.enhance",
        "evaluate": "lowlight.evaluate.cli",
        "export": "lowlight.export",
        "report": "lowlight.report",
        "demo": "lowlight.demo",
    }
    assert name in parsers, f"unknown command {argv[0]}"
    module = __import__(parsers[name], fromlist=["_parser"])
    parsed = module._parser().parse_args(args)
    known = set(zoo.shipped_names()) | set(LLE_BASELINES) | set(SR_BASELINES) | {"bicubic_y"}
    for word in _model_words(name, args, parsed):
        if word and "/" not in word and "." not in word and not _is_placeholder(word):
            assert word in known, f"{' '.join(argv)}: {word!r} is neither shipped nor a baseline"


def test_the_pages_hold_commands_and_a_wrong_one_fails():
    assert len(CASES) > 30
    with pytest.raises(SystemExit):
        test_a_documented_command_parses_and_names_real_models(
            ["lowlight-enhance", "x.png", "--no-such-flag"]
        )
    with pytest.raises(AssertionError, match="neither shipped"):
        test_a_documented_command_parses_and_names_real_models(
            ["lowlight-enhance", "x.png", "-o", "out", "--model", "nosuchmodel"]
        )
    with pytest.raises(Exception, match="nosuch"):
        test_a_documented_command_parses_and_names_real_models(
            ["lowlight-train", "+experiment=nosuch"]
        )
