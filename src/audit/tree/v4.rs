//! The dependency tree as pipdeptree 4 (4.2.16, `--extras explicit`, its default) prints
//! the environment a lock installs. What differs from 2.x (`View`):
//!
//! - extras: a package's requirements through one of its extras are edges where an
//!   installed package asks for that extra (`torch` -> `cuda-toolkit[cudart]` makes
//!   `cuda-toolkit` -> `nvidia-cuda-runtime` an edge, shown `, extra: cudart`). Which
//!   extras count is found once: every requirement that holds with no extra active asks
//!   for its extras, and the requirements those extras activate ask for theirs. Below an
//!   edge, a package shows its plain requirements and those of the extras that edge asks
//!   for; as a root (and in `--json`), those of every extra asked for anywhere. Extras
//!   the inputs ask for (`uvicorn[standard]` in `requirements.in`) are not seen: the
//!   environment does not record them;
//! - repeats: under each root, a package already shown with the same extras, or one on
//!   the path from the root (a cycle, the root included), is shown once more but not
//!   expanded, ending ` (*)` (`"repeated": true` in `--json-tree`); a package with
//!   nothing below it is never marked;
//! - roots: the packages no shown edge reaches, and every member of a cycle that no root
//!   reaches (2.x shows nothing of such a cycle);
//! - specifiers ordered by version (`>=1.7.4,!=1.8,<3.0.0`);
//! - `--reverse` in `--json-tree` gives each requirement's specifier, and `--json
//!   --reverse` lists each package with its dependents.
//!
//! The walk is iterative and bounded by the edges under each root, so no limit is
//! needed (pipdeptree 4 refuses trees deeper than 200 levels in its nested layouts;
//! this prints them).

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::io::{self, Write};
use std::str::FromStr;

use pep440_rs::VersionSpecifiers;

use super::{
    DependencyTree, Edge, Json, JsonTree, Shown, TextTree, TreeError, canonical, fnmatch,
    normalize_specifier, write_json,
};

/// One requirement of a package on a locked package.
struct Dep {
    target: usize,
    /// pipdeptree 4's text for its specifiers; `None` for none.
    specifier: Option<String>,
    /// The extra of the owner that activates it; `None` when it holds without one.
    activated_by: Option<String>,
    /// The target's extras it asks for.
    requests: BTreeSet<String>,
}

struct Package<'t> {
    key: &'t str,
    name: &'t str,
    version: &'t str,
    /// Plain requirements first, in key order; then per extra (in name order) the
    /// requirements it activates, in key order.
    deps: Vec<Dep>,
    mandatory: usize,
    optional: BTreeMap<String, std::ops::Range<usize>>,
}

/// What a walk descends with: forward, the extras the incoming edge asks for (`None`
/// at a root: every extra asked for anywhere); reversed, the owner's extras that
/// activated the edge walked (`None`: every dependent).
type Selection = Option<BTreeSet<String>>;

/// A lock's tree in pipdeptree 4's layouts: a direction and the packages shown.
pub struct View4<'t> {
    packages: Vec<Package<'t>>,
    /// Per package, the slots of `deps` shown as a root and in `--json`.
    expanded: Vec<Vec<usize>>,
    /// Per package, `(dependent, slot)` for each expanded edge to it.
    dependents: Vec<Vec<(usize, usize)>>,
    visible: Vec<bool>,
    reverse: bool,
}

