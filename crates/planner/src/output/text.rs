//! `aib plan` as text: one row per unit (unit, depends on, template name, action), a summary
//! line, the critical path and, when some template names are provisional (marked `*`), what
//! that means.

use std::fmt::Write;

use crate::Plan;
use crate::unit::Action;

pub fn render(plan: &Plan) -> String {
    let units = plan.units();
    let header = ["UNIT", "DEPENDS ON", "TEMPLATE", "ACTION"];
    let rows: Vec<[String; 4]> = units
        .iter()
        .map(|u| {
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
            [
                u.id.to_string(),
                deps,
                if u.provisional {
                    format!("{}*", u.template_name)
                } else {
                    u.template_name.clone()
                },
                action.to_string(),
            ]
        })
        .collect();
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
    let build = units.iter().filter(|u| u.action == Action::Build).count();
    let unchanged = units.len() - build;
    let mut envs: Vec<&str> = Vec::new();
    for u in units {
        if !envs.contains(&u.environment.as_str()) {
            envs.push(&u.environment);
        }
    }
    let external: usize = units.iter().map(|u| u.external_depends_on.len()).sum();
    let _ = write!(
        out,
        "\n{} {} in {} {} of pipeline `{}`: {build} to build, {unchanged} unchanged",
        units.len(),
        if units.len() == 1 { "unit" } else { "units" },
        envs.len(),
        if envs.len() == 1 {
            "environment"
        } else {
            "environments"
        },
        plan.pipeline(),
    );
    if external > 0 {
        let _ = write!(
            out,
            ", {external} external {}",
            if external == 1 {
                "dependency"
            } else {
                "dependencies"
            }
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
    out
}
