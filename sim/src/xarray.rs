//! `include/linux/xarray.h`, `lib/xarray.c`: the XArray current brd indexes its pages with.
//!
//! The rule that matters (facts checklist 19, `__xas_nomem`): when a store needs a node and the
//! GFP allows blocking, the xarray drops *its own* lock (`xa_lock`) around the allocation and
//! retakes it. It cannot drop anything else the caller holds — a caller's spinlock, an RCU read
//! lock, disabled preemption — and the allocation runs the full `might_sleep()` check against
//! them. With a non-blocking GFP the node is allocated under the lock.

use crate::defs::loc::Loc;

use crate::errno::Errno;
use crate::gfp::{gfpflags_allow_blocking, Gfp};
use crate::mm::slab::{node_alloc_at, RADIX_TREE_NODE};
use crate::model::backend::Ghost;
use crate::model::booklock::{BookGuard, BookLock};
use crate::radix_tree::{Items, Nodes};
use crate::rcupdate::{rcu_read_lock, rcu_read_unlock};
use crate::spinlock::{SpinLock, SpinLockGuard};

/// `radix_tree_node_cachep`, which xarray nodes (`struct xa_node`) come from.
const XA_NODE: crate::mm::slab::NodeCache = RADIX_TREE_NODE;

struct Inner<T> {
    items: Items<T>,
    nodes: Nodes,
}

/// `struct xarray`.
pub struct XArray<T> {
    lock: SpinLock<()>,
    inner: BookLock<Inner<T>>,
    ghost: Ghost,
}

/// `xa_lock(xa)` held.
pub struct XaLockGuard<'a, T> {
    xa: &'a XArray<T>,
    guard: Option<SpinLockGuard<'a, ()>>,
}

impl<T: Clone + PartialEq> XArray<T> {
    /// `xa_init(xa)`; `name` is the lockdep class of its `xa_lock`.
    pub fn new(name: &'static str) -> Self {
        XArray {
            lock: SpinLock::new((), name),
            inner: BookLock::new(Inner { items: Items::new(), nodes: Nodes::default() }),
            ghost: Ghost::new(),
        }
    }

    #[inline]
    fn inner(&self) -> BookGuard<'_, Inner<T>> {
        self.inner.lock()
    }

    /// Entries stored.
    pub fn len(&self) -> usize {
        self.inner().items.len
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `xa_lock(xa)`.
///
/// # Context
/// A spinlock: the holder is atomic.
#[track_caller]
pub fn xa_lock<T>(xa: &XArray<T>) -> XaLockGuard<'_, T> {
    XaLockGuard { xa, guard: Some(xa.lock.lock_at(Loc::caller())) }
}

/// `xa_unlock(xa)`.
#[track_caller]
pub fn xa_unlock<T>(g: XaLockGuard<'_, T>) {
    let mut g = g;
    if let Some(s) = g.guard.take() {
        s.unlock_at(Loc::caller());
    }
}

/// `xa_load(xa, index)`: takes the RCU read lock itself.
///
/// # Context
/// Any.
#[track_caller]
pub fn xa_load<T: Clone + PartialEq>(xa: &XArray<T>, index: u64) -> Option<T> {
    rcu_read_lock();
    xa.ghost.read();
    let v = xa.inner().items.get(index).cloned();
    rcu_read_unlock();
    v
}

/// `xas_load()` of a fresh `XA_STATE(xas, xa, index)`: the entry, read with the xarray's
/// own `rcu_dereference_check(.., lockdep_is_held(&xa->xa_lock))` — so PROVE_RCU reports a
/// caller that holds neither the RCU read lock nor `xa_lock` (unlike `xa_load()`, which takes
/// the RCU read lock itself).
///
/// # Context
/// Any; inside `rcu_read_lock()` or with `xa_lock` held.
#[track_caller]
pub fn xas_load<T: Clone + PartialEq>(xa: &XArray<T>, index: u64) -> Option<T> {
    let at = Loc::caller();
    let t = crate::model::current_in("xas_load()");
    let locked = t.state().held.iter().any(|h| h.instance == xa.lock.id());
    if !locked && t.rcu.depth() == 0 {
        crate::rcu_pointer::suspicious(&t, at, "suspicious rcu_dereference_check() usage");
    }
    xa.ghost.read();
    let v = xa.inner().items.get(index).cloned();
    v
}

