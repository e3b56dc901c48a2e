//! `aib plan` as text: one row per unit (unit, depends on, template name, action), a summary
//! line, the critical path and, when some template names are provisional (marked `*`), what
//! that means.

use std::fmt::Write;

use crate::Plan;
use crate::unit::{Action, Unit};

pub fn render(plan: &Plan) -> String {
    let units = plan.units();
    let header = ["UNIT", "DEPENDS ON", "TEMPLATE", "ACTION"];
    let rows: Vec<[String; 4]> = units.iter().map(row).collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: [&str; 4]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut out, header);
    for r in &rows {
        line(&mut out, [&r[0], &r[1], &r[2], &r[3]]);
    }
    summary(&mut out, plan);
    out
}

/// A unit's row: id, what it depends on, template name (`*`: provisional), action.
fn row(u: &Unit) -> [String; 4] {
    let mut deps: Vec<String> = u.depends_on.iter().map(|d| d.to_string()).collect();
    deps.extend(
        u.external_depends_on
            .iter()
            .map(|d| format!("{d} (external)")),
    );
    let deps = if deps.is_empty() {
        "-".to_string()
    } else {
        deps.join(", ")
    };
    let action = match u.action {
        Action::Build => "build",
        Action::Unchanged => "unchanged",
    };
    let template = if u.provisional {
        format!("{}*", u.template_name)
    } else {
        u.template_name.clone()
    };
    [u.id.to_string(), deps, template, action.to_string()]
}

/// The lines under the table: counts, the critical path, what `*` means.
fn summary(out: &mut String, plan: &Plan) {
    let units = plan.units();
    let build = units.iter().filter(|u| u.action == Action::Build).count();
    let unchanged = units.len() - build;
    let mut envs: Vec<&str> = Vec::new();
    for u in units {
        if !envs.contains(&u.environment.as_str()) {
            envs.push(&u.environment);
        }
    }
    let external: usize = units.iter().map(|u| u.external_depends_on.len()).sum();
    let plural = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let _ = write!(
        out,
        "\n{} {} in {} {} of pipeline `{}`: {build} to build, {unchanged} unchanged",
        units.len(),
        plural(units.len(), "unit", "units"),
        envs.len(),
        plural(envs.len(), "environment", "environments"),
        plan.pipeline(),
    );
    if external > 0 {
        let _ = write!(
            out,
            ", {external} external {}",
            plural(external, "dependency", "dependencies")
        );
    }
    out.push('\n');
    let cp: Vec<String> = plan.critical_path().iter().map(|i| i.to_string()).collect();
    let _ = writeln!(out, "critical path ({}): {}", cp.len(), cp.join(" -> "));
    let provisional = units.iter().filter(|u| u.provisional).count();
    if provisional > 0 {
        let _ = writeln!(
            out,
            "* provisional ({provisional} of {}): the name depends on a source version chosen when the unit builds (a `latest` image, or the version its parent publishes); `aib plan --refresh` resolves what Azure already knows",
            units.len()
        );
    }
}
