//! The dependency tree of a lock, from its `# via` entries alone, printed exactly as
//! pipdeptree 2.35.3 prints the environment the lock installs.
//!
//! What pipdeptree shows, and so what this module reproduces:
//!
//! - an edge for each requirement of an installed distribution whose marker holds with
//!   no extra active: extras-only requirements are left out (`# via parent[extra]`
//!   entries), so a package that only an extra pulls in is a root;
//! - names as the distributions spell them. Here that is the name the lock's pin spells,
//!   which for dockgen's locks is the normalized name: `pydantic-core` where pipdeptree
//!   prints the metadata's `pydantic_core`, `pyyaml` for `PyYAML`. Keys, order and
//!   everything else are the same;
//! - specifiers as each one's text, sorted in reverse and comma-joined (`>=0.40.0,<0.48.0`),
//!   `Any` for none; the lock stores them that way (`lock/write.rs`);
//! - roots: the packages no shown edge points at, sorted by key; children sorted by key
//!   (requirements on the same package in metadata order);
//! - cycles cut where a package is already on the path from the root (in the text
//!   layouts the root itself is not on the path, in `--json-tree` it is), the `└──` of a
//!   last child decided over all children, shown or cut. Packages that only a cycle
//!   reaches are in no root's tree and not shown, as in pipdeptree;
//! - `--reverse`: each package under the packages that require it, roots being the
//!   packages that require nothing; `--packages a,b`: only the trees of the packages
//!   matching those `fnmatch` patterns and what they reach, roots recomputed within.
//!
//! Where pipdeptree's output would grow with the number of paths through the graph
//! (a big subtree required from many places) or nest without bound (a very deep
//! chain), the walk marks where it stops instead (`walk`); below those limits the
//! output is pipdeptree's byte for byte. Every layout is written as it is walked.

mod v4;
mod walk;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifier};
use pep508_rs::PackageName;

use crate::lock::LockFile;
use crate::resolve::specifier_text;
pub use v4::View4;
use walk::{Event, Step};
pub use walk::{MAX_DEPTH, REPRINT_LIMIT};

/// One locked package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The name as the lock's pin spells it.
    pub name: String,
    pub key: PackageName,
    pub version: String,
    /// Its requirements on locked packages that hold with no extra active, sorted by
    /// the required package's key (several on one package in metadata order).
    pub requires: Vec<Edge>,
    /// Its requirements that hold only with one of its extras active (`Edge::extra`),
    /// in the same order: pipdeptree 4 shows them where an installed package asks for
    /// the extra.
    pub through_extras: Vec<Edge>,
}

/// A requirement of one locked package on another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub child: PackageName,
    /// As pipdeptree 2.x shows it; `None` when the requirement has no specifier (`Any`).
    pub specifier: Option<String>,
    /// The parent's extra that the requirement needs active; `None` for none.
    pub extra: Option<String>,
    /// The extras of the child that the requirement asks for, sorted.
    pub requests: Vec<String>,
}

/// The locked packages and the edges between them.
#[derive(Debug, Clone, Default)]
pub struct DependencyTree {
    nodes: BTreeMap<PackageName, Node>,
}

#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// pipdeptree's own words for it.
    #[error("No packages matched using the following patterns: {}", .0.join(", "))]
    NoMatch(Vec<String>),
    #[error(
        "pipdeptree's `--json --reverse` names each package with whichever requirement on \
         it came first in the environment's file order, which a lock cannot reproduce; \
         use `--json-tree --reverse`"
    )]
    ReverseJson,
    #[error("cannot write the tree")]
    Write(#[source] io::Error),
}

impl From<io::Error> for TreeError {
    fn from(error: io::Error) -> Self {
        TreeError::Write(error)
    }
}

impl DependencyTree {
    /// Every pin is a node; every `# via` entry that names a pinned parent without an
    /// extra is an edge from that parent. Entries naming packages the lock does not pin
    /// are left out (a hand-edited lock), as are inputs.
    pub fn from_lock(lock: &LockFile) -> Self {
        let mut nodes: BTreeMap<PackageName, Node> = lock
            .pins
            .iter()
            .map(|(key, pin)| {
                let node = Node {
                    name: pin.name.clone(),
                    key: key.clone(),
                    version: pin.version.to_string(),
                    requires: Vec::new(),
                    through_extras: Vec::new(),
                };
                (key.clone(), node)
            })
            .collect();
        // Children in key order, each one's entries in the lock's (metadata) order: the
        // lists come out sorted as pipdeptree sorts them.
        for (child, pin) in &lock.pins {
            for parent in pin.via.iter().filter_map(|via| via.package()) {
                if let Some(node) = nodes.get_mut(&parent.name) {
                    let edge = Edge {
                        child: child.clone(),
                        specifier: parent.specifier.clone(),
                        extra: parent.extra.as_ref().map(ToString::to_string),
                        requests: parent.requests.iter().map(ToString::to_string).collect(),
                    };
                    match edge.extra {
                        None => node.requires.push(edge),
                        Some(_) => node.through_extras.push(edge),
                    }
                }
            }
        }
        Self { nodes }
    }

