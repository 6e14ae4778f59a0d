//! Many runs of one model: streamed, in input order, in parallel.
//!
//! [`simulate_many`] yields one [`Run`] per [`Inputs`], in the order given, solving a chunk of
//! inputs at a time on all cores ([`crate::par`]); [`simulate_many_with`] lets each worker turn
//! its run into something small (a row of metrics, a count) so memory stays flat over millions
//! of runs. Results are the same bytes whatever the thread count: runs are independent.
//! The CSV sweep, `scenarios`, `population` validation and `validate` all run through here.

use crate::error::{Error, Result};
use crate::model::Model;
use crate::par::{OrderedMap, Pool};
use crate::regimen::Inputs;
use crate::run::{run, Run, RunOptions};
use std::convert::Infallible;

/// How many runs are solved together and on how many threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// Worker threads (0: the current rayon pool, one per core by default).
    pub jobs: usize,
    /// Runs solved per parallel chunk (memory holds one chunk of results).
    pub chunk: usize,
}

impl Default for Batch {
    /// Current pool, 128 runs per chunk (a [`Run`] keeps its dense solution: a chunk of them is
    /// a few megabytes for the default model).
    fn default() -> Self {
        Batch {
            jobs: 0,
            chunk: 128,
        }
    }
}

/// What a worker of [`simulate_many_with`] uses to solve: one model, one set of options.
#[derive(Debug, Clone, Copy)]
pub struct Runner<'a> {
    /// The model of every run.
    pub model: &'a Model,
    /// The options of every run (already validated).
    pub opts: &'a RunOptions,
}

impl Runner<'_> {
    /// [`run`] with this runner's model and options.
    pub fn run(&self, inputs: &Inputs) -> Result<Run> {
        run(self.model, inputs, self.opts)
    }
}

/// Simulate every input, yielding the runs in input order (a chunk at a time, in parallel on
/// the current rayon pool).
///
/// Errors: the options are checked once before anything is solved ([`Error::Options`]); each
/// run's own error is its item.
///
/// ```
/// use cartox::{simulate_many, Inputs, Model, RunOptions};
/// let model = Model::default_model();
/// let opts = RunOptions::for_model(&model);
/// let doses = [1e7, 1e8, 1e9];
/// let inputs = doses.iter().map(|&d| Inputs::builder(&model).dose(d).unwrap().build());
/// let peaks: Vec<f64> = simulate_many(&model, inputs, &opts)?
///     .map(|r| r.unwrap().summary.cart_cmax.unwrap())
///     .collect();
/// assert!(peaks[0] < peaks[1] && peaks[1] < peaks[2]);
/// # Ok::<(), cartox::Error>(())
/// ```
pub fn simulate_many<'a>(
    model: &'a Model,
    inputs: impl IntoIterator<Item = Inputs> + 'a,
    opts: &'a RunOptions,
) -> Result<impl Iterator<Item = Result<Run>> + 'a> {
    let items = inputs.into_iter().map(Ok::<Inputs, Infallible>);
    let it = simulate_many_with(model, items, opts, Batch::default(), |i, r| r.run(&i))?;
    Ok(it.map(|r| match r {
        Ok(x) => x,
        Err(never) => match never {},
    }))
}

/// The general form of [`simulate_many`]: `f(item, runner)` runs on a worker for every item
/// (it decides what to solve and what to keep), results in input order, `batch.chunk` items at
/// a time on `batch.jobs` threads. An `Err` item ends the stream with that error (see
/// [`crate::par::OrderedMap`]).
pub fn simulate_many_with<'a, T, U, E, F>(
    model: &'a Model,
    items: impl Iterator<Item = Result<T, E>> + 'a,
    opts: &'a RunOptions,
    batch: Batch,
    f: F,
) -> Result<impl Iterator<Item = Result<U, E>> + 'a>
where
    T: Send + 'a,
    U: Send + 'a,
    E: 'a,
    F: Fn(T, &Runner<'a>) -> U + Sync + 'a,
{
    opts.validate()?;
    let pool = Pool::new(batch.jobs).map_err(|message| Error::Options {
        option: "--jobs".to_string(),
        message,
    })?;
    let runner = Runner { model, opts };
    Ok(OrderedMap::new(items, pool, batch.chunk, move |t| {
        f(t, &runner)
    }))
}
