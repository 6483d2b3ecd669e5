#!/usr/bin/env bash
# The LOL study exactly as run for experiments/lol_study/README.md. Every stage is a Hydra
# sweep (conf/sweep/lol_*.yaml) into a fixed folder with ckpt_path=auto, so running this
# script again resumes each unfinished job from its last.ckpt and leaves finished jobs alone.
#   bash experiments/lol_study/run.sh [STAGE ...]    (default: every stage, in order)
# Stages: generator, losses (losses0 ... losses4: one of its five jobs alone, into the same
# folder, for a machine that has not the others), mse, color (YCrCb with BEST_LOSS),
# generator_best (the suite's generator with L1 only), whole (the same trained on whole
# photos: budget=lol_whole, a row at its own budget), iat (the compact illumination-adaptive
# generator, L1), iat_long (the same for 100 epochs, 96 or 160 px crops: its own budget),
# iat_ema (100 epochs of 96 px crops with an EMA of the weights, 24 or 32 channels),
# iat_whole (the same with an EMA on whole photos: budget=lol_whole, 20 epochs), iat_ssim
# (iat_ema's 24 channels with an SSIM term beside L1, weight 0.5 or 1.0), iat_norm (iat with
# exposure normalization, the table's budget), iat_mixed (iat_ema's 32 channels on LOL's
# pairs beside as many sensor-model synthetic pairs from SunHays80's daylight photos:
# +experiment=lle_iat, data=lol_mixed), iat_exposure (iat_ema's 24 channels with Zero-DCE's
# exposure control beside L1, weight 0.25 or 0.5), iat_coarse (iat_ssim's weight-1.0 job
# with a coarse branch on the photo shrunk 4 or 8 times), iat_coarse_ssim (iat_coarse0 with
# SSIM weight 2.0, 4.0 or 8.0), iat_refit (iat_coarse0's recipe on all of our485 for the 40
# epochs validation chose), iat_refit_ssim (the same for iat_coarse_ssim2, the new best on
# validation, 70 epochs), report. PHOTOS=... (default: the shared SunHays80) for iat_mixed.
# LOL=/path/to/LOL (default: the shared copy), LOG_DIR=... (default: logs/lol_study). The
# budget is conf/budget/lol_cpu.yaml; add budget=lol_full through EXTRA="budget=lol_full"
# for the original 100 epochs (a GPU).
set -euo pipefail
LOL=${LOL:-../shared/data/lowlight/LOL}
LOG_DIR=${LOG_DIR:-logs/lol_study}
PHOTOS=${PHOTOS:-../shared/data/sr/SunHays80_HR}
EXTRA=${EXTRA:-}
# The loss the colour row uses: the losses stage's best on validation (README); so far the
# original recipe's L1 + 0.01 BCE (losses1), the best of the finished loss rows.
BEST_LOSS=${BEST_LOSS:-"system.loss_weights={pixel:1.0,adv:0.01}"}
# generator_best and whole ran with L1 only, the best finished loss row when they ran (the
# generator rows already use L1 + 0.01 BCE); a rerun with another loss is refused, since the
# folders hold these runs.
L1_ONLY="system.loss_weights={pixel:1.0,adv:0.0}"

stage() {
  local name=$1
  shift
  # shellcheck disable=SC2086
  nice lowlight-train -m "$@" "${ROOT_KEY:-data.root}=$LOL" ckpt_path=auto callbacks.progress_bar=null \
    paths.log_dir="$LOG_DIR/runs" hydra.sweep.dir="$LOG_DIR/$name" ${JOB:+hydra.sweep.subdir=$JOB} $EXTRA
}

run() {
  case $1 in
    generator) stage generator +experiment=lol_gan +sweep=lol_generator ;;
    losses) stage losses +experiment=lol_gan_seed +sweep=lol_losses ;;
    # one job of the losses stage alone, into its own folder (a machine without the others)
    losses[0-4])
      local weights=("{pixel:1.0,adv:0.0}" "{pixel:1.0,adv:0.01}" "{pixel:1.0,adv:0.001}" \
        "{pixel:1.0,adv:0.1}" "{pixel:0.0,adv:1.0}")
      JOB=${1#losses} stage losses +experiment=lol_gan_seed \
        "system.loss_weights=${weights[${1#losses}]}" ;;
    mse) stage mse +experiment=lol_gan_seed +sweep=lol_mse ;;
    color) stage color +experiment=lol_gan_seed +sweep=lol_color "$BEST_LOSS" ;;
    generator_best) stage generator_best +experiment=lol_gan +sweep=lol_generator "$L1_ONLY" ;;
    whole) stage whole +experiment=lol_gan budget=lol_whole "$L1_ONLY" ;;
    iat) stage iat +experiment=lol_iat ;;
    iat_long) stage iat_long +experiment=lol_iat +sweep=lol_iat_long ;;
    iat_ema) stage iat_ema +experiment=lol_iat +sweep=lol_iat_ema ;;
    iat_whole) stage iat_whole +experiment=lol_iat +sweep=lol_iat_whole ;;
    iat_ssim) stage iat_ssim +experiment=lol_iat +sweep=lol_iat_ssim ;;
    iat_norm) stage iat_norm +experiment=lol_iat +sweep=lol_iat_norm ;;
    iat_exposure) stage iat_exposure +experiment=lol_iat +sweep=lol_iat_exposure ;;
    iat_coarse) stage iat_coarse +experiment=lol_iat +sweep=lol_iat_coarse ;;
    iat_coarse_ssim) stage iat_coarse_ssim +experiment=lol_iat +sweep=lol_iat_coarse_ssim ;;
    iat_refit) stage iat_refit +experiment=lol_iat +sweep=lol_iat_refit \
      data.train_dir="$LOL/our485" data.val_dir="$LOL/our485" data.test_dir="$LOL/eval15" ;;
    iat_refit_ssim) stage iat_refit_ssim +experiment=lol_iat +sweep=lol_iat_refit_ssim \
      data.train_dir="$LOL/our485" data.val_dir="$LOL/our485" data.test_dir="$LOL/eval15" ;;
    iat_mixed) ROOT_KEY=data.sources.lol.root stage iat_mixed +experiment=lle_iat \
      data.sources.synthetic.source_dir="$PHOTOS" ;;
    report)
      "${PYTHON:-python}" experiments/lol_study/table.py "$LOG_DIR" --lol "$LOL" ;;
    *) echo "unknown stage: $1 (generator, losses, losses0-losses4, mse, color, generator_best, whole, iat, iat_long, iat_ema, iat_whole, iat_ssim, iat_norm, iat_mixed, iat_exposure, iat_coarse, iat_coarse_ssim, iat_refit, iat_refit_ssim, report)" >&2; exit 2 ;;
  esac
}

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(generator losses mse color generator_best whole iat iat_long iat_ema iat_whole iat_ssim iat_norm iat_mixed iat_exposure iat_coarse iat_coarse_ssim iat_refit iat_refit_ssim report)
for s in "${stages[@]}"; do run "$s"; done
