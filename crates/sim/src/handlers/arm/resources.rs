//! Resource groups, user-assigned identities and other resources created by deployments.
//! By default every resource group and identity a request names exists; the scenario's
//! `missing` globs make some absent. Staging groups (`IT_*`) exist while their template does
//! (or, for templates matching the scenario's `keep_staging`, until they are deleted), tagged
//! as AIB tags them: `createdBy = AzureVMImageBuilder`, `imageTemplateName`,
//! `imageTemplateResourceGroupName`, plus the template's `managedResourceTags`.
//!
//! Listing resource groups (`GET /subscriptions/{sub}/resourcegroups`) returns the groups the
//! simulator knows of (those holding templates, deployments, gallery versions or other
//! resources, and staging groups), with ARM's `$filter=tagName eq 'k' [and tagValue eq 'v']`.
//! `DELETE` of a resource group answers 202 with a `Location` under
//! `/subscriptions/{sub}/operationresults/{id}`; only leftover staging groups can be deleted.

use super::operations;
use super::stable_guid;
use crate::context::Ctx;
use crate::model::ArmErr;
use crate::model::operation::OpKind;
use crate::model::resource_path::ResourcePath;
use crate::model::staging::{StagingGroup, staging_tags};
use crate::response::{empty, json, not_found, rg_not_found};
use crate::state::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Whether deleting this template leaves its staging group behind (`keep_staging`).
pub fn keeps_staging(ctx: &Ctx, template: &str) -> bool {
    ctx.scenario.keep_staging.iter().any(|g| {
        globset::Glob::new(g)
            .map(|g| g.compile_matcher().is_match(template))
            .unwrap_or(false)
    })
}

fn leftover<'a>(st: &'a State, sub: &str, rg: &str) -> Option<&'a StagingGroup> {
    st.staging_leftovers
        .get(&format!("/subscriptions/{sub}/resourcegroups/{rg}").to_ascii_lowercase())
}

/// Remove leftover staging groups whose deletion has finished.
pub fn tick(ctx: &Ctx, st: &mut State, now: f64) {
    st.staging_leftovers.retain(|_, g| {
        g.deleting_at
            .is_none_or(|d| now < d + ctx.scenario.delete_minutes)
    });
}

/// Whether a resource group exists.
pub fn rg_exists(ctx: &Ctx, st: &State, sub: &str, rg: &str) -> bool {
    let id = format!("/subscriptions/{sub}/resourceGroups/{rg}");
    if ctx.is_missing(&id) {
        return false;
    }
    if rg.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("IT_")) {
        return st.templates.values().any(|t| {
            t.has_staging()
                && t.sub.eq_ignore_ascii_case(sub)
                && t.staging_rg.eq_ignore_ascii_case(rg)
        }) || leftover(st, sub, rg).is_some();
    }
    true
}

/// `GET /subscriptions/{sub}/resourcegroups/{rg}`
pub fn get_rg(ctx: &Ctx, st: &State, sub: &str, rg: &str) -> Response {
    if !rg_exists(ctx, st, sub, rg) {
        return rg_not_found(rg);
    }
    json(StatusCode::OK, &rg_json(ctx, st, sub, rg))
}

fn rg_json(ctx: &Ctx, st: &State, sub: &str, rg: &str) -> Value {
    let id = format!("/subscriptions/{sub}/resourceGroups/{rg}");
    let staging_of = st.templates.values().find(|t| {
        t.has_staging() && t.sub.eq_ignore_ascii_case(sub) && t.staging_rg.eq_ignore_ascii_case(rg)
    });
    if let Some(t) = staging_of {
        return json!({
            "id": id,
            "name": rg,
            "type": "Microsoft.Resources/resourceGroups",
            "location": t.location,
            "managedBy": t.id(),
            "tags": staging_tags(t),
            "properties": {"provisioningState": if t.deleting_at.is_some() { "Deleting" } else { "Succeeded" }},
        });
    }
    if let Some(g) = leftover(st, sub, rg) {
        return json!({
            "id": g.id(),
            "name": g.name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": g.location,
            "managedBy": g.template_id,
            "tags": g.tags,
            "properties": {"provisioningState": if g.deleting_at.is_some() { "Deleting" } else { "Succeeded" }},
        });
    }
    json!({
        "id": id,
        "name": rg,
        "type": "Microsoft.Resources/resourceGroups",
        "location": ctx.scenario.default_location,
        "tags": {},
        "properties": {"provisioningState": "Succeeded"},
    })
}

