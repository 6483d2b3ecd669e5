#!/usr/bin/env bash
# How the shipped models (lowlight/zoo/) were trained, packed and measured. Each stage can be
# run on its own (bash experiments/shipped/run.sh sr_x4|dce|lle|lle_iat|measure) and resumed: a
# training that stops is continued by running its stage again (ckpt_path=auto in its folder).
# Usage: bash experiments/shipped/run.sh STAGE [LOG_DIR]    (CPU: hours; GPU: minutes)
# valdata writes the validation photos that recipes are chosen on (never the test sets).
set -euo pipefail
STAGE=${1:?stage: sr_x4 | dce | dce_pack | lle | lle_iat_base | lle_iat | valdata | measure | gallery}
LOG_DIR=${2:-logs/shipped}
DATA=${LOWLIGHT_DATA:-../shared/data}
PY=${PYTHON:-python}
OUT=experiments/shipped

train() {  # NAME OVERRIDES...: train into LOG_DIR/NAME, resuming its last.ckpt if there is one
  local name=$1; shift
  $PY -m lowlight.train "$@" task_name="$name" paths.log_dir="$LOG_DIR" \
    hydra.run.dir="$LOG_DIR/$name/run" ckpt_path=auto callbacks.progress_bar=null
}

case $STAGE in
sr_x4)
  # esrgan_psnr (RRDBNet 32/4/16, EMA) on 76 SunHays80 photos; 4 more choose the checkpoint
  # (val/psnr_y). The setting (64 px crops, 8000 per epoch, lr 1e-3) was chosen on a
  # SunHays80 validation split by benchmarks/sr_select.py; Set5 is only the test.
  train sr_x4 +experiment=esrgan_psnr data.hr_dir="$DATA/sr/SunHays80_HR" \
    data.test_dir="$DATA/sr/Set5" 'data.split=[0.95,0.05,0]' data.crop_size=64 \
    data.train_samples=8000 system.optimizer_g.lr=1e-3 trainer.max_epochs=60
  $PY -m lowlight.zoo pack "$LOG_DIR/sr_x4/run" --name sr_x4 --overwrite \
    --task "x4 super-resolution" \
    --summary "compact RRDBNet (32 features, 4 RRDB blocks), x4 SR of clean bicubic-downscaled photos." \
    --data "SunHays80 (80 daylight photos, majedelhelou/denoising_datasets CSun_Hays80), LR made with MATLAB bicubic" \
    --licence "weights: MIT like the code; training photos carry no licence file (their source says 'no ownership claimed'): check before commercial use"
  ;;
dce)
  # Zero-DCE's own loader and initialisation (whole photos resized to 256 px, N(0, 0.02)
  # weights) at lr 4e-4 with exposure level E=0.55, on SICE part 1 (1,802 train, 200
  # validation photos), one checkpoint per epoch for DCE_EPOCHS epochs; the curves are
  # estimated at 1/2 resolution at inference (scale_factor 2, the scale trained at; training
  # itself is at full size). Chosen on DICM (experiments/shipped/README.md): the checkpoint
  # with the lowest DICM NIQE among those no darker-off than the authors' (exposure error at
  # most theirs + 0.01) and no worse on NIQE. Then: bash run.sh dce_pack LOG_DIR CHECKPOINT.
  # NOT SHIPPED: its epoch 3 (chosen) meets the exposure bar on LIME, not NIQE (4.07 vs 3.99).
  train dce +experiment=dce_net data=unpaired data.root="$DATA/lowlight/SICE_train_512" \
    'data.split=[0.9,0.1,0]' data.augment.resize=256 data.augment.crop_size=null \
    data.eval_crop=256 data.num_workers=1 system.generator.init=zero_dce \
    system.exposure_loss.level=0.55 system.optimizer.lr=4e-4 system.generator.scale_factor=2 \
    trainer.max_epochs="${DCE_EPOCHS:-4}" callbacks.model_checkpoint.save_top_k=-1
  # every epoch's checkpoint beside the authors' weights on DICM (the choice, not a bar)
  mapfile -t CKPTS < <(ls "$LOG_DIR"/dce/run/checkpoints/epoch*.ckpt)
  METHODS=(authors="$DATA/weights/zero_dce_epoch99.pth")
  for c in "${CKPTS[@]}"; do METHODS+=("$(basename "$c" .ckpt | cut -c1-8)=$c"); done
  $PY -m lowlight.evaluate --data "$DATA/lowlight/DICM" --methods "${METHODS[@]}" \
    --niqe "$DATA/niqe/niqe_pris_params.npz" -o "$OUT/dce_dicm_choice" --overwrite -q
  rm -rf "$OUT/dce_dicm_choice/grids"  # the table is the record; its grids are MBs
  ;;
