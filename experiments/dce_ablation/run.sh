#!/usr/bin/env bash
# The three DCE-Net studies exactly as run for the tables in README.md: a short CPU budget on
# real data. DCE-Net trains without references on the first 120 SICE photos (93 train / 27
# val), 128 px crops, and is tested on the 9 real LIME photos (no ground truth: zero-reference
# proxies on 256 px centre crops). `python -m lowlight.report` writes each study's table and
# figures next to its sweep; `python -m lowlight.evaluate` then scores the loss and
# architecture runs on the whole LIME images, beside the authors' released model.
# Usage: bash experiments/dce_ablation/run.sh [LOG_DIR]   (about 1 h on 2 CPU cores)
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
COLUMNS=(test/exposure_error test/brightness test/color_balance test/psnr_autocontrast
  test/ssim_autocontrast val/loss fit_minutes)
for study in dce_losses dce_arch dce_epochs; do
  epochs=(trainer.max_epochs=15)
  [ "$study" = dce_epochs ] && epochs=()  # the sweep sets the epochs
  python -m lowlight.train -m "${COMMON[@]}" "${epochs[@]}" +sweep="$study" \
    paths.log_dir="$LOG_DIR/$study" hydra.sweep.dir="$LOG_DIR/$study/multirun"
  python -m lowlight.report "$LOG_DIR/$study/multirun" --metric test/exposure_error \
    --columns "${COLUMNS[@]}"
done
L=$LOG_DIR/dce_losses/multirun
A=$LOG_DIR/dce_arch/multirun
W=$DATA/weights/zero_dce_epoch99.pth
EVAL=(--data "$DATA/lowlight/LIME" --grid 1 10 --grid-height 240 -q)
python -m lowlight.evaluate "${EVAL[@]}" -o "$LOG_DIR/dce_losses/lime_eval" --methods identity \
  authors="$W" full="$L/0" no_smoothness="$L/1" no_spatial="$L/2" no_color="$L/3" no_exposure="$L/4"
python -m lowlight.evaluate "${EVAL[@]}" -o "$LOG_DIR/dce_arch/lime_eval" --methods identity \
  authors="$W" full="$A/0" no_concat="$A/1" iter4="$A/2" wide="$A/3" deep="$A/4"
