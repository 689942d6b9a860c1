//! livecheck's own runtime for the face models (detector, mesh, iris, embedder): a small
//! interpreter of the ONNX operators they are made of, so that the action SDK needs no general
//! inference engine (benches/README.md, Size).
//!
//! At load the file's protobuf is read ([`proto`]), the graph's input shapes fixed, every
//! node whose inputs are all constants evaluated once (float16 weights widened, slopes
//! reshaped), activations fused into the convolution or addition before them, and each
//! intermediate tensor given a buffer that is reused once the tensor is dead. A run then
//! walks the plan over those buffers: no allocation per run but the returned outputs.
//!
//! Operators: Conv (any kernel, stride and padding; groups 1 or depthwise), Relu, PRelu, Add,
//! Sub, Mul (NumPy broadcasting), Abs, Pad (constant), MaxPool, Transpose, Reshape, Flatten,
//! Concat, Cast (to float32), Identity. Anything else is a [`Error::BadModel`] at load.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use zeroize::Zeroize;

use crate::error::{Error, Result};

mod conv;
mod ops;
mod proto;

use conv::Conv;
use ops::{Activation, Arith, Op};
use proto::{Data, Node};

/// Inputs per operator a plan supports (the models' widest is a two-way Concat).
const MAX_INPUTS: usize = 8;
/// The largest padding accepted, per side (keeps every shape sum far from overflow).
const MAX_PAD: i64 = 1 << 16;
/// The largest tensor a plan may hold (1 GiB of float32): a bigger one is a broken model.
const MAX_ELEMENTS: usize = 1 << 28;

/// A face model loaded into livecheck's runtime, with fixed input shapes; runs are
/// serialised on its buffers (clones get their own).
pub struct Net {
    name: &'static str,
    plan: Arc<Plan>,
    buffers: Mutex<Buffers>,
}

impl Clone for Net {
    fn clone(&self) -> Self {
        Net {
            name: self.name,
            plan: self.plan.clone(),
            buffers: Mutex::new(Buffers::default()),
        }
    }
}

impl std::fmt::Debug for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Net")
            .field("name", &self.name)
            .field("steps", &self.plan.steps.len())
            .field("buffers", &self.plan.slot_lens.len())
            .finish()
    }
}

#[derive(Debug)]
struct Plan {
    input_shapes: Vec<Vec<usize>>,
    /// The buffer each input is copied into.
    input_slots: Vec<usize>,
    steps: Vec<Step>,
    consts: Vec<Vec<f32>>,
    slot_lens: Vec<usize>,
    scratch_len: usize,
    outputs: Vec<Output>,
}

#[derive(Debug)]
struct Step {
    op: Op,
    args: Vec<Arg>,
    shapes: Vec<Vec<usize>>,
    out_slot: usize,
    out_shape: Vec<usize>,
}

/// Where a step reads an input.
#[derive(Debug, Clone, Copy)]
enum Arg {
    /// A buffer, and how many of its floats.
    Slot(usize, usize),
    /// A constant of [`Plan::consts`].
    Const(usize),
}

#[derive(Debug)]
enum Output {
    Slot(usize, usize),
    Const(Vec<f32>),
}

/// Per-run memory: one buffer per slot and the convolutions' scratch, zeroed when dropped
/// (they hold face data).
#[derive(Default)]
struct Buffers {
    slots: Vec<Vec<f32>>,
    scratch: Vec<f32>,
}

impl Drop for Buffers {
    fn drop(&mut self) {
        self.slots.iter_mut().for_each(Zeroize::zeroize);
        self.scratch.zeroize();
    }
}

impl Net {
    /// Parses ONNX `bytes`, fixes each input to the given float32 shape, checks that the
    /// outputs have `output_lens` elements each and plans the run. `name` appears in errors.
    pub fn load(
        name: &'static str,
        bytes: &[u8],
        input_shapes: &[&[usize]],
        output_lens: &[usize],
    ) -> Result<Self> {
        let bad = |reason: String| Error::BadModel { name, reason };
        let graph = proto::parse_model(bytes).map_err(bad)?;
        let plan = Builder::default()
            .build(graph, input_shapes, output_lens)
            .map_err(bad)?;
        Ok(Net {
            name,
            plan: Arc::new(plan),
            buffers: Mutex::new(Buffers::default()),
        })
    }

