//! Which units start next: a synchronous scheduler over the plan's graph, with no runtime and
//! no clock, so it can be tested alone and rebuilt from a run record ([`Scheduler::restore`]).
//!
//! A unit is *ready* once every unit it waits for succeeded (was verified). Ready units start
//! while the caps allow (overall and per group, the group being the unit's environment); when
//! a cap binds, the unit with the longest remaining chain starts first (list scheduling by
//! critical path): its rank is its expected duration plus the largest rank among the units
//! waiting for it. Ties go to plan order. A unit that needs no build slot (unchanged, nothing to
//! run) starts whatever the caps. A unit that fails skips every unit below it not yet started.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One unit as the scheduler sees it (index = position in the plan).
#[derive(Debug, Clone, Default)]
pub struct Job {
    /// Units (indices) this one waits for.
    pub deps: Vec<usize>,
    /// The capped group it counts against (its environment), if its group has a cap.
    pub group: Option<usize>,
    /// Expected time holding a build slot, in any unit (only ratios matter); 0 when it holds
    /// none.
    pub cost: u64,
    /// Whether it holds a build slot while it runs (false for unchanged units).
    pub needs_slot: bool,
}

/// The caps: overall, and per group (`Job::group` indexes `groups`).
#[derive(Debug, Clone)]
pub struct Caps {
    pub total: usize,
    pub groups: Vec<usize>,
}

/// Where a unit stands, as a run record says it (for [`Scheduler::restore`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Not started.
    Pending,
    /// Started, holding its build slot.
    Running,
    /// Verified, succeeded or unchanged: the units waiting for it are released.
    Succeeded,
    /// Failed, cancelled or skipped: the units waiting for it are skipped.
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for this many dependencies.
    Waiting(usize),
    Ready,
    /// Started; `slot` while it holds a build slot.
    Running {
        slot: bool,
    },
    Succeeded,
    Ended,
}

/// The scheduler. Every method is O(log n) per unit it touches, plus the number of groups.
#[derive(Debug, Clone)]
pub struct Scheduler {
    jobs: Vec<Job>,
    dependents: Vec<Vec<usize>>,
    rank: Vec<u64>,
    state: Vec<State>,
    caps: Caps,
    running: usize,
    running_in: Vec<usize>,
    /// Ready units that need no slot, in the order they became ready.
    free: std::collections::VecDeque<usize>,
    /// Ready units needing a slot: one heap per group, the last one for ungrouped units.
    heaps: Vec<BinaryHeap<(u64, Reverse<usize>)>>,
    /// No unit needing a slot starts any more.
    stopped: bool,
}

impl Scheduler {
    /// A scheduler with nothing started. Dependencies out of range are ignored; the graph must
    /// be acyclic (a plan's is), or the units on a cycle never become ready.
    pub fn new(jobs: Vec<Job>, caps: Caps) -> Self {
        let progress = vec![Progress::Pending; jobs.len()];
        Self::restore(jobs, caps, &progress).0
    }

    /// A scheduler where each unit stands as `progress` says (missing entries are pending).
    /// Also returns the pending units it skipped because a unit they wait for ended without
    /// succeeding (in the order [`Scheduler::finish`] would have skipped them).
    pub fn restore(mut jobs: Vec<Job>, caps: Caps, progress: &[Progress]) -> (Self, Vec<usize>) {
        let n = jobs.len();
        let groups = caps.groups.len();
        for j in &mut jobs {
            j.deps.retain(|&d| d < n);
            j.deps.sort_unstable();
            j.deps.dedup();
            j.group = j.group.filter(|&g| g < groups);
        }
        let mut dependents = vec![Vec::new(); n];
        for (i, j) in jobs.iter().enumerate() {
            for &d in &j.deps {
                dependents[d].push(i);
            }
        }
        let rank = ranks(&jobs, &dependents);
        let mut s = Self {
            jobs,
            dependents,
            rank,
            state: vec![State::Waiting(0); n],
            caps,
            running: 0,
            running_in: vec![0; groups],
            free: Default::default(),
            heaps: vec![BinaryHeap::new(); groups + 1],
            stopped: false,
        };
        let skipped = s.place(progress);
        (s, skipped)
    }