    /// Nodes in key order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    pub fn node(&self, key: &PackageName) -> Option<&Node> {
        self.nodes.get(key)
    }

    /// The tree to print: `reverse` as `pipdeptree --reverse`, `packages` as
    /// `pipdeptree --packages` (patterns, matched against normalized names).
    pub fn view(&self, reverse: bool, packages: Option<&[String]>) -> Result<View<'_>, TreeError> {
        let mut links: BTreeMap<&PackageName, Vec<Link<'_>>> =
            self.nodes.keys().map(|key| (key, Vec::new())).collect();
        for node in self.nodes.values() {
            for edge in &node.requires {
                let Some((child, _)) = self.nodes.get_key_value(&edge.child) else {
                    continue;
                };
                // Reversed, parents are visited in key order: each list comes out sorted.
                let (from, to) = if reverse {
                    (child, &node.key)
                } else {
                    (&node.key, child)
                };
                if let Some(list) = links.get_mut(from) {
                    list.push(Link {
                        to,
                        specifier: edge.specifier.as_deref(),
                    });
                }
            }
        }
        let shown = match packages {
            None => links.keys().copied().collect(),
            Some(patterns) => select(&links, patterns)?,
        };
        Ok(View {
            tree: self,
            reverse,
            links,
            shown,
            limits: walk::Limits::DEFAULT,
        })
    }

    fn whole(&self, reverse: bool) -> View<'_> {
        self.view(reverse, None)
            .expect("no patterns, nothing to match")
    }

    /// `pipdeptree` (its default text layout).
    pub fn render_text(&self) -> String {
        self.whole(false).render_text()
    }

    /// `pipdeptree --json-tree`.
    pub fn render_json_tree(&self) -> String {
        self.whole(false).render_json_tree()
    }

    /// `pipdeptree --reverse`.
    pub fn render_reverse_text(&self) -> String {
        self.whole(true).render_text()
    }

    /// `pipdeptree --json`: every package with its direct requirements, flat.
    pub fn render_json(&self) -> String {
        self.whole(false)
            .render_json()
            .expect("a forward view renders as --json")
    }

    /// Differences between this tree and an image's `dependency_tree.json` (pipdeptree
    /// 4's `--json-tree` output), one readable line each. Both sides are compared as
    /// pipdeptree 4 shows them (this tree is rendered the same way first), by key:
    /// packages and versions, edges both ways, and each edge's specifiers (compared in
    /// pep440's normal form). Packages named in `unlocked_ok` may be in the image
    /// without being locked, and their edges are not compared.
    pub fn differences(&self, image: &serde_json::Value, unlocked_ok: &[&str]) -> Vec<String> {
        let ours = self
            .view4(false, None)
            .expect("no patterns, nothing to match")
            .shown();
        let theirs = Shown::walk(image);
        let locked: BTreeSet<&str> = self.nodes.keys().map(|key| key.as_ref()).collect();
        let tolerated = |key: &str| unlocked_ok.contains(&key) && !locked.contains(key);

        let mut problems = Vec::new();
        for (key, node) in &self.nodes {
            let key = key.as_ref();
            match theirs.versions.get(key) {
                Some(version) if !same_version(version, &node.version) => problems.push(format!(
                    "`{key}` is {version} in the image, {} in the lock",
                    node.version
                )),
                Some(_) => {}
                // A package the lock's own tree does not show either (only a cycle
                // reaches it) cannot be seen in the image's tree.
                None if ours.versions.contains_key(key) => problems.push(format!(
                    "`{key}` {} is locked but not in the image",
                    node.version
                )),
                None => {}
            }
        }
        for (key, version) in &theirs.versions {
            if !locked.contains(key.as_str()) && !tolerated(key) {
                problems.push(format!("`{key}` {version} is installed but not locked"));
            }
        }
        let pairs: BTreeSet<&(String, String)> =
            ours.edges.keys().chain(theirs.edges.keys()).collect();
        for pair @ (parent, child) in pairs {
            if tolerated(parent) || tolerated(child) {
                continue;
            }
            match (ours.edges.get(pair), theirs.edges.get(pair)) {
                (Some(lock), None) => problems.push(format!(
                    "the lock has `{parent}` -> `{child}` ({}), the image does not",
                    list(lock)
                )),
                (None, Some(image)) => problems.push(format!(
                    "the image has `{parent}` -> `{child}` ({}), the lock does not",
                    list(image)
                )),
                (Some(lock), Some(image)) if lock != image => problems.push(format!(
                    "`{parent}` requires `{child}` {} in the image, {} in the lock",
                    list(image),
                    list(lock)
                )),
                _ => {}
            }
        }
        problems
    }
}

