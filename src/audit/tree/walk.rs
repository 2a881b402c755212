//! The one walk every nested layout of a [`View`] is printed from: iterative (an
//! explicit stack, so a 40,000-deep chain is 40,000 frames on the heap, not on the
//! call stack), and bounded, so what it prints grows with the lock, not with the
//! number of paths through it.
//!
//! pipdeptree prints a package's whole subtree at every place it is required, which
//! for a dense graph is exponential (40 packages each requiring all later ones: more
//! than 2^39 lines). Here the walk is pipdeptree's, node for node, until one of two
//! limits is reached, and only then does the output differ:
//!
//! - a package already shown whose subtree is big (more than [`REPRINT_LIMIT`]
//!   packages, or a cycle below it) is shown once in full; where it is required again
//!   its own line is printed with the mark `(subtree shown above)` and nothing below.
//!   A smaller subtree is printed again in full, as pipdeptree does, so the trees of
//!   ordinary locks stay byte for byte pipdeptree's;
//! - a package [`MAX_DEPTH`] levels below a root is printed with the mark
//!   `(subtree continued below)`, and its subtree follows, once the root's tree is
//!   done, as a top-level entry marked `(subtree continued from above)`: a line's
//!   indentation stays bounded, and the `--json-tree` document stays within what JSON
//!   readers nest (serde_json's default limit is 128 levels, two per tree level).
//!
//! In `--json-tree` a marked package has a `subtree` key (`shown above`, `continued
//! below`, `continued from above`) and its `dependencies` are empty. A leaf is never
//! marked: printing it again costs its one line.

use std::collections::{BTreeMap, VecDeque};

use pep508_rs::PackageName;

use super::{Link, Node, View};

/// Packages a repeated subtree may hold and still be printed again in full.
pub const REPRINT_LIMIT: usize = 50;

/// Levels below a root before a subtree is continued as an entry of its own.
pub const MAX_DEPTH: usize = 32;

/// The two limits of a walk; [`Limits::DEFAULT`] except in tests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub reprint: usize,
    pub depth: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        reprint: REPRINT_LIMIT,
        depth: MAX_DEPTH,
    };
}

/// Why a package's subtree is not printed below it, or where a top-level entry comes
/// from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Printed in full (or a leaf).
    None,
    /// Its subtree was printed in full earlier.
    ShownAbove,
    /// Too deep here: its subtree follows as a top-level entry.
    ContinuedBelow,
    /// A top-level entry holding a subtree cut at [`MAX_DEPTH`].
    ContinuedFromAbove,
}

impl Mark {
    /// What is printed after the package in the text layouts (in parentheses) and in
    /// the report.
    pub fn words(self) -> Option<&'static str> {
        match self {
            Mark::None => None,
            Mark::ShownAbove => Some("subtree shown above"),
            Mark::ContinuedBelow => Some("subtree continued below"),
            Mark::ContinuedFromAbove => Some("subtree continued from above"),
        }
    }

    /// The value of `--json-tree`'s `subtree` key.
    pub fn json(self) -> Option<&'static str> {
        self.words()
            .map(|words| words.trim_start_matches("subtree "))
    }
}

/// One package where the walk shows it.
pub struct Step<'t> {
    /// 0 for a top-level entry.
    pub depth: usize,
    pub node: &'t Node,
    /// The package it hangs under and the edge that leads here; `None` at the top.
    pub link: Option<(&'t PackageName, Link<'t>)>,
    /// The last of its parent's links (decided over all of them, shown or cut, as
    /// pipdeptree decides `└──`).
    pub last: bool,
    pub mark: Mark,
}

pub enum Event<'t> {
    /// A package, before anything below it.
    Enter(Step<'t>),
    /// The end of the package entered last and not yet left.
    Leave,
}

/// The shown packages as indices, with their links and what the limits need to know.
struct Graph<'t> {
    keys: Vec<&'t PackageName>,
    links: Vec<Vec<(usize, Link<'t>)>>,
    /// Printed again in full where it is required again: no cycle reachable from it,
    /// at most `reprint` packages printed below it.
    small: Vec<bool>,
}

