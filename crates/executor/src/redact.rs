//! The one secret-value redactor. Azure can send a secret back: a script that prints it, an
//! inline script Packer echoes into `customization.log`, a failure message that quotes a
//! command, a deployment error that quotes a parameter. Every string that comes from Azure or
//! from a downloaded log passes [`Redactor::redact`] before it is stored, printed or reported
//! (events and the run record in the recorder, saved logs in collect-logs, the reports built
//! from the record, aib's own log lines and errors in the binary), so each resolved secret
//! value shows as `***` there, in every form it can take on the way back: as is, JSON-escaped,
//! URL-encoded (`%20` and `+`), base64 (standard and URL-safe, with and without padding), the
//! forms the allowed filters make (`sh_quote`, `ps_quote`, `tojson`) and each long line of a
//! value that has several.
//!
//! A redactor is shared (cheap to clone); [`Redactor::add`] is called once secrets are
//! resolved, and everything that redacts afterwards sees them.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine;

/// What a secret value is replaced by.
pub const MASK: &str = "***";

/// Lines of a multi-line secret at least this long are redacted on their own too.
const MIN_LINE: usize = 8;
/// A text cut short that ends in at least this many bytes of a secret loses them.
const MIN_CUT: usize = 3;

#[derive(Default)]
struct Patterns {
    forms: Vec<String>,
    matcher: Option<AhoCorasick>,
}

/// Replaces every known secret value, in every form, by [`MASK`].
#[derive(Clone, Default)]
pub struct Redactor {
    inner: Arc<RwLock<Patterns>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.read(|p| p.forms.len());
        write!(f, "Redactor({n} forms)")
    }
}

/// The forms `value` can take in what Azure sends back.
pub fn forms(value: &str) -> Vec<String> {
    use aib_planner::secret_ref::{ps_quote, sh_quote, tojson};
    let mut base = vec![value.to_string(), ps_quote(value), tojson(value)];
    if let Ok(q) = sh_quote(value) {
        base.push(q);
    }
    base.extend(
        value
            .lines()
            .map(str::trim)
            .filter(|l| l.len() >= MIN_LINE && *l != value)
            .map(str::to_string),
    );
    let mut out = Vec::new();
    for b in base {
        let json = serde_json::Value::String(b.clone()).to_string();
        let json_inner = json
            .get(1..json.len().saturating_sub(1))
            .unwrap_or_default()
            .to_string();
        let url: String =
            percent_encoding::utf8_percent_encode(&b, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let form: String = url::form_urlencoded::byte_serialize(b.as_bytes()).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&b);
        let b64_url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&b);
        let b64_bare = b64.trim_end_matches('=').to_string();
        out.extend([b, json_inner, url, form, b64, b64_url, b64_bare]);
    }
    out.retain(|f| !f.is_empty());
    out.sort();
    out.dedup();
    out
}