dce_pack)
  $PY -m lowlight.zoo pack "${3:?the chosen checkpoint (stage dce)}" --name dce --overwrite \
    --task "low-light enhancement (zero-reference)" \
    --summary "DCE-Net (Zero-DCE, 79,416 parameters) retrained by this suite on SICE; curves at 1/2 resolution." \
    --data "SICE part 1, 2,002 multi-exposure 512x512 photos (Li-Chongyi/Zero-DCE_extension), no references" \
    --licence "CC BY-NC 4.0, research use only (inherited from the SICE training data)"
  ;;
lle)
  # The LLE GAN (+experiment=lle_gan: U-Net, PatchGAN, L1 + 0.01 BCE) on synthetic pairs
  # from 56 SunHays80 photos; 12 more choose the checkpoint (val/psnr), 12 are never seen
  # (the paired test set below). Two stages: the plain U-Net on 128 px crops (its best
  # checkpoint, epoch 7 of 15), then the same U-Net with whole-photo context
  # (system.generator.global_context, starting as the identity) fine-tuned from it on 256 px
  # crops, batch 4 (the same pixels per step) for 6 epochs (experiments/shipped/README.md).
  COMMON=(+experiment=lle_gan data.source_dir="$DATA/sr/SunHays80_HR"
    'data.split=[0.7,0.15,0.15]' data.split_by=photos data.seed=0 data.eval_crop=256
    data.val_samples=48 data.test_samples=48)
  train lle_base "${COMMON[@]}" data.augment.crop_size=128 data.train_samples=4096 \
    trainer.max_epochs=15
  BASE=$($PY -c 'import pathlib, sys; from lowlight.inference import choose_checkpoint
print(choose_checkpoint(pathlib.Path(sys.argv[1])))' "$LOG_DIR/lle_base/run")  # its best
  train lle "${COMMON[@]}" data.augment.crop_size=256 data.batch_size=4 data.train_samples=1024 \
    system.generator.global_context=true system.init_checkpoint="$BASE" \
    system.optimizer_g.lr=2.5e-4 trainer.max_epochs=6 callbacks.model_checkpoint.save_top_k=-1
  $PY -m lowlight.zoo pack "$LOG_DIR/lle/run" --name lle --overwrite \
    --task "low-light enhancement (paired)" \
    --summary "U-Net generator (16-128 channels, whole-photo context) of the LLE GAN, trained on synthetic low-light pairs." \
    --data "synthetic pairs (exposure x0.03-0.25, shot and read noise) from 56 SunHays80 daylight photos" \
    --licence "weights: MIT like the code; training photos carry no licence file (their source says 'no ownership claimed'): check before commercial use"
  ;;
lle_iat_base)
  # Stage 1 of the lle candidates with the LOL study's best generator recipe on the mixed
  # data: iat_mixed (below) plus the coarse branch (2 blocks at 1/4) and L1 + 8 (1 - SSIM),
  # the recipe of iat_coarse_ssim2 (the study's highest validation PSNR, 21.67 dB). 100
  # epochs, LOL validation every 10; no test (test=false). Stage 2: COARSE_SSIM=8 run.sh
  # lle_iat LOG_DIR LOG_DIR/lle_iat_base/run/checkpoints/BEST.ckpt.
  train lle_iat_base +experiment=lle_iat data.sources.lol.root="$DATA/lowlight/LOL" \
    data.sources.synthetic.source_dir="$DATA/sr/SunHays80_HR" pixel_loss=l1_ssim \
    system.pixel_loss.ssim_weight=8.0 system.generator.coarse_blocks=2 \
    system.generator.coarse_scale=4 test=false
  ;;