fn list(specifiers: &BTreeSet<String>) -> String {
    specifiers
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" and ")
}

fn same_version(a: &str, b: &str) -> bool {
    match (Version::from_str(a), Version::from_str(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A specifier text (`>= 2.8, <3`, `Any`) in the form pipdeptree shows it, each part in
/// pep440's normal form, so texts that mean the same compare equal.
pub fn normalize_specifier(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() || text == "Any" {
        return "Any".into();
    }
    let mut parsed = Vec::new();
    for part in text.split(',') {
        match VersionSpecifier::from_str(part.trim()) {
            Ok(specifier) => parsed.push(specifier),
            Err(_) => return text.to_string(),
        }
    }
    specifier_text(&parsed)
}

/// What a `--json-tree` document shows: versions by key (`?`, not installed, left out)
/// and, per `(parent, child)` key pair, the specifiers of the edges shown.
#[derive(Default)]
struct Shown {
    versions: BTreeMap<String, String>,
    edges: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Shown {
    fn walk(tree: &serde_json::Value) -> Shown {
        let mut shown = Shown::default();
        for root in tree.as_array().into_iter().flatten() {
            shown.visit(root, None);
        }
        shown
    }

    fn visit(&mut self, node: &serde_json::Value, parent: Option<&str>) {
        let name = node["key"]
            .as_str()
            .or_else(|| node["package_name"].as_str())
            .unwrap_or_default();
        let key = PackageName::from_str(name)
            .map(|n| n.to_string())
            .unwrap_or_else(|_| name.to_string());
        if let Some(version) = node["installed_version"].as_str()
            && version != "?"
        {
            self.versions.insert(key.clone(), version.to_string());
        }
        if let Some(parent) = parent {
            let specifier = normalize_specifier(node["required_version"].as_str().unwrap_or("Any"));
            self.edges
                .entry((parent.to_string(), key.clone()))
                .or_default()
                .insert(specifier);
        }
        for child in node["dependencies"].as_array().into_iter().flatten() {
            self.visit(child, Some(&key));
        }
    }
}

/// A package in a nested view of the tree, with what it requires below it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Branch {
    pub name: String,
    pub version: String,
    /// The specifier of the requirement that leads here (`Any` for none); `None` for a
    /// root.
    pub required: Option<String>,
    /// Why its children are not below it, or where a top-level branch comes from
    /// (`subtree shown above`, …); `None` when it is shown in full.
    pub note: Option<&'static str>,
    pub children: Vec<Branch>,
}

/// One edge as a view walks it: forward to a requirement, reversed to a dependent.
#[derive(Debug, Clone, Copy)]
struct Link<'t> {
    to: &'t PackageName,
    /// The specifier of the requirement behind the edge.
    specifier: Option<&'t str>,
}

/// A tree ready to print: a direction and the packages shown.
pub struct View<'t> {
    tree: &'t DependencyTree,
    reverse: bool,
    links: BTreeMap<&'t PackageName, Vec<Link<'t>>>,
    shown: BTreeSet<&'t PackageName>,
    limits: walk::Limits,
}

impl<'t> View<'t> {
    /// The shown packages no shown package links to, in key order.
    fn roots(&self) -> Vec<&'t PackageName> {
        let linked: BTreeSet<&PackageName> = self
            .shown
            .iter()
            .flat_map(|key| self.links[key].iter().map(|link| link.to))
            .collect();
        self.shown
            .iter()
            .copied()
            .filter(|key| !linked.contains(key))
            .collect()
    }

    fn node(&self, key: &PackageName) -> &'t Node {
        &self.tree.nodes[key]
    }

    /// A step's line in the text layouts, without its bullet and mark.
    fn label(&self, step: &Step<'_>) -> String {
        let to = step.node;
        match step.link {
            None => format!("{}=={}", to.name, to.version),
            Some((from, link)) if self.reverse => {
                // pipdeptree: `dependent==version [requires: package<spec>]`.
                let from = self.node(from);
                format!(
                    "{}=={} [requires: {}{}]",
                    to.name,
                    to.version,
                    from.name,
                    link.specifier.unwrap_or("")
                )
            }
            Some((_, link)) => format!(
                "{} [required: {}, installed: {}]",
                to.name,
                link.specifier.unwrap_or("Any"),
                to.version
            ),
        }
    }

    /// pipdeptree's text layout (with `--reverse` when the view is reversed).
    pub fn render_text(&self) -> String {
        let mut out = Vec::new();
        self.write_text(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    /// [`View::render_text`], written to `out` as it is walked.
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut lines = TextTree::default();
        walk::walk(self, false, |event| {
            let Event::Enter(step) = event else {
                return Ok(());
            };
            let mark = step.mark.words().map(|words| format!(" ({words})"));
            let text = format!("{}{}", self.label(&step), mark.as_deref().unwrap_or(""));
            lines.line(out, step.depth, step.last, &text)
        })?;
        lines.finish(out)
    }

    /// The view as nested branches, cut at cycles as the text layout cuts them (the
    /// root not on the path) and bounded as it is: what `dockgen report` shows as
    /// nested lists.
    pub fn branches(&self) -> Vec<Branch> {
        let mut roots = Vec::new();
        let mut open: Vec<Branch> = Vec::new();
        let result: Result<(), std::convert::Infallible> = walk::walk(self, false, |event| {
            match event {
                Event::Enter(step) => open.push(Branch {
                    name: step.node.name.clone(),
                    version: step.node.version.clone(),
                    required: step
                        .link
                        .map(|(_, link)| link.specifier.unwrap_or("Any").to_string()),
                    note: step.mark.words(),
                    children: Vec::new(),
                }),
                Event::Leave => {
                    let done = open.pop().expect("left what was entered");
                    match open.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => roots.push(done),
                    }
                }
            }
            Ok(())
        });
        let Ok(()) = result;
        roots
    }

    /// pipdeptree's `--json-tree` (with `--reverse` when the view is reversed, where
    /// pipdeptree shows every dependent's `required_version` as `Any`).
    pub fn render_json_tree(&self) -> String {
        let mut out = Vec::new();
        self.write_json_tree(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    /// [`View::render_json_tree`], written to `out` as it is walked: Python's
    /// `json.dumps(..., indent=4)` layout, each package an object at indentation
    /// level `1 + 2 * depth`. A marked package has a `subtree` key (`shown above`,
    /// `continued below`, `continued from above`) before its `dependencies`.
    pub fn write_json_tree(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut json = JsonTree::default();
        walk::walk(self, true, |event| match event {
            Event::Enter(step) => {
                let node = step.node;
                let required = match step.link {
                    None => node.version.as_str(),
                    Some((_, link)) if !self.reverse => link.specifier.unwrap_or("Any"),
                    Some(_) => "Any",
                };
                let mut fields = vec![
                    ("key", node.key.as_ref()),
                    ("package_name", node.name.as_str()),
                    ("installed_version", node.version.as_str()),
                    ("required_version", required),
                ];
                if let Some(words) = step.mark.json() {
                    fields.push(("subtree", words));
                }
                json.enter(out, &fields)
            }
            Event::Leave => json.leave(out, None),
        })?;
        json.finish(out)
    }

    /// pipdeptree's `--json`: every shown package and its direct requirements.
    pub fn render_json(&self) -> Result<String, TreeError> {
        let mut out = Vec::new();
        self.write_json(&mut out)?;
        Ok(String::from_utf8(out).expect("UTF-8 in, UTF-8 out"))
    }

    /// [`View::render_json`], written to `out` one package at a time.
    pub fn write_json(&self, out: &mut dyn Write) -> Result<(), TreeError> {
        if self.reverse {
            return Err(TreeError::ReverseJson);
        }
        if self.shown.is_empty() {
            out.write_all(b"[]\n")?;
            return Ok(());
        }
        for (index, key) in self.shown.iter().enumerate() {
            let node = self.node(key);
            let dependencies = self.links[key]
                .iter()
                .map(|link| {
                    let child = self.node(link.to);
                    Json::Object(vec![
                        ("key", Json::Str(child.key.to_string())),
                        ("package_name", Json::Str(child.name.clone())),
                        ("installed_version", Json::Str(child.version.clone())),
                        (
                            "required_version",
                            Json::Str(link.specifier.unwrap_or("Any").to_string()),
                        ),
                    ])
                })
                .collect();
            let entry = Json::Object(vec![
                (
                    "package",
                    Json::Object(vec![
                        ("key", Json::Str(node.key.to_string())),
                        ("package_name", Json::Str(node.name.clone())),
                        ("installed_version", Json::Str(node.version.clone())),
                    ]),
                ),
                ("dependencies", Json::List(dependencies)),
            ]);
            let mut text = String::from(if index == 0 { "[\n    " } else { ",\n    " });
            write_json(&entry, 1, &mut text);
            out.write_all(text.as_bytes())?;
        }
        out.write_all(b"\n]\n")?;
        Ok(())
    }
}

/// pipdeptree's text tree, written line by line: a root flush left, each package below
/// it after the `│   ` and `    ` of the levels above and its own `├── ` or `└── `.
#[derive(Default)]
struct TextTree {
    /// The indentation of each open level below the top.
    indents: Vec<&'static str>,
    any: bool,
}

impl TextTree {
    /// The line of a package `depth` levels below its root, the `last` of its siblings.
    fn line(
        &mut self,
        out: &mut dyn Write,
        depth: usize,
        last: bool,
        text: &str,
    ) -> io::Result<()> {
        self.any = true;
        if depth == 0 {
            self.indents.clear();
            return writeln!(out, "{text}");
        }
        self.indents.truncate(depth - 1);
        for indent in &self.indents {
            out.write_all(indent.as_bytes())?;
        }
        let (bullet, indent) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        self.indents.push(indent);
        writeln!(out, "{bullet}{text}")
    }

    /// An empty tree is one empty line, as pipdeptree prints it.
    fn finish(&self, out: &mut dyn Write) -> io::Result<()> {
        if !self.any {
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

/// A `--json-tree` document written as it is walked, in the four-space layout both
/// pipdeptrees print: each package an object at level `1 + 2 * depth`, its fields,
/// then its `dependencies` list.
#[derive(Default)]
struct JsonTree {
    /// For each open package: whether a dependency has been written under it.
    open: Vec<bool>,
    any: bool,
}

impl JsonTree {
    fn indent(level: usize) -> String {
        "    ".repeat(level)
    }

    /// Opens a package below the open one (or a root) with its string fields, up to
    /// its `dependencies`.
    fn enter(&mut self, out: &mut dyn Write, fields: &[(&str, &str)]) -> io::Result<()> {
        let level = 1 + 2 * self.open.len();
        match self.open.last_mut() {
            None if !self.any => out.write_all(b"[\n")?,
            None => out.write_all(b",\n")?,
            Some(written @ false) => {
                *written = true;
                out.write_all(b"[\n")?;
            }
            Some(true) => out.write_all(b",\n")?,
        }
        self.any = true;
        let mut text = format!("{}{{\n", Self::indent(level));
        for (name, value) in fields {
            text.push_str(&Self::indent(level + 1));
            write_string(name, &mut text);
            text.push_str(": ");
            write_string(value, &mut text);
            text.push_str(",\n");
        }
        text.push_str(&Self::indent(level + 1));
        text.push_str("\"dependencies\": ");
        out.write_all(text.as_bytes())?;
        self.open.push(false);
        Ok(())
    }

    /// Closes the open package, with `after` (a name and a raw JSON value) written
    /// after its `dependencies`.
    fn leave(&mut self, out: &mut dyn Write, after: Option<(&str, &str)>) -> io::Result<()> {
        let written = self.open.pop().expect("left what was entered");
        let level = 1 + 2 * self.open.len();
        if written {
            write!(out, "\n{}]", Self::indent(level + 1))?;
        } else {
            out.write_all(b"[]")?;
        }
        if let Some((name, value)) = after {
            write!(out, ",\n{}\"{name}\": {value}", Self::indent(level + 1))?;
        }
        write!(out, "\n{}}}", Self::indent(level))
    }

    fn finish(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(if self.any { b"\n]\n" } else { b"[]\n" })
    }
}

/// The packages `patterns` match and everything they reach, as pipdeptree's
/// `PackageDAG.filter_nodes`: patterns normalized like names, matched with `fnmatch`
/// against keys; a pattern that matches nothing is an error.
fn select<'t>(
    links: &BTreeMap<&'t PackageName, Vec<Link<'t>>>,
    patterns: &[String],
) -> Result<BTreeSet<&'t PackageName>, TreeError> {
    let normalized: Vec<String> = patterns.iter().map(|p| canonical(p.trim())).collect();
    let mut matched = vec![false; patterns.len()];
    let mut stack: Vec<&PackageName> = Vec::new();
    for key in links.keys() {
        let mut hit = false;
        for (index, pattern) in normalized.iter().enumerate() {
            if fnmatch(key.as_ref(), pattern) {
                matched[index] = true;
                hit = true;
            }
        }
        if hit {
            stack.push(key);
        }
    }
    let missing: Vec<String> = patterns
        .iter()
        .zip(&matched)
        .filter(|(_, hit)| !**hit)
        .map(|(pattern, _)| pattern.trim().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(TreeError::NoMatch(missing));
    }
    let mut shown = BTreeSet::new();
    while let Some(key) = stack.pop() {
        if shown.insert(key) {
            stack.extend(links[key].iter().map(|link| link.to));
        }
    }
    Ok(shown)
}

/// packaging's `canonicalize_name`: lower case, runs of `-`, `_`, `.` as one `-`.
fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
            continue;
        }
        if separator {
            out.push('-');
            separator = false;
        }
        out.extend(c.to_lowercase());
    }
    if separator {
        out.push('-');
    }
    out
}