impl DependencyTree {
    /// The tree as pipdeptree 4 prints it: `reverse` as `--reverse`, `packages` as
    /// `--packages` (`fnmatch` patterns, matched against normalized names).
    pub fn view4(
        &self,
        reverse: bool,
        patterns: Option<&[String]>,
    ) -> Result<View4<'_>, TreeError> {
        let index: BTreeMap<&str, usize> = self
            .nodes
            .keys()
            .enumerate()
            .map(|(position, key)| (key.as_ref(), position))
            .collect();
        let dep = |edge: &Edge| {
            index.get(edge.child.as_ref()).map(|&target| Dep {
                target,
                specifier: edge.specifier.as_deref().map(by_version),
                activated_by: edge.extra.clone(),
                requests: edge.requests.iter().cloned().collect(),
            })
        };
        let packages: Vec<Package<'_>> = self
            .nodes
            .values()
            .map(|node| {
                let mut deps: Vec<Dep> = node.requires.iter().filter_map(dep).collect();
                let mandatory = deps.len();
                let mut by_extra: BTreeMap<String, Vec<Dep>> = BTreeMap::new();
                for edge in &node.through_extras {
                    if let (Some(extra), Some(dep)) = (&edge.extra, dep(edge)) {
                        by_extra.entry(extra.clone()).or_default().push(dep);
                    }
                }
                let mut optional = BTreeMap::new();
                for (extra, list) in by_extra {
                    let start = deps.len();
                    deps.extend(list);
                    optional.insert(extra, start..deps.len());
                }
                Package {
                    key: node.key.as_ref(),
                    name: &node.name,
                    version: &node.version,
                    deps,
                    mandatory,
                    optional,
                }
            })
            .collect();
        let requested = requested_extras(&packages);
        let expanded: Vec<Vec<usize>> = (0..packages.len())
            .map(|node| selected(&packages[node], &requested[node]))
            .collect();
        let mut dependents = vec![Vec::new(); packages.len()];
        for (parent, slots) in expanded.iter().enumerate() {
            for &slot in slots {
                dependents[packages[parent].deps[slot].target].push((parent, slot));
            }
        }
        let mut view = View4 {
            visible: vec![true; packages.len()],
            packages,
            expanded,
            dependents,
            reverse,
        };
        if let Some(patterns) = patterns {
            let mut matched = Vec::new();
            let mut unmatched = Vec::new();
            for pattern in patterns {
                let pattern = canonical(pattern.trim());
                let found: Vec<usize> = (0..view.packages.len())
                    .filter(|&node| fnmatch(view.packages[node].key, &pattern))
                    .collect();
                if found.is_empty() {
                    unmatched.push(pattern);
                }
                matched.extend(found);
            }
            if !unmatched.is_empty() {
                return Err(TreeError::NoMatch(unmatched));
            }
            let mut shown = vec![false; view.packages.len()];
            view.mark(matched, reverse, &mut shown);
            view.visible = shown;
        }
        Ok(view)
    }
}

/// A 2.x specifier text (reverse-sorted) as pipdeptree 4 prints it: pep440's
/// `VersionSpecifiers`, which orders by version.
fn by_version(text: &str) -> String {
    VersionSpecifiers::from_str(text)
        .map(|parsed| parsed.to_string().replace(", ", ","))
        .unwrap_or_else(|_| text.to_string())
}

/// The extras of each package that an installed package asks for: those every plain
/// requirement asks for, then those the requirements they activate ask for.
fn requested_extras(packages: &[Package<'_>]) -> Vec<BTreeSet<String>> {
    let mut requested = vec![BTreeSet::new(); packages.len()];
    let mut pending: std::collections::VecDeque<(usize, usize)> = packages
        .iter()
        .enumerate()
        .flat_map(|(node, package)| (0..package.mandatory).map(move |slot| (node, slot)))
        .collect();
    while let Some((owner, slot)) = pending.pop_front() {
        let dep = &packages[owner].deps[slot];
        let target = &packages[dep.target];
        for extra in &dep.requests {
            if requested[dep.target].insert(extra.clone())
                && let Some(range) = target.optional.get(extra)
            {
                pending.extend(range.clone().map(|slot| (dep.target, slot)));
            }
        }
    }
    requested
}

/// The slots of `package` shown below an edge asking for `extras`: its plain
/// requirements and those of those extras, by key (plain ones first on one key).
fn selected(package: &Package<'_>, extras: &BTreeSet<String>) -> Vec<usize> {
    let mut slots: Vec<usize> = (0..package.mandatory).collect();
    if extras.is_empty() {
        return slots;
    }
    for (extra, range) in &package.optional {
        if extras.contains(extra) {
            slots.extend(range.clone());
        }
    }
    let deps = &package.deps;
    slots.sort_by(|&a, &b| {
        let key = |slot: usize| deps[slot].target;
        key(a)
            .cmp(&key(b))
            .then_with(|| deps[a].activated_by.cmp(&deps[b].activated_by))
    });
    slots
}

/// One line of a walk: the package, the edge that leads to it (`owner`, `slot`), and
/// whether it is shown again without what is below it.
struct Step {
    node: usize,
    edge: Option<(usize, usize)>,
    depth: usize,
    last: bool,
    repeated: bool,
    cut: Option<Continued>,
}

/// Where a subtree too deep to nest further goes on.
#[derive(Clone, Copy)]
enum Continued {
    /// This package's subtree follows as a top-level entry.
    Below,
    /// A top-level entry that goes on from a package cut above.
    FromAbove,
}

impl Continued {
    fn words(self) -> &'static str {
        match self {
            Continued::Below => "continued below",
            Continued::FromAbove => "continued from above",
        }
    }
}

