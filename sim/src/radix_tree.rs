//! `include/linux/radix-tree.h`, `lib/radix-tree.c` (4.0): the radix tree brd v4.0 and v6.1
//! index their pages with (facts §1.4).
//!
//! Items are kept in order; interior nodes are counted exactly as a 64-way tree of the needed
//! height, because *when* a node must be allocated is what matters: `radix_tree_insert()` takes
//! nodes from the task's preload pool when the root's GFP does not block and the task is not in
//! interrupt context, else it allocates with the root's GFP (and may fail: `-ENOMEM`).
//! `radix_tree_preload()` fills the pool up to `RADIX_TREE_PRELOAD_SIZE`, allocating (and so
//! calling `might_sleep()`) only if it is not already full, and returns with preemption disabled.
//!
//! Lookups are lock-free under RCU; reads and writes of the slots go through a loom ghost so
//! loom explores their orders against the writers.

use crate::defs::loc::Loc;
use crate::model::booklock::{BookGuard, BookLock};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use crate::errno::Errno;
use crate::gfp::{gfpflags_allow_blocking, Gfp};
use crate::mm::slab::{node_alloc_at, RADIX_TREE_NODE};
use crate::model::backend::Ghost;
use crate::model::context::{preempt_off, preempt_on};
use crate::model::current;
use crate::model::task::Site;
use crate::model::trace::Cat;
use crate::preempt::in_interrupt;

/// `RADIX_TREE_MAP_SHIFT`: 64 slots per node.
pub const RADIX_TREE_MAP_SHIFT: u32 = 6;
/// `RADIX_TREE_PRELOAD_SIZE` for 64-bit indices in 4.0: `RADIX_TREE_MAX_PATH * 2 - 1` = 21.
pub const RADIX_TREE_PRELOAD_SIZE: u32 = 21;

/// A multiply-rotate hash for the node keys (small integers, no adversary): SipHash costs more
/// than the lookups it serves.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    fn write_u32(&mut self, x: u32) {
        self.write_u64(x as u64);
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Interior-node accounting shared with the xarray: nodes keyed by (level, index prefix) with
/// the number of items below them.
#[derive(Debug, Default)]
pub(crate) struct Nodes {
    count: HashMap<(u32, u64), u64, BuildHasherDefault<KeyHasher>>,
    height: u32,
}

impl Nodes {
    fn height_for(index: u64) -> u32 {
        let mut h = 1;
        while h < 11 && (index >> (RADIX_TREE_MAP_SHIFT * h)) != 0 {
            h += 1;
        }
        h
    }

    /// Nodes an insert of `index` would add, given `items` present: the missing nodes on its
    /// path, plus, when the tree must grow taller, the new top nodes above the existing items.
    pub(crate) fn needed(&self, index: u64, items: u64) -> u32 {
        let h = self.height.max(Self::height_for(index));
        let mut n = 0;
        for level in 1..=h {
            let key = (level, index >> (RADIX_TREE_MAP_SHIFT * level));
            if !self.count.contains_key(&key) {
                n += 1;
            }
            if items > 0 && level > self.height && key.1 != 0 {
                n += 1;
            }
        }
        n
    }

    pub(crate) fn insert(&mut self, index: u64, items: u64) {
        let h = self.height.max(Self::height_for(index));
        if items > 0 {
            for level in self.height + 1..=h {
                *self.count.entry((level, 0)).or_default() += items;
            }
        }
        self.height = h;
        for level in 1..=h {
            *self.count.entry((level, index >> (RADIX_TREE_MAP_SHIFT * level))).or_default() += 1;
        }
    }

    pub(crate) fn remove(&mut self, index: u64) {
        for level in 1..=self.height {
            let key = (level, index >> (RADIX_TREE_MAP_SHIFT * level));
            if let Some(c) = self.count.get_mut(&key) {
                *c -= 1;
                if *c == 0 {
                    self.count.remove(&key);
                }
            }
        }
        if self.count.is_empty() {
            self.height = 0;
        }
        // `radix_tree_shrink()` / `xas_shrink()`: while the top node's only child is in slot 0
        // (every item is below that child), the top node is freed and the tree loses a level.
        // Without this a tree that once grew kept its height, and a later insert needed fewer
        // nodes than the kernel allocates.
        while self.height > 1 {
            let top = self.count.get(&(self.height, 0)).copied().unwrap_or(0);
            let slot0 = self.count.get(&(self.height - 1, 0)).copied().unwrap_or(0);
            if top != slot0 {
                break;
            }
            self.count.remove(&(self.height, 0));
            self.height -= 1;
        }
    }

