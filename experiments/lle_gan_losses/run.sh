#!/usr/bin/env bash
# The LLE GAN's loss study exactly as run for the table in README.md: L1 only, L1 + 0.01 BCE,
# MSE + 0.01 BCE, L1 + 0.01 LSGAN, each 5 epochs on the embedded synthetic pairs (real
# photographs, physically modelled low light; 2,048 64 px crops per epoch, tested on 128
# fixed 128 px pairs), then the report. Usage: bash experiments/lle_gan_losses/run.sh [LOG_DIR]
set -euo pipefail
LOG_DIR=${1:-logs/studies}
python -m lowlight.train -m +experiment=lle_gan +sweep=lle_gan_losses trainer.max_epochs=5 \
  callbacks.progress_bar=null \
  paths.log_dir="$LOG_DIR/lle_gan_losses" hydra.sweep.dir="$LOG_DIR/lle_gan_losses/multirun"
python -m lowlight.report "$LOG_DIR/lle_gan_losses/multirun" --metric test/psnr
