//! ARM template expressions (`"[format('{0}', parameters('x'))]"`), parsed far enough to find and
//! rewrite references: calls, string and integer literals, property access and indexing.
//! Nothing is evaluated.

use std::fmt;

/// One expression.
#[derive(Clone, Debug)]
pub enum Expr {
    Str(String),
    Int(i64),
    Call { name: String, args: Vec<Expr> },
    Prop(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
}

impl PartialEq for Expr {
    /// Function and property names compare case-insensitively, as ARM reads them.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Str(a), Self::Str(b)) => a == b,
            (Self::Int(a), Self::Int(b)) => a == b,
            (Self::Call { name: a, args: x }, Self::Call { name: b, args: y }) => {
                a.eq_ignore_ascii_case(b) && x == y
            }
            (Self::Prop(a, p), Self::Prop(b, q)) => p.eq_ignore_ascii_case(q) && a == b,
            (Self::Index(a, i), Self::Index(b, j)) => a == b && i == j,
            _ => false,
        }
    }
}

/// How deep an expression may nest before it is not read (hostile input stays bounded).
const MAX_DEPTH: usize = 64;

impl Expr {
    /// The expression of a template string, when it is one (`[...]`, not the `[[` escape).
    pub fn of(s: &str) -> Option<Expr> {
        let inner = expression_body(s)?;
        let mut p = Parser {
            s: inner.as_bytes(),
            text: inner,
            i: 0,
            depth: 0,
        };
        let e = p.expr().ok()?;
        p.ws();
        (p.i == p.s.len()).then_some(e)
    }

    /// A call `name(args)`.
    pub fn call(name: &str, args: Vec<Expr>) -> Expr {
        Expr::Call {
            name: name.to_string(),
            args,
        }
    }

    /// `parameters('name')`.
    pub fn parameter(name: &str) -> Expr {
        Expr::call("parameters", vec![Expr::Str(name.to_string())])
    }

    /// `x` of `parameters('x')` (or `variables`, per `function`).
    pub fn reference_to(&self, function: &str) -> Option<&str> {
        match self {
            Expr::Call { name, args } if name.eq_ignore_ascii_case(function) => {
                match args.as_slice() {
                    [Expr::Str(s)] => Some(s),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The template string for this expression: `[...]`.
    pub fn to_template_string(&self) -> String {
        format!("[{self}]")
    }

    /// Visits this expression and every sub-expression, outermost first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Call { args, .. } => args.iter().for_each(|a| a.walk(f)),
            Expr::Prop(e, _) => e.walk(f),
            Expr::Index(e, i) => {
                e.walk(f);
                i.walk(f);
            }
            Expr::Str(_) | Expr::Int(_) => {}
        }
    }

    /// Rebuilds the expression bottom-up: `f` may replace any node (its children already
    /// rebuilt).
    pub fn rewrite(self, f: &mut dyn FnMut(Expr) -> Expr) -> Expr {
        let e = match self {
            Expr::Call { name, args } => Expr::Call {
                name,
                args: args.into_iter().map(|a| a.rewrite(f)).collect(),
            },
            Expr::Prop(e, p) => Expr::Prop(Box::new(e.rewrite(f)), p),
            Expr::Index(e, i) => Expr::Index(Box::new(e.rewrite(f)), Box::new(i.rewrite(f))),
            other => other,
        };
        f(e)
    }
}

/// The text between `[` and `]` of an expression string.
pub fn expression_body(s: &str) -> Option<&str> {
    let t = s.trim();
    if t.starts_with("[[") {
        return None;
    }
    t.strip_prefix('[')?.strip_suffix(']')
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Expr::Int(i) => write!(f, "{i}"),
            Expr::Call { name, args } => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Expr::Prop(e, p) => write!(f, "{e}.{p}"),
            Expr::Index(e, i) => write!(f, "{e}[{i}]"),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    depth: usize,
}

type R<T> = Result<T, ()>;

impl Parser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> R<Expr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(());
        }
        let mut e = self.primary()?;
        loop {
            if self.eat(b'.') {
                let name = self.ident();
                if name.is_empty() {
                    return Err(());
                }
                e = Expr::Prop(Box::new(e), name);
            } else if self.eat(b'[') {
                let i = self.expr()?;
                if !self.eat(b']') {
                    return Err(());
                }
                e = Expr::Index(Box::new(e), Box::new(i));
            } else {
                break;
            }
        }
        self.depth -= 1;
        Ok(e)
    }

    fn ident(&mut self) -> String {
        self.ws();
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$')
        {
            self.i += 1;
        }
        self.text.get(start..self.i).unwrap_or("").to_string()
    }

    fn primary(&mut self) -> R<Expr> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'\'') => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    let rest = self.text.get(self.i..).ok_or(())?;
                    let j = rest.find('\'').ok_or(())?;
                    out.push_str(&rest[..j]);
                    self.i += j + 1;
                    if self.s.get(self.i) == Some(&b'\'') {
                        out.push('\'');
                        self.i += 1;
                    } else {
                        return Ok(Expr::Str(out));
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.i;
                self.i += 1;
                while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                }
                let t = self.text.get(start..self.i).ok_or(())?;
                t.parse().map(Expr::Int).map_err(|_| ())
            }
            _ => {
                let name = self.ident();
                if name.is_empty() || !self.eat(b'(') {
                    return Err(());
                }
                let mut args = Vec::new();
                if !self.eat(b')') {
                    loop {
                        args.push(self.expr()?);
                        if self.eat(b')') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(());
                        }
                    }
                }
                Ok(Expr::Call { name, args })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_what_bicep_writes() {
        let s = "[format('{0}-{1}', parameters('name'), parameters('baseTime'))]";
        let e = Expr::of(s).expect("parses");
        assert_eq!(e.to_template_string(), s);
        let s = "[reference(resourceId('Microsoft.X/y', variables('n')[copyIndex()].name), '2024-01-01', 'full').location]";
        assert_eq!(Expr::of(s).expect("parses").to_template_string(), s);
        let s = "[concat('it''s', -1)]";
        assert_eq!(Expr::of(s).expect("parses").to_template_string(), s);
    }

    #[test]
    fn compares_names_case_insensitively_and_ignores_spacing() {
        let a = Expr::of("[format( '{0}',Parameters('x') )]").expect("a");
        let b = Expr::of("[FORMAT('{0}', parameters('x'))]").expect("b");
        assert_eq!(a, b);
        assert_ne!(a, Expr::of("[format('{0}', parameters('X'))]").expect("c"));
    }

    #[test]
    fn literals_escapes_and_garbage_are_not_expressions() {
        for s in [
            "plain",
            "[[not an expression]",
            "[unclosed(]",
            "[a b]",
            "[]",
            "['x' junk]",
        ] {
            assert!(Expr::of(s).is_none(), "{s}");
        }
        let deep = format!("[{}1{}]", "f(".repeat(200), ")".repeat(200));
        assert!(Expr::of(&deep).is_none());
    }

    #[test]
    fn rewrite_replaces_matching_subexpressions() {
        let name = Expr::of("[format('{0}-{1}', parameters('a'), parameters('b'))]").expect("n");
        let e =
            Expr::of("[resourceId('T/t', format('{0}-{1}', parameters('a'), parameters('b')))]")
                .expect("e");
        let out = e.rewrite(&mut |x| if x == name { Expr::parameter("p") } else { x });
        assert_eq!(
            out.to_template_string(),
            "[resourceId('T/t', parameters('p'))]"
        );
    }
}
