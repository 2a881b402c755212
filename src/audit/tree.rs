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

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifier};
use pep508_rs::PackageName;

use crate::lock::LockFile;
use crate::resolve::specifier_text;

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
}

/// A requirement of one locked package on another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub child: PackageName,
    /// As pipdeptree shows it; `None` when the requirement has no specifier (`Any`).
    pub specifier: Option<String>,
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
                };
                (key.clone(), node)
            })
            .collect();
        // Children in key order, each one's entries in the lock's (metadata) order: the
        // lists come out sorted as pipdeptree sorts them.
        for (child, pin) in &lock.pins {
            for parent in pin.via.iter().filter_map(|via| via.package()) {
                if parent.extra.is_some() {
                    continue;
                }
                if let Some(node) = nodes.get_mut(&parent.name) {
                    node.requires.push(Edge {
                        child: child.clone(),
                        specifier: parent.specifier.clone(),
                    });
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
    /// `--json-tree` output), one readable line each. Both sides are compared as
    /// pipdeptree shows them (this tree is rendered the same way first), by key:
    /// packages and versions, edges both ways, and each edge's specifiers (compared in
    /// pep440's normal form). Packages named in `unlocked_ok` may be in the image
    /// without being locked, and their edges are not compared.
    pub fn differences(&self, image: &serde_json::Value, unlocked_ok: &[&str]) -> Vec<String> {
        let ours: serde_json::Value =
            serde_json::from_str(&self.render_json_tree()).expect("our own JSON reads back");
        let ours = Shown::walk(&ours);
        let theirs = Shown::walk(image);
        let tolerated =
            |key: &str| unlocked_ok.contains(&key) && !self.nodes.keys().any(|k| k.as_ref() == key);

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
            if !self.nodes.keys().any(|k| k.as_ref() == key) && !tolerated(key) {
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

    fn root_label(&self, key: &PackageName) -> String {
        let node = self.node(key);
        format!("{}=={}", node.name, node.version)
    }

    fn branch_label(&self, from: &PackageName, link: Link<'_>) -> String {
        let to = self.node(link.to);
        if self.reverse {
            // pipdeptree: `dependent==version [requires: package<spec>]`.
            let from = self.node(from);
            format!(
                "{}=={} [requires: {}{}]",
                to.name,
                to.version,
                from.name,
                link.specifier.unwrap_or("")
            )
        } else {
            format!(
                "{} [required: {}, installed: {}]",
                to.name,
                link.specifier.unwrap_or("Any"),
                to.version
            )
        }
    }

    /// pipdeptree's text layout (with `--reverse` when the view is reversed).
    pub fn render_text(&self) -> String {
        let mut lines = Vec::new();
        for root in self.roots() {
            lines.push(self.root_label(root));
            // The root is not on the path: a package that requires itself shows once.
            self.text_children(root, "", &mut Vec::new(), &mut lines);
        }
        lines.join("\n") + "\n"
    }

    fn text_children<'a>(
        &'a self,
        key: &PackageName,
        prefix: &str,
        path: &mut Vec<&'a PackageName>,
        lines: &mut Vec<String>,
    ) {
        let links = &self.links[key];
        for (index, link) in links.iter().enumerate() {
            if path.contains(&link.to) {
                continue;
            }
            let last = index + 1 == links.len();
            let (bullet, indent) = if last {
                ("└── ", "    ")
            } else {
                ("├── ", "│   ")
            };
            lines.push(format!("{prefix}{bullet}{}", self.branch_label(key, *link)));
            path.push(link.to);
            self.text_children(link.to, &format!("{prefix}{indent}"), path, lines);
            path.pop();
        }
    }

    /// The view as nested branches, cut at cycles as the text layout cuts them (the
    /// root not on the path): what `dockgen report` shows as nested lists.
    pub fn branches(&self) -> Vec<Branch> {
        self.roots()
            .into_iter()
            .map(|root| {
                let node = self.node(root);
                Branch {
                    name: node.name.clone(),
                    version: node.version.clone(),
                    required: None,
                    children: self.branch_children(root, &mut Vec::new()),
                }
            })
            .collect()
    }

    fn branch_children<'a>(
        &'a self,
        key: &PackageName,
        path: &mut Vec<&'a PackageName>,
    ) -> Vec<Branch> {
        let mut children = Vec::new();
        for link in &self.links[key] {
            if path.contains(&link.to) {
                continue;
            }
            path.push(link.to);
            let grandchildren = self.branch_children(link.to, path);
            path.pop();
            let to = self.node(link.to);
            children.push(Branch {
                name: to.name.clone(),
                version: to.version.clone(),
                required: Some(link.specifier.unwrap_or("Any").to_string()),
                children: grandchildren,
            });
        }
        children
    }

    /// pipdeptree's `--json-tree` (with `--reverse` when the view is reversed, where
    /// pipdeptree shows every dependent's `required_version` as `Any`).
    pub fn render_json_tree(&self) -> String {
        let roots = self
            .roots()
            .into_iter()
            .map(|root| {
                let node = self.node(root);
                let mut path = vec![root];
                json_node(node, &node.version, self.json_children(root, &mut path))
            })
            .collect();
        let mut out = String::new();
        write_json(&Json::List(roots), 0, &mut out);
        out.push('\n');
        out
    }

    fn json_children<'a>(&'a self, key: &PackageName, path: &mut Vec<&'a PackageName>) -> Json {
        let mut children = Vec::new();
        for link in &self.links[key] {
            if path.contains(&link.to) {
                continue;
            }
            path.push(link.to);
            let dependencies = self.json_children(link.to, path);
            path.pop();
            let required = match (self.reverse, link.specifier) {
                (false, Some(specifier)) => specifier,
                _ => "Any",
            };
            children.push(json_node(self.node(link.to), required, dependencies));
        }
        Json::List(children)
    }

    /// pipdeptree's `--json`: every shown package and its direct requirements.
    pub fn render_json(&self) -> Result<String, TreeError> {
        if self.reverse {
            return Err(TreeError::ReverseJson);
        }
        let entries = self
            .shown
            .iter()
            .map(|key| {
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
                Json::Object(vec![
                    (
                        "package",
                        Json::Object(vec![
                            ("key", Json::Str(node.key.to_string())),
                            ("package_name", Json::Str(node.name.clone())),
                            ("installed_version", Json::Str(node.version.clone())),
                        ]),
                    ),
                    ("dependencies", Json::List(dependencies)),
                ])
            })
            .collect();
        let mut out = String::new();
        write_json(&Json::List(entries), 0, &mut out);
        out.push('\n');
        Ok(out)
    }
}

fn json_node(node: &Node, required: &str, dependencies: Json) -> Json {
    Json::Object(vec![
        ("key", Json::Str(node.key.to_string())),
        ("package_name", Json::Str(node.name.clone())),
        ("installed_version", Json::Str(node.version.clone())),
        ("required_version", Json::Str(required.to_string())),
        ("dependencies", dependencies),
    ])
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
        // The image as pipdeptree would show it for the same environment: no difference.
        let same: serde_json::Value = serde_json::from_str(&tree.render_json_tree()).unwrap();
        assert_eq!(tree.differences(&same, &["pip"]), Vec::<String>::new());
        // Another version, an edge changed, one missing, one added, an unlocked
        // package, pip (allowed) and a spec in another spelling (the same).
        let image = tree
            .render_json_tree()
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