/// Python's `fnmatch.fnmatchcase`: `*`, `?`, `[seq]`, `[!seq]`; a `[` without its `]`
/// is itself.
fn fnmatch(name: &str, pattern: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    let pattern: Vec<char> = pattern.chars().collect();
    matches_from(&name, &pattern)
}

fn matches_from(name: &[char], pattern: &[char]) -> bool {
    let Some((&first, rest)) = pattern.split_first() else {
        return name.is_empty();
    };
    match first {
        '*' => (0..=name.len()).any(|skip| matches_from(&name[skip..], rest)),
        '?' => !name.is_empty() && matches_from(&name[1..], rest),
        '[' => match char_class(rest) {
            Some((members, negated, after)) => {
                name.first()
                    .is_some_and(|c| class_accepts(members, *c) != negated)
                    && matches_from(&name[1..], after)
            }
            None => name.first() == Some(&'[') && matches_from(&name[1..], rest),
        },
        c => name.first() == Some(&c) && matches_from(&name[1..], rest),
    }
}

/// The class after a `[`, as `fnmatch.translate` reads it: its members, whether it is
/// negated (`[!...]`) and the pattern after its `]` (a `]` first is a member).
fn char_class(pattern: &[char]) -> Option<(&[char], bool, &[char])> {
    let negated = pattern.first() == Some(&'!');
    let start = usize::from(negated);
    let mut search = start;
    if pattern.get(search) == Some(&']') {
        search += 1;
    }
    let close = search + pattern.get(search..)?.iter().position(|c| *c == ']')?;
    Some((&pattern[start..close], negated, &pattern[close + 1..]))
}

