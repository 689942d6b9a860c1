//! livecheck's runtime allocates nothing per run but the outputs it returns and the packing
//! buffer of each matrix product (`matrixmultiply` allocates one per call): a counting global
//! allocator watches later runs of each face model (the first one sizes the buffers).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use livecheck::models::{files, Net};

/// The system allocator, counting allocations while `COUNTING` is set.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_run_allocates_only_its_outputs() {
    let Some(dir) = common::models_dir() else {
        return;
    };
    type Case<'a> = (&'a str, &'a [usize], &'a [usize]);
    let cases: [Case; 4] = [
        (files::DETECTOR, &[1, 3, 128, 128], &[896 * 16, 896]),
        (files::MESH, &[1, 3, 192, 192], &[1404, 1]),
        (files::IRIS, &[1, 3, 64, 64], &[213, 15]),
        (files::EMBEDDER, &[1, 3, 112, 112], &[192]),
    ];
    for (file, shape, outs) in cases {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let net = Net::load("test", &bytes, &[shape], outs).unwrap();
        let x: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|i| (i % 255) as f32 / 127.5 - 1.0)
            .collect();
        let first = net.run(&[&x]).unwrap();
        ALLOCATIONS.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        let second = net.run(&[&x]).unwrap();
        let third = net.run(&[&x]).unwrap();
        COUNTING.store(false, Ordering::Relaxed);
        // Per run: the outer Vec, one Vec per output, one packing buffer per product.
        let per_run = 1 + outs.len() + net.matrix_products();
        assert_eq!(
            ALLOCATIONS.load(Ordering::Relaxed),
            2 * per_run,
            "{file}: allocations in two runs ({} matrix products each)",
            net.matrix_products()
        );
        assert_eq!(first, second, "{file}");
        assert_eq!(first, third, "{file}");
    }
}