/// How deep a nested layout goes before a subtree continues as a top-level entry: as
/// deep as pipdeptree 4 prints at all.
pub const MAX_DEPTH_4: usize = 200;

enum Event {
    Enter(Step),
    Leave,
}

/// An edge the walk may take: to `node`, through `owner`'s `slot`, descending with
/// `selection`.
struct Item {
    node: usize,
    owner: usize,
    slot: usize,
    selection: Selection,
}

impl<'t> View4<'t> {
    fn dep(&self, owner: usize, slot: usize) -> &Dep {
        &self.packages[owner].deps[slot]
    }

    /// Forward, the requirements below `node` reached with `selection`; reversed, its
    /// dependents whose requirement asks for one of `selection`'s extras.
    fn items(&self, node: usize, selection: &Selection) -> Vec<Item> {
        if self.reverse {
            return self.dependents[node]
                .iter()
                .filter(|&&(parent, _)| self.visible[parent])
                .filter(|&&(parent, slot)| {
                    selection.as_ref().is_none_or(|extras| {
                        self.dep(parent, slot)
                            .requests
                            .iter()
                            .any(|extra| extras.contains(extra))
                    })
                })
                .map(|&(parent, slot)| Item {
                    node: parent,
                    owner: parent,
                    slot,
                    selection: self
                        .dep(parent, slot)
                        .activated_by
                        .as_ref()
                        .map(|extra| BTreeSet::from([extra.clone()])),
                })
                .collect();
        }
        let slots = match selection {
            None => self.expanded[node].clone(),
            Some(extras) => selected(&self.packages[node], extras),
        };
        slots
            .into_iter()
            .filter(|&slot| self.visible[self.dep(node, slot).target])
            .map(|slot| {
                let dep = self.dep(node, slot);
                Item {
                    node: dep.target,
                    owner: node,
                    slot,
                    selection: Some(dep.requests.clone()),
                }
            })
            .collect()
    }

    /// The visible packages an edge of this direction leads to from `node`.
    fn next(&self, node: usize) -> Vec<usize> {
        self.items(node, &None)
            .into_iter()
            .map(|item| item.node)
            .collect()
    }

    /// `marked` set for `seeds` and everything they reach in `reverse`'s direction.
    fn mark(&self, seeds: Vec<usize>, reverse: bool, marked: &mut [bool]) {
        let mut queue = std::collections::VecDeque::from(seeds);
        while let Some(node) = queue.pop_front() {
            if marked[node] {
                continue;
            }
            marked[node] = true;
            if reverse {
                queue.extend(self.dependents[node].iter().map(|&(parent, _)| parent));
            } else {
                queue.extend(
                    self.expanded[node]
                        .iter()
                        .map(|&slot| self.dep(node, slot).target),
                );
            }
        }
    }

    /// The packages no shown edge leads to, then every member of each cycle no root
    /// reaches, in key order.
    fn roots(&self) -> Vec<usize> {
        let shown: Vec<usize> = (0..self.packages.len())
            .filter(|&node| self.visible[node])
            .collect();
        let reached_by_edge: HashSet<usize> =
            shown.iter().flat_map(|&node| self.next(node)).collect();
        let mut roots: Vec<usize> = shown
            .iter()
            .copied()
            .filter(|node| !reached_by_edge.contains(node))
            .collect();
        let mut reached = vec![false; self.packages.len()];
        self.mark_visible(roots.clone(), &mut reached);
        if shown.iter().all(|&node| reached[node]) {
            return roots;
        }
        // Components in order, each before those it leads to: an unreached one met
        // here has no unreached component leading to it.
        for component in self.components(&shown) {
            if !reached[component[0]] {
                self.mark_visible(component.clone(), &mut reached);
                roots.extend(component);
            }
        }
        roots.sort_unstable();
        roots
    }

    fn mark_visible(&self, seeds: Vec<usize>, marked: &mut [bool]) {
        let mut queue = std::collections::VecDeque::from(seeds);
        while let Some(node) = queue.pop_front() {
            if !marked[node] {
                marked[node] = true;
                queue.extend(self.next(node));
            }
        }
    }

