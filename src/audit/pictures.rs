//! The report's two pictures, laid out here and drawn by the template as inline SVG (no
//! script, nothing fetched):
//!
//! - **sizes**: one bar per top-level requirement (a package an input asks for), the
//!   installed size of the package itself and, stacked after it, of what only it pulls
//!   in: the locked packages it reaches through `# via` edges that no other top-level
//!   requirement reaches. Then one bar for what several share, and one for what no input
//!   reaches (a dependency cycle of its own). A wheel counts its unpacked files; an
//!   sdist, whose build is not known before it runs, its download size;
//! - **graph**: every locked package in columns by depth (the longest path to it from a
//!   package nothing requires), a line for each `# via` edge from the package's right
//!   side to the left side of what it requires, edges through an extra dashed. An edge
//!   that closes a cycle loops back to an earlier column, in another colour.

use std::collections::{BTreeMap, BTreeSet};

use pep508_rs::PackageName;
use serde::Serialize;

use super::facts::{Edges, Facts};
use super::report::human_size;

/// The bar area's width, in pixels; the label column before it and the figure after.
const BAR_WIDTH: f64 = 420.0;
const LABEL_WIDTH: f64 = 230.0;
const ROW: f64 = 26.0;

#[derive(Debug, Serialize)]
pub struct Sizes {
    pub bars: Vec<Bar>,
    pub width: f64,
    pub height: f64,
    /// Where the bars start.
    pub x: f64,
    /// Installed files whose size neither the index nor the wheel gives.
    pub unknown: usize,
}

#[derive(Debug, Serialize)]
pub struct Bar {
    /// `fastapi 0.110.0`, or what the bar stands for (`shared by several`).
    pub label: String,
    /// The label cut to fit its column.
    pub short: String,
    /// `requirement`, `shared` or `unreached`.
    pub kind: &'static str,
    pub own: u64,
    /// Only this requirement pulls these in.
    pub exclusive: u64,
    pub exclusive_names: Vec<String>,
    pub total: String,
    pub y: f64,
    pub own_width: f64,
    pub exclusive_width: f64,
    /// `fastapi 0.110.0: 1.2 MB itself, 3.4 MB only it pulls in (3 packages)`.
    pub title: String,
}

/// The sizes picture of `facts`.
pub fn sizes(facts: &Facts) -> Sizes {
    let edges = Edges::of(facts);
    let size = |key: &PackageName| {
        facts.packages[key]
            .installed()
            .and_then(|file| file.installed_size())
            .unwrap_or(0)
    };
    let tops: Vec<&PackageName> = facts
        .packages
        .iter()
        .filter(|(_, package)| package.from_input())
        .map(|(key, _)| key)
        .collect();
    // Per package, the top-level requirements that reach it.
    let mut reached_by: BTreeMap<&PackageName, Vec<&PackageName>> = BTreeMap::new();
    let reaches: Vec<(&PackageName, BTreeSet<&PackageName>)> =
        tops.iter().map(|top| (*top, edges.reach([*top]))).collect();
    for (top, reach) in &reaches {
        for key in reach {
            reached_by.entry(key).or_default().push(top);
        }
    }
    let mut bars: Vec<Bar> = reaches
        .iter()
        .map(|(top, reach)| {
            let only: Vec<&PackageName> = reach
                .iter()
                .copied()
                .filter(|key| key != top && reached_by[key].len() == 1)
                .collect();
            let package = &facts.packages[*top];
            bar(
                format!("{} {}", package.name, package.version),
                "requirement",
                size(top),
                only.iter().map(|key| size(key)).sum(),
                only.iter().map(|key| key.to_string()).collect(),
            )
        })
        .collect();
    bars.sort_by(|a, b| {
        (b.own + b.exclusive)
            .cmp(&(a.own + a.exclusive))
            .then_with(|| a.label.cmp(&b.label))
    });
    let shared: Vec<&PackageName> = reached_by
        .iter()
        .filter(|(key, tops)| tops.len() > 1 && !tops.contains(key))
        .map(|(key, _)| *key)
        .collect();
    if !shared.is_empty() {
        bars.push(bar(
            "shared by several".into(),
            "shared",
            0,
            shared.iter().map(|key| size(key)).sum(),
            shared.iter().map(|key| key.to_string()).collect(),
        ));
    }
    let unreached: Vec<&PackageName> = facts
        .packages
        .keys()
        .filter(|key| !reached_by.contains_key(key))
        .collect();
    if !unreached.is_empty() {
        bars.push(bar(
            "reached by no input".into(),
            "unreached",
            0,
            unreached.iter().map(|key| size(key)).sum(),
            unreached.iter().map(|key| key.to_string()).collect(),
        ));
    }
    let longest = bars.iter().map(|b| b.own + b.exclusive).max().unwrap_or(0);
    for (row, bar) in bars.iter_mut().enumerate() {
        let scale = |bytes: u64| {
            if longest == 0 {
                0.0
            } else {
                round(bytes as f64 / longest as f64 * BAR_WIDTH)
            }
        };
        bar.y = row as f64 * ROW;
        bar.own_width = scale(bar.own);
        bar.exclusive_width = scale(bar.exclusive);
    }
    Sizes {
        height: bars.len() as f64 * ROW,
        bars,
        width: LABEL_WIDTH + BAR_WIDTH + 110.0,
        x: LABEL_WIDTH,
        unknown: facts
            .packages
            .values()
            .filter_map(|package| package.installed())
            .filter(|file| file.installed_size().is_none())
            .count(),
    }
}

