//! `aib plan --format dot`: a Graphviz digraph, one cluster per environment, edges from a
//! dependency to the unit that waits for it. Node ids are the unit ids.

use std::fmt::Write;

use crate::Plan;
use crate::unit::Action;

fn quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", quote(plan.pipeline()));
    out.push_str("  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n");
    for (ci, env) in plan.environments().iter().enumerate() {
        let units: Vec<_> = plan
            .units()
            .iter()
            .filter(|u| &u.environment == env)
            .collect();
        if units.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  subgraph cluster_{ci} {{");
        let _ = writeln!(out, "    label={};", quote(env));
        for u in units {
            let label = format!("{}\n{}", u.id, u.template_name);
            let style = match u.action {
                Action::Build => "",
                Action::Unchanged => ", style=dashed",
            };
            let _ = writeln!(
                out,
                "    {} [label={}{style}];",
                quote(u.id.as_str()),
                quote(&label)
            );
        }
        out.push_str("  }\n");
    }
    for (a, b) in plan.edges() {
        let _ = writeln!(out, "  {} -> {};", quote(a.as_str()), quote(b.as_str()));
    }
    out.push_str("}\n");
    out
}