/// A `$filter` of `GET /subscriptions/{sub}/resourcegroups`: ARM's tag forms
/// `tagName eq 'k'` and `tagName eq 'k' and tagValue eq 'v'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    pub name: String,
    pub value: Option<String>,
}

impl TagFilter {
    /// Parse a filter; `Err` names what is not supported.
    pub fn parse(s: &str) -> Result<TagFilter, ArmErr> {
        let bad = || {
            ArmErr::bad_request(
                "InvalidFilterInQueryString",
                format!(
                    "Invalid $filter '{s}' specified in the query string. The simulator supports tagName eq 'name' [and tagValue eq 'value']."
                ),
            )
        };
        let quoted = |t: &str| -> Option<String> {
            let t = t.trim();
            t.strip_prefix('\'')?
                .strip_suffix('\'')
                .map(|v| v.replace("''", "'"))
        };
        let clause = |c: &str, key: &str| -> Option<String> {
            let c = c.trim();
            let (k, rest) = c.split_once(char::is_whitespace)?;
            let (op, v) = rest.trim_start().split_once(char::is_whitespace)?;
            (k.eq_ignore_ascii_case(key) && op.eq_ignore_ascii_case("eq")).then_some(())?;
            quoted(v)
        };
        let lower = s.to_ascii_lowercase();
        let (first, second) = match lower.find(" and ") {
            Some(i) => (&s[..i], Some(&s[i + 5..])),
            None => (s, None),
        };
        let name = clause(first, "tagName").ok_or_else(bad)?;
        let value = match second {
            Some(c) => Some(clause(c, "tagValue").ok_or_else(bad)?),
            None => None,
        };
        Ok(TagFilter { name, value })
    }

    fn matches(&self, tags: &Value) -> bool {
        let Some(obj) = tags.as_object() else {
            return false;
        };
        obj.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case(&self.name)
                && self
                    .value
                    .as_ref()
                    .is_none_or(|want| v.as_str() == Some(want.as_str()))
        })
    }
}

/// `GET /subscriptions/{sub}/resourcegroups[?$filter=...]`
pub fn list_rgs(
    ctx: &Ctx,
    st: &State,
    sub: &str,
    filter: Option<&str>,
) -> Result<Vec<Value>, Response> {
    let filter = match filter.filter(|f| !f.trim().is_empty()) {
        Some(f) => Some(TagFilter::parse(f).map_err(ArmErr::into_response)?),
        None => None,
    };
    // lower-case name -> name as first seen
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |rsub: &str, rg: &str| {
        if rsub.eq_ignore_ascii_case(sub) {
            names
                .entry(rg.to_ascii_lowercase())
                .or_insert_with(|| rg.to_string());
        }
    };
    for t in st.templates.values() {
        add(&t.sub, &t.rg);
        if t.has_staging() {
            add(&t.sub, &t.staging_rg);
        }
    }
    for g in st.staging_leftovers.values() {
        add(&g.sub, &g.name);
    }
    for l in st.versions.values() {
        for v in l {
            add(&v.sub, &v.rg);
        }
    }
    for id in st.deployments.keys().chain(st.generic.keys()) {
        if let Some(p) = ResourcePath::parse_id(id)
            && let Some(rg) = &p.rg
        {
            add(&p.sub, rg);
        }
    }
    Ok(names
        .values()
        .filter(|rg| rg_exists(ctx, st, sub, rg))
        .map(|rg| rg_json(ctx, st, sub, rg))
        .filter(|v| {
            filter
                .as_ref()
                .is_none_or(|f| f.matches(v.get("tags").unwrap_or(&Value::Null)))
        })
        .collect())
}

