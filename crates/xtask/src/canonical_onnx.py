# Canonical re-serialisation of an ONNX file: python -c "$THIS" IN OUT [BATCH]
#
# tflite2onnx 0.4.1 emits graph.initializer and graph.value_info in Python set/dict order, so
# two conversions of the same .tflite differ byte-wise (same nodes, same weights). Sorting both
# lists by name and serialising deterministically makes the output reproducible, so its sha256
# can be pinned in models.toml. Node order (topological) is left as the converter wrote it.
#
# With BATCH, the graph's fixed batch size (the first input's first dimension) becomes BATCH in
# every input, output and value_info, and in each Reshape shape constant that starts with it.
import sys

import onnx
from onnx import numpy_helper

model = onnx.load(sys.argv[1])
graph = model.graph
if len(sys.argv) > 3:
    new = int(sys.argv[3])
    old = graph.input[0].type.tensor_type.shape.dim[0].dim_value
    for info in list(graph.input) + list(graph.output) + list(graph.value_info):
        dims = info.type.tensor_type.shape.dim
        if len(dims) and dims[0].dim_value == old:
            dims[0].dim_value = new
    shapes = {node.input[1] for node in graph.node if node.op_type == "Reshape"}
    for i, init in enumerate(graph.initializer):
        if init.name in shapes:
            shape = numpy_helper.to_array(init).copy()
            if len(shape) and shape[0] == old:
                shape[0] = new
                graph.initializer[i].CopyFrom(numpy_helper.from_array(shape, init.name))
for field in (graph.initializer, graph.value_info):
    items = sorted(field, key=lambda item: item.name)
    del field[:]
    field.extend(items)
onnx.checker.check_model(model)
with open(sys.argv[2], "wb") as out:
    out.write(model.SerializeToString(deterministic=True))
