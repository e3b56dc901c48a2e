use super::*;

fn job(deps: &[usize]) -> Job {
    Job {
        deps: deps.to_vec(),
        group: None,
        cost: 1,
        needs_slot: true,
    }
}

fn caps(total: usize) -> Caps {
    Caps {
        total,
        groups: Vec::new(),
    }
}

/// Everything `next` gives now.
fn start_all(s: &mut Scheduler) -> Vec<usize> {
    std::iter::from_fn(|| s.next()).collect()
}

/// Runs the schedule in discrete time: every started unit takes `duration(i)` ticks, then
/// succeeds. Returns the makespan and each unit's start tick.
fn simulate(mut s: Scheduler, duration: impl Fn(usize) -> u64) -> (u64, Vec<u64>) {
    let mut now = 0;
    let mut start = vec![u64::MAX; s.len()];
    let mut running: Vec<(u64, usize)> = Vec::new();
    loop {
        for i in start_all(&mut s) {
            start[i] = now;
            running.push((now + duration(i), i));
        }
        let Some(&(end, _)) = running.iter().min() else {
            break;
        };
        now = end;
        for &(_, i) in running.iter().filter(|(e, _)| *e == end) {
            assert!(s.finish(i, true).is_empty());
        }
        running.retain(|(e, _)| *e != end);
    }
    assert!(s.is_done());
    (now, start)
}

/// 40 independent units, then a 4-unit chain (plan order puts the chain last).
fn forty_and_a_chain() -> Vec<Job> {
    let mut jobs: Vec<Job> = (0..40).map(|_| job(&[])).collect();
    jobs.push(job(&[]));
    for z in 41..44 {
        jobs.push(job(&[z - 1]));
    }
    jobs
}

#[test]
fn a_chain_behind_independent_units_starts_first_and_meets_the_bound() {
    let s = Scheduler::new(forty_and_a_chain(), caps(10));
    assert_eq!(s.rank(40), 4);
    assert_eq!(s.rank(43), 1);
    assert_eq!(s.rank(0), 1);
    let (makespan, start) = simulate(s, |_| 10);
    // max(critical path 4, ⌈44 / 10⌉ = 5) units of 10 ticks.
    assert_eq!(makespan, 50);
    // The chain's last unit ranks like the independent ones: it may wait a round.
    assert_eq!(&start[40..43], &[0, 10, 20]);
    // Equal ranks keep plan order.
    assert_eq!(start[0], 0);
    assert_eq!(start[39], 40);
}

#[test]
fn in_plan_order_the_same_fleet_would_take_longer() {
    // The same graph with the chain declared first is what plan order gets right; the
    // scheduler gets the same makespan either way.
    let mut jobs = vec![job(&[]), job(&[0]), job(&[1]), job(&[2])];
    jobs.extend((0..40).map(|_| job(&[])));
    let (makespan, _) = simulate(Scheduler::new(jobs, caps(10)), |_| 10);
    assert_eq!(makespan, 50);
}

#[test]
fn expected_durations_set_the_order() {
    // Two independent units, one slot: the longer one first (its chain is longer).
    let mut jobs = vec![job(&[]), job(&[])];
    jobs[0].cost = 5;
    jobs[1].cost = 30;
    let mut s = Scheduler::new(jobs, caps(1));
    assert_eq!(s.next(), Some(1));
    assert_eq!(s.next(), None);
    assert!(s.finish(1, true).is_empty());
    assert_eq!(s.next(), Some(0));
    // A short unit with a long child outranks a long unit alone.
    let mut jobs = vec![job(&[]), job(&[0]), job(&[])];
    jobs[0].cost = 2;
    jobs[1].cost = 20;
    jobs[2].cost = 10;
    let s = Scheduler::new(jobs, caps(1));
    assert_eq!((s.rank(0), s.rank(1), s.rank(2)), (22, 20, 10));
}

#[test]
fn success_releases_dependents_only_when_all_their_dependencies_succeeded() {
    let mut s = Scheduler::new(vec![job(&[]), job(&[]), job(&[0, 1])], caps(5));
    assert_eq!(start_all(&mut s), vec![0, 1]);
    assert!(s.finish(0, true).is_empty());
    assert_eq!(s.next(), None);
    assert!(s.finish(1, true).is_empty());
    assert_eq!(s.next(), Some(2));
    assert!(!s.is_done());
    s.finish(2, true);
    assert!(s.is_done());
}

#[test]
fn failure_skips_every_unit_below_not_yet_started() {
    // 0 → 1 → 2, 0 → 3, 4 alone, 5 waits for 4 and 1.
    let jobs = vec![
        job(&[]),
        job(&[0]),
        job(&[1]),
        job(&[0]),
        job(&[]),
        job(&[4, 1]),
    ];
    let mut s = Scheduler::new(jobs, caps(10));
    assert_eq!(start_all(&mut s), vec![0, 4]);
    let mut skipped = s.finish(0, false);
    skipped.sort_unstable();
    assert_eq!(skipped, vec![1, 2, 3, 5]);
    // Ending again changes nothing; 4 succeeding releases nothing (5 is skipped).
    assert!(s.finish(0, false).is_empty());
    assert!(s.finish(4, true).is_empty());
    assert_eq!(s.next(), None);
    assert!(s.is_done());
}

