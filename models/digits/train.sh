#!/usr/bin/env bash
# Reproduce the spoken-digit model end to end:
#   venv -> real Debian voices -> TTS synthesis -> evaluation model(s) -> shipped model -> models/digits.onnx -> results.json
# Usage: models/digits/train.sh [--second-fold]     (needs python3.11+, Debian TTS packages, ~100 min on 2 busy cores)
#        models/digits/train.sh --voices-only       (venv + work/debian only: what `cargo xtask eval digits --only ivr` reads)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}

voices_only=; [ "${1:-}" = "--voices-only" ] && voices_only=1
need=(espeak-ng flite festival)
[ -n "$voices_only" ] && need=()
for b in "${need[@]}"; do
  command -v "$b" >/dev/null || { echo "missing $b: apt-get install -y espeak-ng flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts" >&2; exit 1; }
done

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install --no-deps --only-binary=:all: -r requirements.txt
fi
# venvs made before openwakeword (frozen front end, emb.py) was pinned: bring them up to date
if ! .venv/bin/python -c 'import importlib.util,sys; sys.exit(importlib.util.find_spec("openwakeword") is None)'; then
  .venv/bin/pip install --no-deps --only-binary=:all: -r requirements.txt
fi
export PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=2 OPENBLAS_NUM_THREADS=1
RUN="nice -n 10 .venv/bin/python"
mkdir -p work

$RUN debian_voices.py                            # work/debian/{allison,dawson}: real speakers from 2 pinned .debs
[ -n "$voices_only" ] && exit 0
$RUN synth.py                                   # work/tts/*.npz (skips voices already rendered)
$RUN train.py eval --fold "$(.venv/bin/python -c 'import common;print(common.load_config()["train"]["eval_fold_speaker"])')"
if [ "${1:-}" = "--second-fold" ]; then
  $RUN train.py eval --fold "$(.venv/bin/python -c 'import common;print(common.load_config()["train"]["second_fold_speaker"])')"
fi
$RUN train.py ship
$RUN train.py export                            # ../digits.onnx, reference/, ORT == Keras check
$RUN train.py report                            # results.json
