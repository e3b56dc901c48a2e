//! Validating an imageTemplate PUT body: name, location, identity and properties, as AIB
//! refuses them; and the parts AIB keeps of what it accepts.

use crate::context::Ctx;
use crate::handlers::arm::valid_aib_name;
use crate::model::ArmErr;
use serde_json::{Map, Value, json};

const READ_ONLY: &[&str] = &[
    "provisioningState",
    "provisioningError",
    "lastRunStatus",
    "exactStagingResourceGroup",
];

fn strip_read_only(props: &Value) -> Value {
    let mut p = props.clone();
    if let Some(o) = p.as_object_mut() {
        for k in READ_ONLY {
            o.remove(*k);
        }
        if let Some(src) = o.get_mut("source").and_then(Value::as_object_mut) {
            src.remove("exactVersion");
        }
    }
    p
}

pub(super) fn strip_identity(id: &Value) -> Value {
    let mut id = id.clone();
    if let Some(uais) = id
        .get_mut("userAssignedIdentities")
        .and_then(Value::as_object_mut)
    {
        for v in uais.values_mut() {
            *v = json!({});
        }
    }
    id
}

fn get_ci<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The template's identity: user-assigned (each one existing) or none.
fn check_identity(ctx: &Ctx, identity: &Value) -> Result<(), ArmErr> {
    let id_type = identity.get("type").and_then(Value::as_str).unwrap_or("");
    if !["UserAssigned", "None"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(id_type))
    {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            format!("Identity type '{id_type}' is not supported. Supported: UserAssigned, None."),
        ));
    }
    if let Some(uais) = identity
        .get("userAssignedIdentities")
        .and_then(Value::as_object)
    {
        for k in uais.keys() {
            if ctx.is_missing(k) {
                return Err(ArmErr::bad_request(
                    "InvalidParameter",
                    format!(
                        "The user-assigned identity '{k}' was not found. Check that it exists and that the caller has access to it."
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The template's properties: a supported source, distribute targets with valid run output
/// names, supported customizers, a build timeout within AIB's range.
fn check_properties(props: &Value) -> Result<(), ArmErr> {
    check_source(props)?;
    check_distribute(props)?;
    check_customizers(props)?;
    check_build_timeout(props)
}

/// A `type` (of a source, distributor or customizer), `""` when absent.
fn type_of(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

/// Whether `t` is one of `known`, in any case.
fn is_one_of(known: &[&str], t: &str) -> bool {
    known.iter().any(|k| k.eq_ignore_ascii_case(t))
}

/// `source`: present, of a type AIB builds from.
fn check_source(props: &Value) -> Result<(), ArmErr> {
    let Some(source) = props.get("source").filter(|s| s.is_object()) else {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            "Missing required property 'properties.source'.",
        ));
    };
    let stype = type_of(source);
    if !is_one_of(
        &["PlatformImage", "ManagedImage", "SharedImageVersion"],
        stype,
    ) {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            format!("BadSourceType: source type '{stype}' is not supported."),
        ));
    }
    Ok(())
}

/// `distribute`: at least one target, each of a known type with a valid `runOutputName`.
fn check_distribute(props: &Value) -> Result<(), ArmErr> {
    let Some(dist) = props
        .get("distribute")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
    else {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            "Missing required property 'properties.distribute'.",
        ));
    };
    for d in dist {
        let dt = type_of(d);
        if !is_one_of(&["ManagedImage", "SharedImage", "VHD"], dt) {
            return Err(ArmErr::bad_request(
                "InvalidParameter",
                format!("BadDistributeType: distribute type '{dt}' is not supported."),
            ));
        }
        let ron = d.get("runOutputName").and_then(Value::as_str).unwrap_or("");
        if !valid_aib_name(ron) {
            return Err(ArmErr::bad_request(
                "InvalidParameter",
                format!(
                    "The runOutputName '{ron}' is invalid. It must match '^[A-Za-z0-9-_.]{{1,64}}$'."
                ),
            ));
        }
    }
    Ok(())
}

/// `customize` (optional): an array of customizers of the types AIB runs.
fn check_customizers(props: &Value) -> Result<(), ArmErr> {
    let Some(cs) = props.get("customize") else {
        return Ok(());
    };
    let Some(cs) = cs.as_array() else {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            "properties.customize must be an array.",
        ));
    };
    const KNOWN: [&str; 5] = [
        "Shell",
        "PowerShell",
        "File",
        "WindowsRestart",
        "WindowsUpdate",
    ];
    for c in cs {
        let ct = type_of(c);
        if !is_one_of(&KNOWN, ct) {
            return Err(ArmErr::bad_request(
                "InvalidParameter",
                format!("BadCustomizerType: customizer type '{ct}' is not supported."),
            ));
        }
    }
    Ok(())
}

/// `buildTimeoutInMinutes` (optional): an integer from 0 to 960.
fn check_build_timeout(props: &Value) -> Result<(), ArmErr> {
    match props.get("buildTimeoutInMinutes").map(Value::as_i64) {
        None => Ok(()),
        Some(Some(n)) if (0..=960).contains(&n) => Ok(()),
        Some(_) => Err(ArmErr::bad_request(
            "InvalidParameter",
            "The value of buildTimeoutInMinutes must be an integer between 0 and 960.",
        )),
    }
}

/// Validate a PUT body; returns (location, tags, identity, properties).
pub(super) fn validate(
    ctx: &Ctx,
    name: &str,
    body: &Value,
) -> Result<(String, Value, Value, Value), ArmErr> {
    if !valid_aib_name(name) {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            format!(
                "The imageTemplateName '{name}' is invalid. It must match the pattern '^[A-Za-z0-9-_.]{{1,64}}$'."
            ),
        ));
    }
    let Some(obj) = body.as_object() else {
        return Err(ArmErr::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        ));
    };
    let location = get_ci(obj, "location")
        .and_then(Value::as_str)
        .map(|s| s.to_ascii_lowercase().replace(' ', ""));
    let Some(location) = location.filter(|l| !l.is_empty()) else {
        return Err(ArmErr::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        ));
    };
    let Some(identity) = get_ci(obj, "identity").filter(|v| v.is_object()) else {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            "Missing required property 'identity'. An image template requires an identity.",
        ));
    };
    check_identity(ctx, identity)?;
    let Some(props) = get_ci(obj, "properties").filter(|v| v.is_object()) else {
        return Err(ArmErr::bad_request(
            "InvalidParameter",
            "Missing required property 'properties'.",
        ));
    };
    check_properties(props)?;
    let tags = get_ci(obj, "tags").cloned().unwrap_or_else(|| json!({}));
    Ok((
        location,
        tags,
        strip_identity(identity),
        strip_read_only(props),
    ))
}
