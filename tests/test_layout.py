"""The house rules that keep the code easy to live in: no import cycle between lowlight's
modules (imports inside functions count), no file in lowlight/ over ~400 lines, and
commands whose `--help` never loads torch, Lightning or Hydra's app."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "lowlight"
MAX_LINES = 420  # "~400": a little slack for a docstring, never a second job


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under `if TYPE_CHECKING:` (never run)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    lines.add(inner.lineno)
    return lines


def import_graph() -> dict[str, set[str]]:
    """module -> the lowlight modules it imports, at the top or inside functions."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        skip = _type_checking_only(tree)
        edges = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    edges.add(full if full in modules else node.module)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_lowlight_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_one():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_file_in_lowlight_is_over_about_400_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these along their seams: {long}"


HEAVY = ("torch", "lightning", "hydra._internal.hydra", "torchmetrics")


@pytest.mark.parametrize(
    "module", ["lowlight.enhance", "lowlight.evaluate", "lowlight.export", "lowlight.zoo"]
)
def test_a_commands_help_loads_nothing_heavy(module):
    """`--help` answers before torch loads (torch alone takes ~2 s to import here); the
    times themselves are measured by benchmarks/startup.py, never here."""
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['x', '--help']\n"
        f"try:\n    runpy.run_module({module!r}, run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout[-2000:]


def test_enhance_and_the_api_never_load_lightning_or_hydra():
    code = (
        "import sys, numpy as np, lowlight.enhance, lowlight.api\n"
        "from lowlight.inference import InferenceNet\n"
        "import torch\n"
        "net = InferenceNet(torch.nn.Identity())\n"
        "print(sorted(m for m in ('lightning', 'hydra', 'torchmetrics') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_train_help_loads_neither_torch_nor_lightning():
    code = (
        "import sys, runpy\n"
        "sys.argv = ['lowlight-train', '--help']\n"
        "try:\n    runpy.run_module('lowlight.train', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "+experiment=lle_gan" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout[-2000:]