    /// Output `i`'s values when the graph computes it from constants alone (read at load, no
    /// run needed); `None` for outputs that depend on the inputs.
    pub fn constant_output(&self, i: usize) -> Option<&[f32]> {
        match self.plan.outputs.get(i)? {
            Output::Const(values) => Some(values),
            Output::Slot(..) => None,
        }
    }

    /// Matrix products in a run (pointwise and im2col convolutions with more than one output
    /// position, per batch item): each one allocates `matrixmultiply`'s packing buffer and
    /// frees it when done, the only allocations of a run besides the returned outputs
    /// (`tests/allocations.rs`). Single-position ones are dot products and allocate nothing.
    pub fn matrix_products(&self) -> usize {
        let batch = self
            .plan
            .input_shapes
            .first()
            .and_then(|s| s.first())
            .copied()
            .unwrap_or(1);
        let products = self
            .plan
            .steps
            .iter()
            .filter(|s| {
                let positions = s
                    .out_shape
                    .get(2..)
                    .map_or(1, |p| p.iter().product::<usize>());
                matches!(&s.op, Op::Conv(c) if c.is_matrix_product()) && positions > 1
            })
            .count();
        products * batch
    }

    /// Runs the model on one row-major buffer per input and returns each output flattened, in
    /// the model's output order.
    pub fn run(&self, inputs: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        let plan = &*self.plan;
        let fail = |reason: String| Error::Inference {
            name: self.name,
            reason,
        };
        if inputs.len() != plan.input_shapes.len() {
            return Err(fail(format!(
                "{} inputs given, model takes {}",
                inputs.len(),
                plan.input_shapes.len()
            )));
        }
        for (i, (data, shape)) in inputs.iter().zip(&plan.input_shapes).enumerate() {
            let want: usize = shape.iter().product();
            if data.len() != want {
                return Err(fail(format!(
                    "input {i} has {} values, shape {shape:?} takes {want}",
                    data.len()
                )));
            }
        }
        let mut guard = self.buffers.lock().unwrap_or_else(PoisonError::into_inner);
        let Buffers { slots, scratch } = &mut *guard;
        if slots.is_empty() {
            *slots = plan.slot_lens.iter().map(|&n| vec![0.0; n]).collect();
            *scratch = vec![0.0; plan.scratch_len];
        }
        for (data, &slot) in inputs.iter().zip(&plan.input_slots) {
            slots[slot][..data.len()].copy_from_slice(data);
        }
        for step in &plan.steps {
            let mut out = std::mem::take(&mut slots[step.out_slot]);
            let mut args: [&[f32]; MAX_INPUTS] = [&[]; MAX_INPUTS];
            let mut shapes: [&[usize]; MAX_INPUTS] = [&[]; MAX_INPUTS];
            for (k, (arg, shape)) in step.args.iter().zip(&step.shapes).enumerate() {
                args[k] = match *arg {
                    Arg::Slot(slot, len) => &slots[slot][..len],
                    Arg::Const(c) => &plan.consts[c],
                };
                shapes[k] = shape;
            }
            let n = step.args.len();
            let len = step.out_shape.iter().product();
            step.op.run(
                &args[..n],
                &shapes[..n],
                &mut out[..len],
                &step.out_shape,
                scratch,
            );
            slots[step.out_slot] = out;
        }
        Ok(plan
            .outputs
            .iter()
            .map(|o| match o {
                Output::Slot(slot, len) => slots[*slot][..*len].to_vec(),
                Output::Const(values) => values.clone(),
            })
            .collect())
    }
}

/// A tensor while the graph is planned.
#[derive(Debug, Clone)]
enum Value {
    Const(Vec<usize>, Data),
    /// Computed at run time: its id among the live tensors.
    Live(Vec<usize>, usize),
}

impl Value {
    fn shape(&self) -> &[usize] {
        match self {
            Value::Const(shape, _) | Value::Live(shape, _) => shape,
        }
    }
}

/// A step while the graph is planned, on live tensor ids.
struct Planned {
    op: Op,
    args: Vec<Value>,
    out: usize,
    out_shape: Vec<usize>,
}

