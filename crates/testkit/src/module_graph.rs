//! The graph of which source file uses which inside one crate, and its import cycles.
//!
//! A file is a module (`a/b.rs` and `a/b/mod.rs` are `a::b`; `lib.rs` / `main.rs` the root).
//! It uses another when it names it in a `use` (groups expanded) or in a path written in code
//! (`crate::a::b::f`, `super::x`, `self::y`); a path is charged to the deepest file it
//! reaches. Not edges: `mod` declarations, uses of the crate root (its re-exports), a
//! module's `pub use` of its own children (a facade: the children may use the parent), and
//! anything in a file's trailing `#[cfg(test)] mod` (tests may reach anywhere). Comments
//! are skipped. Good enough for a test that keeps files layered: it reads the code as
//! written, without macro expansion.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside the crate (`["handlers", "arm", "gallery"]`; empty for the root).
pub type ModPath = Vec<String>;

/// Which module uses which (the root is left out as a target).
#[derive(Debug, Default)]
pub struct ModuleGraph {
    pub edges: BTreeMap<ModPath, BTreeSet<ModPath>>,
}

impl ModuleGraph {
    /// Read every `.rs` file under `src`.
    pub fn read(src: &Path) -> std::io::Result<ModuleGraph> {
        let mut files = Vec::new();
        collect(src, &mut files)?;
        let mut mods = BTreeMap::new();
        for f in &files {
            if let Some(m) = module_of(src, f) {
                mods.insert(m, f.clone());
            }
        }
        let mut graph = ModuleGraph::default();
        for (m, file) in &mods {
            let text = std::fs::read_to_string(file)?;
            let mut out = BTreeSet::new();
            let code = strip(&text);
            let inline = inline_modules(&code);
            for (at, path, re_export) in paths_in(&code) {
                // Inside `mod x { ... }` in this file, `self` is `m::x`.
                let mut here = m.clone();
                here.extend(inline_at(&inline, at));
                if let Some(target) = resolve(&mods, &here, &path)
                    && target != *m
                    && !(re_export && target.starts_with(m))
                    && !target.is_empty()
                {
                    out.insert(target);
                }
            }
            graph.edges.insert(m.clone(), out);
        }
        Ok(graph)
    }

    /// The import cycles: groups of two or more files that reach each other, each sorted,
    /// as `a::b` names.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut t = Tarjan::default();
        for v in self.edges.keys() {
            if !t.index.contains_key(v) {
                t.visit(v, &self.edges);
            }
        }
        let mut out: Vec<Vec<String>> = t
            .groups
            .into_iter()
            .map(|g| {
                let mut names: Vec<String> = g.iter().map(|m| name(m)).collect();
                names.sort();
                names
            })
            .collect();
        out.sort();
        out
    }

    /// The edges inside one cycle, for a failure message (`a -> b`).
    pub fn describe(&self, cycle: &[String]) -> String {
        let mut lines = Vec::new();
        for (from, tos) in &self.edges {
            if !cycle.contains(&name(from)) {
                continue;
            }
            for to in tos.iter().filter(|t| cycle.contains(&name(t))) {
                lines.push(format!("  {} -> {}", name(from), name(to)));
            }
        }
        lines.join("\n")
    }
}

/// The import cycles between the files of the crate whose sources are in `src`.
pub fn cycles(src: &Path) -> std::io::Result<(ModuleGraph, Vec<Vec<String>>)> {
    let graph = ModuleGraph::read(src)?;
    let cycles = graph.cycles();
    Ok((graph, cycles))
}

fn name(m: &[String]) -> String {
    if m.is_empty() {
        "crate".to_string()
    } else {
        m.join("::")
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn module_of(src: &Path, file: &Path) -> Option<ModPath> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: ModPath = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] || parts == ["main"] {
        parts.pop();
    }
    Some(parts)
}

