//! Rendering setting strings with minijinja (strict undefined). Each distinct template string is
//! compiled once per plan and cached; strings without `{{` or `{%` are returned as they are.
//!
//! Every render is bounded: [`SETTING_FUEL`] steps of minijinja's fuel (instructions, plus
//! the bytes it builds) and [`MAX_SETTING_OUTPUT`] bytes of output, so nested
//! `range(100000)` loops or `"x" * 10**9` end with an error instead of hanging `validate`.
//! `debug()` is not available: it would print the whole context.

use foldhash::HashMap;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

/// Whether a string holds template syntax.
pub fn is_templated(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// Fuel of one setting's render (minijinja: one per instruction, one per 64 bytes built).
pub const SETTING_FUEL: u64 = 100_000;
/// Most bytes one setting may render to (ARM refuses a deployment over 4 MiB anyway).
pub const MAX_SETTING_OUTPUT: usize = 4 << 20;

/// The message of a render that hit a bound (fuel or output size), else `None`.
pub fn bound_message(e: &minijinja::Error, fuel: u64) -> Option<String> {
    (e.kind() == minijinja::ErrorKind::OutOfFuel).then(|| {
        format!(
            "the template does more than {fuel} steps (minijinja's fuel); a template must not loop without bound"
        )
    })
}

/// Adds `sh_quote` and `ps_quote` and replaces `tojson`. On a value they quote it; on a secret's
/// placeholder they record themselves in it (see [`crate::secret_ref`]), so they act on the
/// secret's value when `build` resolves it. `in_json` is for templates whose output is JSON
/// (user templates): there `tojson` of a secret is the JSON string holding its placeholder,
/// which becomes the secret's value.
pub fn add_secret_filters(env: &mut Environment<'_>, in_json: bool) {
    use crate::secret_ref::{ps_quote, sh_quote, with_filter};
    use minijinja::{Error, ErrorKind};
    fn text(v: &Value) -> String {
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string())
    }
    env.add_filter("sh_quote", |v: Value| -> Result<Value, Error> {
        let s = text(&v);
        if let Some(p) = with_filter(&s, "sh_quote") {
            return Ok(Value::from(p));
        }
        sh_quote(&s)
            .map(Value::from)
            .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
    });
    env.add_filter("ps_quote", |v: Value| -> Result<Value, Error> {
        let s = text(&v);
        Ok(Value::from(
            with_filter(&s, "ps_quote").unwrap_or_else(|| ps_quote(&s)),
        ))
    });
    env.add_filter(
        "tojson",
        move |v: Value,
              indent: Option<Value>,
              kw: minijinja::value::Kwargs|
              -> Result<Value, Error> {
            if let Some(s) = v.as_str()
                && let Some(p) = with_filter(s, "tojson")
            {
                return Ok(if in_json {
                    Value::from_safe_string(serde_json::Value::String(s.to_string()).to_string())
                } else {
                    Value::from(p)
                });
            }
            minijinja::filters::tojson(&v, indent, kw)
        },
    );
}

/// Why a string did not render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderError {
    /// The undefined name (`matrix.relase`), when that is the problem.
    pub undefined: Option<String>,
    /// minijinja's message.
    pub message: String,
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.undefined {
            Some(name) => write!(f, "undefined `{name}`"),
            None => f.write_str(&self.message),
        }
    }
}

/// The template cache of one plan: each distinct string is compiled once, and its output is
/// remembered per combination of the values it reads (most settings read a few of `env`,
/// `variant`, `matrix.*`, so thousands of units share a handful of renders).
pub struct Renderer {
    env: Environment<'static>,
    /// Template source → index in `compiled`.
    templates: HashMap<String, usize>,
    compiled: Vec<Compiled>,
    outputs: HashMap<(usize, Vec<Value>), String>,
}

