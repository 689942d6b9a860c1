"""The reference per-frame pipeline in ONNX Runtime, single thread, on livecheck's own crops.

The partner of the criterion bench `clip/push_frame`; `cargo xtask bench-compare` runs both in
one run. What MediaPipe's face landmarker does per frame in video mode, with the same models:
the detector only while there is no track, the mesh every frame, the iris model on both eyes
every frame. The inputs are the exact tensors livecheck's tracker cut from the same frames
(written by the `frame_plan` binary), so the reference is charged for inference only: its crops,
colour conversion and post-processing are free, which favours it.

Usage: python ort_frames.py MODELS_DIR PLAN_DIR [PASSES]
Prints one JSON object: per-stage medians (ms per run), the per-frame mean (ms), the same without
the iris runs (the like-for-like partner of `clip/push_frame_no_eyes`) and counts.
"""
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from ort_compare import CASES, session

# model -> (file, input shape), the same models ort_compare.py times alone.
MODELS = {name: (file, shape) for name, (file, _, shape) in CASES.items()}


def main() -> None:
    models, plan_dir = Path(sys.argv[1]), Path(sys.argv[2])
    passes = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    plan = json.loads((plan_dir / "plan.json").read_text())["plan"]
    data = np.fromfile(plan_dir / "tensors.f32", dtype="<f4")
    sessions = {k: session(models / f) for k, (f, _) in MODELS.items()}
    names = {k: s.get_inputs()[0].name for k, s in sessions.items()}

    # Each frame's runs, in the order frame_plan wrote their inputs.
    frames, at = [], 0
    for p in plan:
        runs = (["detector"] if p["detector"] else []) + (["mesh", "iris", "iris"] if p["face"] else [])
        feeds = []
        for model in runs:
            shape = MODELS[model][1]
            n = int(np.prod(shape))
            feeds.append((model, {names[model]: data[at : at + n].reshape(shape)}))
            at += n
        frames.append(feeds)
    if at != data.size:
        sys.exit(f"tensors.f32 holds {data.size} floats, the plan uses {at}")

    for feeds in frames[:10]:  # warm-up
        for model, feed in feeds:
            sessions[model].run(None, feed)
    per_pass, no_iris, stage = [], [], {k: [] for k in MODELS}
    for _ in range(passes):
        total = iris = 0.0
        for feeds in frames:
            for model, feed in feeds:
                t = time.perf_counter()
                sessions[model].run(None, feed)
                dt = (time.perf_counter() - t) * 1000
                stage[model].append(dt)
                total += dt
                iris += dt if model == "iris" else 0.0
        per_pass.append(total / len(frames))
        no_iris.append((total - iris) / len(frames))
    print(
        json.dumps(
            {
                "per_frame_ms": round(statistics.median(per_pass), 4),
                "per_frame_no_iris_ms": round(statistics.median(no_iris), 4),
                "stage_ms": {k: round(statistics.median(v), 4) for k, v in stage.items() if v},
                "runs_per_pass": {k: len(v) // passes for k, v in stage.items()},
                "frames": len(frames),
                "passes": passes,
            }
        )
    )


if __name__ == "__main__":
    main()
