# Canonical re-serialisation of an ONNX file: python -c "$THIS" IN OUT
#
# tflite2onnx 0.4.1 emits graph.initializer and graph.value_info in Python set/dict order, so
# two conversions of the same .tflite differ byte-wise (same nodes, same weights). Sorting both
# lists by name and serialising deterministically makes the output reproducible, so its sha256
# can be pinned in models.toml. Node order (topological) is left as the converter wrote it.
import sys

import onnx

model = onnx.load(sys.argv[1])
graph = model.graph
for field in (graph.initializer, graph.value_info):
    items = sorted(field, key=lambda item: item.name)
    del field[:]
    field.extend(items)
onnx.checker.check_model(model)
with open(sys.argv[2], "wb") as out:
    out.write(model.SerializeToString(deterministic=True))
