"""Runs you can trust: kill-and-resume parity, checkpoints, run folders, DDP, failures."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from conftest import TINY, cli_args, train_cli

pytestmark = pytest.mark.chaos

# A 4-epoch run of 2 batches per epoch, bit-reproducible on a CPU.
PARITY = [
    "+experiment=lle_gan",
    *cli_args(TINY),
    "trainer.max_epochs=4",
    "trainer.deterministic=true",
    "~callbacks.image_grid",
]
KILL = "+callbacks.kill._target_=chaos_callbacks.KillAt"


def _run(folder: Path, *extra: str, cwd: Path, expect: int = 0):
    done = train_cli([*_args(*extra), f"hydra.run.dir={folder}"], cwd)
    assert done.returncode == expect, done.stderr[-3000:]
    return done


def _state(ckpt: Path) -> dict:
    return torch.load(ckpt, map_location="cpu", weights_only=True)


def _rows(run: Path, mid_epoch: int | None) -> list[dict]:
    """metrics.csv's rows; for the epoch a run resumed in the middle of, without the train
    means over the epoch (Lightning restarts those at the resume: they cover only the
    batches after it, a documented limitation; every per-step value is still compared)."""
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if mid_epoch is not None and row["epoch"] == str(mid_epoch):
            for key in [k for k in row if k.startswith("train/") and k.endswith("_epoch")]:
                row.pop(key)
    return rows


def assert_same_run(a: Path, b: Path, mid_epoch: int | None = None) -> None:
    """Bit-identical final weights, optimizer states, best checkpoint and metrics."""
    sa, sb = _state(a / "checkpoints" / "last.ckpt"), _state(b / "checkpoints" / "last.ckpt")
    assert sa["epoch"] == sb["epoch"] and sa["global_step"] == sb["global_step"]
    assert sa["state_dict"].keys() == sb["state_dict"].keys()
    differ = [
        k for k in sa["state_dict"] if not torch.equal(sa["state_dict"][k], sb["state_dict"][k])
    ]
    assert not differ, f"weights differ after resume: {differ[:5]}"
    for oa, ob in zip(sa["optimizer_states"], sb["optimizer_states"], strict=True):
        for pa, pb in zip(oa["state"].values(), ob["state"].values(), strict=True):
            assert all(torch.equal(pa[k], pb[k]) for k in pa), "optimizer state differs"
    assert sa["lr_schedulers"] == sb["lr_schedulers"]
    ra, rb = (json.loads((r / "results.json").read_text()) for r in (a, b))
    assert rb["status"] == "finished"
    assert Path(ra["best_checkpoint"]).name == Path(rb["best_checkpoint"]).name
    assert ra["best_score"] == rb["best_score"]
    assert ra["test"] == rb["test"] and ra["val"] == rb["val"]
    # and the same metrics.csv: the rows before the kill kept, none twice, none missing
    ma, mb = _rows(a, mid_epoch), _rows(b, mid_epoch)
    assert len(ma) == len(mb) and ma == mb and "val/psnr" in ma[0]


def _args(*extra: str) -> list[str]:
    return [a if not a.startswith("~") else f"{a[1:]}=null" for a in [*PARITY, *extra]]


# (where the kill lands, extra settings, the epoch last.ckpt must hold after the kill)
KILL_POINTS = {
    "mid_epoch": (["+callbacks.kill.epoch=2", "+callbacks.kill.batch=0"], [], 1),
    # after epoch 1's validation, before its checkpoint is written
    "after_validation": (["+callbacks.kill.epoch=1"], [], 0),
    "first_epoch": (["+callbacks.kill.epoch=0", "+callbacks.kill.batch=1"], [], None),
    # last.ckpt every 2 optimizer steps (= every batch of a GAN): resumes mid-epoch
    "step_checkpoint": (
        ["+callbacks.kill.epoch=2", "+callbacks.kill.batch=1"],
        ["callbacks.model_checkpoint.every_n_train_steps=2"],
        2,
    ),
}
FAST_KILLS = ("mid_epoch", "step_checkpoint")


def kill_and_resume(tmp_path: Path, point: str) -> None:
    kill, settings, last_epoch = KILL_POINTS[point]
    a, b = tmp_path / "a", tmp_path / "b"
    _run(a, *settings, cwd=tmp_path)
    _run(b, *settings, KILL, *kill, cwd=tmp_path, expect=-9)
    last = b / "checkpoints" / "last.ckpt"
    if last_epoch is None:  # killed before any epoch completed: nothing to resume from
        assert not last.exists()
        assert json.loads((b / "results.json").read_text())["status"] == "running"
        return
    assert _state(last)["epoch"] == last_epoch
    # the resumed run continues in its own folder (no hydra.run.dir given)
    done = train_cli(_args(*settings, f"ckpt_path={last}"), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (tmp_path / "logs").exists(), "resumed into the run folder, not a new one"
    resumed_mid_epoch = last_epoch if "every_n_train_steps" in " ".join(settings) else None
    assert_same_run(a, b, resumed_mid_epoch)


@pytest.mark.parametrize("point", FAST_KILLS)
def test_killed_and_resumed_from_last_equals_the_uninterrupted_run(tmp_path, point):
    kill_and_resume(tmp_path, point)


@pytest.mark.slow
@pytest.mark.chaos
@pytest.mark.parametrize("point", [p for p in KILL_POINTS if p not in FAST_KILLS])
def test_chaos_kill_and_resume(tmp_path, point):
    kill_and_resume(tmp_path, point)


# ---------------------------------------------------------------- checkpoints


def _scripted_module(scores: list[float]):
    """A LightningModule whose val/psnr in epoch e is scores[e] (and that learns nothing)."""
    import lightning as L

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def training_step(self, batch, batch_idx):
            return (self.w - 1.0).pow(2).sum()

        def validation_step(self, batch, batch_idx):
            self.log("val/psnr", float(scores[self.current_epoch]))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    return Module()


def _fit(tmp: Path, scores, epochs: int, ckpt: str | None = None):
    import lightning as L
    from torch.utils.data import DataLoader

    from lowlight.callbacks import RunCheckpoint

    callback = RunCheckpoint(
        dirpath=tmp / "checkpoints",
        filename="epoch{epoch:03d}",
        auto_insert_metric_name=False,
        monitor="val/psnr",
        mode="max",
    )
    trainer = L.Trainer(
        max_epochs=epochs,
        callbacks=[callback],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    data = DataLoader(torch.zeros(2, 1), batch_size=1)
    trainer.fit(_scripted_module(scores), data, data, ckpt_path=ckpt)
    return callback


SCORES = [10.0, 20.0, 15.0, 12.0]  # best in epoch 1; the later epochs are worse


def test_last_ckpt_holds_the_last_epoch_even_when_it_did_not_improve(tmp_path):
    callback = _fit(tmp_path, SCORES, epochs=3)
    last = _state(tmp_path / "checkpoints" / "last.ckpt")
    assert last["epoch"] == 2, "last.ckpt is the end of the last epoch, not the best"
    assert Path(callback.best_model_path).name == "epoch001.ckpt"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "epoch001.ckpt",
        "last.ckpt",
    ], "no .part files, one best, one last"


@pytest.mark.parametrize("where", ["same_folder", "moved_folder", "new_folder"])
def test_the_best_checkpoint_survives_a_resume(tmp_path, where):
    import shutil

    first = tmp_path / "run"
    _fit(first, SCORES, epochs=2)  # crashed after epoch 1 (its best)
    run = first
    if where == "moved_folder":
        run = tmp_path / "elsewhere"
        shutil.move(first, run)
    elif where == "new_folder":
        # what train() does for a resume into another folder: carry the best file along
        from lowlight.training import _carry_best

        run = tmp_path / "new"
        state = _state(first / "checkpoints" / "last.ckpt")
        _carry_best(state, first / "checkpoints" / "last.ckpt", run)
    callback = _fit(
        run,
        SCORES,
        epochs=4,
        ckpt=str(first if where != "moved_folder" else run) + "/checkpoints/last.ckpt",
    )
    assert callback.best_model_score.item() == 20.0, "epoch 2 (15.0) is not the best"
    assert Path(callback.best_model_path) == run / "checkpoints" / "epoch001.ckpt"
    assert _state(run / "checkpoints" / "last.ckpt")["epoch"] == 3


# ---------------------------------------------------------------- distributed


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("length", [1, 5, 8, 11])
def test_shards_divide_the_work_and_score_every_image_once(world, length):
    from lowlight.data.sampling import SampleKey, ShardSampler

    train = [ShardSampler(length, True, seed=7, num_replicas=world, rank=r) for r in range(world)]
    for s in train:
        s.set_epoch(3)
    keys = [list(s) for s in train]
    assert len({len(k) for k in keys}) == 1, "every rank makes the same number of steps"
    indices = [k.index for ks in keys for k in ks]
    assert len(indices) == len(set(indices)) == length // world * world, "disjoint, no padding"
    assert all(k == SampleKey(7, 3, k.index) for ks in keys for k in ks)
    evals = [list(ShardSampler(length, False, 0, world, r)) for r in range(world)]
    assert sorted(i for e in evals for i in e) == list(range(length)), "each image exactly once"


def test_the_training_order_depends_on_seed_and_epoch_only():
    from lowlight.data.sampling import ShardSampler

    a, b = ShardSampler(64, True, seed=1), ShardSampler(64, True, seed=1)
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    b.set_epoch(3)
    assert [k.index for k in a] != [k.index for k in b]
    b.set_epoch(2)
    b.resume = (2, 10)  # resumed after 10 samples of epoch 2
    assert list(b) == list(a)[10:]
    assert list(b) == list(a), "the skip applies once"


DDP = [
    "+experiment=lle_gan",
    *cli_args(TINY),
    "data.test_samples=5",  # odd: the shards differ in size
    "data.eval_batch_size=2",
    "data.batch_size=2",
    "trainer=ddp",
    "trainer.accelerator=cpu",
    "trainer.devices=2",
    "callbacks.image_grid=null",
]


def test_two_process_cpu_ddp_divides_training_and_scores_the_test_set_once(tmp_path):
    import lightning as L
    from hydra.utils import instantiate

    from conftest import compose_cfg

    run = tmp_path / "ddp"
    record = ["+callbacks.rec._target_=chaos_callbacks.RecordNames", f"+callbacks.rec.path={run}/n"]
    done = train_cli([*DDP, f"hydra.run.dir={run}", *record], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = []
    for rank in (0, 1):
        lines = (run / f"n.rank{rank}.jsonl").read_text().splitlines()
        seen.append({n for line in lines for n in json.loads(line)["names"]})
    assert seen[0] and seen[1] and not seen[0] & seen[1], "each rank trains on other samples"
    assert len(seen[0] | seen[1]) == 8, "together they cover the epoch"
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "finished"

    # the same checkpoint tested by one process
    overrides = [o for o in DDP if not o.startswith("trainer.")]
    cfg = compose_cfg([o if o != "trainer=ddp" else "trainer=cpu" for o in overrides], tmp_path)
    datamodule, system = instantiate(cfg.data), instantiate(cfg.system)
    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False)
    (single,) = trainer.test(
        system,
        datamodule,
        ckpt_path=Path(results["output_dir"]) / results["best_checkpoint"],
        verbose=False,
    )
    assert set(single) == {k for k in results["test"] if k.startswith("test/")}
    for key, value in single.items():
        assert results["test"][key] == pytest.approx(value, rel=1e-6, abs=1e-7), key


# ---------------------------------------------------------------- run folders and failures


def _claim_in_process(args) -> str:
    import time
    from datetime import datetime

    import lowlight.train as train

    class FrozenClock(datetime):
        # Every process reads the same second, however slowly the pool starts (a loaded
        # CI machine spread the real clock over three seconds): the collision is certain.
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 1, 2, 3, 4, 5)

    train.datetime = FrozenClock
    parent, start = args
    time.sleep(max(0.0, start - time.time()))  # and they race for the names together
    return train.claim_run_dir(parent)


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    import multiprocessing
    import time

    parent = str(tmp_path / "logs" / "lle_gan")
    start = time.time() + 2.0
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        folders = pool.map(_claim_in_process, [(parent, start)] * 8)
    assert all(Path(f).is_dir() for f in folders)
    stamp = "2026-01-02_03-04-05"
    assert sorted(Path(f).name for f in folders) == sorted(
        [stamp] + [f"{stamp}_{n}" for n in range(1, 8)]
    ), folders


@pytest.mark.parametrize("epoch", [0, 1])
def test_a_nan_leaves_no_checkpoint_that_looks_usable(tmp_path, epoch):
    from lowlight.loading import choose_checkpoint, load_model

    run = tmp_path / "run"
    poison = ["+callbacks.nan._target_=chaos_callbacks.PoisonAt", f"+callbacks.nan.epoch={epoch}"]
    done = _run(run, *poison, "trainer.max_epochs=3", cwd=tmp_path, expect=1)
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "failed" and "FloatingPointError" in results["error"]
    crash = run / "checkpoints" / "on_exception.ckpt"
    if epoch == 0:  # before the first step: no checkpoint of untrained weights is left
        assert not crash.exists()
        assert "no checkpoint holds trained weights yet" in done.stderr
        with pytest.raises(FileNotFoundError, match="no trained checkpoint"):
            load_model(run)
    else:
        assert crash.is_file(), "the state at the crash, for debugging"
        last = run / "checkpoints" / "last.ckpt"
        assert f"the last good state is {last} (end of epoch 0)" in done.stderr
        assert choose_checkpoint(run).name.startswith("epoch000"), "the best of the finished epochs"
        assert all(torch.isfinite(v).all() for v in _state(last)["state_dict"].values())


def test_a_copied_run_without_its_best_checkpoint_says_so(tmp_path):
    """A finished run copied with another epoch's checkpoint only: the error names the
    missing best checkpoint and the one present, not a run that stopped early."""
    from lowlight.loading import choose_checkpoint

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "epoch009-psnr20.08.ckpt").write_bytes(b"")
    best = "/elsewhere/run/checkpoints/epoch004-psnr20.15.ckpt"
    (run / "results.json").write_text(json.dumps({"status": "finished", "best_checkpoint": best}))
    with pytest.raises(FileNotFoundError) as e:
        choose_checkpoint(run)
    message = str(e.value)
    assert "the run finished, but its best checkpoint epoch004-psnr20.15.ckpt" in message
    assert "Found only epoch009-psnr20.08.ckpt: pass it explicitly" in message
    assert "stopped before finishing an epoch" not in message
