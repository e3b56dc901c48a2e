//! `aib plan --format mermaid`: a flowchart, one subgraph per environment, edges from a
//! dependency to the unit that waits for it. Node ids are derived from the unit ids.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::Plan;
use crate::unit::{Action, UnitId};

fn ident(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            o.push(c);
        } else if !o.ends_with('_') {
            o.push('_');
        }
    }
    o.trim_end_matches('_').to_string()
}

fn label(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// Stable node ids: `u_<sanitised id>`, with a counter when two ids sanitise alike.
fn node_ids(plan: &Plan) -> HashMap<&UnitId, String> {
    let mut used = HashSet::new();
    let mut out = HashMap::new();
    for u in plan.units() {
        let base = format!("u_{}", ident(u.id.as_str()));
        let mut id = base.clone();
        let mut n = 2;
        while !used.insert(id.clone()) {
            id = format!("{base}_{n}");
            n += 1;
        }
        out.insert(&u.id, id);
    }
    out
}

pub fn render(plan: &Plan) -> String {
    let ids = node_ids(plan);
    let mut out = String::from("flowchart LR\n");
    for env in plan.environments() {
        let units: Vec<_> = plan
            .units()
            .iter()
            .filter(|u| &u.environment == env)
            .collect();
        if units.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  subgraph env_{}[\"{}\"]", ident(env), label(env));
        for u in units {
            let id = ids.get(&u.id).cloned().unwrap_or_default();
            let _ = writeln!(
                out,
                "    {id}[\"{}<br/>{}\"]",
                label(u.id.as_str()),
                label(&u.template_name)
            );
        }
        out.push_str("  end\n");
    }
    for (a, b) in plan.edges() {
        if let (Some(x), Some(y)) = (ids.get(a), ids.get(b)) {
            let _ = writeln!(out, "  {x} --> {y}");
        }
    }
    let unchanged: Vec<String> = plan
        .units()
        .iter()
        .filter(|u| u.action == Action::Unchanged)
        .filter_map(|u| ids.get(&u.id).cloned())
        .collect();
    if !unchanged.is_empty() {
        out.push_str("  classDef unchanged stroke-dasharray: 5 5\n");
        let _ = writeln!(out, "  class {} unchanged", unchanged.join(","));
    }
    out
}