impl<'t> Graph<'t> {
    fn new(view: &View<'t>) -> Self {
        let keys: Vec<&PackageName> = view.shown.iter().copied().collect();
        let index: BTreeMap<&PackageName, usize> =
            keys.iter().enumerate().map(|(i, key)| (*key, i)).collect();
        let links: Vec<Vec<(usize, Link<'t>)>> = keys
            .iter()
            .map(|key| {
                view.links[key]
                    .iter()
                    .filter_map(|link| index.get(link.to).map(|&to| (to, *link)))
                    .collect()
            })
            .collect();
        let small = small(&links, view.limits.reprint);
        Graph { keys, links, small }
    }
}

/// For each node: whether no cycle is reachable from it and its full expansion prints
/// at most `limit` lines below it. An iterative depth-first search: a node reaches a
/// cycle when one of its links is a back edge or leads to a node that does.
fn small(links: &[Vec<(usize, Link<'_>)>], limit: usize) -> Vec<bool> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let count = links.len();
    let mut state = vec![NEW; count];
    let mut cyclic = vec![false; count];
    // Lines below, saturated just past the limit.
    let mut size = vec![0usize; count];
    for start in 0..count {
        if state[start] != NEW {
            continue;
        }
        state[start] = OPEN;
        let mut stack = vec![(start, 0usize)];
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(&(child, _)) = links[node].get(*next) {
                *next += 1;
                match state[child] {
                    NEW => {
                        state[child] = OPEN;
                        stack.push((child, 0));
                    }
                    OPEN => cyclic[node] = true,
                    _ => {}
                }
                continue;
            }
            // All children are done (or open: a cycle): fold them in.
            let mut lines = 0usize;
            for &(child, _) in &links[node] {
                cyclic[node] |= cyclic[child] || state[child] == OPEN;
                lines = lines.saturating_add(1).saturating_add(size[child]);
            }
            size[node] = lines.min(limit.saturating_add(1));
            state[node] = DONE;
            stack.pop();
        }
    }
    (0..count)
        .map(|node| !cyclic[node] && size[node] <= limit)
        .collect()
}

/// Walk `view` from its roots, in pipdeptree's order, calling `visit` for every
/// package shown. `root_on_path`: whether a top-level package counts as on the path
/// when cycles are cut (pipdeptree's text layouts: no; `--json-tree`: yes).
pub fn walk<'t, E>(
    view: &View<'t>,
    root_on_path: bool,
    mut visit: impl FnMut(Event<'t>) -> Result<(), E>,
) -> Result<(), E> {
    let graph = Graph::new(view);
    let index: BTreeMap<&PackageName, usize> = graph
        .keys
        .iter()
        .enumerate()
        .map(|(i, key)| (*key, i))
        .collect();
    let mut expanded = vec![false; graph.keys.len()];
    let mut on_path = vec![false; graph.keys.len()];
    for root in view.roots() {
        let mut entries = VecDeque::from([(index[root], Mark::None)]);
        while let Some((top, mark)) = entries.pop_front() {
            // Cut at the depth limit, then reached again in time to be shown in full.
            if mark == Mark::ContinuedFromAbove && expanded[top] {
                continue;
            }
            expanded[top] = true;
            visit(Event::Enter(Step {
                depth: 0,
                node: view.node(graph.keys[top]),
                link: None,
                last: true,
                mark,
            }))?;
            on_path[top] = root_on_path;
            // (node, its next link, its depth)
            let mut stack = vec![(top, 0usize, 0usize)];
            while let Some((node, next, depth)) = stack.last_mut() {
                let (node, depth) = (*node, *depth);
                let links = &graph.links[node];
                let Some(&(child, link)) = links.get(*next) else {
                    on_path[node] = false;
                    stack.pop();
                    visit(Event::Leave)?;
                    continue;
                };
                let last = *next + 1 == links.len();
                *next += 1;
                if on_path[child] {
                    continue;
                }
                let depth = depth + 1;
                let mark = if graph.links[child].is_empty() {
                    Mark::None
                } else if expanded[child] && !graph.small[child] {
                    Mark::ShownAbove
                } else if depth >= view.limits.depth {
                    if expanded[child] {
                        Mark::ShownAbove
                    } else {
                        entries.push_back((child, Mark::ContinuedFromAbove));
                        Mark::ContinuedBelow
                    }
                } else {
                    Mark::None
                };
                visit(Event::Enter(Step {
                    depth,
                    node: view.node(graph.keys[child]),
                    link: Some((graph.keys[node], link)),
                    last,
                    mark,
                }))?;
                if mark == Mark::None {
                    expanded[child] = true;
                    on_path[child] = true;
                    stack.push((child, 0, depth));
                } else {
                    visit(Event::Leave)?;
                }
            }
        }
    }
    Ok(())
}