/// The code without comments and without a trailing `#[cfg(test)]` module.
fn strip(text: &str) -> String {
    let mut code = String::with_capacity(text.len());
    for line in text.lines() {
        let line = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    let mut cut = code.len();
    let mut from = 0;
    while let Some(i) = code[from..].find("#[cfg(test)]") {
        let at = from + i;
        let rest = code[at + "#[cfg(test)]".len()..].trim_start();
        if rest.starts_with("mod ") || rest.starts_with("pub mod ") {
            cut = at;
            break;
        }
        from = at + 1;
    }
    code.truncate(cut);
    code
}

/// Every path the code names, with where it is and whether a `pub use` re-exports it: `use`
/// trees expanded, and `crate::` / `super::` / `self::` paths written inline.
fn paths_in(code: &str) -> Vec<(usize, Vec<String>, bool)> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let word_start =
        |i: usize| i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
    let mut line_start = 0;
    for line in code.split_inclusive('\n') {
        let at = line_start;
        line_start += line.len();
        let trimmed = line.trim_start();
        let Some(stmt) = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .find(|p| trimmed.starts_with(**p))
        else {
            continue;
        };
        let from = at + (line.len() - trimmed.len()) + stmt.len();
        let Some(end) = code[from..].find(';') else {
            break;
        };
        // `x as y` keeps `x`: mark the renaming before dropping whitespace.
        let tree: String = code[from..from + end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace(" as ", "@")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for p in expand(&tree) {
            out.push((
                at,
                p.split("::").map(str::to_string).collect(),
                stmt.starts_with("pub"),
            ));
        }
    }
    for root in ["crate::", "super::", "self::"] {
        let mut i = 0;
        while let Some(off) = code[i..].find(root) {
            let at = i + off;
            i = at + root.len();
            if !word_start(at) {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push((
                at,
                path.split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                false,
            ));
        }
    }
    out
}

/// The inline modules of a file: (name, byte range of its body).
fn inline_modules(code: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let b = code.as_bytes();
    let mut found = Vec::new();
    let mut open: Vec<(Option<String>, usize)> = Vec::new();
    let mut pending: Option<String> = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // Skip a string literal (escapes included).
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' if i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') => {
                // A char literal such as '{' or '\''.
                i += if b[i + 1] == b'\\' { 3 } else { 2 };
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
            }
            b'{' => open.push((pending.take(), i + 1)),
            b'}' => {
                if let Some((Some(name), start)) = open.pop() {
                    found.push((name, start..i));
                }
            }
            b';' => pending = None,
            b'm' if code[i..].starts_with("mod ")
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let name: String = code[i + 4..]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                pending = Some(name);
                i += 3;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The inline modules, outermost first, that byte `at` is inside.
fn inline_at(inline: &[(String, std::ops::Range<usize>)], at: usize) -> Vec<String> {
    let mut around: Vec<&(String, std::ops::Range<usize>)> =
        inline.iter().filter(|(_, r)| r.contains(&at)).collect();
    around.sort_by_key(|(_, r)| r.start);
    around.into_iter().map(|(n, _)| n.clone()).collect()
}

/// `a::{b, c::{d, e@f}}` (`@` for ` as `) → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        let plain = tree.split('@').next().unwrap_or(tree);
        return vec![plain.to_string()];
    };
    let prefix = &tree[..open];
    let close = tree.rfind('}').filter(|c| *c > open).unwrap_or(tree.len());
    let body = &tree[open + 1..close];
    let mut parts = Vec::new();
    let (mut depth, mut cur) = (0usize, String::new());
    for c in body.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p))
        .map(|p| format!("{prefix}{p}"))
        .collect()
}