struct Compiled {
    error: Option<String>,
    /// The variables the template reads, split at dots, sorted.
    vars: Vec<Vec<String>>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("templates", &self.templates.len())
            .field("outputs", &self.outputs.len())
            .finish()
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_fuel(Some(SETTING_FUEL));
        env.remove_global("debug");
        add_secret_filters(&mut env, false);
        Self {
            env,
            templates: HashMap::default(),
            compiled: Vec::new(),
            outputs: HashMap::default(),
        }
    }

    /// How many distinct templates were compiled.
    pub fn compiled_count(&self) -> usize {
        self.templates.len()
    }

    /// Renders `src` with `ctx`.
    pub fn render(&mut self, src: &str, ctx: &Value) -> Result<String, RenderError> {
        if !is_templated(src) {
            return Ok(src.to_string());
        }
        let index = match self.templates.get(src) {
            Some(&i) => i,
            None => self.compile(src),
        };
        let Some(compiled) = self.compiled.get(index) else {
            return Err(RenderError {
                undefined: None,
                message: "template not compiled".into(),
            });
        };
        if let Some(err) = &compiled.error {
            return Err(RenderError {
                undefined: None,
                message: err.clone(),
            });
        }
        let key = (index, cache_key(&compiled.vars, ctx));
        if let Some(out) = self.outputs.get(&key) {
            return Ok(out.clone());
        }
        let result = match self.env.get_template(src) {
            Ok(t) => t.render(ctx),
            Err(e) => Err(e),
        };
        match result {
            Ok(s) if s.len() > MAX_SETTING_OUTPUT => Err(RenderError {
                undefined: None,
                message: format!(
                    "the template renders {} bytes, more than the {MAX_SETTING_OUTPUT} a setting may have",
                    s.len()
                ),
            }),
            Ok(mut s) => {
                // minijinja drops one trailing newline; keep the string as written.
                if src.ends_with('\n') && !s.ends_with('\n') {
                    s.push('\n');
                }
                self.outputs.insert(key, s.clone());
                Ok(s)
            }
            Err(e) => {
                let undefined = if e.kind() == minijinja::ErrorKind::UndefinedError {
                    self.undefined_name(src, ctx)
                } else {
                    None
                };
                Err(RenderError {
                    undefined,
                    message: bound_message(&e, SETTING_FUEL).unwrap_or_else(|| e.to_string()),
                })
            }
        }
    }

    /// Compiles a template seen for the first time; returns its index. A template that uses
    /// a secret other than by printing it does not compile (see [`crate::secret_use`]).
    fn compile(&mut self, src: &str) -> usize {
        let index = self.compiled.len();
        let error = self
            .env
            .add_template_owned(src.to_string(), src.to_string())
            .err()
            .map(|e| e.to_string())
            .or_else(|| crate::secret_use::check(src).map(|m| m.to_string()));
        let mut vars: Vec<Vec<String>> = match (&error, self.env.get_template(src)) {
            (None, Ok(t)) => t
                .undeclared_variables(true)
                .into_iter()
                .map(|v| v.split('.').map(str::to_string).collect())
                .collect(),
            _ => Vec::new(),
        };
        vars.sort();
        self.compiled.push(Compiled { error, vars });
        self.templates.insert(src.to_string(), index);
        index
    }

    /// The first variable the template uses that the context does not hold.
    fn undefined_name(&self, src: &str, ctx: &Value) -> Option<String> {
        let index = *self.templates.get(src)?;
        let vars = &self.compiled.get(index)?.vars;
        vars.iter()
            .find(|path| !resolves(ctx, path))
            .or_else(|| vars.first())
            .map(|p| p.join("."))
    }
}

