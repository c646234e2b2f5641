//! The event trace of one execution (ARCHITECTURE §6): one line per event with ftrace-like
//! columns, stable across runs; views select categories (the allocation view is what snapshots
//! use); JSON Lines and Chrome/Perfetto trace-event JSON for tools.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::Serialize;

/// Event category, for views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cat {
    /// Task spawn / exit.
    Task,
    /// preempt / irq / bh / RCU context changes.
    Context,
    /// Lock acquire / release.
    Lock,
    /// might_sleep checks, sleeps, schedule.
    Sleep,
    /// Page allocation, free, preload, kmap (the allocation view).
    Mem,
    /// Block layer: bio submit / end, ioctls.
    Block,
    /// DAX direct_access calls and results.
    Dax,
    /// Violations.
    Report,
    /// `printk` lines from drivers.
    Printk,
}

impl Cat {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Cat::Task => "task",
            Cat::Context => "context",
            Cat::Lock => "lock",
            Cat::Sleep => "sleep",
            Cat::Mem => "mem",
            Cat::Block => "block",
            Cat::Dax => "dax",
            Cat::Report => "report",
            Cat::Printk => "printk",
        }
    }
}

/// One trace event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// Order within the execution.
    pub seq: u64,
    /// Task pid.
    pub pid: u32,
    /// Task name.
    pub task: Arc<str>,
    /// preempt_count after the event.
    pub preempt_count: u32,
    /// irqs disabled after the event.
    pub irqs_off: bool,
    /// Category.
    pub cat: Cat,
    /// Event name (usually the API).
    pub name: &'static str,
    /// Details, already formatted.
    pub detail: String,
}

impl Event {
    /// ftrace's irq-info columns: irqs-off, need-resched, hardirq/softirq, preempt depth.
    pub fn flags(&self) -> String {
        use crate::defs::preempt_mask::{HARDIRQ_MASK, SOFTIRQ_OFFSET};
        let irq = if self.irqs_off { 'd' } else { '.' };
        let hs = match (self.preempt_count & HARDIRQ_MASK != 0, self.preempt_count & SOFTIRQ_OFFSET != 0) {
            (true, true) => 'H',
            (true, false) => 'h',
            (false, true) => 's',
            _ => '.',
        };
        let depth = self.preempt_count & 0xff;
        let d = if depth == 0 { '.' } else { std::char::from_digit(depth.min(15), 16).unwrap_or('f') };
        format!("{irq}.{hs}{d}")
    }

