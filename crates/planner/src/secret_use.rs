//! What a template may do with a secret: print it (`{{ secrets.pw }}`), optionally through
//! the filters that act on its value at build time (`sh_quote`, `ps_quote`, `tojson`, see
//! [`crate::secret_ref::ALLOWED_FILTERS`]), and nothing else. The planner and `validate` see
//! only a placeholder, never the value, so any other filter (`| upper`, `| replace(...)`,
//! `| length`), test, condition, comparison, assignment or call on a secret would act on the
//! placeholder and send a wrong value to Azure; each is an error naming the secret and what was
//! applied. Checked on the template's syntax tree (minijinja's parser), before it renders.

use minijinja::machinery::ast::{self, CallArg, Expr, Stmt};

use crate::secret_ref::ALLOWED_FILTERS;

/// One forbidden use of a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Misuse {
    /// The secret's name (`*` when the template uses `secrets` as a whole).
    pub secret: String,
    /// What was applied: "filter `upper`", "an `{% if %}` condition", ...
    pub what: String,
}

impl std::fmt::Display for Misuse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.secret == "*" {
            write!(
                f,
                "`secrets` is used as a whole ({}); name one secret, `{{{{ secrets.<name> }}}}`",
                self.what
            )
        } else {
            write!(
                f,
                "secret `{}`: {} cannot be applied to a secret; a secret may only be printed, \
                 through `sh_quote`, `ps_quote` or `tojson` at most (they act on its value at build time)",
                self.secret, self.what
            )
        }
    }
}

/// The first forbidden use of `secrets` in template `source`, if any. Sources that do not
/// mention `secrets` are not parsed. A source that does not parse has no misuse here (its
/// syntax error is reported when it is compiled).
pub fn check(source: &str) -> Option<Misuse> {
    if !source.contains("secrets") {
        return None;
    }
    let tree = minijinja::machinery::parse(source, "<template>", Default::default()).ok()?;
    let mut w = Walker { found: None };
    w.stmt(&tree, None);
    w.found
}

/// Where an expression sits, for deciding whether a secret may be there.
#[derive(Clone)]
enum Place {
    /// Printed as it is, or through allowed filters only.
    Printed,
    /// Anywhere else: what is applied to it.
    Under(String),
}

struct Walker {
    found: Option<Misuse>,
}

impl Walker {
    fn misuse(&mut self, secret: &str, what: impl Into<String>) {
        if self.found.is_none() {
            self.found = Some(Misuse {
                secret: secret.to_string(),
                what: what.into(),
            });
        }
    }

    /// `captured`: why a printed value is not printed as is (inside `{% filter %}`,
    /// `{% set %}...{% endset %}`, a macro body).
    fn stmts(&mut self, list: &[Stmt<'_>], captured: Option<&str>) {
        for s in list {
            self.stmt(s, captured);
        }
    }

    fn stmt(&mut self, s: &Stmt<'_>, captured: Option<&str>) {
        match s {
            Stmt::Template(t) => self.stmts(&t.children, captured),
            Stmt::EmitExpr(e) => match captured {
                None => self.expr(&e.expr, Place::Printed),
                Some(why) => self.expr(&e.expr, Place::Under(why.to_string())),
            },
            Stmt::EmitRaw(_) => {}
            Stmt::ForLoop(f) => {
                self.expr(&f.target, Place::Under("a `{% for %}` loop".into()));
                self.expr(&f.iter, Place::Under("a `{% for %}` loop".into()));
                if let Some(x) = &f.filter_expr {
                    self.expr(x, Place::Under("a loop condition".into()));
                }
                self.stmts(&f.body, captured);
                self.stmts(&f.else_body, captured);
            }
            Stmt::IfCond(i) => {
                self.expr(&i.expr, Place::Under("an `{% if %}` condition".into()));
                self.stmts(&i.true_body, captured);
                self.stmts(&i.false_body, captured);
            }
            Stmt::WithBlock(w) => {
                for (target, value) in &w.assignments {
                    self.expr(target, Place::Under("`{% with %}`".into()));
                    self.expr(value, Place::Under("`{% with %}`".into()));
                }
                self.stmts(&w.body, captured);
            }
            Stmt::Set(x) => {
                self.expr(&x.target, Place::Under("`{% set %}`".into()));
                self.expr(&x.expr, Place::Under("`{% set %}`".into()));
            }
            Stmt::SetBlock(x) => {
                self.expr(&x.target, Place::Under("`{% set %}`".into()));
                if let Some(f) = &x.filter {
                    self.expr(f, Place::Under("`{% set %}`".into()));
                }
                self.stmts(&x.body, Some("capturing with `{% set %}`"));
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled, Place::Under("`{% autoescape %}`".into()));
                self.stmts(&a.body, captured);
            }
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter, Place::Under("`{% filter %}`".into()));
                self.stmts(&f.body, Some("a `{% filter %}` block"));
            }
            Stmt::Block(b) => self.stmts(&b.body, captured),
            Stmt::Import(i) => {
                self.expr(&i.expr, Place::Under("`{% import %}`".into()));
                self.expr(&i.name, Place::Under("`{% import %}`".into()));
            }
            Stmt::FromImport(i) => {
                self.expr(&i.expr, Place::Under("`{% from %}`".into()));
                for (a, b) in &i.names {
                    self.expr(a, Place::Under("`{% from %}`".into()));
                    if let Some(b) = b {
                        self.expr(b, Place::Under("`{% from %}`".into()));
                    }
                }
            }
            Stmt::Extends(e) => self.expr(&e.name, Place::Under("`{% extends %}`".into())),
            Stmt::Include(i) => self.expr(&i.name, Place::Under("`{% include %}`".into())),
            Stmt::Macro(m) => self.macro_decl(m),
            Stmt::CallBlock(c) => {
                self.call(&c.call, Place::Under("a `{% call %}`".into()));
                self.macro_decl(&c.macro_decl);
            }
            Stmt::Do(d) => self.call(&d.call, Place::Under("`{% do %}`".into())),
            // Statements without expressions (loop controls).
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    fn macro_decl(&mut self, m: &ast::Macro<'_>) {
        for a in m.args.iter().chain(m.defaults.iter()) {
            self.expr(a, Place::Under("a macro argument".into()));
        }
        self.stmts(&m.body, Some("a macro"));
    }

