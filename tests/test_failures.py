"""Failures as a user meets them, through the commands and the API in subprocesses: one line,
exit status 1 (2 for a bad command line), nothing left behind, and no wrong answer given
with exit status 0. `make chaos` runs these too (marker `chaos`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT, TINY, TINY_COMMON, cli_args, fake_run, make_pairs

pytestmark = pytest.mark.chaos


def run(args: list[str], cwd: Path, full_error: bool = False) -> subprocess.CompletedProcess:
    """`python -m lowlight.<command> ARGS` as a user runs it (no HYDRA_FULL_ERROR)."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    if full_error:
        env["HYDRA_FULL_ERROR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def error_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("error:")]


def runs_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_dir() and (p / ".hydra").is_dir())


TINY_ARGS = cli_args(TINY)


# ---------------------------------------------------------------- one line, nothing left


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("trainer.max_epochs=abc", "trainer.max_epochs"),
        ("data.batch_size=0", "data.batch_size"),
        ("system.optimizer_g.lr=-1", "system.optimizer_g.lr"),
        ("data.split=[0.5,0.1]", "data.split"),
    ],
)
def test_a_bad_setting_is_one_line_and_leaves_no_run_folder(tmp_path, override, key):
    done = run(["lowlight.train", "+experiment=lle_gan", *TINY_ARGS, override], tmp_path)
    assert done.returncode == 1
    (line,) = error_lines(done)
    assert key in line and "Traceback" not in done.stderr
    assert not runs_under(tmp_path / "logs"), "a refused run leaves no folder"


def test_full_error_still_shows_the_trace(tmp_path):
    args = ["lowlight.train", "+experiment=lle_gan", *TINY_ARGS, "data.batch_size=0"]
    done = run(args, tmp_path, full_error=True)
    assert done.returncode == 1 and "Traceback" in done.stderr


def test_esrgan_without_its_stage_one_checkpoint_stops_naming_the_key(tmp_path):
    args = ["lowlight.train", "+experiment=esrgan", "system.loss_weights.perceptual=0"]
    done = run([*args, "trainer.max_epochs=1"], tmp_path)
    assert done.returncode == 1, "it used to train stage 2 from random weights"
    (line,) = error_lines(done)
    assert "system.init_checkpoint is mandatory" in line
    assert not runs_under(tmp_path / "logs")


