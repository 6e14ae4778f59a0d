//! The model-file evaluator against hand-written Rust, for instruction counts (callgrind counts
//! are repeatable on a loaded machine, wall-clock times are not): `N` 28-day kimmel2021 solves
//! with the model file as machine code (`jit`), interpreted (`interpreted`), or the same
//! equations hand-written in Rust on ode_solvers (`hand`).
//!
//! ```text
//! cargo bench --bench evaluator_count --no-run
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/evaluator_count-* jit 200
//! ```
//! The instructions of one solve are the difference between two `N` divided by their difference
//! (which removes start-up and model compilation).

#[path = "common/kimmel_direct.rs"]
mod kimmel_direct;

use cartox::model::Model;
use cartox::regimen::{Inputs, Scenario};
use cartox::run::RunOptions;
use std::hint::black_box;

/// The allocator of the `cartox` binary (src/main.rs), as in the other benches.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let variant = args.first().map(String::as_str).unwrap_or("jit");
    let n: usize = args.get(1).map_or(100, |s| s.parse().expect("N: a count"));
    let mut model = Model::resolve("kimmel2021").expect("kimmel2021 is bundled");
    let sc = Scenario::prepare(&model, &Inputs::default()).unwrap();
    let opts = RunOptions::default();
    let mut last = 0.0;
    match variant {
        "jit" | "interpreted" => {
            model.set_native(variant == "jit").unwrap();
            for _ in 0..n {
                let sol =
                    cartox::solve::solve(&model, black_box(&sc), 28.0, &opts.solver, None).unwrap();
                last = sol.stats.accepted_steps as f64;
            }
        }
        "hand" => {
            for _ in 0..n {
                let dense = kimmel_direct::direct_kimmel(black_box(28.0));
                last = dense.evaluate(27.0).unwrap()[1];
            }
        }
        other => panic!("variant `{other}`: jit, interpreted or hand"),
    }
    println!("{variant} x{n}: {last}");
}