impl Redactor {
    /// A redactor that knows no secret yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn read<T>(&self, f: impl FnOnce(&Patterns) -> T) -> T {
        match self.inner.read() {
            Ok(g) => f(&g),
            Err(p) => f(&p.into_inner()),
        }
    }

    /// Learns secret values (empty ones are ignored).
    pub fn add<'a>(&self, values: impl IntoIterator<Item = &'a str>) {
        let new: Vec<String> = values
            .into_iter()
            .filter(|v| !v.is_empty())
            .flat_map(forms)
            .collect();
        if new.is_empty() {
            return;
        }
        let mut g = match self.inner.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.forms.extend(new);
        g.forms.sort();
        g.forms.dedup();
        // Longest first wins where forms overlap (a value and its quoted form).
        g.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&g.forms)
            .ok();
    }

    /// Whether no secret is known.
    pub fn is_empty(&self) -> bool {
        self.read(|p| p.forms.is_empty())
    }

    /// `s` with every form of every known secret replaced by [`MASK`]. A text cut short
    /// (ending in `…`) may end in the first characters of a secret: those go too.
    pub fn redact<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let whole = self.read(|p| match &p.matcher {
            Some(m) if m.is_match(s) => Cow::Owned(m.replace_all(s, &vec![MASK; p.forms.len()])),
            _ => Cow::Borrowed(s),
        });
        match whole
            .strip_suffix('…')
            .and_then(|head| self.cut_secret(head))
        {
            Some(keep) => Cow::Owned(format!("{}{MASK}…", &whole[..keep])),
            None => whole,
        }
    }

    /// Where the start of a form begins at the end of `head` (at least [`MIN_CUT`] of it).
    fn cut_secret(&self, head: &str) -> Option<usize> {
        self.read(|p| {
            p.forms
                .iter()
                .filter_map(|f| {
                    (MIN_CUT..f.len())
                        .rev()
                        .filter(|k| f.is_char_boundary(*k) && *k <= head.len())
                        .find(|k| head.ends_with(&f[..*k]))
                        .map(|k| head.len() - k)
                })
                .min()
        })
    }

    /// [`Redactor::redact`] in place.
    pub fn redact_string(&self, s: &mut String) {
        if let Cow::Owned(r) = self.redact(s) {
            *s = r;
        }
    }

    /// [`Redactor::redact`] for bytes (a log that need not be UTF-8).
    pub fn redact_bytes<'a>(&self, b: &'a [u8]) -> Cow<'a, [u8]> {
        self.read(|p| match &p.matcher {
            Some(m) if m.is_match(b) => {
                Cow::Owned(m.replace_all_bytes(b, &vec![MASK.as_bytes(); p.forms.len()]))
            }
            _ => Cow::Borrowed(b),
        })
    }

    /// Every string of a JSON value redacted in place.
    pub fn redact_json(&self, v: &mut serde_json::Value) {
        if self.is_empty() {
            return;
        }
        match v {
            serde_json::Value::String(s) => self.redact_string(s),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.redact_json(x)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| self.redact_json(x)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "p@ss w'rd/+=<x>";

    /// Attack: Azure sends a secret back in another form than it was sent (a JSON error
    /// body, a URL, base64 in a script's output, the quoted form a filter made).
    #[test]
    fn every_form_is_masked() {
        let r = Redactor::new();
        assert_eq!(r.redact("nothing known"), "nothing known");
        r.add([SECRET, ""]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
        let json = serde_json::Value::String(SECRET.into()).to_string();
        let url: String =
            percent_encoding::utf8_percent_encode(SECRET, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let form: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
        let sh = aib_planner::secret_ref::sh_quote(SECRET).unwrap_or_default();
        let ps = aib_planner::secret_ref::ps_quote(SECRET);
        let tj = aib_planner::secret_ref::tojson(SECRET);
        for text in [
            format!("echo {SECRET} | chpasswd"),
            format!("{{\"message\":{json}}}"),
            format!("https://x/y?pw={url}"),
            format!("pw={form}"),
            format!("b64:{b64}"),
            format!("run {sh}"),
            format!("Set-Password {ps}"),
            format!("x = {tj};"),
        ] {
            let out = r.redact(&text);
            assert!(out.contains(MASK), "{text} -> {out}");
            for f in forms(SECRET) {
                assert!(!out.contains(&f), "{text} -> {out} still holds {f}");
            }
        }
        assert_eq!(
            r.redact_bytes(format!("a {SECRET} b").as_bytes()).as_ref(),
            b"a *** b"
        );
        let mut v = serde_json::json!({"a": [format!("x{SECRET}")], "b": 1});
        r.redact_json(&mut v);
        assert_eq!(v, serde_json::json!({"a": ["x***"], "b": 1}));
    }

    /// Attack: a message cut to 200 characters before it is redacted ends in half a secret.
    #[test]
    fn a_text_cut_in_a_secret_loses_the_start_of_it() {
        let r = Redactor::new();
        r.add(["Planted-Secret-9f3c"]);
        assert_eq!(
            r.redact("failed: --password Plant…"),
            "failed: --password ***…"
        );
        // (The quote goes with it: it starts the `tojson` form.)
        assert_eq!(r.redact("failed: \"Planted-Sec…"), "failed: ***…");
        // Too little of it to tell, or no cut: left alone.
        assert_eq!(r.redact("a Pl…"), "a Pl…");
        assert_eq!(r.redact("a Plant"), "a Plant");
    }

    #[test]
    fn each_long_line_of_a_multi_line_secret_is_masked() {
        let r = Redactor::new();
        r.add(["-----BEGIN KEY-----\nMIIEvQIBADANBgkq\nshort\n-----END KEY-----"]);
        let out = r.redact("azure-arm: MIIEvQIBADANBgkq and short");
        assert_eq!(out, "azure-arm: *** and short");
    }

    #[test]
    fn clones_share_what_they_learn() {
        let a = Redactor::new();
        let b = a.clone();
        a.add(["hunter2-value"]);
        assert_eq!(b.redact("x hunter2-value y"), "x *** y");
        assert!(!b.is_empty());
    }
}