    /// Interior nodes in the tree.
    pub(crate) fn len(&self) -> usize {
        self.count.len()
    }
}

/// The items, in 64-slot leaves (a radix tree's bottom level) keyed by `index >> 6`: the first
/// [`DENSE_LEAVES`] keys (indices below 2^22, a 16 GiB device's pages) in a table indexed
/// directly, like the tree's upper levels would, the rest in an ordered map. A lookup is then an
/// array index or two, not a search: brd makes two per 4 KiB write. Shared with the xarray.
pub(crate) struct Items<T> {
    dense: Vec<Option<Box<Leaf<T>>>>,
    sparse: BTreeMap<u64, Box<Leaf<T>>>,
    pub(crate) len: usize,
}

struct Leaf<T> {
    used: u32,
    slots: [Option<T>; LEAF as usize],
}

/// Slots per leaf.
const LEAF: u64 = 1 << RADIX_TREE_MAP_SHIFT;
/// Leaf keys kept in the direct table (it grows only to the highest key used).
const DENSE_LEAVES: u64 = 1 << 16;

impl<T: Clone> Items<T> {
    pub(crate) fn new() -> Self {
        Items { dense: Vec::new(), sparse: BTreeMap::new(), len: 0 }
    }

    fn leaf(&self, key: u64) -> Option<&Leaf<T>> {
        if key < DENSE_LEAVES {
            self.dense.get(key as usize)?.as_deref()
        } else {
            self.sparse.get(&key).map(|l| &**l)
        }
    }

    fn leaf_mut(&mut self, key: u64) -> Option<&mut Leaf<T>> {
        if key < DENSE_LEAVES {
            self.dense.get_mut(key as usize)?.as_deref_mut()
        } else {
            self.sparse.get_mut(&key).map(|l| &mut **l)
        }
    }

    pub(crate) fn get(&self, index: u64) -> Option<&T> {
        self.leaf(index / LEAF)?.slots[(index % LEAF) as usize].as_ref()
    }

    pub(crate) fn contains_key(&self, index: u64) -> bool {
        self.get(index).is_some()
    }

    /// Stores `item` at `index`; the item it replaces, if any.
    pub(crate) fn insert(&mut self, index: u64, item: T) -> Option<T> {
        let key = index / LEAF;
        let new = || Box::new(Leaf { used: 0, slots: std::array::from_fn(|_| None) });
        let leaf = if key < DENSE_LEAVES {
            if self.dense.len() <= key as usize {
                self.dense.resize_with(key as usize + 1, || None);
            }
            &mut **self.dense[key as usize].get_or_insert_with(new)
        } else {
            self.sparse.entry(key).or_insert_with(new)
        };
        let old = leaf.slots[(index % LEAF) as usize].replace(item);
        if old.is_none() {
            leaf.used += 1;
            self.len += 1;
        }
        old
    }

    pub(crate) fn remove(&mut self, index: u64) -> Option<T> {
        let key = index / LEAF;
        let leaf = self.leaf_mut(key)?;
        let item = leaf.slots[(index % LEAF) as usize].take()?;
        leaf.used -= 1;
        if leaf.used == 0 {
            if key < DENSE_LEAVES {
                self.dense[key as usize] = None;
            } else {
                self.sparse.remove(&key);
            }
        }
        self.len -= 1;
        Some(item)
    }

    /// Up to `max` items with index >= `first`, in index order.
    pub(crate) fn range(&self, first: u64, max: usize) -> Vec<(u64, T)> {
        let start = first / LEAF;
        let dense = self
            .dense
            .iter()
            .enumerate()
            .skip(start.min(DENSE_LEAVES) as usize)
            .filter_map(|(k, l)| Some((k as u64, l.as_deref()?)));
        let sparse = self.sparse.range(start.max(DENSE_LEAVES)..).map(|(&k, l)| (k, &**l));
        let mut out = Vec::new();
        for (key, leaf) in dense.chain(sparse) {
            let from = if key == start { (first % LEAF) as usize } else { 0 };
            for (i, slot) in leaf.slots.iter().enumerate().skip(from) {
                if out.len() == max {
                    return out;
                }
                if let Some(item) = slot {
                    out.push((key * LEAF + i as u64, item.clone()));
                }
            }
        }
        out
    }
}

struct Inner<T> {
    items: Items<T>,
    nodes: Nodes,
}

/// `struct radix_tree_root` with its GFP mask (`INIT_RADIX_TREE(root, gfp)`).
pub struct RadixTreeRoot<T> {
    gfp: Gfp,
    inner: BookLock<Inner<T>>,
    ghost: Ghost,
}

