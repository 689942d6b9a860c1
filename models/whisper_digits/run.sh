#!/usr/bin/env bash
# Whole pipeline: encoder ONNX -> cached encoder features -> 5 leave-speakers-out folds -> shipped head -> report/export.
# Every stage is resumable (outputs in work/); delete work/fold_K.json, work/ship.* or work/feats/ to redo a stage.
# Needs: python3.11, espeak-ng (apt-get install espeak-ng), apt-get (four .debs: allison/dawson voices, Tux Paint's, gcin-voice), npm (yanyu), ffmpeg not needed.
set -euo pipefail
cd "$(dirname "$0")"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TF_CPP_MIN_LOG_LEVEL=2
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; .venv/bin/pip install -q -r requirements.txt; fi
PY="nice -n 10 .venv/bin/python"
$PY provision.py --seconds 6 --check                 # models/whisper_encoder_base_6s.onnx + check vs CTranslate2
$PY provision.py --part decoder --check              # models/whisper_decoder_base_digits.onnx + check vs numpy
$PY -c "import sys, os; sys.argv = ['x']
import debian_voices as d; d.OUT = os.path.abspath('work/debian'); d.main()"   # allison, dawson -> work/debian
$PY held_out_voices.py                               # 4 more real Mandarin voices (Tux Paint, yanyu, gcin Liu + Chu Lo) -> work/heldout; in the folds
command -v espeak-ng >/dev/null || { echo "apt-get install -y espeak-ng first"; exit 1; }
$PY data.py extract                                  # work/feats/*.npz (+ work/tts/)
$PY data.py extract_fill                             # work/feats/*.fill.npz (digits mixed with filler words)
for k in 0 1 2 3 4; do [ -f work/fold_$k.json ] || $PY train.py fold $k; done
[ -f work/ship.json ] || $PY train.py ship
$PY train.py report                                  # results.json
$PY train.py table results.json work/table.md        # markdown tables used in README.md
$PY export.py                                        # models/digits.onnx + reference/
$PY export.py folds                                  # work/fold_K.onnx (Rust leave-speakers-out eval)
