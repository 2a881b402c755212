//! "No solution" explained in words: the derivation PubGrub found, with versions
//! shown as a person would write them, and the facts behind each dead end (not in any
//! index, needs another Python, yanked, which indexes had it and which were not asked).

use std::ops::Bound;

use pep440_rs::Version;
use pubgrub::{
    DefaultStringReporter, DerivationTree, Derived, External, Map, ReportFormatter, Reporter, Term,
};

use super::package::Package;
use super::provider::{Provider, Range, Unavailable};

type Tree = DerivationTree<Package, Range, Unavailable>;

pub(super) fn explain(tree: Tree, provider: &Provider<'_>) -> String {
    let missing = provider.missing.lock().expect("missing lock").clone();
    let mut text =
        DefaultStringReporter::report_with_formatter(&tree, &Words { missing: &missing });
    let mut names = std::collections::BTreeSet::new();
    dead_ends(&tree, &mut names);
    let hints: Vec<String> = names
        .into_iter()
        .filter_map(|p| p.name())
        .flat_map(|name| [provider.exclusion_hint(name), provider.index_hint(name)])
        .flatten()
        .collect();
    for hint in hints {
        text.push_str("\n\nhint: ");
        text.push_str(&hint);
    }
    if !missing.is_empty() {
        text.push_str("\n\nhint: not found in any index of the profile: ");
        let names: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
        text.push_str(&names.join(", "));
        text.push_str(" (check the spelling, or add the index that serves them to the profile)");
    }
    text
}

/// Packages that had no usable version in a range, or a version whose metadata is
/// invalid: where files or versions were set aside.
fn dead_ends<'t>(tree: &'t Tree, out: &mut std::collections::BTreeSet<&'t Package>) {
    match tree {
        DerivationTree::External(
            External::NoVersions(p, _) | External::Custom(p, _, Unavailable::InvalidMetadata),
        ) => {
            out.insert(p);
        }
        DerivationTree::External(_) => {}
        DerivationTree::Derived(derived) => {
            dead_ends(&derived.cause1, out);
            dead_ends(&derived.cause2, out);
        }
    }
}

/// Versions as the user wrote them: the resolver's internal bound `V.post0.dev0`
/// (just after the local builds of `V`) is turned back into an operator. PEP 440's
/// internal `min`/`max` markers do not display, so `<2` stays `<2`.
pub(super) fn range(range: &Range) -> String {
    if range.is_empty() {
        return "(no version)".into();
    }
    let mut parts = Vec::new();
    for (lower, upper) in range.iter() {
        let part = match (lower, upper) {
            (Bound::Unbounded, Bound::Unbounded) => "(any version)".to_string(),
            // `V` and its local builds, or only the local builds (`V` itself was ruled
            // out): either way one version as a person writes it.
            (Bound::Included(v) | Bound::Excluded(v), Bound::Excluded(b))
                if is_after_locals(v, b) =>
            {
                format!("=={v}")
            }
            (Bound::Included(v), Bound::Included(b)) if v == b => format!("=={v}"),
            _ => {
                let lo = match lower {
                    Bound::Unbounded => None,
                    Bound::Included(v) => Some(match before_post(v) {
                        Some(base) => format!(">{base}"),
                        None => format!(">={}", v),
                    }),
                    Bound::Excluded(v) => Some(format!(">{}", v)),
                };
                let hi = match upper {
                    Bound::Unbounded => None,
                    Bound::Included(v) => Some(format!("<={}", v)),
                    Bound::Excluded(v) => Some(match before_post(v) {
                        Some(base) => format!("<={base}"),
                        None => format!("<{}", v),
                    }),
                };
                [lo, hi].into_iter().flatten().collect::<Vec<_>>().join(",")
            }
        };
        parts.push(part);
    }
    parts.join(" or ")
}

fn is_after_locals(v: &Version, b: &Version) -> bool {
    before_post(b).as_ref() == Some(v)
}

/// `V` when `version` is the internal bound `V.post0.dev0`.
fn before_post(version: &Version) -> Option<Version> {
    (version.post() == Some(0) && version.dev() == Some(0) && !version.is_pre())
        .then(|| version.clone().with_post(None).with_dev(None))
}

fn package(p: &Package, r: &Range) -> String {
    match p {
        Package::Root => p.to_string(),
        _ if r.iter().next() == Some((&Bound::Unbounded, &Bound::Unbounded)) => {
            format!("every version of {p}")
        }
        _ => format!("{p} {}", range(r)),
    }
}

/// The required side of an edge: "requires numpy", not "every version of numpy".
fn dependency(p: &Package, r: &Range) -> String {
    match r.iter().next() {
        Some((Bound::Unbounded, Bound::Unbounded)) => p.to_string(),
        _ => package(p, r),
    }
}