    /// Sets every unit's state from `progress`, then skips what waits on an ended unit.
    fn place(&mut self, progress: &[Progress]) -> Vec<usize> {
        let n = self.jobs.len();
        for i in 0..n {
            self.state[i] = match progress.get(i).copied().unwrap_or(Progress::Pending) {
                Progress::Pending => State::Waiting(0),
                Progress::Running => {
                    let slot = self.jobs[i].needs_slot;
                    self.take_slot(i, slot);
                    State::Running { slot }
                }
                Progress::Succeeded => State::Succeeded,
                Progress::Ended => State::Ended,
            };
        }
        let mut skipped = Vec::new();
        for i in 0..n {
            if self.state[i] == State::Ended {
                skipped.extend(self.skip_below(i));
            }
        }
        for i in 0..n {
            if let State::Waiting(_) = self.state[i] {
                let left = self.jobs[i]
                    .deps
                    .iter()
                    .filter(|&&d| self.state[d] != State::Succeeded)
                    .count();
                self.state[i] = State::Waiting(left);
                if left == 0 {
                    self.make_ready(i);
                }
            }
        }
        skipped
    }

    /// This scheduler's jobs and caps placed where `progress` says (see
    /// [`Scheduler::restore`]).
    pub fn restored(self, progress: &[Progress]) -> (Self, Vec<usize>) {
        Self::restore(self.jobs, self.caps, progress)
    }

    /// How many units there are.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// A unit's rank: its expected duration plus the longest chain of units waiting for it.
    pub fn rank(&self, i: usize) -> u64 {
        self.rank.get(i).copied().unwrap_or(0)
    }

    /// Units holding a build slot.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Whether the unit has started (running or ended).
    pub fn is_started(&self, i: usize) -> bool {
        !matches!(
            self.state.get(i),
            Some(State::Waiting(_) | State::Ready) | None
        )
    }

    /// Whether every unit has ended (succeeded or not).
    pub fn is_done(&self) -> bool {
        self.state
            .iter()
            .all(|s| matches!(s, State::Succeeded | State::Ended))
    }

