//! Exhaustive depth-first exploration with a preemption bound, as a shuttle `Scheduler`.
//!
//! shuttle's own `DfsScheduler` bounds only the number of executions; the kernel races ksim
//! looks for need few preemptions, so bounding them (as loom and CHESS do) keeps exhaustive
//! search small. A preemption is switching away from a task that could have continued. A task
//! that yields (a spin loop) is never offered first, so spin loops terminate (the prototype's
//! pitfall 2).

use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId};

#[derive(Debug)]
struct Level {
    choices: Vec<TaskId>,
    index: usize,
    /// Preemptions used before this level.
    preemptions: usize,
    /// Whether each choice is a preemption.
    preempts: Vec<bool>,
}

/// Preemption-bounded DFS.
#[derive(Debug)]
pub(crate) struct BoundedDfs {
    bound: Option<usize>,
    max_executions: Option<usize>,
    executions: usize,
    levels: Vec<Level>,
    step: usize,
    random: u64,
}

impl BoundedDfs {
    pub(crate) fn new(bound: Option<usize>, max_executions: Option<usize>) -> Self {
        BoundedDfs { bound, max_executions, executions: 0, levels: Vec::new(), step: 0, random: 0 }
    }

    /// Moves to the next unexplored path; false when the tree is exhausted.
    fn advance(&mut self) -> bool {
        while let Some(level) = self.levels.last_mut() {
            if level.index + 1 < level.choices.len() {
                level.index += 1;
                return true;
            }
            self.levels.pop();
        }
        false
    }
}

impl Scheduler for BoundedDfs {
    fn new_execution(&mut self) -> Option<Schedule> {
        if self.max_executions.is_some_and(|m| self.executions >= m) {
            return None;
        }
        if self.executions > 0 && !self.advance() {
            return None;
        }
        self.executions += 1;
        self.step = 0;
        self.random = 0x0005_eed0_fd15;
        Some(Schedule::new(0))
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        let step = self.step;
        self.step += 1;
        if step < self.levels.len() {
            let l = &self.levels[step];
            return Some(l.choices[l.index]);
        }
        let used = self.levels.last().map_or(0, |l| l.preemptions + l.preempts[l.index] as usize);
        let ids: Vec<TaskId> = runnable.iter().map(|t| t.id()).collect();
        let cur_runnable = current.filter(|c| ids.contains(c));
        let mut choices = Vec::new();
        let mut preempts = Vec::new();
        match cur_runnable {
            Some(c) if !is_yielding => {
                choices.push(c);
                preempts.push(false);
                if self.bound.is_none_or(|b| used < b) {
                    for &t in ids.iter().filter(|&&t| t != c) {
                        choices.push(t);
                        preempts.push(true);
                    }
                }
            }
            Some(c) => {
                // A yielding task steps aside for free, and runs again only if nothing else can.
                for &t in ids.iter().filter(|&&t| t != c) {
                    choices.push(t);
                    preempts.push(false);
                }
                if choices.is_empty() {
                    choices.push(c);
                    preempts.push(false);
                }
            }
            None => {
                for &t in &ids {
                    choices.push(t);
                    preempts.push(false);
                }
            }
        }
        let pick = choices[0];
        self.levels.push(Level { choices, index: 0, preemptions: used, preempts });
        Some(pick)
    }

    fn next_u64(&mut self) -> u64 {
        // Fixed data: DFS explores schedules, not random values.
        self.random = self.random.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.random
    }
}