fn class_accepts(members: &[char], c: char) -> bool {
    let mut i = 0;
    while i < members.len() {
        if i + 2 < members.len() && members[i + 1] == '-' {
            if members[i] <= c && c <= members[i + 2] {
                return true;
            }
            i += 3;
        } else {
            if members[i] == c {
                return true;
            }
            i += 1;
        }
    }
    false
}

/// Just enough JSON to print what Python's `json.dumps(..., indent=4)` prints: keys in
/// insertion order, non-ASCII escaped.
enum Json {
    Str(String),
    List(Vec<Json>),
    Object(Vec<(&'static str, Json)>),
}

fn write_json(value: &Json, level: usize, out: &mut String) {
    let indent = |level: usize| "    ".repeat(level);
    match value {
        Json::Str(text) => write_string(text, out),
        Json::List(items) if items.is_empty() => out.push_str("[]"),
        Json::Object(entries) if entries.is_empty() => out.push_str("{}"),
        Json::List(items) => {
            out.push_str("[\n");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(",\n");
                }
                out.push_str(&indent(level + 1));
                write_json(item, level + 1, out);
            }
            out.push('\n');
            out.push_str(&indent(level));
            out.push(']');
        }
        Json::Object(entries) => {
            out.push_str("{\n");
            for (index, (key, item)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push_str(",\n");
                }
                out.push_str(&indent(level + 1));
                write_string(key, out);
                out.push_str(": ");
                write_json(item, level + 1, out);
            }
            out.push('\n');
            out.push_str(&indent(level));
            out.push('}');
        }
    }
}