    /// From now on only units needing no slot start (`--fail-fast`, Ctrl-C).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether [`Scheduler::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The next unit to start, marked running (holding a slot if it needs one): a ready unit
    /// needing no slot first, else the highest-ranked ready unit whose caps have room.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<usize> {
        if let Some(i) = self.free.pop_front() {
            self.state[i] = State::Running { slot: false };
            return Some(i);
        }
        if self.stopped || self.running >= self.caps.total {
            return None;
        }
        let mut best: Option<(usize, (u64, Reverse<usize>))> = None;
        for (h, heap) in self.heaps.iter().enumerate() {
            let room = self
                .caps
                .groups
                .get(h)
                .is_none_or(|&cap| self.running_in[h] < cap);
            if let Some(&top) = heap.peek()
                && room
                && best.is_none_or(|(_, b)| top > b)
            {
                best = Some((h, top));
            }
        }
        let (h, _) = best?;
        let (_, Reverse(i)) = self.heaps[h].pop()?;
        self.take_slot(i, true);
        self.state[i] = State::Running { slot: true };
        Some(i)
    }

    /// Every ready unit, marked ended, in the order they would have started (once the run
    /// stopped starting units). Units needing no slot come first.
    pub fn drain_ready(&mut self) -> Vec<usize> {
        let mut out: Vec<usize> = self.free.drain(..).collect();
        let mut slot: Vec<(u64, Reverse<usize>)> =
            self.heaps.iter_mut().flat_map(|h| h.drain()).collect();
        slot.sort_unstable_by(|a, b| b.cmp(a));
        out.extend(slot.into_iter().map(|(_, Reverse(i))| i));
        for &i in &out {
            self.state[i] = State::Ended;
        }
        out
    }

    /// Every unit not started (waiting or ready), marked ended, in plan order.
    pub fn take_unstarted(&mut self) -> Vec<usize> {
        self.free.clear();
        self.heaps.iter_mut().for_each(BinaryHeap::clear);
        let mut out = Vec::new();
        for (i, s) in self.state.iter_mut().enumerate() {
            if matches!(s, State::Waiting(_) | State::Ready) {
                *s = State::Ended;
                out.push(i);
            }
        }
        out
    }

    /// A running unit gives its build slot back but has not ended (e.g. cancelled, cleaning
    /// up). No-op otherwise.
    pub fn release_slot(&mut self, i: usize) {
        if let Some(State::Running { slot: true }) = self.state.get(i) {
            self.give_slot(i);
            self.state[i] = State::Running { slot: false };
        }
    }

    /// A unit ended: `ok` (verified, succeeded, unchanged) releases the units waiting for it;
    /// otherwise they and everything below them not started are ended too and returned (to be
    /// reported skipped). Its slot, if held, is given back. Ending a unit twice, or one never
    /// started, changes only that unit (a unit not started cannot have started dependents).
    pub fn finish(&mut self, i: usize, ok: bool) -> Vec<usize> {
        let Some(&state) = self.state.get(i) else {
            return Vec::new();
        };
        match state {
            State::Succeeded | State::Ended => return Vec::new(),
            State::Running { slot: true } => self.give_slot(i),
            State::Ready => self.unready(i),
            _ => {}
        }
        if ok {
            self.state[i] = State::Succeeded;
            for k in 0..self.dependents[i].len() {
                let d = self.dependents[i][k];
                if let State::Waiting(left) = self.state[d] {
                    let left = left.saturating_sub(1);
                    self.state[d] = State::Waiting(left);
                    if left == 0 {
                        self.make_ready(d);
                    }
                }
            }
            Vec::new()
        } else {
            self.state[i] = State::Ended;
            self.skip_below(i)
        }
    }

    /// Ends every not-started unit below `i` (depth first, as a stack walks them).
    fn skip_below(&mut self, i: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = self.dependents[i].clone();
        while let Some(d) = stack.pop() {
            match self.state[d] {
                State::Waiting(_) => {}
                State::Ready => self.unready(d),
                _ => continue,
            }
            self.state[d] = State::Ended;
            out.push(d);
            stack.extend(self.dependents[d].iter().copied());
        }
        out
    }

    fn make_ready(&mut self, i: usize) {
        self.state[i] = State::Ready;
        if self.jobs[i].needs_slot {
            let h = self.jobs[i].group.unwrap_or(self.caps.groups.len());
            self.heaps[h].push((self.rank[i], Reverse(i)));
        } else {
            self.free.push_back(i);
        }
    }

    /// Takes a ready unit out of its queue (rare: only a unit ended before it started).
    fn unready(&mut self, i: usize) {
        self.free.retain(|&f| f != i);
        for h in &mut self.heaps {
            h.retain(|&(_, Reverse(x))| x != i);
        }
    }

    fn take_slot(&mut self, i: usize, slot: bool) {
        if slot {
            self.running += 1;
            if let Some(g) = self.jobs[i].group {
                self.running_in[g] += 1;
            }
        }
    }

    fn give_slot(&mut self, i: usize) {
        self.running = self.running.saturating_sub(1);
        if let Some(g) = self.jobs[i].group {
            self.running_in[g] = self.running_in[g].saturating_sub(1);
        }
    }
}

/// Each unit's cost plus the largest rank among its dependents (0 for units on a cycle).
fn ranks(jobs: &[Job], dependents: &[Vec<usize>]) -> Vec<u64> {
    let n = jobs.len();
    // Kahn's order from the sinks up: a unit is ranked once every dependent is.
    let mut left: Vec<usize> = dependents.iter().map(Vec::len).collect();
    let mut stack: Vec<usize> = (0..n).filter(|&i| left[i] == 0).collect();
    let mut rank = vec![0u64; n];
    while let Some(i) = stack.pop() {
        let below = dependents[i].iter().map(|&d| rank[d]).max().unwrap_or(0);
        rank[i] = jobs[i].cost.saturating_add(below);
        for &d in &jobs[i].deps {
            left[d] -= 1;
            if left[d] == 0 {
                stack.push(d);
            }
        }
    }
    rank
}

#[cfg(test)]
mod tests;
