"""Exports an evaluation (held-out-speaker) CTC head to ONNX for the Rust evaluation.

    models/digits/.venv/bin/python models/digits/export_fold.py nicolas [WORK_DIR]
    cargo xtask eval digits --only fsdd --heldout nicolas \
        --digits-model models/digits/work/eval_nicolas.onnx

`train.py eval --fold SPEAKER` (run by train.sh) trains the head without that FSDD speaker and
leaves its weights in WORK_DIR (default: the config's work dir; an experiment run with
DIGITS_EXP=name leaves them in work/exp_name). The head is written next to them as
eval_SPEAKER.onnx, the same I/O as models/digits.onnx, so the Rust pipeline (VAD windows,
openWakeWord front end through tract, beam search, challenge support) measures the unseen
speaker exactly as the app would.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.chdir(HERE)

import common  # noqa: E402
import model as M  # noqa: E402
import train  # noqa: E402


def main():
    speaker = sys.argv[1]
    cfg = common.load_config()
    if len(sys.argv) > 2:
        cfg["paths"]["work"] = os.path.relpath(os.path.abspath(os.path.join(HERE, sys.argv[2])), HERE)
    tag = f"eval_{speaker}"
    out = os.path.join(HERE, cfg["paths"]["work"], f"{tag}.onnx")
    km = train.load_model(cfg, tag)
    M.export_head_onnx(km, cfg, out, f"evaluation head without FSDD speaker {speaker} (not shipped)")
    print("wrote", out)


if __name__ == "__main__":
    main()
