"""ONNX Runtime timings of livecheck's models on the stored reference inputs, single thread.

The partner of the criterion group `model_only` (tract); `cargo xtask bench-compare` runs both
back to back and prints the ratio. Usage: python ort_compare.py MODELS_DIR [RUNS]
Prints one JSON object: {model: median_ms}.
"""
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

CASES = {
    "detector": ("face_detection_short_range.onnx", "face_detection_short_range.input.f32", (1, 3, 128, 128)),
    "mesh": ("face_landmark.onnx", "face_landmark.input_1.f32", (1, 3, 192, 192)),
    "iris": ("iris_landmark.onnx", "iris_landmark.input_1.f32", (1, 3, 64, 64)),
}


def session(path: Path) -> ort.InferenceSession:
    """An ONNX Runtime session on one thread, sequential (as every comparison here runs)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def main() -> None:
    models = Path(sys.argv[1])
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    out = {}
    for name, (file, inp, shape) in CASES.items():
        sess = session(models / file)
        x = np.fromfile(models / "reference" / inp, dtype="<f4").reshape(shape)
        feed = {sess.get_inputs()[0].name: x}
        for _ in range(20):
            sess.run(None, feed)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            sess.run(None, feed)
            times.append((time.perf_counter() - t) * 1000)
        out[name] = round(statistics.median(times), 4)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