lle_iat)
  # A candidate for the new default lle (NOT SHIPPED; experiments/shipped/README.md). Stage 1
  # is the LOL study's iat_mixed run (+experiment=lle_iat: LOL beside synthetic pairs; bash
  # experiments/lol_study/run.sh iat_mixed), passed as its checkpoint. Stage 2 fine-tunes it
  # for real photos: the highlight roll-off (generator.highlight_knee 0.7: highlights
  # compressed below white instead of cut), synthetic exposures up to x1.0, so a photo that
  # is already well lit is left nearly as it is, and uneven light in the synthetic pairs
  # (degradation.illumination ILLUMINATION, 2.3: parts of a crop up to 10x darker than the
  # rest, as a night scene lit in places; NAME=lle_iat_knee ILLUMINATION=0 is the same
  # without it; EXPOSURE_WEIGHT=W adds Zero-DCE's exposure control on the output at weight
  # W; MAP_SCALE=S smooths the gain and offset maps over S px cells, so the output keeps
  # the photo's fine detail; PHOTONS='[LOW,HIGH]' widens the synthetic pairs' photon counts,
  # e.g. [2000,1000000], so that some inputs carry little noise and the model has to leave
  # the detail of a clean photo alone; DETAIL=K trains through the detail restore,
  # generator.detail_strength K; EXPOSURE_MIN=T applies the exposure control only to
  # outputs whose input's mean level is at least T, e.g. 0.1, above nine in ten of LOL's dark
  # inputs: those keep their references' brightness; COARSE_SSIM=W for a stage 1 from
  # lle_iat_base: its coarse branch and L1 + W (1 - SSIM); LIFT_ONLY=1: the exposure
  # control only lifts regions darker than 0.6 and never dims brighter ones; DARK_INPUT=1: it
  # judges only the regions darker than 0.6 in the input, from both sides; KEEP=T trains with
  # generator.keep_highlights T: pixels brighter than T in the photo are not made darker;
  # VAL_EVERY=N validates, and keeps a checkpoint, every N epochs, 5 by default; UNPAIRED=N
  # adds N real photos an epoch without references (SICE's, under- and over-exposed), drawn
  # from its training split (the split of the dce run and of valdata's sice_val: never its
  # validation photos), and the exposure control judges those alone, so it never pulls
  # against a reference: with EXPOSURE_WEIGHT, and without EXPOSURE_MIN). Each kept
  # checkpoint is then
  # compared on DICM (NIQE, exposure error, white pixels added) beside stage 1 and Zero-DCE:
  # the choice, with LOL's validation PSNR from the run. Neither LIME nor eval15 is run here
  # (test=false; earlier runs printed eval15 at their end, unused).
  BASE=${3:?stage 1: the lle_iat checkpoint to start from}
  NAME=${NAME:-lle_iat_light}
  train "$NAME" +experiment=lle_iat data.sources.lol.root="$DATA/lowlight/LOL" \
    data.sources.synthetic.source_dir="$DATA/sr/SunHays80_HR" \
    system.generator.highlight_knee=0.7 'data.sources.synthetic.degradation.exposure=[0.03,1.0]' \
    data.sources.synthetic.degradation.illumination="${ILLUMINATION:-2.3}" \
    ${EXPOSURE_WEIGHT:+"+system.loss_weights.exposure=$EXPOSURE_WEIGHT"} \
    ${MAP_SCALE:+"system.generator.map_scale=$MAP_SCALE"} \
    ${PHOTONS:+"data.sources.synthetic.degradation.photons=$PHOTONS"} \
    ${DETAIL:+"system.generator.detail_strength=$DETAIL"} \
    ${EXPOSURE_MIN:+"system.exposure_min_input=$EXPOSURE_MIN"} test=false \
    ${LIFT_ONLY:+system.exposure_loss.lift_only=true} \
    ${DARK_INPUT:+system.exposure_loss.dark_input_only=true} \
    ${KEEP:+system.generator.keep_highlights=$KEEP} \
    ${UNPAIRED:+'+data@data.sources.dark=unpaired' "data.sources.dark.root=$DATA/lowlight/SICE_train_512" \
      'data.sources.dark.split=[0.9,0.1,0]' "data.sources.dark.train_samples=$UNPAIRED" \
      system.exposure_on=unpaired} \
    ${COARSE_SSIM:+pixel_loss=l1_ssim "system.pixel_loss.ssim_weight=$COARSE_SSIM" \
      system.generator.coarse_blocks=2 system.generator.coarse_scale=4} \
    system.init_checkpoint="$BASE" system.optimizer_g.lr=1e-4 trainer.max_epochs="${KNEE_EPOCHS:-15}" \
    trainer.check_val_every_n_epoch="${VAL_EVERY:-5}" callbacks.model_checkpoint.save_top_k=-1
  mapfile -t CKPTS < <(ls "$LOG_DIR/$NAME"/run/checkpoints/epoch*.ckpt)
  METHODS=(identity zero_dce="$DATA/weights/zero_dce_epoch99.pth" stage1="$BASE")
  for c in "${CKPTS[@]}"; do METHODS+=("$(basename "$c" .ckpt | cut -c1-8)=$c"); done
  $PY -m lowlight.evaluate --data "$DATA/lowlight/DICM" --methods "${METHODS[@]}" \
    --niqe "$DATA/niqe/niqe_pris_params.npz" -o "$OUT/${NAME}_dicm_choice" --overwrite -q
  rm -rf "$OUT/${NAME}_dicm_choice/grids"
  ;;