/// `__xas_nomem()` for the nodes a store of `index` needs: with a blocking GFP the xarray's own
/// lock is dropped around the allocation and retaken.
fn nomem<T: Clone + PartialEq>(
    g: &mut XaLockGuard<'_, T>,
    index: u64,
    gfp: Gfp,
    at: Loc,
) -> Result<(), Errno> {
    let need = {
        let inner = g.xa.inner();
        if inner.items.contains_key(index) {
            0
        } else {
            inner.nodes.needed(index, inner.items.len as u64)
        }
    };
    if need == 0 {
        return Ok(());
    }
    let blocking = gfpflags_allow_blocking(gfp);
    if blocking {
        if let Some(s) = g.guard.take() {
            s.unlock_at(at);
        }
    }
    let mut result = Ok(());
    for _ in 0..need {
        if node_alloc_at(at, &XA_NODE, gfp).is_err() {
            result = Err(Errno::ENOMEM);
            break;
        }
    }
    if blocking {
        g.guard = Some(g.xa.lock.lock_at(at));
    }
    result
}

fn store<T: Clone + PartialEq>(xa: &XArray<T>, index: u64, entry: Option<T>) -> Option<T> {
    xa.ghost.write();
    let mut inner = xa.inner();
    match entry {
        Some(e) => {
            let items = inner.items.len as u64;
            let old = inner.items.insert(index, e);
            if old.is_none() {
                inner.nodes.insert(index, items);
            }
            old
        }
        None => {
            let old = inner.items.remove(index);
            if old.is_some() {
                inner.nodes.remove(index);
            }
            old
        }
    }
}

/// `__xa_store(xa, index, entry, gfp)` with `xa_lock` held: the previous entry, or `-ENOMEM`.
///
/// # Context
/// Called with `xa_lock` held; may drop and retake it (and sleep) for a blocking `gfp`.
#[track_caller]
pub fn __xa_store<T: Clone + PartialEq>(
    g: &mut XaLockGuard<'_, T>,
    index: u64,
    entry: T,
    gfp: Gfp,
) -> Result<Option<T>, Errno> {
    nomem(g, index, gfp, Loc::caller())?;
    Ok(store(g.xa, index, Some(entry)))
}

/// `__xa_cmpxchg(xa, index, old, entry, gfp)` with `xa_lock` held: stores `entry` if the slot
/// holds `old`; returns what the slot held.
///
/// # Context
/// As `__xa_store`.
#[track_caller]
pub fn __xa_cmpxchg<T: Clone + PartialEq>(
    g: &mut XaLockGuard<'_, T>,
    index: u64,
    old: Option<T>,
    entry: Option<T>,
    gfp: Gfp,
) -> Result<Option<T>, Errno> {
    if entry.is_some() {
        // The kernel only creates nodes in `xas_store()`, reached when the slot holds `old`;
        // a mismatch returns without allocating (or sleeping, or being fault-injected).
        g.xa.ghost.read();
        let cur = g.xa.inner().items.get(index).cloned();
        if cur != old {
            return Ok(cur);
        }
        nomem(g, index, gfp, Loc::caller())?;
    }
    g.xa.ghost.read();
    let cur = g.xa.inner().items.get(index).cloned();
    if cur == old {
        store(g.xa, index, entry);
    }
    Ok(cur)
}

/// `__xa_erase(xa, index)` with `xa_lock` held: the removed entry.
pub fn __xa_erase<T: Clone + PartialEq>(g: &mut XaLockGuard<'_, T>, index: u64) -> Option<T> {
    store(g.xa, index, None)
}

/// `xa_store(xa, index, entry, gfp)`: takes `xa_lock` itself.
///
/// # Context
/// May sleep for a blocking `gfp` (after dropping its own lock — but not the caller's locks).
#[track_caller]
pub fn xa_store<T: Clone + PartialEq>(
    xa: &XArray<T>,
    index: u64,
    entry: T,
    gfp: Gfp,
) -> Result<Option<T>, Errno> {
    let at = Loc::caller();
    let mut g = XaLockGuard { xa, guard: Some(xa.lock.lock_at(at)) };
    nomem(&mut g, index, gfp, at)?;
    let old = store(xa, index, Some(entry));
    if let Some(s) = g.guard.take() {
        s.unlock_at(at);
    }
    Ok(old)
}

/// `xa_erase(xa, index)`.
#[track_caller]
pub fn xa_erase<T: Clone + PartialEq>(xa: &XArray<T>, index: u64) -> Option<T> {
    let at = Loc::caller();
    let g = xa.lock.lock_at(at);
    let old = store(xa, index, None);
    g.unlock_at(at);
    old
}

/// Entries with index >= `first`, in order, up to `max` (`xa_for_each_start`-like, under RCU).
#[track_caller]
pub fn xa_find_from<T: Clone + PartialEq>(xa: &XArray<T>, first: u64, max: usize) -> Vec<(u64, T)> {
    rcu_read_lock();
    xa.ghost.read();
    let v = xa.inner().items.range(first, max);
    rcu_read_unlock();
    v
}