/// The deepest file a path reaches, seen from module `here` (`self`).
fn resolve(mods: &BTreeMap<ModPath, PathBuf>, here: &[String], path: &[String]) -> Option<ModPath> {
    let first = path.first()?;
    let (mut base, rest): (ModPath, &[String]) = match first.as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (here.to_vec(), &path[1..]),
        "super" => {
            let mut base = here.to_vec();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            (base, rest)
        }
        // A child module named without `self::` (2018 paths); anything else is another crate.
        _ => {
            let mut child = here.to_vec();
            child.push(first.clone());
            if !mods.contains_key(&child) {
                return None;
            }
            (here.to_vec(), path)
        }
    };
    let segs: Vec<&String> = rest.iter().filter(|s| s.as_str() != "self").collect();
    let mut best = mods.contains_key(&base).then(|| base.clone());
    for s in segs {
        base.push(s.to_string());
        if mods.contains_key(&base) {
            best = Some(base.clone());
        } else {
            break;
        }
    }
    best
}

#[derive(Default)]
struct Tarjan {
    next: usize,
    index: BTreeMap<ModPath, usize>,
    low: BTreeMap<ModPath, usize>,
    stack: Vec<ModPath>,
    on_stack: BTreeSet<ModPath>,
    groups: Vec<Vec<ModPath>>,
}

impl Tarjan {
    fn visit(&mut self, v: &ModPath, edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) {
        self.index.insert(v.clone(), self.next);
        self.low.insert(v.clone(), self.next);
        self.next += 1;
        self.stack.push(v.clone());
        self.on_stack.insert(v.clone());
        for w in edges.get(v).into_iter().flatten() {
            if !self.index.contains_key(w) {
                self.visit(w, edges);
                let lw = self.low[w];
                let lv = self.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if self.on_stack.contains(w) {
                let iw = self.index[w];
                let lv = self.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if self.low[v] == self.index[v] {
            let mut group = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack.remove(&w);
                let done = w == *v;
                group.push(w);
                if done {
                    break;
                }
            }
            if group.len() > 1 {
                self.groups.push(group);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempdir::Dir {
        let dir = tempdir::Dir::new();
        for (path, text) in files {
            let p = dir.0.join(path);
            std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        dir
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let p = std::env::temp_dir().join(format!(
                    "aib-module-graph-{}-{}",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or(0)
                ));
                std::fs::create_dir_all(&p).expect("mkdir");
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn finds_a_cycle_through_use_groups_super_and_inline_paths() {
        let d = tree(&[
            (
                "lib.rs",
                "pub mod a; pub mod b; pub mod c;\npub use a::X;\n",
            ),
            (
                "a.rs",
                "use crate::{b::{self, Y}, c as see};\npub struct X;\n",
            ),
            ("b/mod.rs", "pub mod inner;\npub struct Y;\n"),
            ("b/inner.rs", "fn f() { let _ = super::super::a::X; }\n"),
            (
                "c.rs",
                "// use crate::a;\n#[cfg(test)]\nmod tests { use crate::a; }\n",
            ),
        ]);
        let (graph, found) = cycles(&d.0).expect("read");
        assert_eq!(found, Vec::<Vec<String>>::new(), "{graph:?}");
        assert!(graph.edges[&vec!["a".to_string()]].contains(&vec!["b".to_string()]));
        assert!(graph.edges[&vec!["a".to_string()]].contains(&vec!["c".to_string()]));
        // A facade's `pub use` of its child is not an edge; using the child is.
        std::fs::write(d.0.join("b/mod.rs"), "pub mod inner;\npub use inner::Z;\n").expect("write");
        std::fs::write(d.0.join("b/inner.rs"), "pub struct Z(crate::a::X);\n").expect("write");
        let (graph, found) = cycles(&d.0).expect("read");
        assert!(found.is_empty(), "{graph:?}");
        std::fs::write(d.0.join("b/mod.rs"), "pub mod inner;\nuse inner::Z;\n").expect("write");
        let (graph, found) = cycles(&d.0).expect("read");
        assert_eq!(found, vec![vec!["a", "b", "b::inner"]], "{graph:?}");
        assert!(graph.describe(&found[0]).contains("b::inner -> a"));
    }
}