/// A JSON string as Python's `json.dumps` writes it (`ensure_ascii`).
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A hand-made lock: `app` requires `lib` (twice, two specifiers) and `tool`;
    /// `lib` and `tool` share `leaf`; `PyYAML` only through `app`'s extra `yaml`
    /// (so a root); `alone` requires nothing; `ring-a` -> `ring-b` -> `ring-a` is a
    /// cycle under `ring`; `loop-x` <-> `loop-y` a cycle nothing else reaches.
    const LOCK: &str = "\
app==1.0 \\
    --hash=sha256:00
    # via -r requirements.in
lib==2.0
    # via
    #   app (>=1.0,<3)
    #   app (!=2.1)
tool==3.1
    # via app
leaf==0.5
    # via
    #   lib (<1)
    #   tool
PyYAML==6.0.2
    # via
    #   -r requirements.in
    #   app[yaml] (>=5.1)
alone==1.0
    # via -r requirements.in
ring==1.0
ring-a==1.0
    # via
    #   ring (==1.0)
    #   ring-b (>=1)
ring-b==1.0
    # via ring-a
loop-x==1.0
    # via loop-y
loop-y==1.0
    # via loop-x
";

    fn tree() -> DependencyTree {
        DependencyTree::from_lock(&crate::lock::parse(LOCK, Path::new("lock.txt")).unwrap())
    }

    #[test]
    fn text() {
        insta::assert_snapshot!(tree().render_text());
    }

    #[test]
    fn json_tree() {
        let json = tree().render_json_tree();
        // What serde_json reads, Python's json.dumps(indent=4) printed.
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(value.is_array());
        insta::assert_snapshot!(json);
    }

    #[test]
    fn reverse_text() {
        insta::assert_snapshot!(tree().render_reverse_text());
    }

    #[test]
    fn json_flat() {
        insta::assert_snapshot!(tree().render_json());
    }

    #[test]
    fn packages_filter() {
        let tree = tree();
        let patterns = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let view = |reverse, p: &[&str]| {
            let view = tree.view(reverse, Some(&patterns(p))).unwrap();
            format!(
                "--- text\n{}--- json-tree\n{}",
                view.render_text(),
                view.render_json_tree()
            )
        };
        insta::assert_snapshot!("packages_forward", view(false, &["LIB", "tool", "ring_*"]));
        insta::assert_snapshot!("packages_reverse", view(true, &["leaf"]));
        // A pattern that matches nothing: pipdeptree's words, and nothing is shown.
        let error = tree
            .view(false, Some(&patterns(&["app", "nope*", "x?z"])))
            .err()
            .unwrap();
        assert_eq!(
            error.to_string(),
            "No packages matched using the following patterns: nope*, x?z"
        );
        assert!(matches!(
            tree.view(true, None).unwrap().render_json(),
            Err(TreeError::ReverseJson)
        ));
    }

    /// A lock of `count` packages `p00`, `p01`, …: with `dense`, each requires every
    /// later one, otherwise each requires the next (a chain).
    fn generated(count: usize, dense: bool) -> DependencyTree {
        let name = |i: usize| format!("p{i:05}");
        let mut lock = String::new();
        for i in 0..count {
            lock.push_str(&format!("{}==1.0\n", name(i)));
            let parents: Vec<usize> = if dense {
                (0..i).collect()
            } else {
                i.checked_sub(1).into_iter().collect()
            };
            for parent in parents {
                lock.push_str(&format!("    # via {} (>=1)\n", name(parent)));
            }
        }
        DependencyTree::from_lock(&crate::lock::parse(&lock, Path::new("lock.txt")).unwrap())
    }

    /// Runs `f` on a thread with a 256 KiB stack: a walk that recursed once per level
    /// of a 40,000-deep tree would overflow it.
    fn on_a_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn a_deep_chain_is_walked_without_recursion() {
        let sizes = on_a_small_stack(|| {
            let tree = generated(40_000, false);
            let text = tree.render_text();
            let reverse = tree.render_reverse_text();
            let json_tree = tree.render_json_tree();
            let json = tree.render_json();
            let report = tree.whole(false).branches();
            // Cut every MAX_DEPTH levels, continued as an entry of its own: every
            // package is shown once, plus once more where each cut is.
            let entries = 40_000usize.div_ceil(MAX_DEPTH);
            let shown = 40_000 + entries - 1;
            assert_eq!(text.lines().count(), shown);
            assert_eq!(reverse.lines().count(), shown);
            assert_eq!(json_tree.matches("\"key\"").count(), shown);
            assert_eq!(json.matches("\"package\"").count(), 40_000);
            assert_eq!(
                text.matches(" (subtree continued below)").count(),
                entries - 1
            );
            assert_eq!(
                text.matches(" (subtree continued from above)").count(),
                entries - 1
            );
            assert_eq!(report.len(), entries);
            assert!(
                text.lines()
                    .all(|line| line.chars().count() < 4 * MAX_DEPTH + 100)
            );
            // serde_json (128 levels at most) reads it: nesting stays bounded.
            let value: serde_json::Value = serde_json::from_str(&json_tree).unwrap();
            assert_eq!(value.as_array().unwrap().len(), entries);
            assert_eq!(tree.differences(&value, &[]), Vec::<String>::new());
            (text.len(), json_tree.len())
        });
        assert!(sizes.0 < 10_000_000 && sizes.1 < 60_000_000, "{sizes:?}");
    }

    #[test]
    fn a_dense_graph_prints_each_big_subtree_once() {
        let (text, json_tree, reverse) = on_a_small_stack(|| {
            let tree = generated(40, true);
            (
                tree.render_text(),
                tree.render_json_tree(),
                tree.render_reverse_text(),
            )
        });
        // pipdeptree would print 2^39 packages; here each layout shows a few thousand.
        assert!(text.len() < 1_000_000, "{} bytes", text.len());
        assert!(reverse.len() < 1_000_000, "{} bytes", reverse.len());
        assert!(json_tree.len() < 4_000_000, "{} bytes", json_tree.len());
        assert!(text.lines().count() < 10_000);
        assert!(text.contains(" (subtree shown above)"));
        let value: serde_json::Value = serde_json::from_str(&json_tree).unwrap();
        let tree = generated(40, true);
        // Every edge is shown once at least: nothing is lost.
        assert_eq!(tree.differences(&value, &[]), Vec::<String>::new());
        let edges = text
            .lines()
            .filter(|line| line.contains("[required: >=1"))
            .count();
        assert!(edges >= 40 * 39 / 2, "{edges}");
    }

    #[test]
    fn limits_mark_repeated_and_deep_subtrees() {
        // Five packages, each requiring all later ones, with tight limits: a subtree
        // of more than 2 packages is printed once, and 3 levels is as deep as it goes.
        let tree = generated(5, true);
        let render = |reverse| {
            let mut view = tree.view(reverse, None).unwrap();
            view.limits = walk::Limits {
                reprint: 2,
                depth: 3,
            };
            format!(
                "--- text\n{}--- json-tree\n{}",
                view.render_text(),
                view.render_json_tree()
            )
        };
        insta::assert_snapshot!("limits_forward", render(false));
        insta::assert_snapshot!("limits_reverse", render(true));
        // With the default limits the same graph is pipdeptree's full tree.
        let text = tree.render_text();
        assert!(!text.contains(" ("));
        assert_eq!(text.lines().count(), 16);
    }

    #[test]
    fn empty_lock() {
        let tree = DependencyTree::default();
        assert_eq!(tree.render_text(), "\n");
        assert_eq!(tree.render_json_tree(), "[]\n");
        assert_eq!(tree.render_reverse_text(), "\n");
    }

    #[test]
    fn fnmatch_as_python() {
        for (name, pattern, expected) in [
            ("ring-a", "ring-*", true),
            ("ring", "ring-*", false),
            ("ring-a", "ring-?", true),
            ("ring-a", "ring-[ab]", true),
            ("ring-c", "ring-[!ab]", true),
            ("ring-a", "ring-[!ab]", false),
            ("ring-b", "ring-[a-c]", true),
            ("a]", "[]]]", false),
            ("]", "[]]", true),
            ("[x", "[x", true),
            ("x", "*", true),
        ] {
            assert_eq!(fnmatch(name, pattern), expected, "{name} {pattern}");
        }
        assert_eq!(canonical("Ring__A.b"), "ring-a-b");
    }

    #[test]
    fn specifiers_normalize() {
        for (text, expected) in [
            ("Any", "Any"),
            ("", "Any"),
            ("<3, >= 1.0", ">=1.0,<3"),
            ("==1.0.0-rc1", "==1.0.0rc1"),
            (">=1,>=1", ">=1"),
            ("not a specifier", "not a specifier"),
        ] {
            assert_eq!(normalize_specifier(text), expected, "{text}");
        }
    }

    #[test]
    fn differences_from_an_image() {
        let tree = tree();
        let image_tree = tree.view4(false, None).unwrap().render_json_tree();
        // The image as pipdeptree 4 would show it for the same environment: no difference.
        let same: serde_json::Value = serde_json::from_str(&image_tree).unwrap();
        assert_eq!(tree.differences(&same, &["pip"]), Vec::<String>::new());
        // Another version, an edge changed, one missing, one added, an unlocked
        // package, pip (allowed) and a spec in another spelling (the same).
        let image = image_tree
            .replace(
                "\"installed_version\": \"3.1\"",
                "\"installed_version\": \"3.2\"",
            )
            .replace(
                "\"required_version\": \">=1.0,<3\"",
                "\"required_version\": \"<3, >=1.0\"",
            )
            .replace(
                "\"required_version\": \"<1\"",
                "\"required_version\": \"<2\"",
            );
        let mut image: serde_json::Value = serde_json::from_str(&image).unwrap();
        let roots = image.as_array_mut().unwrap();
        // `alone` now requires `stray` and `pip`, and `ring` no longer requires `ring-a`.
        for root in roots.iter_mut() {
            if root["key"] == "alone" {
                root["dependencies"] = serde_json::json!([
                    {"key": "stray", "package_name": "Stray", "installed_version": "0.1",
                     "required_version": "Any", "dependencies": []},
                    {"key": "pip", "package_name": "pip", "installed_version": "25.0",
                     "required_version": ">=20", "dependencies": []},
                ]);
            }
            if root["key"] == "ring" {
                root["dependencies"] = serde_json::json!([]);
            }
        }
        insta::assert_snapshot!(tree.differences(&image, &["pip"]).join("\n"));
    }
}
