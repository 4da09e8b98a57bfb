#!/usr/bin/env bash
# Offline weighted k-NN on frozen features of a pretraining run (solo-learn's main_knn.py,
# argparse, no hydra recipe). Features of ImageNet train (all labels) and val, after
# resize 256 + center crop 224.
#
#   knn_imagenet.sh RUN_DIR IMAGENET_DIR [extra main_knn args...]
#
# RUN_DIR: a checkpoint folder of a pretraining run (holds args.json and one *.ckpt; solo takes
#   the first *.ckpt it lists, so keep only the final one there).
# IMAGENET_DIR: folder with train/ and val/.
# KNN_LAUNCHER (env): the command that runs main_knn.py. Default "e2mc-plugin knn", which
#   registers the "<method>_aux" variants named in args.json. Upstream
#   "python main_knn.py" works only with patches/0001 (entry points) applied and the plugin
#   installed. main_knn.py hard-codes CUDA: on a machine without it pass --cpu (e2mc-plugin
#   shims .cuda() for the call) or apply patches/0004 (upstream).
#
# Grid: cosine distance, T = 0.07, k in {10, 20, 100, 200}, backbone (2048-d) features: the
# usual ImageNet k-NN protocol (Wu et al. 2018; DINO uses k = 20, T = 0.07). The E2MC paper's
# k-NN settings are not in our specification; this grid is our choice, not the paper's.
set -euo pipefail
if [ "$#" -lt 2 ]; then
    sed -n '2,21p' "$0" >&2
    exit 2
fi
run_dir=$1
data_dir=$2
shift 2
# shellcheck disable=SC2086
${KNN_LAUNCHER:-e2mc-plugin knn} \
    --pretrained_checkpoint_dir "$run_dir" \
    --dataset imagenet \
    --train_data_path "$data_dir/train" \
    --val_data_path "$data_dir/val" \
    --data_format image_folder \
    --batch_size 256 \
    --num_workers 8 \
    --k 10 20 100 200 \
    --temperature 0.07 \
    --distance_function cosine \
    --feature_type backbone \
    "$@"
