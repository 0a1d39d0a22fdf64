//! Mutation analysis: run cases against the reference user agent and each
//! mutant, to show every case can pass (reference) and fail (some mutant).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::case::{Case, Catalogue, Level, Profile};
use crate::runner::{CaseResult, Runner};
use crate::target::mutant::Mutant;
use crate::target::reference::ReferenceAgent;
use crate::target::Target;
use crate::verdict::VerdictKind;

/// What mutation analysis found for one case.
#[derive(Debug, Clone, Default)]
pub struct CaseKills {
    /// Strongest level among the case's requirements.
    pub level: Option<Level>,
    /// Reference results that were not `pass`, per profile.
    pub reference_problems: Vec<(Profile, CaseResult)>,
    /// Mutants whose verdict was `fail` or `warn`, with the profile(s) under which they were.
    pub killed_by: BTreeMap<Mutant, Vec<Profile>>,
}

impl CaseKills {
    /// A `must`, `should` or `fetch` case must be killed by some mutant.
    pub fn needs_a_kill(&self) -> bool {
        matches!(self.level, Some(Level::Must | Level::Should | Level::Fetch))
    }

    pub fn is_ok(&self) -> bool {
        self.reference_problems.is_empty() && (!self.needs_a_kill() || !self.killed_by.is_empty())
    }
}

/// Whether a mutant's verdict counts as killing the case.
pub fn kills(kind: VerdictKind) -> bool {
    matches!(kind, VerdictKind::Fail | VerdictKind::Warn)
}

/// How much of the analysis to do.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Also run the unmodified reference (skip it where every case's own
    /// trial already checks that the reference passes).
    pub with_reference: bool,
    /// A case stops meeting mutants once one killed it: enough for the check;
    /// the CLI shows the full table instead.
    pub first_kill_only: bool,
}

/// Run `cases` against the reference and every mutant under each profile.
pub async fn analyse(
    runner: &Arc<Runner>,
    cases: &[Case],
    catalogue: &Arc<Catalogue>,
    profiles: &[Profile],
    options: Options,
    mut on_progress: impl FnMut(),
) -> BTreeMap<String, CaseKills> {
    let first_kill_only = options.first_kill_only;
    let mut table: BTreeMap<String, CaseKills> = cases
        .iter()
        .map(|c| {
            let level = Some(crate::verdict::case_level(c, catalogue));
            (
                c.id.clone(),
                CaseKills {
                    level,
                    ..CaseKills::default()
                },
            )
        })
        .collect();
    for &profile in profiles.iter().filter(|_| options.with_reference) {
        let reference: Arc<dyn Target> = Arc::new(ReferenceAgent::new());
        for result in runner
            .run_all(reference, cases, catalogue.clone(), profile, |_| on_progress())
            .await
        {
            if result.verdict.kind != VerdictKind::Pass {
                if let Some(entry) = table.get_mut(&result.id) {
                    entry.reference_problems.push((profile, result));
                }
            }
        }
    }
    for &mutant in Mutant::ALL {
        for &profile in profiles {
            let pending: Vec<Case> = cases
                .iter()
                .filter(|c| !first_kill_only || table.get(&c.id).is_some_and(|k| k.killed_by.is_empty()))
                .cloned()
                .collect();
            let target: Arc<dyn Target> = Arc::new(ReferenceAgent::with_mutant(mutant));
            for result in runner
                .run_all(target, &pending, catalogue.clone(), profile, |_| on_progress())
                .await
            {
                if kills(result.verdict.kind) {
                    if let Some(entry) = table.get_mut(&result.id) {
                        entry.killed_by.entry(mutant).or_default().push(profile);
                    }
                }
            }
        }
    }
    table
}