    /// The strongly connected components of the shown graph (in the walk's direction),
    /// each before the components it leads to.
    fn components(&self, shown: &[usize]) -> Vec<Vec<usize>> {
        let count = self.packages.len();
        let mut outgoing = vec![Vec::new(); count];
        let mut incoming = vec![Vec::new(); count];
        for &node in shown {
            for child in self.next(node) {
                outgoing[node].push(child);
                incoming[child].push(node);
            }
        }
        let mut visited = vec![false; count];
        let mut order = Vec::new();
        for &start in shown {
            if visited[start] {
                continue;
            }
            visited[start] = true;
            let mut stack = vec![(start, 0)];
            while let Some((node, next)) = stack.last_mut() {
                if *next == outgoing[*node].len() {
                    order.push(*node);
                    stack.pop();
                    continue;
                }
                let child = outgoing[*node][*next];
                *next += 1;
                if !visited[child] {
                    visited[child] = true;
                    stack.push((child, 0));
                }
            }
        }
        visited.fill(false);
        let mut components = Vec::new();
        while let Some(start) = order.pop() {
            if visited[start] {
                continue;
            }
            visited[start] = true;
            let mut component = Vec::new();
            let mut stack = vec![start];
            while let Some(node) = stack.pop() {
                component.push(node);
                for &parent in &incoming[node] {
                    if !visited[parent] {
                        visited[parent] = true;
                        stack.push(parent);
                    }
                }
            }
            components.push(component);
        }
        components
    }

    /// Every root's tree, depth first, iteratively. A package [`MAX_DEPTH_4`] levels
    /// below its root with something below it is cut there (`continued below`) and
    /// its subtree follows the root's as a top-level entry (`continued from above`),
    /// where pipdeptree 4 refuses the whole tree.
    fn walk<E>(&self, mut emit: impl FnMut(Event) -> Result<(), E>) -> Result<(), E> {
        let mut pending: VecDeque<(usize, Selection, bool)> = self
            .roots()
            .into_iter()
            .map(|root| (root, None, false))
            .collect();
        while let Some((root, selection, from_above)) = pending.pop_front() {
            let mut path: HashSet<usize> = HashSet::from([root]);
            let mut shown: HashSet<(usize, Selection)> = HashSet::new();
            let mut later = Vec::new();
            emit(Event::Enter(Step {
                node: root,
                edge: None,
                depth: 0,
                last: true,
                repeated: false,
                cut: from_above.then_some(Continued::FromAbove),
            }))?;
            // Per open package: it, what is below it, and how far through them.
            let mut stack: Vec<(usize, Vec<Item>, usize)> =
                vec![(root, self.items(root, &selection), 0)];
            loop {
                // What a package below the innermost open one is at.
                let depth = stack.len();
                let Some((node, items, position)) = stack.last_mut() else {
                    break;
                };
                let Some(item) = items.get(*position) else {
                    let node = *node;
                    stack.pop();
                    if !stack.is_empty() {
                        path.remove(&node);
                    }
                    emit(Event::Leave)?;
                    continue;
                };
                *position += 1;
                let last = *position == items.len();
                let again =
                    path.contains(&item.node) || !shown.insert((item.node, item.selection.clone()));
                let below = self.items(item.node, &item.selection);
                let repeated = again && !below.is_empty();
                let (child, edge) = (item.node, (item.owner, item.slot));
                let selection = item.selection.clone();
                let continued = !repeated && !below.is_empty() && depth == MAX_DEPTH_4;
                emit(Event::Enter(Step {
                    node: child,
                    edge: Some(edge),
                    depth,
                    last,
                    repeated,
                    cut: continued.then_some(Continued::Below),
                }))?;
                if continued {
                    later.push((child, selection, true));
                }
                if repeated || continued {
                    emit(Event::Leave)?;
                    continue;
                }
                path.insert(child);
                stack.push((child, below, 0));
            }
            for entry in later.into_iter().rev() {
                pending.push_front(entry);
            }
        }
        Ok(())
    }

    /// A line of the text layout, without its bullet and mark.
    fn label(&self, step: &Step) -> String {
        let package = &self.packages[step.node];
        let Some((owner, slot)) = step.edge else {
            return format!("{}=={}", package.name, package.version);
        };
        let dep = self.dep(owner, slot);
        let extra = dep
            .activated_by
            .as_ref()
            .map(|extra| format!(", extra: {extra}"))
            .unwrap_or_default();
        if self.reverse {
            let required = &self.packages[dep.target];
            format!(
                "{}=={} [requires: {}{}{extra}]",
                package.name,
                package.version,
                required.name,
                dep.specifier.as_deref().unwrap_or("")
            )
        } else {
            format!(
                "{} [required: {}, installed: {}{extra}]",
                package.name,
                dep.specifier.as_deref().unwrap_or("Any"),
                package.version
            )
        }
    }

