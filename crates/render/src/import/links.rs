//! Linked templates given by `templateLink.relativePath`, read from beside the imported file
//! and inlined before imageTemplates are looked for.

use std::path::Path;

use serde_json::{Map, Value};

use super::error::NotATemplate;
use super::expr::Expr;
use super::find::{MAX_NESTING, ResKey, is_deployment, resource_mut, resources};
use super::notes::Notes;
use super::path::JsonPath;
use super::read;

/// Replaces `templateLink.relativePath` of nested deployments by the linked file's template
/// (read relative to `dir`), as `az deployment` packs local linked templates. Links by URI are
/// left as they are, with a note.
pub fn inline_relative_links(
    t: &mut Map<String, Value>,
    dir: Option<&Path>,
    at: &JsonPath,
    depth: usize,
    notes: &mut Notes,
) -> Result<(), NotATemplate> {
    let keys: Vec<ResKey> = resources(t).into_iter().map(|(k, _)| k).collect();
    for k in keys {
        let path = k.path(at);
        let Some(r) = resource_mut(t, &k) else {
            continue;
        };
        if !is_deployment(r) {
            continue;
        }
        let Some(props) = r.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        if let Some(Value::Object(inner)) = props.get_mut("template") {
            if depth >= MAX_NESTING {
                return Err(NotATemplate::NestsTooDeep {
                    at: path,
                    limit: MAX_NESTING,
                });
            }
            let inner_dir = dir.map(Path::to_path_buf);
            inline_relative_links(
                inner,
                inner_dir.as_deref(),
                &path.key("properties").key("template"),
                depth + 1,
                notes,
            )?;
            continue;
        }
        let Some(link) = props.get("templateLink").and_then(Value::as_object) else {
            continue;
        };
        let rel = link
            .get("relativePath")
            .and_then(Value::as_str)
            .map(str::to_string);
        let (Some(rel), Some(dir)) = (rel, dir) else {
            notes.add(
                path.key("properties").key("templateLink"),
                "a linked template aib cannot read offline (only `relativePath` links to files beside the imported one are followed); an imageTemplate inside it is not imported".to_string(),
            );
            continue;
        };
        if Expr::of(&rel).is_some() || depth >= MAX_NESTING {
            notes.add(
                path.key("properties")
                    .key("templateLink")
                    .key("relativePath"),
                format!(
                    "`{rel}` is an expression or nests too deep; the linked template is not read"
                ),
            );
            continue;
        }
        inline_link(props, &dir.join(&rel), &rel, &path, depth, notes)?;
    }
    Ok(())
}

/// Puts the template of `file` (the link `rel` of the deployment at `path`) in place of the
/// deployment's `templateLink`, its own relative links inlined too.
fn inline_link(
    props: &mut Map<String, Value>,
    file: &Path,
    rel: &str,
    path: &JsonPath,
    depth: usize,
    notes: &mut Notes,
) -> Result<(), NotATemplate> {
    let mut linked = read_linked(file, rel, path)?;
    let linked_dir = file.parent().map(Path::to_path_buf);
    inline_relative_links(
        &mut linked,
        linked_dir.as_deref(),
        &path.key("properties").key("template"),
        depth + 1,
        notes,
    )?;
    props.remove("templateLink");
    props.insert("template".into(), Value::Object(linked));
    notes.add(
        path.key("properties")
            .key("templateLink")
            .key("relativePath"),
        format!("the linked template `{rel}` was read from beside the file and imported inline"),
    );
    Ok(())
}

/// The JSON object a linked template file holds.
fn read_linked(
    file: &Path,
    rel: &str,
    path: &JsonPath,
) -> Result<Map<String, Value>, NotATemplate> {
    let text = read::read_bounded(file).map_err(|reason| NotATemplate::LinkUnreadable {
        at: path.clone(),
        rel: rel.to_string(),
        reason,
    })?;
    match read::parse(&text) {
        Ok(Value::Object(linked)) => Ok(linked),
        Ok(_) => Err(NotATemplate::LinkNotObject {
            at: path.clone(),
            rel: rel.to_string(),
        }),
        Err(error) => Err(NotATemplate::LinkNotJson {
            at: path.clone(),
            rel: rel.to_string(),
            error,
        }),
    }
}
