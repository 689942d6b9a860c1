//! Where tract spends its time in an ONNX model, by operator, in one run: first the graph as
//! tract optimises the file, then as livecheck loads it (`Model::load`: its PReLU and max pool
//! in place). The tool behind the load-time replacements (benches/README.md).
//!
//! `cargo run --release -p livecheck --example profile_ops -- MODEL.onnx 1,3,64,64 [ITERS]`
//! (the input shape, comma separated; the input is filled with 0.5).

use std::collections::BTreeMap;
use std::time::Instant;

use livecheck::models::Model;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::anyhow;
use tract_onnx::tract_core::plan::{eval, SimplePlan, SimpleState};

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, shape, rest @ ..] = args.as_slice() else {
        eprintln!("usage: profile_ops MODEL.onnx SHAPE(e.g. 1,3,64,64) [ITERS]");
        std::process::exit(2);
    };
    let shape: Vec<usize> = shape
        .split(',')
        .map(|d| d.parse())
        .collect::<Result<_, _>>()?;
    let iters: usize = rest.first().map_or(Ok(200), |n| n.parse())?;
    let tracts = tract_onnx::onnx()
        .model_for_path(path)?
        .with_input_fact(0, f32::fact(&shape).into())?
        .into_optimized()?;
    let bytes = std::fs::read(path)?;
    let output_lens: Vec<usize> = tracts
        .outputs
        .iter()
        .map(|&o| {
            let fact = tracts.outlet_fact(o)?;
            let dims = fact
                .shape
                .as_concrete()
                .ok_or_else(|| anyhow!("symbolic output"))?;
            Ok(dims.iter().product())
        })
        .collect::<TractResult<_>>()?;
    let ours = Model::load("profiled", &bytes, &[&shape], &output_lens)?;
    println!("as tract optimises the file:");
    profile(tracts, &shape, iters)?;
    println!("\nas livecheck loads it:");
    profile(ours.graph().clone(), &shape, iters)
}

/// Runs `model` `iters` times on a constant input and prints the time per operator.
fn profile(model: TypedModel, shape: &[usize], iters: usize) -> TractResult<()> {
    let plan = SimplePlan::new(model)?;
    let mut state = SimpleState::new(&plan)?;
    let input: Tensor = tract_ndarray::ArrayD::<f32>::from_elem(shape, 0.5).into();
    // Operator name -> (ms per run, nodes).
    let mut per_op: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let start = Instant::now();
    for _ in 0..iters {
        state.run_plan_with_eval(
            tvec!(input.clone().into_tvalue()),
            |ctx, st, node, inputs| {
                let t = Instant::now();
                let out = eval(ctx, st, node, inputs);
                let entry = per_op.entry(node.op().name().to_string()).or_default();
                entry.0 += t.elapsed().as_secs_f64() * 1000.0 / iters as f64;
                entry.1 += 1;
                out
            },
        )?;
    }
    let total = start.elapsed().as_secs_f64() * 1000.0 / iters as f64;
    println!("{total:.3} ms per run ({iters} runs, one thread)");
    let mut rows: Vec<_> = per_op.into_iter().collect();
    rows.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
    for (op, (ms, nodes)) in rows {
        println!(
            "{op:32} {ms:8.3} ms {:5.1} %  {} nodes",
            100.0 * ms / total,
            nodes / iters
        );
    }
    Ok(())
}
