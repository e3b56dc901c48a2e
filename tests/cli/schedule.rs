//! `aib schedule --once` end to end.

use super::support::{aib, repo_root};

#[test]
fn nothing_due_prints_so_and_exits_zero() {
    // Wednesday noon UTC: the linux-fleet pipeline schedules only Sunday 04:00 Amsterdam.
    let out = aib(
        &repo_root(),
        &[
            "schedule",
            "pipelines/linux-fleet/aib.toml",
            "--once",
            "--now",
            "2026-11-25T12:00:00Z",
        ],
    );
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stdout
            .contains("no schedule due at 2026-11-25T12:00:00+00:00"),
        "{}",
        out.stdout
    );
}

#[test]
fn invalid_now_exits_two() {
    let out = aib(
        &repo_root(),
        &[
            "schedule",
            "pipelines/linux-fleet/aib.toml",
            "--once",
            "--now",
            "yesterday",
        ],
    );
    assert_eq!(
        out.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(out.stderr.contains("RFC 3339"), "{}", out.stderr);
}

#[test]
fn now_requires_once() {
    let out = aib(
        &repo_root(),
        &[
            "schedule",
            "pipelines/linux-fleet/aib.toml",
            "--now",
            "2026-11-25T12:00:00Z",
        ],
    );
    assert_eq!(
        out.code, 2,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
}
