//! Just enough of NumPy's `.npy`/`.npz` formats to read the float arrays of the datasets.

/// A 2-D (or 1-D) array of f64, row-major.
#[derive(Debug, Clone)]
pub struct Array {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f64>,
}

impl Array {
    /// Row `i` of a 2-D array.
    pub fn row(&self, i: usize) -> &[f64] {
        let w = self.shape.get(1).copied().unwrap_or(1);
        &self.data[i * w..(i + 1) * w]
    }
}

/// Parses one `.npy` file holding little-endian `f8` or `f4` values in C order.
pub fn parse_npy(bytes: &[u8]) -> Result<Array, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not an .npy file".into());
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes(bytes[8..12].try_into().map_err(|_| "short header")?) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(bytes.get(start..start + hlen).ok_or("short header")?)
        .map_err(|e| e.to_string())?;
    let field = |key: &str| -> Result<&str, String> {
        let i = header.find(key).ok_or(format!("no {key} in {header}"))?;
        Ok(header[i + key.len()..].trim_start_matches([' ', ':']))
    };
    let descr = field("'descr'")?;
    let size = if descr.starts_with("'<f8'") {
        8
    } else if descr.starts_with("'<f4'") {
        4
    } else {
        return Err(format!("unsupported dtype in {header}"));
    };
    if field("'fortran_order'")?.starts_with("True") {
        return Err("fortran order not supported".into());
    }
    let shape_text = field("'shape'")?;
    let inner = &shape_text[1..shape_text.find(')').ok_or("bad shape")?];
    let shape: Vec<usize> = inner
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().map_err(|_| format!("bad shape {inner}")))
        .collect::<Result<_, _>>()?;
    let n: usize = shape.iter().product();
    let body = &bytes[start + hlen..];
    if body.len() < n * size {
        return Err(format!("truncated: {} bytes for {n} values", body.len()));
    }
    let data = body
        .chunks_exact(size)
        .take(n)
        .map(|c| match size {
            8 => f64::from_le_bytes(c.try_into().expect("8 bytes")),
            _ => f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64,
        })
        .collect();
    Ok(Array { shape, data })
}

/// The members of an `.npz` (a zip of `.npy` files, stored or deflated): `(name, bytes)`.
pub fn npz_members(zip: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut p = 0usize;
    let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32_at = |i: usize| u32::from_le_bytes(zip[i..i + 4].try_into().expect("4 bytes")) as usize;
    while p + 30 <= zip.len() && zip[p..p + 4] == [0x50, 0x4b, 0x03, 0x04] {
        let method = u16_at(p + 8);
        let csize = u32_at(p + 18);
        let name_len = u16_at(p + 26);
        let extra_len = u16_at(p + 28);
        let name = String::from_utf8_lossy(&zip[p + 30..p + 30 + name_len]).into_owned();
        let data_start = p + 30 + name_len + extra_len;
        let raw = zip
            .get(data_start..data_start + csize)
            .ok_or(format!("{name}: truncated"))?;
        let bytes = match method {
            0 => raw.to_vec(),
            8 => miniz_oxide::inflate::decompress_to_vec(raw)
                .map_err(|e| format!("{name}: inflate: {e:?}"))?,
            m => return Err(format!("{name}: unsupported zip method {m}")),
        };
        out.push((name, bytes));
        p = data_start + csize;
    }
    if out.is_empty() {
        return Err("no members (not an .npz?)".into());
    }
    Ok(out)
}

/// The float array stored as `name.npy` in an `.npz`.
pub fn npz_array(zip: &[u8], name: &str) -> Result<Array, String> {
    let file = format!("{name}.npy");
    let (_, bytes) = npz_members(zip)?
        .into_iter()
        .find(|(n, _)| *n == file)
        .ok_or(format!("no {file} in the archive"))?;
    parse_npy(&bytes)
}
