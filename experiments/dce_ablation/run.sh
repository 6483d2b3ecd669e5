#!/usr/bin/env bash
# The three DCE-Net studies exactly as run for the table in README.md: a short CPU budget on
# real data. DCE-Net trains without references on 120 SICE photos (84 train / 24 val / 12
# unused test), 128 px crops, and is tested on the 9 real LIME photos (no ground truth:
# zero-reference proxies). Then `python -m lowlight.report` writes each study's table and
# figures next to its sweep. Usage: bash experiments/dce_ablation/run.sh [LOG_DIR]
set -euo pipefail
LOG_DIR=${1:-logs/studies}
DATA=${LOWLIGHT_DATA:-../shared/data}
COMMON=(
  +experiment=dce_net data=unpaired
  data.root="$DATA/lowlight/SICE_train_512" data.max_images=120
  data.augment.crop_size=128 data.eval_crop=256
  data.test_dir="$DATA/lowlight/LIME"
  trainer.check_val_every_n_epoch=5 callbacks.progress_bar=null
)
for study in dce_losses dce_arch dce_epochs; do
  epochs=(trainer.max_epochs=15)
  [ "$study" = dce_epochs ] && epochs=()  # the sweep sets the epochs
  python -m lowlight.train -m "${COMMON[@]}" "${epochs[@]}" +sweep="$study" \
    paths.log_dir="$LOG_DIR/$study" hydra.sweep.dir="$LOG_DIR/$study/multirun"
  python -m lowlight.report "$LOG_DIR/$study/multirun" --metric test/exposure_error
done
