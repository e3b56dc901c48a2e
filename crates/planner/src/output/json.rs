//! `aib plan --format json`: `{ "version": 1, "pipeline", "units": [...], "critical_path" }`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Plan;
use crate::unit::{Action, UnitId};

/// Version of the JSON shape.
pub const PLAN_JSON_VERSION: u32 = 1;

/// The plan as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "aib plan")]
pub struct PlanJson {
    /// Version of this document's shape (1).
    pub version: u32,
    /// The pipeline's name.
    pub pipeline: String,
    /// Selected units in a stable order.
    pub units: Vec<UnitJson>,
    /// The longest chain of dependent units.
    pub critical_path: Vec<UnitId>,
}

/// One unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UnitJson {
    /// `<env>/<variant>` or `<env>/<variant>[axis=value,...]`.
    pub id: UnitId,
    pub environment: String,
    pub variant: String,
    /// The unit's matrix values (empty without matrix).
    pub matrix: serde_json::Map<String, serde_json::Value>,
    pub subscription: String,
    pub location: String,
    pub resource_group: String,
    /// Name of the image template (`<pipeline>-<variant>-<env>-<hash8>`).
    pub template_name: String,
    /// `true` when `template_name` and `input_hash` are provisional: they depend on a source
    /// version resolved when the unit builds (a `latest` platform image, or the version a
    /// parent unit publishes); `aib plan --refresh` resolves what Azure already knows. Left
    /// out when `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
    pub image_definition: String,
    /// Preview of the version published (`2026.105.*`, `auto`, `1.2.*`).
    pub image_version: String,
    /// `sha256:<hex>` with the source image version `latest`.
    pub input_hash: String,
    /// Units of this plan that must verify first.
    pub depends_on: Vec<UnitId>,
    /// Dependencies outside the selection (not built by this run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_depends_on: Vec<UnitId>,
    pub action: Action,
}

impl PlanJson {
    pub fn from_plan(plan: &Plan) -> Self {
        Self {
            version: PLAN_JSON_VERSION,
            pipeline: plan.pipeline().to_string(),
            units: plan
                .units()
                .iter()
                .map(|u| UnitJson {
                    id: u.id.clone(),
                    environment: u.environment.clone(),
                    variant: u.variant.clone(),
                    matrix: u
                        .matrix
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    subscription: u.settings.subscription.clone(),
                    location: u.settings.location.clone(),
                    resource_group: u.settings.resource_group.clone(),
                    template_name: u.template_name.clone(),
                    provisional: u.provisional,
                    image_definition: u.settings.image_definition.clone(),
                    image_version: u.image_version.clone(),
                    input_hash: u.input_hash.preview().to_string(),
                    depends_on: u.depends_on.clone(),
                    external_depends_on: u.external_depends_on.clone(),
                    action: u.action,
                })
                .collect(),
            critical_path: plan.critical_path().to_vec(),
        }
    }
}

/// Pretty JSON with a trailing newline: the text of [`PlanJson::from_plan`], serialized from
/// the plan in place (no copy of every unit's strings first).
pub fn render(plan: &Plan) -> String {
    let mut out = Vec::with_capacity(128 + plan.units().len() * 768);
    match write(plan, &mut out) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(e) => format!("{{\"error\": \"{e}\"}}\n"),
    }
}

/// [`render`]'s text written to `out` as it is made (a 100,000-unit plan is 60 MB of JSON).
pub fn write(plan: &Plan, mut out: impl std::io::Write) -> std::io::Result<()> {
    let doc = PlanJsonRef {
        version: PLAN_JSON_VERSION,
        pipeline: plan.pipeline(),
        units: UnitsRef(plan),
        critical_path: plan.critical_path(),
    };
    serde_json::to_writer_pretty(&mut out, &doc).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}

/// [`PlanJson`] borrowing from the plan; fields, order and attributes must stay the same.
#[derive(Serialize)]
struct PlanJsonRef<'a> {
    version: u32,
    pipeline: &'a str,
    units: UnitsRef<'a>,
    critical_path: &'a [UnitId],
}

struct UnitsRef<'a>(&'a Plan);

impl Serialize for UnitsRef<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_seq(self.0.units().iter().map(|u| UnitJsonRef {
            id: &u.id,
            environment: &u.environment,
            variant: &u.variant,
            matrix: &u.matrix,
            subscription: &u.settings.subscription,
            location: &u.settings.location,
            resource_group: &u.settings.resource_group,
            template_name: &u.template_name,
            provisional: u.provisional,
            image_definition: &u.settings.image_definition,
            image_version: &u.image_version,
            input_hash: u.input_hash.preview(),
            depends_on: &u.depends_on,
            external_depends_on: &u.external_depends_on,
            action: u.action,
        }))
    }
}

/// [`UnitJson`] borrowing from a unit.
#[derive(Serialize)]
struct UnitJsonRef<'a> {
    id: &'a UnitId,
    environment: &'a str,
    variant: &'a str,
    /// In the row's order, as `serde_json::Map` (with `preserve_order`) keeps it.
    matrix: &'a aib_manifest::MatrixRow,
    subscription: &'a str,
    location: &'a str,
    resource_group: &'a str,
    template_name: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    provisional: bool,
    image_definition: &'a str,
    image_version: &'a str,
    input_hash: &'a str,
    depends_on: &'a [UnitId],
    #[serde(skip_serializing_if = "<[UnitId]>::is_empty")]
    external_depends_on: &'a [UnitId],
    action: Action,
}

/// The JSON Schema of `aib plan --format json` (checked in as `schemas/aib-plan.schema.json`).
pub fn plan_schema() -> schemars::Schema {
    let mut schema = schemars::schema_for!(PlanJson);
    schema.insert(
        "$id".into(),
        "https://aib.dev/schemas/aib-plan.schema.json".into(),
    );
    schema
}
