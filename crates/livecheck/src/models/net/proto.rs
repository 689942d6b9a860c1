//! The part of ONNX's protobuf encoding the face models use, read straight from the wire
//! format: the graph's nodes (operator, inputs, outputs, attributes), its initializers
//! (float32, float16 and int64 tensors) and the names of its inputs and outputs.
//!
//! Field numbers are those of `onnx.proto` (ONNX IR version 3 and later). Anything else in the
//! file (metadata, value infos, doc strings) is skipped.

/// A decoded tensor initializer or tensor attribute.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tensor {
    pub name: String,
    pub dims: Vec<usize>,
    pub data: Data,
}

/// A tensor's values.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Data {
    /// float32, or float16 widened to float32.
    F32(Vec<f32>),
    /// int64 (shapes, pads).
    I64(Vec<i64>),
}

impl Data {
    /// The values as float32 (int64 ones converted).
    pub fn into_f32(self) -> Vec<f32> {
        match self {
            Data::F32(v) => v,
            Data::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
}

/// One attribute of a node.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Attribute {
    pub name: String,
    pub int: Option<i64>,
    pub bytes: Vec<u8>,
    pub ints: Vec<i64>,
}

/// One node of the graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Node {
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attributes: Vec<Attribute>,
}

impl Node {
    /// The attribute called `name`, if the node has one.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// The graph of an ONNX model.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Graph {
    pub nodes: Vec<Node>,
    pub initializers: Vec<Tensor>,
    /// Graph inputs that are not initializers, in order.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// Decodes an ONNX `ModelProto`.
pub(super) fn parse_model(bytes: &[u8]) -> Result<Graph, String> {
    let mut graph = None;
    for field in Fields::new(bytes) {
        if let (7, Value::Bytes(b)) = field? {
            graph = Some(parse_graph(b)?);
        }
    }
    let mut graph = graph.ok_or("no graph in the file (not an ONNX model?)")?;
    let constant: std::collections::HashSet<&str> =
        graph.initializers.iter().map(|t| t.name.as_str()).collect();
    let inputs = std::mem::take(&mut graph.inputs);
    graph.inputs = inputs
        .into_iter()
        .filter(|i| !constant.contains(i.as_str()))
        .collect();
    Ok(graph)
}

fn parse_graph(bytes: &[u8]) -> Result<Graph, String> {
    let mut graph = Graph::default();
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(b)) => graph.nodes.push(parse_node(b)?),
            (5, Value::Bytes(b)) => graph.initializers.push(parse_tensor(b)?),
            (11, Value::Bytes(b)) => graph.inputs.push(value_info_name(b)?),
            (12, Value::Bytes(b)) => graph.outputs.push(value_info_name(b)?),
            _ => {}
        }
    }
    Ok(graph)
}

fn value_info_name(bytes: &[u8]) -> Result<String, String> {
    for field in Fields::new(bytes) {
        if let (1, Value::Bytes(b)) = field? {
            return string(b);
        }
    }
    Err("a graph input or output has no name".into())
}

fn parse_node(bytes: &[u8]) -> Result<Node, String> {
    let mut node = Node::default();
    let mut domain = String::new();
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(b)) => node.inputs.push(string(b)?),
            (2, Value::Bytes(b)) => node.outputs.push(string(b)?),
            (4, Value::Bytes(b)) => node.op_type = string(b)?,
            (5, Value::Bytes(b)) => node.attributes.push(parse_attribute(b)?),
            (7, Value::Bytes(b)) => domain = string(b)?,
            _ => {}
        }
    }
    if !(domain.is_empty() || domain == "ai.onnx") {
        return Err(format!("operator {} of domain {domain:?}", node.op_type));
    }
    Ok(node)
}

fn parse_attribute(bytes: &[u8]) -> Result<Attribute, String> {
    let mut attribute = Attribute::default();
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Bytes(b)) => attribute.name = string(b)?,
            (3, Value::Varint(v)) => attribute.int = Some(v as i64),
            (4, Value::Bytes(b)) => attribute.bytes = b.to_vec(),
            (8, Value::Varint(v)) => attribute.ints.push(v as i64),
            (8, Value::Bytes(b)) => attribute.ints.extend(packed_varints(b)?),
            _ => {}
        }
    }
    Ok(attribute)
}

const FLOAT: u64 = 1;
const INT32: u64 = 6;
const INT64: u64 = 7;
const FLOAT16: u64 = 10;