    /// One text line without the sequence number: views and snapshots use it, so an event
    /// added elsewhere in the trace does not renumber every line of a view.
    pub fn stable_line(&self) -> String {
        let who = format!("{}-{}", self.task, self.pid);
        let mut s = format!("{who:>16} {}: {}", self.flags(), self.name);
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// One text line.
    pub fn line(&self) -> String {
        let who = format!("{}-{}", self.task, self.pid);
        let mut s = format!("{who:>16} {} {:>6}: {}", self.flags(), self.seq, self.name);
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

/// The trace of one execution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Trace {
    /// Events in order.
    pub events: Vec<Event>,
}

impl Trace {
    /// Every event as text, one line each.
    pub fn text(&self) -> String {
        lines(self.events.iter())
    }

    /// The allocation view: page allocator, free, preload and kmap events.
    pub fn allocations(&self) -> String {
        self.view(&[Cat::Mem])
    }

    /// Only the given categories, as text (without sequence numbers).
    pub fn view(&self, cats: &[Cat]) -> String {
        let mut out = String::new();
        for e in self.events.iter().filter(|e| cats.contains(&e.cat)) {
            out.push_str(&e.stable_line());
            out.push('\n');
        }
        out
    }

    /// The events of one category.
    pub fn of(&self, cat: Cat) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(move |e| e.cat == cat)
    }

    /// JSON Lines, one object per event.
    pub fn jsonl(&self, cats: Option<&[Cat]>) -> String {
        let mut out = String::new();
        for e in self.events.iter().filter(|e| cats.is_none_or(|c| c.contains(&e.cat))) {
            let line = JsonEvent {
                seq: e.seq,
                pid: e.pid,
                task: &e.task,
                flags: e.flags(),
                preempt_count: e.preempt_count,
                irqs_off: e.irqs_off,
                cat: e.cat.name(),
                event: e.name,
                detail: &e.detail,
            };
            out.push_str(&to_json(&line));
            out.push('\n');
        }
        out
    }

    /// Chrome/Perfetto trace-event JSON: one track per task, every event an instant, and each
    /// stretch with preemption or irqs disabled a slice named `atomic` (timestamps are sequence
    /// numbers in microseconds: the simulation has no wall clock).
    pub fn perfetto(&self) -> String {
        let slice = |ph: &'static str, ts: u64, tid: u32| TraceEvent {
            name: "atomic",
            cat: "context",
            ph,
            s: None,
            ts: Some(ts),
            pid: 1,
            tid,
            args: None,
        };
        let mut ev: Vec<String> = Vec::new();
        let mut tasks: Vec<(u32, &str)> = Vec::new();
        let mut open: Vec<(u32, bool)> = Vec::new();
        for e in &self.events {
            if !tasks.iter().any(|(p, _)| *p == e.pid) {
                tasks.push((e.pid, &e.task));
            }
            let atomic = e.preempt_count != 0 || e.irqs_off;
            let was = open.iter().find(|(p, _)| *p == e.pid).is_some_and(|(_, a)| *a);
            if atomic && !was {
                ev.push(to_json(&slice("B", e.seq, e.pid)));
            }
            if !atomic && was {
                ev.push(to_json(&slice("E", e.seq, e.pid)));
            }
            open.retain(|(p, _)| *p != e.pid);
            open.push((e.pid, atomic));
            ev.push(to_json(&TraceEvent {
                name: e.name,
                cat: e.cat.name(),
                ph: "i",
                s: Some("t"),
                ts: Some(e.seq),
                pid: 1,
                tid: e.pid,
                args: Some(Args::Instant { detail: &e.detail, flags: e.flags() }),
            }));
        }
        let end = self.events.last().map_or(0, |e| e.seq + 1);
        for (pid, atomic) in open {
            if atomic {
                ev.push(to_json(&slice("E", end, pid)));
            }
        }
        for (pid, name) in tasks {
            ev.push(to_json(&TraceEvent {
                name: "thread_name",
                cat: "",
                ph: "M",
                s: None,
                ts: None,
                pid: 1,
                tid: pid,
                args: Some(Args::Name { name: format!("{name}-{pid}") }),
            }));
        }
        format!("{{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n{}\n]}}\n", ev.join(",\n"))
    }

    /// A hash of everything but sequence numbers, to keep one trace per distinct behaviour.
    pub fn fingerprint(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }
}

fn lines<'a>(events: impl Iterator<Item = &'a Event>) -> String {
    let mut out = String::new();
    for e in events {
        out.push_str(&e.line());
        out.push('\n');
    }
    out
}

/// One line of [`Trace::jsonl`].
#[derive(Serialize)]
struct JsonEvent<'a> {
    seq: u64,
    pid: u32,
    task: &'a str,
    flags: String,
    preempt_count: u32,
    irqs_off: bool,
    cat: &'static str,
    event: &'static str,
    detail: &'a str,
}

/// One Chrome trace event (the Trace Event Format's fields, in its order).
#[derive(Serialize)]
struct TraceEvent<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cat: &'static str,
    ph: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
    pid: u32,
    tid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<Args<'a>>,
}

/// A trace event's `args`.
#[derive(Serialize)]
#[serde(untagged)]
enum Args<'a> {
    Instant { detail: &'a str, flags: String },
    Name { name: String },
}

fn to_json(v: &impl Serialize) -> String {
    serde_json::to_string(v).expect("trace events serialise")
}
