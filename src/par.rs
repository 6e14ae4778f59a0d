//! The crate's one use of threads: an ordered, chunked, parallel map over a stream.
//!
//! [`OrderedMap`] reads up to `chunk` items from an iterator on the calling thread, maps them in
//! parallel (rayon), then yields the results in input order before reading the next chunk: memory
//! is bounded by one chunk of results, and the output does not depend on the number of threads.
//! Everything else in the crate that runs work in parallel goes through here. Without the
//! `parallel` cargo feature (the wasm32 core build) the map runs on the calling thread, in the
//! same order, with the same results.

#[cfg(feature = "parallel")]
use rayon::prelude::*;

/// Where the parallel work runs: rayon's current pool (`jobs` = 0) or a pool of its own.
#[cfg(feature = "parallel")]
pub struct Pool(Option<rayon::ThreadPool>);

/// Where the work runs: the calling thread (built without the `parallel` feature).
#[cfg(not(feature = "parallel"))]
pub struct Pool(());

#[cfg(not(feature = "parallel"))]
impl Pool {
    /// Sequential: `jobs` is accepted and ignored.
    pub fn new(_jobs: usize) -> Result<Pool, String> {
        Ok(Pool(()))
    }

    /// Run `f` (on the calling thread).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        f()
    }

    /// `f` over `items`, in order, on the calling thread.
    pub fn map<T: Send, U: Send>(&self, items: Vec<T>, f: &(impl Fn(T) -> U + Sync)) -> Vec<U> {
        items.into_iter().map(f).collect()
    }
}

#[cfg(feature = "parallel")]
impl Pool {
    /// `jobs` worker threads; 0 uses the current rayon pool (one thread per core unless the caller
    /// runs inside another pool).
    pub fn new(jobs: usize) -> Result<Pool, String> {
        if jobs == 0 {
            return Ok(Pool(None));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map(|p| Pool(Some(p)))
            .map_err(|e| format!("cannot start the worker threads: {e}"))
    }

    /// Run `f` with this pool as the current one (nested parallel work uses it).
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.0 {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    /// `f` over `items` in parallel, results in the order of `items`.
    pub fn map<T: Send, U: Send>(&self, items: Vec<T>, f: &(impl Fn(T) -> U + Sync)) -> Vec<U> {
        self.install(|| items.into_par_iter().map(f).collect())
    }
}

/// See the module documentation. Items are `Result`s: an `Err` while a chunk is being read ends
/// the stream with that error (the unfinished chunk is dropped, nothing after it is read).
pub struct OrderedMap<I, F, U> {
    items: I,
    f: F,
    pool: Pool,
    chunk: usize,
    ready: std::vec::IntoIter<U>,
    done: bool,
}

impl<I, F, U> OrderedMap<I, F, U> {
    /// Map `f` over `items`, `chunk` (at least 1) at a time, on `pool`.
    pub fn new(items: I, pool: Pool, chunk: usize, f: F) -> Self {
        OrderedMap {
            items,
            f,
            pool,
            chunk: chunk.max(1),
            ready: Vec::new().into_iter(),
            done: false,
        }
    }
}

impl<T, E, U, I, F> Iterator for OrderedMap<I, F, U>
where
    I: Iterator<Item = Result<T, E>>,
    T: Send,
    U: Send,
    F: Fn(T) -> U + Sync,
{
    type Item = Result<U, E>;

    fn next(&mut self) -> Option<Result<U, E>> {
        if let Some(u) = self.ready.next() {
            return Some(Ok(u));
        }
        if self.done {
            return None;
        }
        let mut chunk = Vec::with_capacity(self.chunk);
        while chunk.len() < self.chunk {
            match self.items.next() {
                Some(Ok(t)) => chunk.push(t),
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                    break;
                }
            }
        }
        if chunk.is_empty() {
            return None;
        }
        self.ready = self.pool.map(chunk, &self.f).into_iter();
        self.ready.next().map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Results come in input order whatever the chunk size and thread count; a read error ends
    /// the stream after the chunks before it.
    #[test]
    fn ordered_whatever_chunk_and_threads() {
        let want: Vec<u64> = (0..1000u64).map(|i| i * i).collect();
        for jobs in [0, 1, 3] {
            for chunk in [1, 7, 64, 5000] {
                let items = (0..1000u64).map(Ok::<u64, ()>);
                let got: Vec<u64> =
                    OrderedMap::new(items, Pool::new(jobs).unwrap(), chunk, |i| i * i)
                        .map(Result::unwrap)
                        .collect();
                assert_eq!(got, want, "jobs {jobs}, chunk {chunk}");
            }
        }
        let items = (0..10u64).map(|i| if i == 5 { Err(i) } else { Ok(i) });
        let got: Vec<Result<u64, u64>> =
            OrderedMap::new(items, Pool::new(2).unwrap(), 2, |i| i).collect();
        assert_eq!(got, vec![Ok(0), Ok(1), Ok(2), Ok(3), Err(5)]);
    }
}
