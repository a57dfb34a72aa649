//! Random sampling of the keyspace for the demoter and the evictor: databases are
//! drawn in proportion to their number of keys, then entries at random within one.

use crate::keyspace::{Db, Entry, Keyspace};
use crossbeam_epoch::Guard;
use rand::Rng;
use std::sync::Arc;

/// The databases as numbered when the sampler was made, with their sizes.
pub(super) struct Sampler {
    dbs: Arc<Box<[Arc<Db>]>>,
    sizes: Vec<usize>,
    total: usize,
}

impl Sampler {
    pub(super) fn new(keyspace: &Keyspace) -> Sampler {
        let dbs = keyspace.all_dbs();
        let sizes: Vec<usize> = dbs.iter().map(|d| d.len()).collect();
        let total = sizes.iter().sum();
        Sampler { dbs, sizes, total }
    }

    /// Keys over every database when the sampler was made.
    pub(super) fn total(&self) -> usize {
        self.total
    }

    /// Draws up to `n` random entries (expired ones included) from one database
    /// drawn by size, passing each to `visit`; returns that database. None when the
    /// keyspace is empty.
    pub(super) fn draw<'g>(
        &self,
        rng: &mut impl Rng,
        n: usize,
        guard: &'g Guard,
        mut visit: impl FnMut(&'g [u8], &'g Entry),
    ) -> Option<&Arc<Db>> {
        if self.total == 0 {
            return None;
        }
        let mut pick = rng.gen_range(0..self.total);
        let i = self
            .sizes
            .iter()
            .position(|&size| {
                let here = pick < size;
                pick = pick.saturating_sub(size);
                here
            })
            .unwrap_or(self.dbs.len() - 1);
        let db = &self.dbs[i];
        for _ in 0..n {
            let Some((key, entry)) = db.random_entry(rng, guard) else {
                break;
            };
            visit(key, entry);
        }
        Some(db)
    }
}