    /// pipdeptree 4's text layout.
    pub fn render_text(&self) -> String {
        let mut out = Vec::new();
        self.write_text(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    /// [`View4::render_text`], written to `out` as it is walked.
    pub fn write_text(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut lines = TextTree::default();
        self.walk(|event| {
            let Event::Enter(step) = event else {
                return Ok(());
            };
            let mark = match (step.repeated, step.cut) {
                (true, _) => " (*)".to_string(),
                (false, Some(cut)) => format!(" (subtree {})", cut.words()),
                (false, None) => String::new(),
            };
            let text = format!("{}{mark}", self.label(&step));
            lines.line(out, step.depth, step.last, &text)
        })?;
        lines.finish(out)
    }

    /// pipdeptree 4's `--json-tree`.
    pub fn render_json_tree(&self) -> String {
        let mut out = Vec::new();
        self.write_json_tree(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    /// [`View4::render_json_tree`], written to `out` as it is walked (serde_json's
    /// pretty layout with four spaces, keys in pipdeptree's order).
    pub fn write_json_tree(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut json = JsonTree::default();
        // Per open package: whether it is repeated.
        let mut repeated: Vec<bool> = Vec::new();
        self.walk(|event| match event {
            Event::Enter(step) => {
                let package = &self.packages[step.node];
                let mut fields = vec![
                    ("key", package.key),
                    ("package_name", package.name),
                    ("installed_version", package.version),
                ];
                match step.edge {
                    None => fields.push(("required_version", package.version)),
                    Some((owner, slot)) => {
                        let dep = self.dep(owner, slot);
                        fields.push((
                            "required_version",
                            dep.specifier.as_deref().unwrap_or("Any"),
                        ));
                        if let (false, Some(extra)) = (self.reverse, &dep.activated_by) {
                            fields.push(("extra", extra));
                        }
                    }
                }
                if let Some(cut) = step.cut {
                    fields.push(("subtree", cut.words()));
                }
                repeated.push(step.repeated);
                json.enter(out, &fields)
            }
            Event::Leave => {
                let after = repeated.pop().expect("left what was entered");
                json.leave(out, after.then_some(("repeated", "true")))
            }
        })?;
        json.finish(out)
    }

    /// What this view shows as `--json-tree`: versions by key, specifiers by edge.
    pub(super) fn shown(&self) -> Shown {
        let mut shown = Shown::default();
        let result: Result<(), std::convert::Infallible> = self.walk(|event| {
            if let Event::Enter(step) = event {
                let package = &self.packages[step.node];
                shown
                    .versions
                    .insert(package.key.to_string(), package.version.to_string());
                if let Some((owner, slot)) = step.edge {
                    let dep = self.dep(owner, slot);
                    let (parent, child) = if self.reverse {
                        (self.packages[step.node].key, self.packages[dep.target].key)
                    } else {
                        (self.packages[owner].key, package.key)
                    };
                    shown
                        .edges
                        .entry((parent.to_string(), child.to_string()))
                        .or_default()
                        .insert(normalize_specifier(
                            dep.specifier.as_deref().unwrap_or("Any"),
                        ));
                }
            }
            Ok(())
        });
        let Ok(()) = result;
        shown
    }

    /// pipdeptree 4's `--json`: every shown package with its requirements (reversed:
    /// with its dependents).
    pub fn render_json(&self) -> String {
        let mut out = Vec::new();
        self.write_json(&mut out).expect("writing to memory");
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    /// [`View4::render_json`], written to `out` one package at a time.
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        let package_fields = |node: usize| {
            let package = &self.packages[node];
            vec![
                ("key", Json::Str(package.key.to_string())),
                ("package_name", Json::Str(package.name.to_string())),
                ("installed_version", Json::Str(package.version.to_string())),
            ]
        };
        let mut any = false;
        for node in (0..self.packages.len()).filter(|&node| self.visible[node]) {
            let dependencies = self
                .items(node, &None)
                .into_iter()
                .map(|item| {
                    let dep = self.dep(item.owner, item.slot);
                    let mut fields = package_fields(item.node);
                    fields.push((
                        "required_version",
                        Json::Str(dep.specifier.clone().unwrap_or_else(|| "Any".into())),
                    ));
                    if let (false, Some(extra)) = (self.reverse, &dep.activated_by) {
                        fields.push(("extra", Json::Str(extra.clone())));
                    }
                    Json::Object(fields)
                })
                .collect();
            let entry = Json::Object(vec![
                ("package", Json::Object(package_fields(node))),
                ("dependencies", Json::List(dependencies)),
            ]);
            let mut text = String::from(if any { ",\n    " } else { "[\n    " });
            any = true;
            write_json(&entry, 1, &mut text);
            out.write_all(text.as_bytes())?;
        }
        out.write_all(if any { b"\n]\n" } else { b"[]\n" })
    }
}