#[derive(Default)]
struct Builder {
    values: HashMap<String, Value>,
    live_shapes: Vec<Vec<usize>>,
    steps: Vec<Planned>,
}

impl Builder {
    fn build(
        mut self,
        graph: proto::Graph,
        input_shapes: &[&[usize]],
        output_lens: &[usize],
    ) -> std::result::Result<Plan, String> {
        if graph.inputs.len() != input_shapes.len() {
            return Err(format!(
                "expected {} inputs, found {}",
                input_shapes.len(),
                graph.inputs.len()
            ));
        }
        if graph.outputs.len() != output_lens.len() {
            return Err(format!(
                "expected {} outputs, found {}",
                output_lens.len(),
                graph.outputs.len()
            ));
        }
        for t in graph.initializers {
            self.values.insert(t.name, Value::Const(t.dims, t.data));
        }
        let mut input_ids = Vec::new();
        for (name, shape) in graph.inputs.iter().zip(input_shapes) {
            let id = self.live(shape.to_vec());
            input_ids.push(id);
            self.values
                .insert(name.clone(), Value::Live(shape.to_vec(), id));
        }
        for node in ordered(graph.nodes)? {
            self.node(&node)
                .map_err(|e| format!("{} node {:?}: {e}", node.op_type, node.outputs.first()))?;
        }
        let mut outputs = Vec::new();
        for (i, (name, &want)) in graph.outputs.iter().zip(output_lens).enumerate() {
            let value = self
                .values
                .get(name)
                .ok_or(format!("output {name:?} is never computed"))?;
            let len: usize = value.shape().iter().product();
            if len != want {
                return Err(format!(
                    "output {i} has shape {:?}, expected {want} values",
                    value.shape()
                ));
            }
            outputs.push(value.clone());
        }
        fuse_activations(&mut self.steps, &outputs);
        Ok(self.plan(input_ids, input_shapes, outputs))
    }

    fn live(&mut self, shape: Vec<usize>) -> usize {
        self.live_shapes.push(shape);
        self.live_shapes.len() - 1
    }