/// The values a template reads, as one string: for `a.b.c`, the value of the longest prefix
/// that resolves (so `matrix.os.upper` keys on `matrix.os`).
fn cache_key(vars: &[Vec<String>], ctx: &Value) -> Vec<Value> {
    let mut key = Vec::with_capacity(vars.len() * 2);
    for path in vars {
        let mut cur = ctx.clone();
        let mut depth = 0u32;
        for part in path {
            match cur.get_attr(part) {
                Ok(v) if !v.is_undefined() => {
                    cur = v;
                    depth += 1;
                }
                _ => break,
            }
        }
        key.push(Value::from(depth));
        key.push(cur);
    }
    key
}

/// A JSON value as a template value.
pub fn json_to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => a.iter().map(json_to_value).collect(),
        serde_json::Value::Object(o) => {
            Value::from_pairs(o.iter().map(|(k, v)| (k.as_str(), json_to_value(v))))
        }
    }
}

fn resolves(ctx: &Value, path: &[String]) -> bool {
    let mut cur = ctx.clone();
    for part in path {
        match cur.get_attr(part) {
            Ok(v) if !v.is_undefined() => cur = v,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn renders_and_caches() {
        let mut r = Renderer::new();
        let ctx = context! { env => "dev", matrix => context!{ release => "2204" } };
        assert_eq!(
            r.render("rg-{{ env }}-{{ matrix.release }}", &ctx),
            Ok("rg-dev-2204".into())
        );
        assert_eq!(r.render("plain", &ctx), Ok("plain".into()));
        let ctx2 = context! { env => "prod", matrix => context!{ release => "2404" } };
        assert_eq!(
            r.render("rg-{{ env }}-{{ matrix.release }}", &ctx2),
            Ok("rg-prod-2404".into())
        );
        assert_eq!(r.compiled_count(), 1);
        // Cached outputs are keyed on what the template reads.
        let ctx3 = context! { env => "prod", matrix => context!{ release => "2204" } };
        assert_eq!(
            r.render("rg-{{ env }}-{{ matrix.release }}", &ctx3),
            Ok("rg-prod-2204".into())
        );
        let a = context! { matrix => context!{ os => "ab" } };
        let b = context! { matrix => context!{ os => "cd" } };
        assert_eq!(r.render("{{ matrix.os | upper }}", &a), Ok("AB".into()));
        assert_eq!(r.render("{{ matrix.os | upper }}", &b), Ok("CD".into()));
        assert_eq!(r.render("{{ matrix['os'] }}", &a), Ok("ab".into()));
        assert_eq!(r.render("{{ matrix['os'] }}", &b), Ok("cd".into()));
        assert_eq!(
            r.render("{% for k in matrix %}{{ matrix[k] }}{% endfor %}", &b),
            Ok("cd".into())
        );
        assert_eq!(r.render("{% set x = env %}{{ x }}", &ctx), Ok("dev".into()));
        assert_eq!(
            r.render("{% set x = env %}{{ x }}", &ctx2),
            Ok("prod".into())
        );
    }

    #[test]
    fn strict_undefined_names_the_variable() {
        let mut r = Renderer::new();
        let ctx = context! { env => "dev", matrix => context!{ release => "2204" } };
        let e = r.render("x-{{ matrix.relase }}", &ctx).err();
        assert_eq!(
            e.and_then(|e| e.undefined),
            Some("matrix.relase".to_string())
        );
        let e = r.render("{{ nope }}", &ctx).err();
        assert_eq!(e.and_then(|e| e.undefined), Some("nope".to_string()));
        assert!(r.render("{{ broken", &ctx).is_err());
    }

    /// Attack: templates that would never end or fill memory end with an error naming the
    /// bound; `debug()` (a dump of the context) is not there.
    #[test]
    fn renders_are_bounded_and_debug_is_gone() {
        let mut r = Renderer::new();
        let ctx = context! { env => "dev" };
        let e = r
            .render(
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                &ctx,
            )
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(e.contains("more than 100000 steps"), "{e}");
        let e = r
            .render("{{ 'x' * 1000000000 }}", &ctx)
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(e.contains("steps"), "{e}");
        assert!(r.render("{{ debug() }}", &ctx).is_err());
    }
}