fn bar(
    label: String,
    kind: &'static str,
    own: u64,
    exclusive: u64,
    exclusive_names: Vec<String>,
) -> Bar {
    let pulls = match exclusive_names.len() {
        0 => String::new(),
        1 => format!(" ({})", exclusive_names[0]),
        n => format!(" ({n} packages)"),
    };
    let title = match kind {
        "requirement" => format!(
            "{label}: {} itself, {} only it pulls in{pulls}",
            human_size(own),
            human_size(exclusive)
        ),
        _ => format!("{label}: {}{pulls}", human_size(exclusive)),
    };
    Bar {
        total: human_size(own + exclusive),
        short: shorten(&label, (LABEL_WIDTH / CHAR_WIDTH) as usize - 2),
        label,
        kind,
        own,
        exclusive,
        exclusive_names,
        y: 0.0,
        own_width: 0.0,
        exclusive_width: 0.0,
        title,
    }
}

/// `text` in at most `chars` characters, cut with `…`.
fn shorten(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Pixels to a tenth: the page's bytes do not depend on float printing.
fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[derive(Debug, Serialize)]
pub struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub width: f64,
    pub height: f64,
}

#[derive(Debug, Serialize)]
pub struct GraphNode {
    pub name: String,
    pub version: String,
    pub x: f64,
    pub y: f64,
    pub width: f64,
}

#[derive(Debug, Serialize)]
pub struct GraphEdge {
    /// `parent -> child`, for its tooltip.
    pub title: String,
    /// The SVG path.
    pub d: String,
    pub extra: bool,
    /// It closes a cycle: drawn back to an earlier column.
    pub back: bool,
}

const NODE_HEIGHT: f64 = 22.0;
const NODE_GAP: f64 = 10.0;
const COLUMN_GAP: f64 = 60.0;
/// Monospace at the figure's font size: pixels per character, and the box's padding.
const CHAR_WIDTH: f64 = 7.2;
const PADDING: f64 = 14.0;

