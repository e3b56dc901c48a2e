//! `aib gc [MANIFEST] [--env/--variant/--unit] [--dry-run] [--format text|json]`: retention. Lists what aib left in
//! Azure for the manifest's units, reads what the state still needs, and deletes the rest
//! (see `aib_executor::gc` for the rules). Azure is listed before the state is read, so a
//! template a run creates meanwhile belongs to a run the state already shows running.

use std::path::Path;

use aib_executor::gc::{self, Decision, GcError, Kind, Outcome, Scope};

use crate::cli::{GcArgs, GcFormat, GlobalArgs};
use crate::exit::Exit;
use crate::output::outln;

pub fn run(global: &GlobalArgs, args: &GcArgs) -> Exit {
    let manifest = match crate::steps::load(&args.manifest, global.quiet) {
        Ok(m) => m,
        Err(exit) => return exit,
    };
    let plan = match crate::steps::make_plan(&manifest, &args.select, &[], global.quiet) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let runtime = match crate::steps::runtime(true, Exit::Invalid) {
        Ok(rt) => rt,
        Err(exit) => return exit,
    };
    runtime.block_on(async move {
        let scope = if args.select.is_everything() {
            Scope::of_plan(&plan)
        } else {
            Scope::of_selection(&plan)
        };
        let manifest_dir = manifest
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let (loc, _) = match crate::steps::state_location(global, &manifest_dir, args.simulate) {
            Ok(x) => x,
            Err(exit) => return exit,
        };
        let simulate = args.simulate.then(|| crate::steps::simulate::Use::Keep {
            world: crate::steps::simulate::world_dir(&loc, &manifest_dir),
            scripted: None,
        });
        let conn = match crate::steps::connect(global, &manifest, simulate).await {
            Ok(c) => c,
            Err(exit) => return exit,
        };
        let exit = collect(global, args, &scope, &conn.arm, &loc).await;
        // Saves what was deleted in the simulated Azure.
        conn.close().await;
        exit
    })
}

/// Surveys, decides and (without `--dry-run`) deletes.
async fn collect(
    global: &GlobalArgs,
    args: &GcArgs,
    scope: &Scope,
    arm: &aib_azure::ArmClient,
    loc: &aib_state::StateLocation,
) -> Exit {
    let store =
        match aib_state::open_with(loc, Some(arm.credential().clone()), global.insecure).await {
            Ok(s) => s,
            Err(e) => return crate::steps::state_error(e),
        };
    let inventory = match gc::survey(arm, scope).await {
        Ok(i) => i,
        Err(e) => return gc_error(e),
    };
    let needed = match gc::read_needed(&store).await {
        Ok(n) => n,
        Err(e) => return gc_error(e),
    };
    let decision = gc::decide(scope, &needed, &inventory);
    if args.dry_run {
        print_result(args.format, true, &decision, None, global.quiet);
        return Exit::Success;
    }
    let outcomes = gc::execute(arm, &decision).await;
    print_result(args.format, false, &decision, Some(&outcomes), global.quiet);
    let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
    for o in outcomes.iter().filter(|o| o.error.is_some()) {
        eprintln!(
            "error: deleting {} {}: {}",
            o.deletion.kind.as_str(),
            o.deletion.id,
            o.error.as_deref().unwrap_or_default()
        );
    }
    if failed > 0 {
        Exit::UnitFailed
    } else {
        Exit::Success
    }
}

fn gc_error(e: GcError) -> Exit {
    match e {
        GcError::State(e) => crate::steps::state_error(e),
        GcError::Auth(m) => {
            eprintln!("error: {m}");
            crate::hints::login();
            Exit::Azure
        }
        GcError::Azure(m) => {
            eprintln!("error: {m}");
            Exit::Azure
        }
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn summary(deleted: &[&gc::Deletion]) -> String {
    let n = |k: Kind| deleted.iter().filter(|d| d.kind == k).count();
    format!(
        "{}, {}, {}, {}",
        plural(n(Kind::Template), "template", "templates"),
        plural(n(Kind::StagingGroup), "staging group", "staging groups"),
        plural(
            n(Kind::Deployment),
            "deployment record",
            "deployment records"
        ),
        plural(
            n(Kind::GalleryVersion),
            "gallery version",
            "gallery versions"
        ),
    )
}

fn print_result(
    format: GcFormat,
    dry_run: bool,
    decision: &Decision,
    outcomes: Option<&[Outcome]>,
    quiet: bool,
) {
    let status_of = |d: &gc::Deletion| status_of(outcomes, d);
    if format == GcFormat::Json {
        print_json(dry_run, decision, outcomes);
        return;
    }
    if decision.delete.is_empty() {
        if !quiet {
            outln!("nothing to delete");
        }
        return;
    }
    let kind_w = decision
        .delete
        .iter()
        .map(|d| d.kind.as_str().len())
        .max()
        .unwrap_or(4)
        .max(4);
    let id_w = decision
        .delete
        .iter()
        .map(|d| d.id.len())
        .max()
        .unwrap_or(2)
        .max(2);
    if dry_run {
        outln!("{:<kind_w$}  {:<id_w$}  REASON", "KIND", "ID");
    } else {
        outln!(
            "{:<kind_w$}  {:<id_w$}  {:<7}  REASON",
            "KIND",
            "ID",
            "RESULT"
        );
    }
    for d in &decision.delete {
        let reason = match &d.unit {
            Some(u) => format!("{} ({u})", d.reason),
            None => d.reason.clone(),
        };
        if dry_run {
            outln!("{:<kind_w$}  {:<id_w$}  {reason}", d.kind.as_str(), d.id);
        } else {
            let (status, _) = status_of(d);
            outln!(
                "{:<kind_w$}  {:<id_w$}  {status:<7}  {reason}",
                d.kind.as_str(),
                d.id
            );
        }
    }
    let all: Vec<&gc::Deletion> = decision.delete.iter().collect();
    if dry_run {
        outln!(
            "dry run: would delete {}; nothing was deleted",
            summary(&all)
        );
    } else {
        let done: Vec<&gc::Deletion> = decision
            .delete
            .iter()
            .filter(|d| status_of(d).0 == "deleted")
            .collect();
        outln!("deleted {}", summary(&done));
    }
}

/// What became of a deletion: planned (a dry run), deleted, or failed with its error.
fn status_of(outcomes: Option<&[Outcome]>, d: &gc::Deletion) -> (&'static str, Option<String>) {
    match outcomes.and_then(|o| o.iter().find(|o| o.deletion == *d)) {
        None => ("planned", None),
        Some(Outcome { error: None, .. }) => ("deleted", None),
        Some(Outcome { error: Some(e), .. }) => ("failed", Some(e.clone())),
    }
}

/// `--format json`: every deletion with its status, and what was kept.
fn print_json(dry_run: bool, decision: &Decision, outcomes: Option<&[Outcome]>) {
    let delete: Vec<serde_json::Value> = decision
        .delete
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap_or_default();
            let (status, error) = status_of(outcomes, d);
            v["status"] = status.into();
            if let Some(e) = error {
                v["error"] = e.into();
            }
            v
        })
        .collect();
    let out = serde_json::json!({
        "dry_run": dry_run,
        "delete": delete,
        "kept": decision.kept,
    });
    outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
}