    fn input(&self, node: &Node, i: usize) -> std::result::Result<Option<&Value>, String> {
        match node.inputs.get(i).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(name) => self
                .values
                .get(name)
                .map(Some)
                .ok_or(format!("input {name:?} is not defined before it")),
        }
    }

    fn required(&self, node: &Node, i: usize) -> std::result::Result<&Value, String> {
        self.input(node, i)?.ok_or(format!("input {i} missing"))
    }

    /// An input that must be a float32 constant (weights, slopes).
    fn const_f32(
        &self,
        node: &Node,
        i: usize,
    ) -> std::result::Result<(Vec<usize>, Vec<f32>), String> {
        match self.required(node, i)? {
            Value::Const(shape, data) => Ok((shape.clone(), data.clone().into_f32())),
            Value::Live(..) => Err(format!("input {i} must be a constant")),
        }
    }

    /// An input that must be an int64 constant (shapes, pads).
    fn const_i64(&self, node: &Node, i: usize) -> std::result::Result<Vec<i64>, String> {
        match self.required(node, i)? {
            Value::Const(_, Data::I64(v)) => Ok(v.clone()),
            _ => Err(format!("input {i} must be an int64 constant")),
        }
    }

    fn node(&mut self, node: &Node) -> std::result::Result<(), String> {
        let [output] = &node.outputs[..] else {
            return Err(format!("{} outputs (one is supported)", node.outputs.len()));
        };
        let x = self.required(node, 0)?.clone();
        let ints = |name: &str| node.attribute(name).map(|a| a.ints.clone());
        let int = |name: &str| node.attribute(name).and_then(|a| a.int);
        let (op, data_inputs): (Op, Vec<Value>) = match node.op_type.as_str() {
            "Conv" => (Op::Conv(Box::new(self.conv(node, x.shape())?)), vec![x]),
            "Relu" => (Op::Activation(Activation::Relu), vec![x]),
            "PRelu" => {
                let (shape, slopes) = self.const_f32(node, 1)?;
                (
                    Op::Activation(Activation::Prelu(per_channel(x.shape(), &shape, slopes)?)),
                    vec![x],
                )
            }
            "Add" | "Sub" | "Mul" => {
                let arith = match node.op_type.as_str() {
                    "Add" => Arith::Add,
                    "Sub" => Arith::Sub,
                    _ => Arith::Mul,
                };
                (
                    Op::Binary(arith, Activation::None),
                    vec![x, self.required(node, 1)?.clone()],
                )
            }
            "Abs" => (Op::Abs, vec![x]),
            "Identity" => (Op::Copy, vec![x]),
            "Cast" => {
                if int("to") != Some(1) {
                    return Err(format!("Cast to ONNX type {:?} (float32 only)", int("to")));
                }
                (Op::Copy, vec![x])
            }
            "Reshape" => {
                let shape = reshaped(
                    x.shape(),
                    &self.const_i64(node, 1)?,
                    int("allowzero") == Some(1),
                )?;
                return self.define_copy(output, x, shape);
            }
            "Flatten" => {
                let rank = x.shape().len() as i64;
                let axis =
                    usize::try_from(int("axis").map_or(1, |a| if a < 0 { a + rank } else { a }))
                        .ok()
                        .filter(|&a| a <= x.shape().len())
                        .ok_or("Flatten axis out of range")?;
                let shape = vec![
                    x.shape()[..axis].iter().product(),
                    x.shape()[axis..].iter().product(),
                ];
                return self.define_copy(output, x, shape);
            }
            "Pad" => {
                let mode = node.attribute("mode").map(|a| a.bytes.as_slice());
                if !matches!(mode, None | Some(b"constant")) {
                    return Err("Pad modes other than constant".into());
                }
                let pads = match ints("pads") {
                    Some(p) => p,
                    None => self.const_i64(node, 1)?,
                };
                let value = match self.input(node, 2)? {
                    Some(Value::Const(_, Data::F32(v))) if v.len() == 1 => v[0],
                    None => 0.0,
                    Some(_) => return Err("Pad value must be a float32 scalar constant".into()),
                };
                if pads.len() != 8 || pads.iter().any(|&p| !(0..=MAX_PAD).contains(&p)) {
                    return Err(format!("Pad {pads:?} (non-negative, 4-D only)"));
                }
                let p: Vec<usize> = pads.iter().map(|&p| p as usize).collect();
                (
                    Op::Pad {
                        before: [p[0], p[1], p[2], p[3]],
                        after: [p[4], p[5], p[6], p[7]],
                        value,
                    },
                    vec![x],
                )
            }
            "MaxPool" => {
                if int("ceil_mode").unwrap_or(0) != 0 || node.outputs.len() != 1 {
                    return Err("MaxPool with ceil_mode or indices".into());
                }
                if ints("dilations").is_some_and(|d| d.iter().any(|&d| d != 1)) {
                    return Err("dilated MaxPool".into());
                }
                let kernel = pair(&ints("kernel_shape").ok_or("MaxPool without kernel_shape")?)?;
                let stride = pair(&ints("strides").unwrap_or(vec![1, 1]))?;
                let pads = padding(node, x.shape(), kernel, stride)?;
                (
                    Op::MaxPool {
                        kernel,
                        stride,
                        pads,
                    },
                    vec![x],
                )
            }
            "Transpose" => {
                let rank = x.shape().len();
                let perm = match ints("perm") {
                    Some(p) => p
                        .iter()
                        .map(|&p| usize::try_from(p).map_err(|_| format!("perm {p}")))
                        .collect::<std::result::Result<Vec<_>, _>>()?,
                    None => (0..rank).rev().collect(),
                };
                if rank > 4 {
                    return Err(format!("Transpose of a {rank}-D tensor (up to 4-D)"));
                }
                (Op::Transpose(perm), vec![x])
            }
            "Concat" => {
                let inputs = (0..node.inputs.len())
                    .map(|i| self.required(node, i).cloned())
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                if inputs.len() > MAX_INPUTS {
                    return Err(format!(
                        "Concat of {} inputs (up to {MAX_INPUTS})",
                        inputs.len()
                    ));
                }
                let rank = x.shape().len() as i64;
                let axis = int("axis").ok_or("Concat without axis")?;
                let axis = usize::try_from(if axis < 0 { axis + rank } else { axis })
                    .map_err(|_| format!("Concat axis {axis}"))?;
                (Op::Concat(axis), inputs)
            }
            other => {
                return Err(format!(
                    "operator {other} is not supported by livecheck's runtime"
                ))
            }
        };
        let shapes: Vec<&[usize]> = data_inputs.iter().map(Value::shape).collect();
        let out_shape = op.output_shape(&shapes)?;
        let elements = out_shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if elements.is_none_or(|n| n > MAX_ELEMENTS) {
            return Err(format!("output shape {out_shape:?} is too large"));
        }
        let all_const = data_inputs.iter().all(|v| matches!(v, Value::Const(..)));
        if all_const {
            let values: Vec<Vec<f32>> = data_inputs
                .iter()
                .map(|v| match v {
                    Value::Const(_, data) => data.clone().into_f32(),
                    Value::Live(..) => unreachable!("all constant"),
                })
                .collect();
            let refs: Vec<&[f32]> = values.iter().map(Vec::as_slice).collect();
            let mut out = vec![0.0; out_shape.iter().product()];
            let mut scratch = vec![0.0; op.scratch_len(&shapes, &out_shape)];
            op.run(&refs, &shapes, &mut out, &out_shape, &mut scratch);
            self.values
                .insert(output.clone(), Value::Const(out_shape, Data::F32(out)));
            return Ok(());
        }
        let id = self.live(out_shape.clone());
        self.steps.push(Planned {
            op,
            args: data_inputs,
            out: id,
            out_shape: out_shape.clone(),
        });
        self.values
            .insert(output.clone(), Value::Live(out_shape, id));
        Ok(())
    }

    /// Reshape and Flatten: constants change shape at load, live tensors by a copy.
    fn define_copy(
        &mut self,
        output: &str,
        x: Value,
        shape: Vec<usize>,
    ) -> std::result::Result<(), String> {
        let value = match x {
            Value::Const(_, data) => Value::Const(shape, data),
            live @ Value::Live(..) => {
                let id = self.live(shape.clone());
                self.steps.push(Planned {
                    op: Op::Copy,
                    args: vec![live],
                    out: id,
                    out_shape: shape.clone(),
                });
                Value::Live(shape, id)
            }
        };
        self.values.insert(output.to_string(), value);
        Ok(())
    }

    fn conv(&self, node: &Node, input: &[usize]) -> std::result::Result<Conv, String> {
        let (w_shape, weights) = self.const_f32(node, 1)?;
        let &[c_out, per_group, kh, kw] = &w_shape[..] else {
            return Err(format!(
                "weights of shape {w_shape:?} (2-D convolutions only)"
            ));
        };
        let group = usize::try_from(node.attribute("group").and_then(|a| a.int).unwrap_or(1))
            .map_err(|_| "negative group")?;
        let c_in = *input.get(1).ok_or("Conv input without channels")?;
        let depthwise = group == c_in && c_out == c_in && per_group == 1;
        if !(group == 1 && per_group == c_in || depthwise) {
            return Err(format!(
                "Conv with {group} groups of {per_group} on {c_in} channels (1 or depthwise)"
            ));
        }
        if let Some(k) = node.attribute("kernel_shape") {
            if k.ints != [kh as i64, kw as i64] {
                return Err(format!("kernel_shape {:?} vs weights {w_shape:?}", k.ints));
            }
        }
        if node
            .attribute("dilations")
            .is_some_and(|d| d.ints.iter().any(|&d| d != 1))
        {
            return Err("dilated convolutions".into());
        }
        let stride = pair(
            &node
                .attribute("strides")
                .map_or(vec![1, 1], |a| a.ints.clone()),
        )?;
        let pads = padding(node, input, [kh, kw], stride)?;
        let bias = match self.input(node, 2)? {
            None => vec![0.0; c_out],
            Some(_) => {
                let (_, b) = self.const_f32(node, 2)?;
                if b.len() != c_out {
                    return Err(format!("{} biases for {c_out} channels", b.len()));
                }
                b
            }
        };
        Ok(Conv {
            c_in,
            c_out,
            group,
            kernel: [kh, kw],
            stride,
            pads,
            weights,
            bias,
            activation: Activation::None,
        })
    }

    /// Assigns buffers: a tensor's buffer is reused once its last reader has run.
    fn plan(self, input_ids: Vec<usize>, input_shapes: &[&[usize]], outputs: Vec<Value>) -> Plan {
        let n = self.live_shapes.len();
        let forever = usize::MAX;
        let mut last_use = vec![0usize; n];
        for (s, step) in self.steps.iter().enumerate() {
            for arg in &step.args {
                if let Value::Live(_, id) = arg {
                    last_use[*id] = last_use[*id].max(s);
                }
            }
        }
        for out in &outputs {
            if let Value::Live(_, id) = out {
                last_use[*id] = forever;
            }
        }
        let mut slots = Slots {
            of: vec![usize::MAX; n],
            lens: Vec::new(),
            free: Vec::new(),
        };
        let len_of = |id: usize| self.live_shapes[id].iter().product::<usize>();
        for &id in &input_ids {
            slots.assign(id, len_of(id));
        }
        for (s, step) in self.steps.iter().enumerate() {
            slots.assign(step.out, len_of(step.out));
            for arg in &step.args {
                if let Value::Live(_, id) = arg {
                    if last_use[*id] == s {
                        slots.release(*id);
                    }
                }
            }
        }
        let Slots {
            of: slot_of,
            lens: slot_lens,
            ..
        } = slots;
        let mut consts = Vec::new();
        let mut scratch_len = 0;
        let steps = self
            .steps
            .into_iter()
            .map(|p| {
                let shapes: Vec<Vec<usize>> = p.args.iter().map(|v| v.shape().to_vec()).collect();
                let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
                scratch_len = scratch_len.max(p.op.scratch_len(&refs, &p.out_shape));
                let args = p
                    .args
                    .into_iter()
                    .map(|v| match v {
                        Value::Live(shape, id) => Arg::Slot(slot_of[id], shape.iter().product()),
                        Value::Const(_, data) => {
                            consts.push(data.into_f32());
                            Arg::Const(consts.len() - 1)
                        }
                    })
                    .collect();
                Step {
                    op: p.op,
                    args,
                    shapes,
                    out_slot: slot_of[p.out],
                    out_shape: p.out_shape,
                }
            })
            .collect();
        let outputs = outputs
            .into_iter()
            .map(|v| match v {
                Value::Live(shape, id) => Output::Slot(slot_of[id], shape.iter().product()),
                Value::Const(_, data) => Output::Const(data.into_f32()),
            })
            .collect();
        Plan {
            input_shapes: input_shapes.iter().map(|s| s.to_vec()).collect(),
            input_slots: input_ids.iter().map(|&id| slot_of[id]).collect(),
            steps,
            consts,
            slot_lens,
            scratch_len,
            outputs,
        }
    }
}