impl<T: Clone> RadixTreeRoot<T> {
    /// `INIT_RADIX_TREE(root, gfp)`. brd uses `GFP_ATOMIC`, so its inserts draw on the preload
    /// pool.
    pub fn new(gfp: Gfp) -> Self {
        RadixTreeRoot {
            gfp,
            inner: BookLock::new(Inner { items: Items::new(), nodes: Nodes::default() }),
            ghost: Ghost::new(),
        }
    }

    #[inline]
    fn inner(&self) -> BookGuard<'_, Inner<T>> {
        self.inner.lock()
    }

    /// `radix_tree_lookup(root, index)`.
    ///
    /// # Context
    /// Any; callers use RCU or the writers' lock.
    pub fn lookup(&self, index: u64) -> Option<T> {
        self.ghost.read();
        self.inner().items.get(index).cloned()
    }

    /// `radix_tree_lookup_slot()` + `radix_tree_deref_slot()`: the item, read with
    /// `rcu_dereference()` — PROVE_RCU reports a caller outside `rcu_read_lock()`. (Plain
    /// `radix_tree_lookup()` uses `rcu_dereference_raw()` and checks nothing, as in the kernel.)
    #[track_caller]
    pub fn deref_slot(&self, index: u64) -> Option<T> {
        let at = Loc::caller();
        let t = current();
        if t.rcu.depth() == 0 {
            crate::rcu_pointer::suspicious(&t, at, "suspicious rcu_dereference_check() usage");
        }
        self.lookup(index)
    }

    /// `radix_tree_deref_slot_protected(slot, treelock)`: the update side's read, with
    /// `rcu_dereference_protected(.., lockdep_is_held(treelock))`.
    #[track_caller]
    pub fn deref_slot_protected(
        &self,
        index: u64,
        treelock: &dyn crate::locking::LockdepIsHeld,
    ) -> Option<T> {
        let at = Loc::caller();
        if !crate::locking::lockdep_is_held(treelock) {
            let t = current();
            crate::rcu_pointer::suspicious(&t, at, "suspicious rcu_dereference_protected() usage");
        }
        self.lookup(index)
    }

    /// `radix_tree_insert(root, index, item)`: `-EEXIST` if the slot is occupied, `-ENOMEM` if
    /// a node could not be allocated.
    ///
    /// # Context
    /// Writers serialise (brd: `brd_lock`). Node allocation as described in the module docs.
    #[track_caller]
    pub fn insert(&self, index: u64, item: T) -> Result<(), Errno> {
        self.insert_at(Loc::caller(), index, item)
    }

    /// [`RadixTreeRoot::insert`] called at `at` (a foreign caller's location).
    pub fn insert_at(&self, at: Loc, index: u64, item: T) -> Result<(), Errno> {
        self.ghost.write();
        let need = {
            let g = self.inner();
            if g.items.contains_key(index) {
                return Err(Errno::EEXIST);
            }
            g.nodes.needed(index, g.items.len as u64)
        };
        if need > 0 {
            self.node_alloc(need, at)?;
        }
        let mut g = self.inner();
        let items = g.items.len as u64;
        g.nodes.insert(index, items);
        g.items.insert(index, item);
        Ok(())
    }

    /// `radix_tree_node_alloc()` for `n` nodes.
    fn node_alloc(&self, n: u32, at: Loc) -> Result<(), Errno> {
        let t = current();
        for _ in 0..n {
            let from_pool = !gfpflags_allow_blocking(self.gfp) && !in_interrupt() && {
                let mut st = t.state();
                let ok = st.radix_preload > 0;
                if ok {
                    st.radix_preload -= 1;
                }
                ok
            };
            if !from_pool && node_alloc_at(at, &RADIX_TREE_NODE, self.gfp).is_err() {
                return Err(Errno::ENOMEM);
            }
        }
        Ok(())
    }

    /// `radix_tree_delete(root, index)`: the removed item.
    pub fn delete(&self, index: u64) -> Option<T> {
        self.ghost.write();
        let mut g = self.inner();
        let item = g.items.remove(index)?;
        g.nodes.remove(index);
        Some(item)
    }

    /// `radix_tree_gang_lookup(root, results, first_index, max_items)`: up to `max` items with
    /// index >= `first`, in index order, with their indices.
    pub fn gang_lookup(&self, first: u64, max: usize) -> Vec<(u64, T)> {
        self.ghost.read();
        self.inner().items.range(first, max)
    }

    /// Items in the tree.
    pub fn len(&self) -> usize {
        self.inner().items.len
    }

    /// Whether the tree is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Interior nodes (for tests of the node accounting).
    pub fn nodes(&self) -> usize {
        self.inner().nodes.len()
    }
}

