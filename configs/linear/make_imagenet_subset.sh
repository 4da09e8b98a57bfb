#!/usr/bin/env bash
# Build an ImageNet label-subset folder (symlinks) from a SimCLR subset list, for solo-learn's
# image_folder / DALI readers, which take a folder and no file list.
#
#   make_imagenet_subset.sh IMAGENET_TRAIN_DIR LIST_FILE OUT_DIR
#
# LIST_FILE: 1percent.txt or 10percent.txt from
#   https://github.com/google-research/simclr/tree/master/imagenet_subsets
# one file name per line, e.g. "n01440764_10026.JPEG" (the class is the prefix before "_").
# Every class directory of IMAGENET_TRAIN_DIR is created in OUT_DIR (the SimCLR lists cover all
# 1000 classes), so class indexes equal those of the full train/val folders. Fails on a listed
# file that does not exist. SUBSET_LINK=hard makes hard links instead (same filesystem), for
# readers that do not follow symbolic links.
set -euo pipefail
if [ "$#" -ne 3 ]; then
    sed -n '2,15p' "$0" >&2
    exit 2
fi
src=$(cd "$1" && pwd)
list=$2
out=$3
mkdir -p "$out"
for d in "$src"/*/; do
    mkdir -p "$out/$(basename "$d")"
done
n=0
while IFS= read -r f || [ -n "$f" ]; do
    f=${f%$'\r'}
    [ -z "$f" ] && continue
    cls=${f%%_*}
    if [ ! -e "$src/$cls/$f" ]; then
        echo "missing: $src/$cls/$f" >&2
        exit 1
    fi
    if [ "${SUBSET_LINK:-symbolic}" = hard ]; then
        ln -f "$src/$cls/$f" "$out/$cls/$f"
    else
        ln -sf "$src/$cls/$f" "$out/$cls/$f"
    fi
    n=$((n + 1))
done < "$list"
empty=$(find "$out" -mindepth 1 -maxdepth 1 -type d -empty | wc -l)
if [ "$empty" -ne 0 ]; then
    echo "warning: $empty class folders have no image (torchvision's ImageFolder rejects them)" >&2
fi
echo "linked $n images into $out"