fn parse_tensor(bytes: &[u8]) -> Result<Tensor, String> {
    let mut dims = Vec::new();
    let mut data_type = 0;
    let mut name = String::new();
    let mut raw: &[u8] = &[];
    let (mut floats, mut int32s, mut int64s) = (Vec::new(), Vec::new(), Vec::new());
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Varint(v)) => dims.push(v as i64),
            (1, Value::Bytes(b)) => dims.extend(packed_varints(b)?),
            (2, Value::Varint(v)) => data_type = v,
            (4, Value::Fixed32(v)) => floats.push(f32::from_bits(v)),
            (4, Value::Bytes(b)) => {
                floats.extend(le_words(b, 4)?.map(|w| f32::from_bits(w as u32)))
            }
            (5, Value::Varint(v)) => int32s.push(v as i64),
            (5, Value::Bytes(b)) => int32s.extend(packed_varints(b)?),
            (7, Value::Varint(v)) => int64s.push(v as i64),
            (7, Value::Bytes(b)) => int64s.extend(packed_varints(b)?),
            (8, Value::Bytes(b)) => name = string(b)?,
            (9, Value::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let dims: Vec<usize> = dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("tensor {name:?} has dimension {d}")))
        .collect::<Result<_, _>>()?;
    let len = dims
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("tensor {name:?} is too large"))?;
    let data = match data_type {
        FLOAT if !raw.is_empty() => Data::F32(le_words(raw, 4)?.map(|w| f32::from_bits(w as u32)).collect()),
        FLOAT => Data::F32(floats),
        FLOAT16 if !raw.is_empty() => Data::F32(le_words(raw, 2)?.map(|w| f16_to_f32(w as u16)).collect()),
        FLOAT16 => Data::F32(int32s.iter().map(|&w| f16_to_f32(w as u16)).collect()),
        INT64 if !raw.is_empty() => Data::I64(le_words(raw, 8)?.map(|w| w as i64).collect()),
        INT64 => Data::I64(int64s),
        INT32 if !raw.is_empty() => Data::I64(le_words(raw, 4)?.map(|w| w as u32 as i32 as i64).collect()),
        INT32 => Data::I64(int32s.iter().map(|&v| v as i32 as i64).collect()),
        other => return Err(format!("tensor {name:?} has ONNX data type {other} (float32, float16, int32 and int64 are read)")),
    };
    let found = match &data {
        Data::F32(v) => v.len(),
        Data::I64(v) => v.len(),
    };
    if found != len {
        return Err(format!(
            "tensor {name:?} has {found} values for shape {dims:?}"
        ));
    }
    Ok(Tensor { name, dims, data })
}

/// IEEE 754 half precision to single precision (exact: every f16 is an f32).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exponent = u32::from((h >> 10) & 0x1f);
    let mantissa = u32::from(h & 0x3ff);
    let bits = match (exponent, mantissa) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: m · 2^-24, normalised for f32.
            let shift = m.leading_zeros() - 21;
            let m = (m << shift) & 0x3ff;
            sign | ((113 - shift) << 23) | (m << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

fn string(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a name is not UTF-8".to_string())
}

/// Little-endian words of `size` bytes.
fn le_words(bytes: &[u8], size: usize) -> Result<impl Iterator<Item = u64> + '_, String> {
    if !bytes.len().is_multiple_of(size) {
        return Err(format!(
            "{} bytes of tensor data is not a whole number of {size}-byte values",
            bytes.len()
        ));
    }
    Ok(bytes.chunks_exact(size).map(|w| {
        let mut b = [0u8; 8];
        b[..w.len()].copy_from_slice(w);
        u64::from_le_bytes(b)
    }))
}

fn packed_varints(mut bytes: &[u8]) -> Result<Vec<i64>, String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        out.push(varint(&mut bytes)? as i64);
    }
    Ok(out)
}

fn varint(bytes: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or("truncated varint")?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes".into())
}

/// A field's value on the wire.
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// The fields of one message, in order.
struct Fields<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Fields {
            rest: bytes,
            failed: false,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err("truncated field".into());
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn field(&mut self) -> Result<(u32, Value<'a>), String> {
        let key = varint(&mut self.rest)?;
        let number = u32::try_from(key >> 3).map_err(|_| "field number out of range")?;
        let value = match key & 7 {
            0 => Value::Varint(varint(&mut self.rest)?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len =
                    usize::try_from(varint(&mut self.rest)?).map_err(|_| "length out of range")?;
                Value::Bytes(self.take(len)?)
            }
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            other => return Err(format!("wire type {other} (not a protobuf file?)")),
        };
        Ok((number, value))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let field = self.field();
        self.failed = field.is_err();
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_widens_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_model(&[]).is_err());
        assert!(parse_model(&[0x3a, 0xff]).is_err());
        assert!(parse_model(&[0xff; 16]).is_err());
        assert!(parse_model(b"not a model at all").is_err());
    }
}