@pytest.mark.parametrize("problem", ["corrupt", "unpaired", "sizes", "empty", "missing"])
def test_bad_data_is_one_line_naming_the_file_and_no_untrained_checkpoint(tmp_path, problem):
    data = make_pairs(tmp_path / "pairs", n=6, size=(48, 48))
    named = {
        "corrupt": "03.png",
        "unpaired": "03.png",
        "sizes": "03.png",
        "empty": "pairs",
        "missing": "nowhere",
    }[problem]
    root = data
    if problem == "corrupt":
        (data / "low" / "03.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    elif problem == "unpaired":
        (data / "high" / "03.png").unlink()
    elif problem == "sizes":
        from lowlight.data.io import write_image

        write_image(data / "low" / "03.png", np.zeros((40, 48, 3), np.float32))
    elif problem == "empty":
        for p in (data / "low").iterdir():
            p.unlink()
    else:
        root = tmp_path / "nowhere"
    args = ["lowlight.train", "+experiment=lle_gan", "data=paired", f"data.root={root}"]
    done = run([*args, "data.augment.crop_size=32", *cli_args(TINY_COMMON)], tmp_path)
    assert done.returncode == 1
    lines = error_lines(done)
    assert len(lines) == 1 and named in lines[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    for folder in runs_under(tmp_path / "logs"):  # none, or one that says why
        results = json.loads((folder / "results.json").read_text())
        assert results["status"] == "failed" and named in results["error"]
        assert not list(folder.rglob("*.ckpt")), "no checkpoint of untrained weights"


def test_an_empty_source_dir_is_one_line(tmp_path):
    (tmp_path / "photos").mkdir()
    args = ["lowlight.train", "+experiment=lle_gan", f"data.source_dir={tmp_path / 'photos'}"]
    done = run([*args, *TINY_ARGS], tmp_path)
    assert done.returncode == 1
    (line,) = error_lines(done)
    assert "photos" in line and "Traceback" not in done.stderr


def test_a_refused_resume_changes_nothing_in_the_run(tmp_path):
    run_dir, _ = fake_run(tmp_path / "run", ["+experiment=lle_gan", *TINY])
    (run_dir / ".hydra").mkdir()
    overrides = run_dir / ".hydra" / "overrides.yaml"
    overrides.write_text("- the original overrides\n")
    bad = run_dir / "checkpoints" / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint at all")
    before = sorted((p.relative_to(run_dir), p.stat().st_mtime_ns) for p in run_dir.rglob("*"))
    done = run(["lowlight.train", "+experiment=lle_gan", *TINY_ARGS, f"ckpt_path={bad}"], tmp_path)
    assert done.returncode == 1
    assert "bad.ckpt: not a checkpoint" in done.stderr
    after = sorted((p.relative_to(run_dir), p.stat().st_mtime_ns) for p in run_dir.rglob("*"))
    assert after == before and overrides.read_text() == "- the original overrides\n"


# ---------------------------------------------------------------- no silent wrong answers


def _api(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Python code using the API, in a fresh process."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture
def small_run(tmp_path):
    run_dir, _ = fake_run(tmp_path / "run", ["+experiment=lle_gan", *TINY])
    return run_dir


def test_enhance_image_refuses_floats_outside_0_1_and_non_finite_input(small_run, tmp_path):
    code = f"""
import numpy as np, lowlight
img = np.random.default_rng(0).random((24, 32, 3)).astype(np.float32)
for bad, what in [(img * 255, "in [0, 1], got values in [0"), (img - 0.5, "in [0, 1]")]:
    try:
        lowlight.enhance_image(bad, model={str(small_run)!r})
        print("ACCEPTED", what)
    except ValueError as e:
        assert what in str(e), e
        print("refused:", e)
nan = img.copy(); nan[0, :3] = np.nan
try:
    lowlight.enhance_image(nan, model={str(small_run)!r}); print("ACCEPTED nan")
except ValueError as e:
    assert "finite" in str(e) and "9 of 2304" in str(e), e; print("refused:", e)
gray = lowlight.enhance_image(img[:, :, 0], model={str(small_run)!r})
rgba = lowlight.enhance_image(np.dstack([img, np.ones((24, 32, 1), np.float32)]),
                              model={str(small_run)!r})
plain = lowlight.enhance_image(img, model={str(small_run)!r})
print("gray", gray.shape, "rgba", rgba.shape, "rgba==rgb", bool(np.allclose(rgba, plain)))
"""
    done = _api(code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ACCEPTED" not in done.stdout
    assert done.stdout.count("refused:") == 3
    assert "gray (24, 32, 3) rgba (24, 32, 3) rgba==rgb True" in done.stdout


@pytest.fixture
def diverged_run(small_run):
    ckpt = small_run / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True)
    for key in state["state_dict"]:
        if key.startswith("generator."):
            state["state_dict"][key] = torch.full_like(state["state_dict"][key], float("nan"))
    torch.save(state, ckpt)
    return small_run


def test_a_diverged_model_is_an_error_everywhere_never_a_black_image(diverged_run, tmp_path):
    photos = make_pairs(tmp_path / "photos", n=1, size=(24, 32))
    enhanced = run(
        ["lowlight.enhance", str(photos / "low"), "-o", "out", "--model", str(diverged_run)],
        tmp_path,
    )
    assert enhanced.returncode == 1
    assert "model run gives non-finite values" in enhanced.stderr
    assert not list((tmp_path / "out").glob("*.png")), "no black image written"
    scored = run(
        ["lowlight.evaluate", "--data", str(photos), "--methods", f"bad={diverged_run}", "-o", "e"],
        tmp_path,
    )
    assert scored.returncode == 1 and "non-finite" in scored.stderr
    exported = run(
        ["lowlight.export", str(diverged_run), "--format", "torchscript", "-o", "m.pt"], tmp_path
    )
    assert exported.returncode == 2 and "non-finite" in exported.stderr
    assert not (tmp_path / "m.pt").exists()
    code = "import numpy as np, lowlight\n"
    code += f"lowlight.enhance_image(np.zeros((8, 8, 3)), model={str(diverged_run)!r})"
    api = _api(code, tmp_path)
    assert api.returncode == 1 and "ValueError" in api.stderr and "non-finite" in api.stderr


def test_a_copied_run_folder_uses_its_own_weights_only(small_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small_run, copy)
    other = tmp_path / "elsewhere.ckpt"
    shutil.copy(small_run / "checkpoints" / "last.ckpt", other)
    (copy / "checkpoints" / "epoch000-psnr10.00.ckpt").write_bytes(
        (small_run / "checkpoints" / "last.ckpt").read_bytes()
    )
    results = {"status": "finished", "best_checkpoint": str(other)}  # edited to point outside
    (copy / "results.json").write_text(json.dumps(results))
    code = f"import lowlight; print(lowlight.load_model({str(copy)!r}).checkpoint)"
    done = _api(code, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    chosen = Path(done.stdout.strip())
    assert chosen.parent == copy / "checkpoints", f"loaded {chosen}, outside the folder named"


def test_export_keeps_earlier_files_and_one_record_per_file(small_run, tmp_path):
    first = run(["lowlight.export", str(small_run), "--format", "torchscript"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    out = small_run / "export"
    assert (out / "model.pt").is_file() and (out / "model.pt.json").is_file()
    again = run(["lowlight.export", str(small_run), "--format", "torchscript"], tmp_path)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    pytest.importorskip("onnxscript")
    onnx = run(["lowlight.export", str(small_run), "--format", "onnx"], tmp_path)
    assert onnx.returncode == 0, onnx.stderr[-2000:]
    records = {p.name: json.loads(p.read_text())["format"] for p in out.glob("*.json")}
    assert records == {"model.pt.json": "torchscript", "model.onnx.json": "onnx"}
    assert not [p for p in out.iterdir() if ".part" in p.name]
    forced = run(
        ["lowlight.export", str(small_run), "--format", "torchscript", "--overwrite"], tmp_path
    )
    assert forced.returncode == 0


def test_a_killed_write_never_leaves_a_truncated_image(tmp_path):
    """The process dies after writing the bytes, before the rename: the target name does not
    exist, so the next run does not skip it as already written."""
    code = f"""
import numpy as np, os
from lowlight.data import io
os.replace = lambda *args: os._exit(9)  # killed between the write and the rename
io.write_image({str(tmp_path / "out.png")!r}, np.zeros((32, 32, 3), np.float32))
"""
    done = _api(code, tmp_path)
    assert done.returncode == 9
    assert not (tmp_path / "out.png").exists()
    assert (tmp_path / ".out.png.part").is_file(), "the bytes went to the temporary name"


def test_evaluate_and_enhance_share_one_exit_rule(tmp_path):
    data = make_pairs(tmp_path / "d", n=2, size=(24, 24))
    (data / "low" / "01.png").write_bytes(b"broken")
    scored = run(
        ["lowlight.evaluate", "--data", str(data), "--methods", "identity", "-o", "e"], tmp_path
    )
    assert scored.returncode == 1 and "left out" in scored.stderr
    assert (tmp_path / "e" / "results.md").is_file(), "the tables are still written"


def test_a_random_file_as_a_checkpoint_says_what_it_is_not(tmp_path):
    bad = tmp_path / "model.ckpt"
    bad.write_bytes(os.urandom(64).replace(b"PK", b"xx").lstrip(b"\x80") or b"x")
    photos = make_pairs(tmp_path / "p", n=1, size=(16, 16))
    done = run(["lowlight.enhance", str(photos / "low"), "-o", "o", "--model", str(bad)], tmp_path)
    assert done.returncode == 2
    (line,) = error_lines(done)
    assert "model.ckpt: not a checkpoint: neither a PyTorch file (zip) nor a pickle" in line


def test_the_same_size_keys_shrink_an_sr_experiment_from_the_command_line(tmp_path):
    """`data.eval_crop` / `data.val_samples` / `data.test_samples` work for every experiment
    (they failed with +experiment=esrgan_psnr and esrgan)."""
    keys = ["data.eval_crop=32", "data.val_samples=2", "data.test_samples=2", "data.batch_size=2"]
    args = ["lowlight.train", "+experiment=esrgan_psnr", "data.crop_size=32", "data.scale=2"]
    args += ["data.train_samples=4", "system.generator.num_block=1", *keys, *cli_args(TINY_COMMON)]
    done = run(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (results,) = tmp_path.glob("logs/esrgan_psnr/*/results.json")
    assert json.loads(results.read_text())["status"] == "finished"
