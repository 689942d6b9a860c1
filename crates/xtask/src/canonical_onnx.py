# Canonical re-serialisation of an ONNX file: python -c "$THIS" IN OUT [--batch N] [--f16]
#
# tflite2onnx 0.4.1 emits graph.initializer and graph.value_info in Python set/dict order, so
# two conversions of the same .tflite differ byte-wise (same nodes, same weights). Sorting both
# lists by name and serialising deterministically makes the output reproducible, so its sha256
# can be pinned in models.toml. Node order (topological) is left as the converter wrote it.
#
# With --batch N, the graph's fixed batch size (the first input's first dimension) becomes N in
# every input, output and value_info, and in each Reshape shape constant that starts with it.
#
# With --f16, every float32 weight of at least F16_MIN values (initializers and Constant nodes)
# is stored as float16 and widened back by a Cast node placed first in the graph: the file
# halves, the graph's types and interface stay float32, and a runtime that folds constants
# (tract's optimiser, ONNX Runtime) computes in float32 on the rounded weights. Small tensors
# (biases, PReLU slopes, shapes) and any tensor float16 cannot hold (a -1e9 mask) stay as they are.
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

F16_MIN = 1024

args = sys.argv[1:]
src, dst, rest = args[0], args[1], args[2:]
batch = int(rest[rest.index("--batch") + 1]) if "--batch" in rest else None
f16 = "--f16" in rest

model = onnx.load(src)
graph = model.graph
if batch is not None:
    old = graph.input[0].type.tensor_type.shape.dim[0].dim_value
    for info in list(graph.input) + list(graph.output) + list(graph.value_info):
        dims = info.type.tensor_type.shape.dim
        if len(dims) and dims[0].dim_value == old:
            dims[0].dim_value = batch
    shapes = {node.input[1] for node in graph.node if node.op_type == "Reshape"}
    for i, init in enumerate(graph.initializer):
        if init.name in shapes:
            shape = numpy_helper.to_array(init).copy()
            if len(shape) and shape[0] == old:
                shape[0] = batch
                graph.initializer[i].CopyFrom(numpy_helper.from_array(shape, init.name))
if f16:
    def halved(t):
        """`t`'s values as float16, or None when `t` is small, not float32, or out of float16's range."""
        if t.data_type != TensorProto.FLOAT or int(np.prod(t.dims)) < F16_MIN:
            return None
        with np.errstate(over="ignore"):
            values = numpy_helper.to_array(t).astype(np.float16)
        return values if np.all(np.isfinite(values)) else None

    casts = []  # in initializer-name order: the converter's own order is not reproducible
    for i in sorted(range(len(graph.initializer)), key=lambda i: graph.initializer[i].name):
        init = graph.initializer[i]
        values = halved(init)
        if values is not None:
            name, stored = init.name, init.name + "/f16"
            graph.initializer[i].CopyFrom(numpy_helper.from_array(values, stored))
            casts.append(helper.make_node("Cast", [stored], [name], name=stored + "/cast",
                                          to=TensorProto.FLOAT))
    for node in graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            values = halved(node.attribute[0].t)
            if values is not None:
                stored = node.output[0] + "/f16"
                casts.append(helper.make_node("Constant", [], [stored], name=stored,
                                              value=numpy_helper.from_array(values, "")))
                node.op_type = "Cast"
                node.input.append(stored)
                del node.attribute[:]
                node.attribute.append(helper.make_attribute("to", TensorProto.FLOAT))
    nodes = casts + [n for n in graph.node]
    del graph.node[:]
    graph.node.extend(nodes)
for field in (graph.initializer, graph.value_info):
    items = sorted(field, key=lambda item: item.name)
    del field[:]
    field.extend(items)
onnx.checker.check_model(model)
with open(dst, "wb") as out:
    out.write(model.SerializeToString(deterministic=True))
