#!/usr/bin/env bash
# Zero-DCE++ trained on SICE_train_512 on a 2-core CPU (15 epochs, 128 px crops, ~65 min),
# validated on LIME, tested on DICM, then compared with the Zero-DCE authors' model.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=../shared/data
python -m lowlight.train +experiment=zero_dce_pp data=unpaired \
    data.root=$DATA/lowlight/SICE_train_512 data.val_dir=$DATA/lowlight/LIME \
    data.test_dir=$DATA/lowlight/DICM data.augment.crop_size=128 trainer.max_epochs=15
RUN=$(ls -d logs/zero_dce_pp/*/ | tail -1)
python -m lowlight.evaluate --data $DATA/lowlight/LIME $DATA/lowlight/DICM \
    --methods identity zero_dce=$DATA/weights/zero_dce_epoch99.pth zero_dce_pp=$RUN \
    --niqe $DATA/niqe/niqe_pris_params.npz -o experiments/zero_dce_pp/eval --overwrite
