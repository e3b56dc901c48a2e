//! No import cycles between the files of any crate (each crate's `src/` and the binary's).

use std::path::Path;

#[test]
fn no_import_cycles_between_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("src")];
    for entry in std::fs::read_dir(root.join("crates")).expect("crates/") {
        let src = entry.expect("an entry").path().join("src");
        if src.is_dir() {
            dirs.push(src);
        }
    }
    dirs.sort();
    assert!(dirs.len() > 5, "the crates were found: {dirs:?}");
    let mut found = Vec::new();
    for src in &dirs {
        let (graph, cycles) = aib_testkit::module_graph::cycles(src).expect("read src/");
        let krate = src
            .strip_prefix(root)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        for cycle in cycles {
            let key: Vec<String> = cycle.iter().map(|m| format!("{krate}:{m}")).collect();
            found.push(format!("{}\n{}", key.join(" "), graph.describe(&cycle)));
        }
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n\n"));
}

/// The binary's layers: commands are built from the shared steps (`src/steps`), and the steps
/// never reach back into a command. Commands do not use each other, except `schedule`, which
/// runs `build` for each schedule that is due.
#[test]
fn commands_use_the_shared_steps_not_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = aib_testkit::module_graph::ModuleGraph::read(&src).expect("read src/");
    let is = |m: &Vec<String>, top: &str| m.first().is_some_and(|f| f == top);
    let mut wrong = Vec::new();
    for (from, tos) in &graph.edges {
        for to in tos {
            let steps_to_command = is(from, "steps") && is(to, "commands");
            let command_to_command = is(from, "commands")
                && is(to, "commands")
                && from.get(1) != to.get(1)
                && !(from.get(1).is_some_and(|c| c == "schedule")
                    && to.get(1).is_some_and(|c| c == "build"));
            if steps_to_command || command_to_command {
                wrong.push(format!("{} -> {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(wrong.is_empty(), "layer violations:\n{}", wrong.join("\n"));
    assert!(
        graph.edges.keys().any(|m| is(m, "steps")),
        "src/steps is where the shared steps live"
    );
}