/// Buffer assignment while planning: live tensor → buffer, each buffer's length, free ones.
struct Slots {
    of: Vec<usize>,
    lens: Vec<usize>,
    free: Vec<usize>,
}

impl Slots {
    fn assign(&mut self, id: usize, len: usize) {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.lens.push(0);
            self.lens.len() - 1
        });
        self.lens[slot] = self.lens[slot].max(len);
        self.of[id] = slot;
    }

    fn release(&mut self, id: usize) {
        if !self.free.contains(&self.of[id]) {
            self.free.push(self.of[id]);
        }
    }
}

/// Folds each activation step into the convolution or addition that feeds it when nothing
/// else reads that intermediate tensor.
fn fuse_activations(steps: &mut Vec<Planned>, outputs: &[Value]) {
    let mut readers: HashMap<usize, usize> = HashMap::new();
    for arg in steps.iter().flat_map(|s| &s.args).chain(outputs) {
        if let Value::Live(_, id) = arg {
            *readers.entry(*id).or_default() += 1;
        }
    }
    let producer: HashMap<usize, usize> =
        steps.iter().enumerate().map(|(i, s)| (s.out, i)).collect();
    let mut removed = vec![false; steps.len()];
    for i in 0..steps.len() {
        let (Op::Activation(act), [Value::Live(_, src)]) = (&steps[i].op, &steps[i].args[..])
        else {
            continue;
        };
        let (act, src) = (act.clone(), *src);
        let Some(&j) = producer.get(&src) else {
            continue;
        };
        if readers.get(&src) != Some(&1) || removed[j] {
            continue;
        }
        let slot = match &mut steps[j].op {
            Op::Conv(conv) if conv.activation == Activation::None => &mut conv.activation,
            Op::Binary(Arith::Add, a) if *a == Activation::None => a,
            _ => continue,
        };
        *slot = act;
        steps[j].out = steps[i].out;
        removed[i] = true;
    }
    let mut i = 0;
    steps.retain(|_| {
        i += 1;
        !removed[i - 1]
    });
}

