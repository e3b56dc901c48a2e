//! Reading `aib.toml`: TOML syntax errors (all of them), type errors, and every unknown key with
//! a "did you mean" hint, then the semantic checks of [`crate::validate`].

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::diagnostic::{Diagnostic, Diagnostics, ManifestError, SourceFile};
use crate::model::ManifestFile;
use crate::suggest::{Segment, TableShape, did_you_mean, table_shape};
use crate::validate;

/// A manifest that parsed and passed every offline check (warnings may remain).
#[derive(Clone, Debug)]
pub struct Manifest {
    /// Path of the manifest file as given.
    pub path: PathBuf,
    /// Directory relative paths in the manifest are resolved against.
    pub dir: PathBuf,
    pub source: SourceFile,
    pub file: ManifestFile,
    /// Problems that do not stop aib.
    pub warnings: Vec<Diagnostic>,
    /// Where scripts and templates may come from (the manifest's folder and `allow_paths`).
    pub file_roots: crate::FileRoots,
}

impl Manifest {
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        Self::from_str(path, &dir, text)
    }

    /// Checks manifest text as if read from `path`, with relative paths resolved against `dir`.
    pub fn from_str(path: &Path, dir: &Path, text: String) -> Result<Manifest, ManifestError> {
        let source = SourceFile::new(path.display().to_string(), text);
        let (file, mut diags) = parse_all(&source);
        let Some(file) = file else {
            diags.attach_source(&source);
            diags.sort();
            return Err(ManifestError::Invalid(diags));
        };
        diags.extend(validate::check(&file, dir).items);
        diags.attach_source(&source);
        diags.sort();
        if diags.has_errors() {
            return Err(ManifestError::Invalid(diags));
        }
        let allow: Vec<&str> = file
            .pipeline
            .allow_paths
            .iter()
            .map(|p| p.as_str())
            .collect();
        let file_roots = crate::FileRoots::new(dir, &allow);
        Ok(Manifest {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            source,
            file,
            warnings: diags.items,
            file_roots,
        })
    }

    /// The pipeline name.
    pub fn pipeline(&self) -> &str {
        self.file.pipeline.name.as_str()
    }

    /// Directory of user templates.
    pub fn templates_dir(&self) -> PathBuf {
        self.dir.join(
            self.file
                .pipeline
                .templates_dir
                .as_ref()
                .map(|s| s.as_str())
                .unwrap_or("templates"),
        )
    }
}

/// Parses manifest text into the typed model, collecting syntax errors, the first type error
/// and every unknown key.
pub fn parse(source: &SourceFile) -> Result<ManifestFile, ManifestError> {
    let (file, mut diags) = parse_all(source);
    diags.attach_source(source);
    diags.sort();
    match file {
        Some(f) if !diags.has_errors() => Ok(f),
        _ => Err(ManifestError::Invalid(diags)),
    }
}

/// The typed model when the text has the right types (unknown keys are left out of it), and
/// every problem found on the way.
fn parse_all(source: &SourceFile) -> (Option<ManifestFile>, Diagnostics) {
    let text = source.text();
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    let mut diags = Diagnostics::default();
    for e in syntax_errors {
        diags.push(toml_error("aib::toml-syntax", "invalid TOML", &e));
    }
    if diags.has_errors() {
        return (None, diags);
    }

    let file: Option<ManifestFile> = match toml::from_str(text) {
        Ok(f) => Some(f),
        Err(e) => {
            diags.push(toml_error("aib::type", "invalid value", &e));
            None
        }
    };
    let schema = serde_json::to_value(crate::json_schema::manifest_schema()).unwrap_or_default();
    let mut path = Vec::new();
    unknown_keys(root.get_ref(), &schema, &mut path, &mut diags);
    (file, diags)
}

fn toml_error(code: &'static str, label: &str, e: &toml::de::Error) -> Diagnostic {
    let msg = e.message().trim().to_string();
    let d = Diagnostic::error(code, first_line_upper(&msg));
    match e.span() {
        Some(span) => d.with_label(span, label),
        None => d,
    }
}

fn first_line_upper(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

/// Reports every key of the document that the manifest schema does not allow where it stands.
fn unknown_keys(
    table: &DeTable<'_>,
    schema: &serde_json::Value,
    path: &mut Vec<Segment>,
    diags: &mut Diagnostics,
) {
    let shape = table_shape(schema, path);
    for (key, value) in table {
        let k = key.get_ref().as_ref();
        if let TableShape::Closed(allowed) = &shape
            && !allowed.iter().any(|a| a == k)
        {
            let mut d = Diagnostic::error(
                "aib::unknown-key",
                format!("unknown key `{k}` in {}", display_path(path)),
            )
            .with_label(key.span(), "not a key aib knows here");
            if let Some(best) = did_you_mean(k, allowed) {
                d = d.with_help(format!("did you mean `{best}`?"));
            } else if !allowed.is_empty() && allowed.len() <= 12 {
                let list: Vec<String> = allowed.iter().map(|c| format!("`{c}`")).collect();
                d = d.with_help(format!("expected one of {}", list.join(", ")));
            }
            diags.push(d);
            continue;
        }
        path.push(Segment::Key(k.to_string()));
        walk_value(value.get_ref(), schema, path, diags);
        path.pop();
    }
}

fn walk_value(
    value: &DeValue<'_>,
    schema: &serde_json::Value,
    path: &mut Vec<Segment>,
    diags: &mut Diagnostics,
) {
    if let Some(t) = value.as_table() {
        unknown_keys(t, schema, path, diags);
    } else if let Some(items) = value.as_array() {
        for (i, item) in items.iter().enumerate() {
            path.push(Segment::Index(i));
            walk_value(item.get_ref(), schema, path, diags);
            path.pop();
        }
    }
}

/// `[variants.ubuntu]`-style name of the table a path points into.
fn display_path(path: &[Segment]) -> String {
    if path.is_empty() {
        return "the top level".into();
    }
    let mut s = String::new();
    for seg in path {
        match seg {
            Segment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Segment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    format!("`{s}`")
}
