//! Mutation analysis: run cases against the reference user agent and each
//! mutant, to show every case can pass (reference) and fail (some mutant).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::stream::{self, StreamExt};

use crate::case::{Case, Catalogue, Level, Profile};
use crate::runner::{CaseResult, Runner};
use crate::targets::mutant::Mutant;
use crate::targets::reference::ReferenceAgent;
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
    /// The analysis itself broke for this case.
    pub broke: Option<String>,
}

impl CaseKills {
    /// A `must`, `should` or `fetch` case must be killed by some mutant.
    pub fn needs_a_kill(&self) -> bool {
        matches!(self.level, Some(Level::Must | Level::Should | Level::Fetch))
    }

    pub fn is_ok(&self) -> bool {
        self.broke.is_none()
            && self.reference_problems.is_empty()
            && (!self.needs_a_kill() || !self.killed_by.is_empty())
    }
}

/// Whether a mutant's verdict counts as killing the case.
pub fn is_kill(kind: VerdictKind) -> bool {
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
/// Each case is one task that meets the mutants in turn, so a slow case (one
/// that waits for an HSTS entry to expire, say) holds up nobody else.
pub async fn analyse(
    runner: &Arc<Runner>,
    cases: &[Case],
    catalogue: &Arc<Catalogue>,
    profiles: &[Profile],
    options: Options,
    mut on_case_done: impl FnMut(&str),
) -> BTreeMap<String, CaseKills> {
    let width = runner.config().parallelism.max(1);
    let tasks = cases.iter().map(|case| {
        let (runner, catalogue, case, profiles) = (runner.clone(), catalogue.clone(), case.clone(), profiles.to_vec());
        let id = case.id.clone();
        let task = tokio::spawn(async move { analyse_case(&runner, &case, &catalogue, &profiles, options).await });
        async move { (id, task.await) }
    });
    let mut table = BTreeMap::new();
    let mut done = stream::iter(tasks).buffer_unordered(width);
    while let Some((id, outcome)) = done.next().await {
        on_case_done(&id);
        let kills = outcome.unwrap_or_else(|e| CaseKills {
            level: None,
            reference_problems: Vec::new(),
            killed_by: BTreeMap::new(),
            broke: Some(format!("the analysis task ended abnormally: {e}")),
        });
        table.insert(id, kills);
    }
    table
}

/// A run this slow is mostly waiting, so the case's runs go [`WIDE_CHUNK`] at a time.
const SLOW_RUN: std::time::Duration = std::time::Duration::from_millis(250);
const WIDE_CHUNK: usize = 32;

async fn analyse_case(
    runner: &Runner,
    case: &Case,
    catalogue: &Catalogue,
    profiles: &[Profile],
    options: Options,
) -> CaseKills {
    let mut kills = CaseKills {
        level: Some(crate::verdict::case_level(case, catalogue)),
        ..CaseKills::default()
    };
    if options.with_reference {
        for &profile in profiles {
            let result = runner.run_case(&ReferenceAgent::new(), case, catalogue, profile).await;
            if result.verdict.kind != VerdictKind::Pass {
                kills.reference_problems.push((profile, result));
            }
        }
    }
    if options.first_kill_only && !kills.needs_a_kill() {
        return kills;
    }
    let runs: Vec<(Mutant, Profile)> = Mutant::ALL
        .iter()
        .flat_map(|&m| profiles.iter().map(move |&p| (m, p)))
        .collect();
    // Runs go one at a time so the first kill ends the search early; a case
    // that mostly waits (an HSTS entry expiring) meets many mutants at once.
    let mut chunk = 1;
    let mut next = 0;
    while next < runs.len() {
        let batch = &runs[next..(next + chunk).min(runs.len())];
        let started = std::time::Instant::now();
        let results = futures::future::join_all(batch.iter().map(|&(mutant, profile)| async move {
            (
                mutant,
                profile,
                runner
                    .run_case(&ReferenceAgent::with_mutant(mutant), case, catalogue, profile)
                    .await,
            )
        }))
        .await;
        next += batch.len();
        for (mutant, profile, result) in results {
            if is_kill(result.verdict.kind) {
                kills.killed_by.entry(mutant).or_default().push(profile);
            }
        }
        if options.first_kill_only && !kills.killed_by.is_empty() {
            break;
        }
        if chunk == 1 && started.elapsed() >= SLOW_RUN {
            chunk = WIDE_CHUNK;
        }
    }
    kills
}