/// PRelu slopes broadcast over `[n, c, ...]`: one per channel.
fn per_channel(
    x: &[usize],
    shape: &[usize],
    slopes: Vec<f32>,
) -> std::result::Result<Vec<f32>, String> {
    let c = *x.get(1).ok_or("PRelu on a tensor without channels")?;
    if slopes.len() == 1 {
        return Ok(vec![slopes[0]; c]);
    }
    // Right-aligned against x, the slope may only vary along the channel axis.
    let offset = x
        .len()
        .checked_sub(shape.len())
        .ok_or("slope of higher rank")?;
    let fits = shape
        .iter()
        .enumerate()
        .all(|(i, &d)| d == 1 || (i + offset == 1 && d == c));
    if !fits || slopes.len() != c {
        return Err(format!(
            "PRelu slope of shape {shape:?} on {x:?} (per channel only)"
        ));
    }
    Ok(slopes)
}

/// Reshape's target shape: `0` copies the input's dimension (unless `allowzero`), `-1` takes
/// what is left.
fn reshaped(
    input: &[usize],
    target: &[i64],
    allow_zero: bool,
) -> std::result::Result<Vec<usize>, String> {
    let total: usize = input.iter().product();
    let mut shape = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        shape.push(match d {
            0 if !allow_zero => *input.get(i).ok_or("0 beyond the input's rank")?,
            -1 if infer.is_none() => {
                infer = Some(i);
                1
            }
            d => usize::try_from(d)
                .ok()
                .filter(|&d| d <= MAX_ELEMENTS)
                .ok_or_else(|| format!("Reshape to {target:?}"))?,
        });
    }
    let known = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("Reshape to {target:?}"))?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("Reshape of {input:?} to {target:?}"));
        }
        shape[i] = total / known;
    }
    if shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(total) {
        return Err(format!("Reshape of {input:?} to {target:?}"));
    }
    Ok(shape)
}