    fn call(&mut self, c: &ast::Call<'_>, place: Place) {
        self.expr(&c.expr, place);
        self.args(&c.args, "an argument of a call");
    }

    fn args(&mut self, args: &[CallArg<'_>], what: &str) {
        for a in args {
            match a {
                CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) => {
                    self.expr(e, Place::Under(what.to_string()))
                }
                #[allow(unreachable_patterns)]
                CallArg::KwargSplat(e) => self.expr(e, Place::Under(what.to_string())),
            }
        }
    }

    /// The secret an expression names (`secrets.pw`, `secrets['pw']`), if it is one.
    fn secret_name<'e>(e: &'e Expr<'_>) -> Option<&'e str> {
        match e {
            Expr::GetAttr(g) if matches!(&g.expr, Expr::Var(v) if v.id == "secrets") => {
                Some(g.name)
            }
            Expr::GetItem(g) if matches!(&g.expr, Expr::Var(v) if v.id == "secrets") => {
                match &g.subscript_expr {
                    Expr::Const(c) => c.value.as_str(),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn expr(&mut self, e: &Expr<'_>, place: Place) {
        if let Some(name) = Self::secret_name(e) {
            if let Place::Under(what) = &place {
                self.misuse(name, what.clone());
            }
            return;
        }
        match e {
            Expr::Var(v) if v.id == "secrets" => {
                let what = match &place {
                    Place::Printed => "printed".to_string(),
                    Place::Under(w) => w.clone(),
                };
                self.misuse("*", what);
            }
            Expr::Var(_) | Expr::Const(_) => {}
            Expr::GetItem(g) if matches!(&g.expr, Expr::Var(v) if v.id == "secrets") => {
                self.misuse("*", "a secret chosen by an expression");
            }
            Expr::Filter(f) => self.filter(f, place),
            Expr::Test(t) => {
                self.expr(&t.expr, Place::Under(format!("test `{}`", t.name)));
                self.args(&t.args, &format!("an argument of test `{}`", t.name));
            }
            Expr::GetAttr(g) => {
                let what: String = match Self::secret_name(&g.expr) {
                    Some(_) => format!("attribute `{}`", g.name),
                    None => "an attribute lookup".into(),
                };
                self.expr(&g.expr, Place::Under(what.to_string()));
            }
            Expr::GetItem(g) => {
                self.expr(&g.expr, Place::Under("an index".into()));
                self.expr(&g.subscript_expr, Place::Under("an index".into()));
            }
            Expr::Slice(x) => {
                self.expr(&x.expr, Place::Under("a slice".into()));
                for y in [&x.start, &x.stop, &x.step].into_iter().flatten() {
                    self.expr(y, Place::Under("a slice".into()));
                }
            }
            Expr::UnaryOp(u) => self.expr(&u.expr, Place::Under("an operator".into())),
            Expr::BinOp(b) => {
                let what = bin_op_place(&b.op);
                self.expr(&b.left, Place::Under(what.to_string()));
                self.expr(&b.right, Place::Under(what.to_string()));
            }
            Expr::Compare(c) => {
                self.expr(&c.expr, Place::Under("a comparison".into()));
                for op in &c.ops {
                    self.expr(&op.expr, Place::Under("a comparison".into()));
                }
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr, Place::Under("a condition".into()));
                self.expr(&i.true_expr, place.clone());
                if let Some(f) = &i.false_expr {
                    self.expr(f, place);
                }
            }
            Expr::Call(c) => self.call(c, Place::Under("a call".into())),
            Expr::List(l) => self.all(&l.items, "a list"),
            Expr::Tuple(l) => self.all(&l.items, "a tuple"),
            Expr::Map(m) => {
                for x in m.keys.iter().chain(m.values.iter()) {
                    self.expr(x, Place::Under("a map".into()));
                }
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    /// An allowed filter passes its place on; any other is what is applied.
    fn filter(&mut self, f: &ast::Filter<'_>, place: Place) {
        let allowed = ALLOWED_FILTERS.contains(&f.name) && f.args.is_empty();
        let inner = if allowed {
            place
        } else {
            Place::Under(format!("filter `{}`", f.name))
        };
        if let Some(x) = &f.expr {
            self.expr(x, inner);
        }
        self.args(&f.args, &format!("an argument of filter `{}`", f.name));
    }

    /// Every item of a list or tuple, under `what`.
    fn all(&mut self, items: &[Expr<'_>], what: &str) {
        for x in items {
            self.expr(x, Place::Under(what.into()));
        }
    }
}

/// What a binary operator does to a secret, as the message says it.
fn bin_op_place(op: &ast::BinOpKind) -> &'static str {
    use ast::BinOpKind as K;
    match op {
        K::Concat => "the `~` operator",
        K::Add => "the `+` operator",
        K::Eq | K::Ne | K::Lt | K::Lte | K::Gt | K::Gte | K::In => "a comparison",
        K::ScAnd | K::ScOr => "a condition",
        _ => "an operator",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn misuse(src: &str) -> Option<(String, String)> {
        check(src).map(|m| (m.secret, m.what))
    }

    #[test]
    fn printing_and_allowed_filters_pass() {
        for ok in [
            "{{ secrets.pw }}",
            "echo '{{ secrets.pw }}' | chpasswd",
            "{{ secrets['pw'] }}",
            "x={{ secrets.pw | sh_quote }}",
            "{{ secrets.pw | ps_quote }}",
            "{{ secrets.pw | tojson }}",
            "{{ secrets.pw | sh_quote | tojson }}",
            "{% if env == 'prod' %}{{ secrets.pw }}{% endif %}",
            "{% for i in [1, 2] %}{{ secrets.pw }}{% endfor %}",
            "{{ secrets.pw if env == 'prod' else 'none' }}",
            "no secret here",
            "{{ env | upper }}",
        ] {
            assert_eq!(misuse(ok), None, "{ok}");
        }
    }

    /// Attack: filters, tests and conditions on a secret acted on a placeholder, so the value
    /// Azure got was wrong and quoting meant to protect a script did nothing.
    #[test]
    fn every_other_use_is_named() {
        let cases = [
            (
                "{{ secrets.pw | replace(\"'\", \"''\") }}",
                "pw",
                "filter `replace`",
            ),
            ("{{ secrets.pw | upper }}", "pw", "filter `upper`"),
            ("{{ secrets.pw | length }}", "pw", "filter `length`"),
            ("{{ secrets.pw | tojson | upper }}", "pw", "filter `upper`"),
            (
                "{{ secrets.pw | tojson(indent=2) }}",
                "pw",
                "filter `tojson`",
            ),
            (
                "{% if secrets.pw %}x{% endif %}",
                "pw",
                "an `{% if %}` condition",
            ),
            (
                "{% if secrets.pw == 'a' %}x{% endif %}",
                "pw",
                "a comparison",
            ),
            ("{{ secrets.pw is defined }}", "pw", "test `defined`"),
            ("{{ 'a' ~ secrets.pw }}", "pw", "the `~` operator"),
            ("{{ secrets.pw.upper() }}", "pw", "attribute `upper`"),
            ("{{ secrets.pw[0] }}", "pw", "an index"),
            (
                "{% set p = secrets.pw %}{{ p | upper }}",
                "pw",
                "`{% set %}`",
            ),
            (
                "{% set p %}{{ secrets.pw }}{% endset %}",
                "pw",
                "capturing with `{% set %}`",
            ),
            (
                "{% filter upper %}{{ secrets.pw }}{% endfilter %}",
                "pw",
                "a `{% filter %}` block",
            ),
            (
                "{% macro m(x) %}{{ x }}{% endmacro %}{{ m(secrets.pw) }}",
                "pw",
                "an argument of a call",
            ),
            (
                "{{ 'a' | replace('a', secrets.pw) }}",
                "pw",
                "an argument of filter `replace`",
            ),
            (
                "{% for c in secrets.pw %}{{ c }}{% endfor %}",
                "pw",
                "a `{% for %}` loop",
            ),
            ("{{ secrets }}", "*", "printed"),
            ("{{ secrets | tojson }}", "*", "printed"),
            (
                "{% for k in secrets %}{{ k }}{% endfor %}",
                "*",
                "a `{% for %}` loop",
            ),
            (
                "{{ secrets[env] }}",
                "*",
                "a secret chosen by an expression",
            ),
        ];
        for (src, secret, what) in cases {
            assert_eq!(
                misuse(src),
                Some((secret.to_string(), what.to_string())),
                "{src}"
            );
        }
        let m = check("{{ secrets.pw | upper }}").map(|m| m.to_string());
        assert!(
            m.as_deref()
                .is_some_and(|m| m.contains("secret `pw`") && m.contains("filter `upper`")),
            "{m:?}"
        );
    }
}