/// The graph picture of `facts`.
pub fn graph(facts: &Facts) -> Graph {
    let edges = Edges::of(facts);
    let keys: Vec<&PackageName> = facts.packages.keys().collect();
    let index: BTreeMap<&PackageName, usize> =
        keys.iter().enumerate().map(|(i, key)| (*key, i)).collect();
    let children: Vec<Vec<(usize, bool)>> = keys
        .iter()
        .map(|key| {
            edges.children[key]
                .iter()
                .map(|(child, extra)| (index[child], *extra))
                .collect()
        })
        .collect();
    // Back edges (those that close a cycle), found by a depth-first walk from the
    // packages nothing requires, then from the rest in key order.
    let mut has_parent = vec![false; keys.len()];
    for list in &children {
        for &(child, _) in list {
            has_parent[child] = true;
        }
    }
    let starts = (0..keys.len())
        .filter(|&i| !has_parent[i])
        .chain(0..keys.len());
    let mut state = vec![0u8; keys.len()]; // 0 new, 1 on the stack, 2 done
    let mut back: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut topological = Vec::new();
    for start in starts {
        if state[start] != 0 {
            continue;
        }
        state[start] = 1;
        let mut stack = vec![(start, 0)];
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            if let Some(&(child, _)) = children[node].get(*next) {
                *next += 1;
                match state[child] {
                    0 => {
                        state[child] = 1;
                        stack.push((child, 0));
                    }
                    1 => {
                        back.insert((node, child));
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                topological.push(node);
                stack.pop();
            }
        }
    }
    // Columns: the longest path from a source, over the edges that are not back edges.
    let mut column = vec![0usize; keys.len()];
    for &node in topological.iter().rev() {
        for &(child, _) in &children[node] {
            if !back.contains(&(node, child)) {
                column[child] = column[child].max(column[node] + 1);
            }
        }
    }
    let columns = column.iter().max().map_or(0, |max| max + 1);
    let mut by_column: Vec<Vec<usize>> = vec![Vec::new(); columns];
    for (node, &at) in column.iter().enumerate() {
        by_column[at].push(node);
    }
    let label = |node: usize| {
        let package = &facts.packages[keys[node]];
        format!("{} {}", package.name, package.version)
    };
    let mut x = 0.0;
    let mut position = vec![(0.0, 0.0, 0.0); keys.len()];
    let mut height: f64 = 0.0;
    for nodes in &by_column {
        let width = nodes
            .iter()
            .map(|&node| label(node).chars().count() as f64 * CHAR_WIDTH + PADDING)
            .fold(0.0, f64::max);
        for (row, &node) in nodes.iter().enumerate() {
            let y = row as f64 * (NODE_HEIGHT + NODE_GAP);
            position[node] = (x, y, round(width));
            height = height.max(y + NODE_HEIGHT);
        }
        x = round(x + width + COLUMN_GAP);
    }
    let nodes = (0..keys.len())
        .map(|node| {
            let package = &facts.packages[keys[node]];
            let (x, y, width) = position[node];
            GraphNode {
                name: package.name.to_string(),
                version: package.version.to_string(),
                x,
                y,
                width,
            }
        })
        .collect();
    let mut lines = Vec::new();
    for (parent, list) in children.iter().enumerate() {
        for &(child, extra) in list {
            let (px, py, pw) = position[parent];
            let (cx, cy, _) = position[child];
            let (from_x, from_y) = (round(px + pw), round(py + NODE_HEIGHT / 2.0));
            let (to_x, to_y) = (cx, round(cy + NODE_HEIGHT / 2.0));
            let bend = round(((to_x - from_x).abs() / 2.0).max(COLUMN_GAP / 2.0));
            // Out of the parent's right side into the child's left side; a back edge
            // loops out to the right and comes back.
            let d = format!(
                "M{from_x},{from_y} C{},{from_y} {},{to_y} {to_x},{to_y}",
                round(from_x + bend),
                round(to_x - bend)
            );
            lines.push(GraphEdge {
                title: format!("{} -> {}", keys[parent], keys[child]),
                d,
                extra,
                back: back.contains(&(parent, child)),
            });
        }
    }
    Graph {
        nodes,
        edges: lines,
        width: round((x - COLUMN_GAP).max(0.0)),
        height,
    }
}