fn pair(v: &[i64]) -> std::result::Result<[usize; 2], String> {
    match v {
        &[a, b] if (1..=MAX_PAD).contains(&a) && (1..=MAX_PAD).contains(&b) => {
            Ok([a as usize, b as usize])
        }
        _ => Err(format!("{v:?} (two positive values for a 2-D operator)")),
    }
}

/// Convolution and pool padding (top, left, bottom, right) from `pads` or `auto_pad`.
fn padding(
    node: &Node,
    input: &[usize],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> std::result::Result<[usize; 4], String> {
    let auto = node
        .attribute("auto_pad")
        .map(|a| a.bytes.as_slice())
        .unwrap_or(b"NOTSET");
    match auto {
        b"NOTSET" => match node.attribute("pads").map(|a| a.ints.as_slice()) {
            None => Ok([0; 4]),
            Some(&[t, l, b, r]) if [t, l, b, r].iter().all(|p| (0..=MAX_PAD).contains(p)) => {
                Ok([t as usize, l as usize, b as usize, r as usize])
            }
            Some(p) => Err(format!("pads {p:?}")),
        },
        b"VALID" => Ok([0; 4]),
        b"SAME_UPPER" | b"SAME_LOWER" => {
            let &[_, _, h, w] = input else {
                return Err("auto_pad on a tensor that is not 4-D".into());
            };
            let total = |size: usize, k: usize, s: usize| (size.div_ceil(s) - 1) * s + k;
            let (th, tw) = (
                total(h, kernel[0], stride[0]).saturating_sub(h),
                total(w, kernel[1], stride[1]).saturating_sub(w),
            );
            let (small_h, small_w) = (th / 2, tw / 2);
            Ok(if auto == b"SAME_UPPER" {
                [small_h, small_w, th - small_h, tw - small_w]
            } else {
                [th - small_h, tw - small_w, small_h, small_w]
            })
        }
        other => Err(format!("auto_pad {:?}", String::from_utf8_lossy(other))),
    }
}

/// Nodes in an order where every input is defined before it is read (ONNX files are
/// normally ordered already).
fn ordered(nodes: Vec<Node>) -> std::result::Result<Vec<Node>, String> {
    let produced: std::collections::HashSet<String> = nodes
        .iter()
        .flat_map(|n| n.outputs.iter().cloned())
        .collect();
    let mut done: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut pending = nodes;
    let mut out = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let before = pending.len();
        let (ready, rest): (Vec<Node>, Vec<Node>) = pending.into_iter().partition(|n| {
            n.inputs
                .iter()
                .all(|i| i.is_empty() || !produced.contains(i) || done.contains(i))
        });
        for n in &ready {
            done.extend(n.outputs.iter().cloned());
        }
        out.extend(ready);
        pending = rest;
        if pending.len() == before {
            return Err("the graph has a cycle".into());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Protobuf encoding of the few ONNX messages the tests build.
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn bytes_field(field: u32, bytes: &[u8], out: &mut Vec<u8>) {
        varint(u64::from(field) << 3 | 2, out);
        varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }

    fn int_field(field: u32, v: i64, out: &mut Vec<u8>) {
        varint(u64::from(field) << 3, out);
        varint(v as u64, out);
    }

    fn value_info(name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        bytes_field(1, name.as_bytes(), &mut v);
        v
    }

    /// A model of one node: `op(x, pads)` with `pads` an int64 initializer.
    fn pad_model(pads: &[i64]) -> Vec<u8> {
        let mut tensor = Vec::new();
        int_field(1, pads.len() as i64, &mut tensor);
        int_field(2, 7, &mut tensor);
        bytes_field(8, b"pads", &mut tensor);
        let raw: Vec<u8> = pads.iter().flat_map(|p| p.to_le_bytes()).collect();
        bytes_field(9, &raw, &mut tensor);
        let mut node = Vec::new();
        bytes_field(1, b"x", &mut node);
        bytes_field(1, b"pads", &mut node);
        bytes_field(2, b"y", &mut node);
        bytes_field(4, b"Pad", &mut node);
        let mut graph = Vec::new();
        bytes_field(1, &node, &mut graph);
        bytes_field(5, &tensor, &mut graph);
        bytes_field(11, &value_info("x"), &mut graph);
        bytes_field(12, &value_info("y"), &mut graph);
        let mut model = Vec::new();
        bytes_field(7, &graph, &mut model);
        model
    }

    #[test]
    fn a_hand_built_model_runs() {
        let net = Net::load(
            "pad",
            &pad_model(&[0, 0, 1, 0, 0, 1, 0, 1]),
            &[&[1, 1, 1, 2]],
            &[12],
        )
        .unwrap();
        let y = net.run(&[&[1.0, 2.0]]).unwrap();
        assert_eq!(y, [vec![0., 0., 0., 1., 2., 0., 0., 0., 0., 0., 0., 0.]]);
        assert_eq!(net.matrix_products(), 0);
    }

    #[test]
    fn hostile_shapes_are_errors_not_panics() {
        for pads in [
            vec![0, 0, 0, 0, 0, 0, 0, i64::MAX],
            vec![0, 0, 1 << 15, 1 << 15, 0, 0, 1 << 15, 1 << 15],
            vec![-1, 0, 0, 0, 0, 0, 0, 0],
            vec![0, 0, 0],
        ] {
            let e = Net::load("pad", &pad_model(&pads), &[&[1, 1, 1, 2]], &[2]).unwrap_err();
            assert!(matches!(e, Error::BadModel { name: "pad", .. }), "{e}");
        }
        // Wrong output length, wrong input count.
        let model = pad_model(&[0; 8]);
        assert!(Net::load("pad", &model, &[&[1, 1, 1, 2]], &[3]).is_err());
        assert!(Net::load("pad", &model, &[], &[2]).is_err());
        let net = Net::load("pad", &model, &[&[1, 1, 1, 2]], &[2]).unwrap();
        assert!(matches!(net.run(&[&[1.0]]), Err(Error::Inference { .. })));
        assert!(matches!(net.run(&[]), Err(Error::Inference { .. })));
    }
}