struct Words<'a> {
    missing: &'a std::collections::BTreeSet<pep508_rs::PackageName>,
}

impl ReportFormatter<Package, Range, Unavailable> for Words<'_> {
    type Output = String;

    fn format_external(&self, external: &External<Package, Range, Unavailable>) -> String {
        match external {
            External::NotRoot(p, _) => format!("we are solving for {p}"),
            External::NoVersions(p, _) if p.name().is_some_and(|n| self.missing.contains(n)) => {
                format!("{p} is not in any index of the profile")
            }
            External::NoVersions(p, r) => match r.iter().next() {
                Some((Bound::Unbounded, Bound::Unbounded)) => {
                    format!("no usable version of {p} exists for this target")
                }
                _ => format!("no usable version of {p} matches {}", range(r)),
            },
            External::Custom(p, r, why) => format!("{} {why}", package(p, r)),
            External::FromDependencyOf(p, r, dep, dep_range) => match p {
                Package::Root => format!("{p} require {}", dependency(dep, dep_range)),
                _ => format!(
                    "{} depends on {}",
                    package(p, r),
                    dependency(dep, dep_range)
                ),
            },
        }
    }

    fn format_terms(&self, terms: &Map<Package, Term<Range>>) -> String {
        let terms: Vec<_> = terms.iter().collect();
        match terms.as_slice() {
            [] => "no set of versions satisfies all requirements".into(),
            [(Package::Root, Term::Positive(_))] => "your requirements cannot be satisfied".into(),
            [(p, Term::Positive(r))] => format!("{} cannot be used", package(p, r)),
            [(p, Term::Negative(r))] => format!("{} is required", package(p, r)),
            [(p1, Term::Positive(r1)), (p2, Term::Negative(r2))]
            | [(p2, Term::Negative(r2)), (p1, Term::Positive(r1))] => self.format_external(
                &External::FromDependencyOf((*p1).clone(), r1.clone(), (*p2).clone(), r2.clone()),
            ),
            many => {
                let parts: Vec<String> = many
                    .iter()
                    .map(|(p, t)| match t {
                        Term::Positive(r) => package(p, r),
                        Term::Negative(r) => format!("not {}", package(p, r)),
                    })
                    .collect();
                format!("{} are incompatible", parts.join(", "))
            }
        }
    }

    fn explain_both_external(
        &self,
        e1: &External<Package, Range, Unavailable>,
        e2: &External<Package, Range, Unavailable>,
        terms: &Map<Package, Term<Range>>,
    ) -> String {
        format!(
            "Because {} and {}, {}.",
            self.format_external(e1),
            self.format_external(e2),
            self.format_terms(terms)
        )
    }

    fn explain_both_ref(
        &self,
        id1: usize,
        d1: &Derived<Package, Range, Unavailable>,
        id2: usize,
        d2: &Derived<Package, Range, Unavailable>,
        terms: &Map<Package, Term<Range>>,
    ) -> String {
        format!(
            "Because {} ({id1}) and {} ({id2}), {}.",
            self.format_terms(&d1.terms),
            self.format_terms(&d2.terms),
            self.format_terms(terms)
        )
    }

    fn explain_ref_and_external(
        &self,
        id: usize,
        d: &Derived<Package, Range, Unavailable>,
        e: &External<Package, Range, Unavailable>,
        terms: &Map<Package, Term<Range>>,
    ) -> String {
        format!(
            "Because {} ({id}) and {}, {}.",
            self.format_terms(&d.terms),
            self.format_external(e),
            self.format_terms(terms)
        )
    }

    fn and_explain_external(
        &self,
        e: &External<Package, Range, Unavailable>,
        terms: &Map<Package, Term<Range>>,
    ) -> String {
        format!(
            "And because {}, {}.",
            self.format_external(e),
            self.format_terms(terms)
        )
    }

    fn and_explain_ref(
        &self,
        id: usize,
        d: &Derived<Package, Range, Unavailable>,
        terms: &Map<Package, Term<Range>>,
    ) -> String {
        format!(
            "And because {} ({id}), {}.",
            self.format_terms(&d.terms),
            self.format_terms(terms)
        )
    }

    fn and_explain_prior_and_external(
        &self,
        prior: &External<Package, Range, Unavailable>,
        e: &External<Package, Range, Unavailable>,
        terms: &Map<Package, Term<Range>>,
    ) -> String {
        format!(
            "And because {} and {}, {}.",
            self.format_external(prior),
            self.format_external(e),
            self.format_terms(terms)
        )
    }
}