valdata)
  # lle: the 12 photos of the training split's val part, degraded as in training, whole;
  # dce: the run's 200 validation photos (data.split=[0.9,0.1,0], seed 0), as symlinks, and
  # the 63 of them as dark as LIME's inputs (sice_val_dark).
  $PY -m lowlight.data.make_pairs "$DATA/sr/SunHays80_HR" -o "$LOG_DIR/data/sunhays_val" \
    --part val --split 0.7 0.15 0.15 --split-seed 0
  $PY - "$DATA/lowlight/SICE_train_512" "$LOG_DIR/data/sice_val" <<'PYTHON'
import sys
from pathlib import Path

from lowlight.data.io import list_images, read_image
from lowlight.data.pairs import fill_splits

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
dark = dst.with_name(dst.name + "_dark")  # as dark as LIME's inputs: mean below 0.2
for folder in (dst, dark):
    folder.mkdir(parents=True, exist_ok=True)
for p in fill_splits(list_images(src), {"test": []}, [0.9, 0.1, 0], 0)["val"]:
    for folder in (dst, dark) if read_image(p).mean() < 0.2 else (dst,):
        if not (folder / p.name).exists():
            (folder / p.name).symlink_to(p.resolve())
for folder in (dst, dark):
    print(f"{folder}: {len(list_images(folder))} validation photos")
PYTHON
  ;;
measure)
  # The figures in the model cards, with the shipped files (lowlight-evaluate).
  NIQE=(--niqe "$DATA/niqe/niqe_pris_params.npz")
  $PY -m lowlight.evaluate --data "$DATA/sr/Set5" --scale 4 --methods bicubic bicubic_y sr_x4 \
    --grid butterfly -o "$OUT/sr_x4_set5" --overwrite -q
  $PY -m lowlight.evaluate --data "$DATA/lowlight/LIME" "$DATA/lowlight/DICM" --methods identity \
    authors="$DATA/weights/zero_dce_epoch99.pth" dce lle "${NIQE[@]}" -o "$OUT/lime_dicm" \
    --grid 1 10 --overwrite -q
  PAIRS=$LOG_DIR/data/sunhays_test
  [ -d "$PAIRS" ] || $PY -m lowlight.data.make_pairs "$DATA/sr/SunHays80_HR" -o "$PAIRS" \
    --part test --split 0.7 0.15 0.15 --split-seed 0
  $PY -m lowlight.evaluate --data "$PAIRS" --methods identity gamma hist_eq clahe autocontrast \
    make_train="${MAKE_TRAIN_RUN:?the run folder of make train}" lle dce -o "$OUT/lle_sunhays_test" \
    --overwrite -q
  ;;
gallery)
  # docs/gallery.md's strips: 8 real photos, input | each method, panels GALLERY_HEIGHT px
  # high (default 360, where fringes and clipping show), as JPEG (quality 85) under
  # docs/gallery/. The photos, a fixed list: LIME 1, 4, 6, 7 and DICM 01, 04, 05, 47 (why: in
  # docs/gallery.md). GALLERY_METHODS (a quoted list) replaces the methods, whose default is
  # the shipped models beside the Zero-DCE authors' weights.
  read -r -a METHODS <<<"${GALLERY_METHODS:-lle zero_dce=$DATA/weights/zero_dce_epoch99.pth}"
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  for set in "LIME 1 4 6 7" "DICM 01 04 05 47"; do
    read -r -a NAMES <<<"$set"
    mkdir -p "$TMP/photos/${NAMES[0]}"  # the chosen photos alone: nothing else is enhanced
    for name in "${NAMES[@]:1}"; do
      ln -s "$(realpath "$DATA/lowlight/${NAMES[0]}/$name".*)" "$TMP/photos/${NAMES[0]}/"
    done
    $PY -m lowlight.evaluate --data "$TMP/photos/${NAMES[0]}" --methods "${METHODS[@]}" \
      --grid "${NAMES[@]:1}" --grid-height "${GALLERY_HEIGHT:-360}" -o "$TMP/${NAMES[0]}" -q
  done
  mkdir -p docs/gallery
  $PY - "$TMP" docs/gallery <<'PYTHON'
import sys
from pathlib import Path

from PIL import Image

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
for grid in sorted(src.glob("*/grids/*.png")):
    out = dst / f"{grid.parent.parent.name.lower()}_{grid.stem}.jpg"
    Image.open(grid).convert("RGB").save(out, quality=85, optimize=True)
    print(f"{out}: {out.stat().st_size // 1024} KB")
PYTHON
  ;;
*)
  echo "unknown stage $STAGE: sr_x4 | dce | dce_pack | lle | lle_iat_base | lle_iat | valdata | measure | gallery" >&2
  exit 2
  ;;
esac