/// `radix_tree_preload(gfp)`: fills the task's node pool; on success returns with preemption
/// disabled (until `radix_tree_preload_end()`); on failure `-ENOMEM` with preemption enabled.
///
/// # Context
/// May sleep (the node allocations, only if the pool is not full). `gfp` must allow blocking
/// (the kernel WARNs otherwise; use `radix_tree_maybe_preload`).
#[track_caller]
pub fn radix_tree_preload(gfp: Gfp) -> Result<(), Errno> {
    radix_tree_preload_at(Loc::caller(), gfp)
}

/// [`radix_tree_preload`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn radix_tree_preload_at(at: Loc, gfp: Gfp) -> Result<(), Errno> {
    let t = current();
    let site = Site { at, op: "radix_tree_preload" };
    if !gfpflags_allow_blocking(gfp) {
        t.exec.emit(&t, Cat::Mem, "WARNING", || "radix_tree_preload() without a blocking GFP".to_string());
    }
    let before = t.state().radix_preload;
    preempt_off(&t, site);
    while t.state().radix_preload < RADIX_TREE_PRELOAD_SIZE {
        preempt_on(&t, site);
        if node_alloc_at(at, &RADIX_TREE_NODE, gfp).is_err() {
            t.exec.emit(&t, Cat::Mem, "radix_tree_preload", || {
                format!("pool {before} -> {}: -ENOMEM", t.state().radix_preload)
            });
            return Err(Errno::ENOMEM);
        }
        preempt_off(&t, site);
        t.state().radix_preload += 1;
    }
    let profile = t.exec.config().profile;
    t.exec.emit(&t, Cat::Mem, "radix_tree_preload", || {
        format!("{} pool {before} -> {RADIX_TREE_PRELOAD_SIZE}", gfp.display(profile))
    });
    Ok(())
}

/// `radix_tree_maybe_preload(gfp)`: preloads only for a blocking `gfp`, else just disables
/// preemption.
#[track_caller]
pub fn radix_tree_maybe_preload(gfp: Gfp) -> Result<(), Errno> {
    radix_tree_maybe_preload_at(Loc::caller(), gfp)
}

/// [`radix_tree_maybe_preload`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn radix_tree_maybe_preload_at(at: Loc, gfp: Gfp) -> Result<(), Errno> {
    if gfpflags_allow_blocking(gfp) {
        return radix_tree_preload(gfp);
    }
    let t = current();
    preempt_off(&t, Site { at, op: "radix_tree_maybe_preload" });
    Ok(())
}

/// `radix_tree_preload_end()`: `preempt_enable()`.
#[track_caller]
pub fn radix_tree_preload_end() {
    radix_tree_preload_end_at(Loc::caller())
}

/// [`radix_tree_preload_end`] called at `at` (a foreign caller's location, e.g. C's `__FILE__`/`__LINE__`).
pub fn radix_tree_preload_end_at(at: Loc) {
    let t = current();
    preempt_on(&t, Site { at, op: "radix_tree_preload_end" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_keep_order_across_the_direct_table_and_the_map() {
        let mut it = Items::new();
        let big = DENSE_LEAVES * LEAF;
        let indices = [big + 5, 3, u64::MAX, 64, big - 1, 0];
        for &i in &indices {
            assert_eq!(it.insert(i, i), None);
        }
        assert_eq!(it.insert(3, 3), Some(3), "a store over an item returns it");
        assert_eq!(it.len, indices.len());
        let all: Vec<u64> = it.range(0, usize::MAX).into_iter().map(|(i, _)| i).collect();
        assert_eq!(all, [0, 3, 64, big - 1, big + 5, u64::MAX]);
        let from: Vec<u64> = it.range(4, 3).into_iter().map(|(i, _)| i).collect();
        assert_eq!(from, [64, big - 1, big + 5]);
        assert_eq!(it.range(big, 9).first().map(|p| p.0), Some(big + 5));
        for &i in &indices {
            assert_eq!(it.get(i), Some(&i));
            assert_eq!(it.remove(i), Some(i));
            assert_eq!(it.get(i), None);
        }
        assert_eq!(it.len, 0);
        assert!(it.dense.iter().all(Option::is_none) && it.sparse.is_empty(), "empty leaves are freed");
    }
}