#[test]
fn a_started_unit_below_a_failure_is_not_skipped() {
    // 1 waits for 0 only; 2 waits for 1 and 3; 3 fails after 1 started.
    let mut s = Scheduler::new(vec![job(&[]), job(&[0]), job(&[1, 3]), job(&[])], caps(4));
    assert_eq!(start_all(&mut s), vec![0, 3]);
    s.finish(0, true);
    assert_eq!(s.next(), Some(1));
    assert_eq!(s.finish(3, false), vec![2]);
    assert!(s.is_started(1));
    assert!(s.finish(1, true).is_empty());
}

#[test]
fn overall_and_group_caps_bind_and_free_on_release() {
    // Group 0 (cap 1): units 0, 1; group 1 (cap 2): units 2, 3, 4; unit 5 ungrouped.
    let mut jobs: Vec<Job> = (0..6).map(|_| job(&[])).collect();
    for (i, g) in [(0, 0), (1, 0), (2, 1), (3, 1), (4, 1)] {
        jobs[i].group = Some(g);
    }
    let mut s = Scheduler::new(
        jobs,
        Caps {
            total: 3,
            groups: vec![1, 2],
        },
    );
    assert_eq!(start_all(&mut s), vec![0, 2, 3]);
    assert_eq!(s.running(), 3);
    // A slot given back (cleanup) lets the next start without ending the unit.
    s.release_slot(2);
    s.release_slot(2);
    assert_eq!(s.running(), 2);
    assert_eq!(start_all(&mut s), vec![4]);
    s.finish(2, true);
    assert_eq!(s.running(), 3);
    s.finish(0, true);
    assert_eq!(start_all(&mut s), vec![1]);
    s.finish(3, true);
    assert_eq!(start_all(&mut s), vec![5]);
}

#[test]
fn units_needing_no_slot_start_whatever_the_caps() {
    let mut jobs = vec![job(&[]), job(&[]), job(&[0])];
    jobs[1].needs_slot = false;
    jobs[1].cost = 0;
    let mut s = Scheduler::new(jobs, caps(1));
    assert_eq!(s.next(), Some(1));
    assert_eq!(s.next(), Some(0));
    assert_eq!(s.next(), None);
    assert_eq!(s.running(), 1);
    s.finish(1, true);
    assert_eq!(s.running(), 1);
}

#[test]
fn stopping_drains_ready_units_by_rank_then_the_rest_in_plan_order() {
    let mut jobs = vec![
        job(&[]),
        job(&[]),
        job(&[]),
        job(&[1]),
        job(&[0]),
        job(&[0]),
    ];
    jobs[5].needs_slot = false;
    let mut s = Scheduler::new(jobs, caps(2));
    assert_eq!(s.next(), Some(0));
    s.stop();
    assert!(s.is_stopped());
    assert_eq!(s.next(), None, "a slot is free, but the run stopped");
    // An unchanged unit still ends as unchanged once its parent is done.
    s.finish(0, true);
    assert_eq!(s.next(), Some(5));
    assert_eq!(s.next(), None);
    // Ready: 1 (rank 2), 2 and 4 (rank 1).
    assert_eq!(s.drain_ready(), vec![1, 2, 4]);
    assert_eq!(s.next(), None);
    assert_eq!(s.take_unstarted(), vec![3]);
    s.finish(5, true);
    assert!(s.is_done());
}

#[test]
fn restored_from_progress_it_stands_where_the_live_run_was() {
    // 0 → 2, 1 → 3, 4 → 5; cap 2.
    let jobs = vec![
        job(&[]),
        job(&[]),
        job(&[0]),
        job(&[1]),
        job(&[]),
        job(&[4]),
    ];
    // Live: 0 succeeds, 4 fails (skipping 5), 2 fails; 1 still runs.
    let mut live = Scheduler::new(jobs.clone(), caps(2));
    assert_eq!(start_all(&mut live), vec![0, 1]);
    live.finish(0, true);
    assert_eq!(live.next(), Some(4), "rank 2 before 2's rank 1");
    assert_eq!(live.finish(4, false), vec![5]);
    assert_eq!(live.next(), Some(2));
    live.finish(2, false);
    // What a run record says at that point (5 still pending if the record lagged).
    use Progress::*;
    let progress = [Succeeded, Running, Ended, Pending, Ended, Pending];
    let (mut restored, skipped) = Scheduler::restore(jobs, caps(2), &progress);
    assert_eq!(skipped, vec![5]);
    for s in [&mut live, &mut restored] {
        assert_eq!(s.running(), 1);
        assert_eq!(s.next(), None);
        assert!(s.finish(1, true).is_empty());
        assert_eq!(s.next(), Some(3));
        s.finish(3, true);
        assert!(s.is_done());
    }
}

#[test]
fn odd_input_neither_panics_nor_starts_a_cycle() {
    // Out-of-range and duplicate dependencies, a group past the caps, a cycle 2 ↔ 3.
    let mut jobs = vec![job(&[7, 7]), job(&[0, 0]), job(&[3]), job(&[2])];
    jobs[1].group = Some(9);
    let mut s = Scheduler::new(jobs, caps(0));
    assert_eq!(s.next(), None, "cap 0 starts nothing");
    let mut s = Scheduler::new(s.jobs.clone(), caps(4));
    assert_eq!(start_all(&mut s), vec![0]);
    s.finish(0, true);
    assert_eq!(start_all(&mut s), vec![1]);
    assert_eq!(s.finish(99, true), Vec::<usize>::new());
    s.finish(1, true);
    assert!(!s.is_done());
    assert_eq!(s.take_unstarted(), vec![2, 3]);
    assert!(s.is_done());
}