/// `DELETE /subscriptions/{sub}/resourcegroups/{rg}`: a leftover staging group is deleted
/// (202 + `Location`, gone `delete_minutes` later); the staging group of a template that still
/// exists is refused (delete the template); other groups are not deleted by the simulator.
pub fn delete_rg(ctx: &Ctx, st: &mut State, sub: &str, rg: &str, api_version: &str) -> Response {
    if !rg_exists(ctx, st, sub, rg) {
        return rg_not_found(rg);
    }
    if let Some(t) = st.templates.values().find(|t| {
        t.has_staging() && t.sub.eq_ignore_ascii_case(sub) && t.staging_rg.eq_ignore_ascii_case(rg)
    }) {
        return ArmErr::conflict(
            "ResourceGroupManagedByImageTemplate",
            format!(
                "The resource group '{rg}' is the staging resource group of image template '{}' (managedBy); delete the image template instead.",
                t.id()
            ),
        )
        .into_response();
    }
    let key = format!("/subscriptions/{sub}/resourcegroups/{rg}").to_ascii_lowercase();
    let now = ctx.clock.now();
    let Some(g) = st.staging_leftovers.get_mut(&key) else {
        return ArmErr::conflict(
            "Conflict",
            format!(
                "The simulator deletes only staging resource groups left behind by deleted image templates; '{rg}' is not one."
            ),
        )
        .into_response();
    };
    let start = *g.deleting_at.get_or_insert(now);
    let (gsub, location) = (g.sub.clone(), g.location.clone());
    let existing = st
        .operations
        .values()
        .find(|o| o.kind == OpKind::ResourceGroupDelete && o.template_key == key)
        .map(|o| o.id.clone());
    let op = match existing {
        Some(op) => op,
        None => operations::new_op(
            st,
            &gsub,
            &location,
            OpKind::ResourceGroupDelete,
            &key,
            start,
            Some(start + ctx.scenario.delete_minutes),
        ),
    };
    let mut r = empty(StatusCode::ACCEPTED);
    operations::add_delete_headers(ctx, st, &mut r, &op, api_version);
    r
}

/// `GET .../Microsoft.ManagedIdentity/userAssignedIdentities/{name}`
pub fn get_identity(ctx: &Ctx, st: &State, sub: &str, rg: &str, name: &str) -> Response {
    if !rg_exists(ctx, st, sub, rg) {
        return rg_not_found(rg);
    }
    let id = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    );
    if ctx.is_missing(&id) {
        return not_found("Microsoft.ManagedIdentity/userAssignedIdentities", name, rg);
    }
    let lk = id.to_ascii_lowercase();
    json(
        StatusCode::OK,
        &json!({
            "id": id,
            "name": name,
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            "location": ctx.scenario.default_location,
            "tags": {},
            "properties": {
                "tenantId": "00000000-0000-0000-0000-00000000a1b5",
                "principalId": stable_guid(&format!("principal:{lk}")),
                "clientId": stable_guid(&format!("client:{lk}")),
            }
        }),
    )
}

/// GET on any other resource id: served if a deployment created it.
pub fn get_generic(
    ctx: &Ctx,
    st: &State,
    sub: &str,
    rg: &str,
    id: &str,
    name: &str,
    rtype: &str,
) -> Response {
    if !rg_exists(ctx, st, sub, rg) {
        return rg_not_found(rg);
    }
    match st.generic.get(&id.to_ascii_lowercase()) {
        Some(v) if !ctx.is_missing(id) => json(StatusCode::OK, v),
        _ => not_found(rtype, name, rg),
    }
}
