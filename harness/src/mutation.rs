//! Mutation analysis: run cases against the reference user agent and each
//! mutant, to show every case can pass (reference) and fail for its own rule
//! (a mutant that breaks one of the requirements the case cites).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use crate::case::{Case, Catalogue, Level, Profile};
use crate::runner::{CaseResult, Runner};
use crate::targets::mutant::Mutant;
use crate::targets::reference::ReferenceAgent;
use crate::verdict::{Verdict, VerdictKind};

/// What mutation analysis found for one case.
#[derive(Debug, Clone, Default)]
pub struct CaseKills {
    /// Strongest level among the case's requirements.
    pub level: Option<Level>,
    /// Whether the case must be killed by a rule-matched mutant: a `must` or
    /// `should` case, or a `fetch` case when the fetch profile was analysed.
    pub needs_a_kill: bool,
    /// Reference results that were not `pass`, per profile.
    pub reference_problems: Vec<(Profile, CaseResult)>,
    /// The reference's verdict per profile name (when it ran).
    pub reference: BTreeMap<&'static str, VerdictKind>,
    /// Every mutant run made: its verdict per profile name.
    pub runs: BTreeMap<Mutant, BTreeMap<&'static str, VerdictKind>>,
    /// The mutants that break a requirement the case cites.
    pub rule_matched: Vec<Mutant>,
    /// The runs that failed the case for its own rule (see [`kills_for_its_rule`]).
    pub rule_matched_kills: BTreeSet<Mutant>,
    /// The analysis itself broke for this case.
    pub broke: Option<String>,
}

impl CaseKills {
    /// The mutants that failed the case (`fail` or `warn`) under some profile.
    pub fn killers(&self) -> impl Iterator<Item = Mutant> + '_ {
        self.runs
            .iter()
            .filter(|(_, verdicts)| verdicts.values().any(|&v| is_kill(v)))
            .map(|(&m, _)| m)
    }

    /// The killers that failed the case for one of its own requirements:
    /// only these show the case can fail for the rule it cites.
    pub fn rule_matched_killers(&self) -> impl Iterator<Item = Mutant> + '_ {
        self.rule_matched_kills.iter().copied()
    }

    /// A case that needs a kill has no rule-matched one.
    pub fn lacks_a_kill(&self) -> bool {
        self.needs_a_kill && self.rule_matched_killers().next().is_none()
    }

    pub fn is_ok(&self) -> bool {
        self.broke.is_none() && self.reference_problems.is_empty() && !self.lacks_a_kill()
    }
}

/// Whether a mutant's verdict counts as killing the case.
pub fn is_kill(kind: VerdictKind) -> bool {
    matches!(kind, VerdictKind::Fail | VerdictKind::Warn)
}

/// Whether `mutant` failed `case` for a rule the case cites: the mutant
/// breaks one of the case's requirements and, when the verdict names broken
/// expectations, one of the rules they name. A stale `Host` that breaks a
/// method case's expectation (reported against the method rule) is a kill,
/// but not one for the case's own rule.
pub fn kills_for_its_rule(mutant: Mutant, case: &Case, verdict: &Verdict) -> bool {
    is_kill(verdict.kind)
        && mutant.breaks_any(case.citations())
        && (verdict.evidence.is_empty() || mutant.breaks_any(verdict.evidence.iter().map(|m| m.rule.as_str())))
}

/// How much of the analysis to do.
#[derive(Debug, Clone, Copy)]
pub enum Options {
    /// The whole kill matrix: the reference and every mutant under every
    /// profile, on every case.
    Matrix,
    /// Enough for the check: only the mutants that break a requirement the
    /// case cites, until the first of them kills it (each case's own trial
    /// already checks that the reference passes).
    UntilRuleMatchedKill,
}

/// Run `cases` against the reference and the mutants under each profile.
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
    let width = runner.parallelism();
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
            broke: Some(format!("the analysis task ended abnormally: {e}")),
            ..CaseKills::default()
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
    let level = crate::verdict::case_level(case, catalogue);
    let needs_a_kill = match level {
        Level::Must | Level::Should => true,
        Level::Fetch => profiles.contains(&Profile::Fetch),
        Level::May | Level::Info => false,
    };
    let mut kills = CaseKills {
        level: Some(level),
        needs_a_kill,
        rule_matched: Mutant::ALL
            .iter()
            .copied()
            .filter(|m| m.breaks_any(case.citations()))
            .collect(),
        ..CaseKills::default()
    };
    let (mutants, stop_at_kill) = match options {
        Options::Matrix => {
            for &profile in profiles {
                let result = runner.run_case(&ReferenceAgent::new(), case, catalogue, profile).await;
                kills.reference.insert(profile.as_str(), result.verdict.kind);
                if result.verdict.kind != VerdictKind::Pass {
                    kills.reference_problems.push((profile, result));
                }
            }
            (Mutant::ALL.to_vec(), false)
        }
        Options::UntilRuleMatchedKill if needs_a_kill => (kills.rule_matched.clone(), true),
        Options::UntilRuleMatchedKill => return kills,
    };
    let runs: Vec<(Mutant, Profile)> = mutants
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
            let agent = ReferenceAgent::with_mutant(mutant);
            let result = runner.run_case(&agent, case, catalogue, profile).await;
            (mutant, profile, result.verdict)
        }))
        .await;
        next += batch.len();
        for (mutant, profile, verdict) in results {
            if kills_for_its_rule(mutant, case, &verdict) {
                kills.rule_matched_kills.insert(mutant);
            }
            kills
                .runs
                .entry(mutant)
                .or_default()
                .insert(profile.as_str(), verdict.kind);
        }
        if stop_at_kill && kills.rule_matched_killers().next().is_some() {
            break;
        }
        if chunk == 1 && started.elapsed() >= SLOW_RUN {
            chunk = WIDE_CHUNK;
        }
    }
    kills
}

/// The kill matrix as written to JSON: every case × mutant × profile verdict,
/// and per mutant the rule it breaks and how many cases it kills.
#[derive(Debug, Serialize)]
pub struct Matrix {
    pub profiles: Vec<Profile>,
    pub mutants: Vec<MutantRow>,
    pub cases: Vec<CaseRow>,
}

/// One mutant's line of the matrix.
#[derive(Debug, Serialize)]
pub struct MutantRow {
    pub name: String,
    pub rule: &'static str,
    pub breaks: &'static [&'static str],
    /// Cases it fails (`fail` or `warn` under some profile).
    pub kills: usize,
    /// Of those, the cases it failed for a requirement it breaks and the case cites.
    pub rule_matched_kills: usize,
}

/// One case's line of the matrix.
#[derive(Debug, Serialize)]
pub struct CaseRow {
    pub id: String,
    pub level: Option<Level>,
    pub needs_a_kill: bool,
    /// The reference's verdict per profile.
    pub reference: BTreeMap<&'static str, VerdictKind>,
    /// Every mutant's verdict per profile, by mutant name.
    pub mutants: BTreeMap<String, BTreeMap<&'static str, VerdictKind>>,
    /// Killers that failed it for one of its requirements.
    pub rule_matched_killers: Vec<String>,
    /// Killers that failed it for another rule.
    pub other_killers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Matrix {
    pub fn new(table: &BTreeMap<String, CaseKills>, profiles: &[Profile]) -> Matrix {
        let mutants = Mutant::ALL
            .iter()
            .map(|&m| MutantRow {
                name: m.name(),
                rule: m.rule(),
                breaks: m.breaks(),
                kills: table.values().filter(|k| k.killers().any(|x| x == m)).count(),
                rule_matched_kills: table
                    .values()
                    .filter(|k| k.rule_matched_killers().any(|x| x == m))
                    .count(),
            })
            .collect();
        let cases = table
            .iter()
            .map(|(id, kills)| {
                let (matched, other): (Vec<Mutant>, Vec<Mutant>) =
                    kills.killers().partition(|m| kills.rule_matched_kills.contains(m));
                CaseRow {
                    id: id.clone(),
                    level: kills.level,
                    needs_a_kill: kills.needs_a_kill,
                    reference: kills.reference.clone(),
                    mutants: kills.runs.iter().map(|(m, v)| (m.name(), v.clone())).collect(),
                    rule_matched_killers: matched.into_iter().map(Mutant::name).collect(),
                    other_killers: other.into_iter().map(Mutant::name).collect(),
                    error: kills.broke.clone(),
                }
            })
            .collect();
        Matrix {
            profiles: profiles.to_vec(),
            mutants,
            cases,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kills(needs_a_kill: bool, rule_matched: Vec<Mutant>, verdicts: &[(Mutant, VerdictKind)]) -> CaseKills {
        let rule_matched_kills = verdicts
            .iter()
            .filter(|(m, v)| is_kill(*v) && rule_matched.contains(m))
            .map(|&(m, _)| m)
            .collect();
        let mut runs: BTreeMap<Mutant, BTreeMap<&'static str, VerdictKind>> = BTreeMap::new();
        for &(m, v) in verdicts {
            runs.entry(m).or_default().insert(Profile::Rfc9110.as_str(), v);
        }
        CaseKills {
            level: Some(Level::Must),
            needs_a_kill,
            rule_matched,
            rule_matched_kills,
            runs,
            ..CaseKills::default()
        }
    }

    #[test]
    fn a_kill_by_an_unrelated_mutant_does_not_count() {
        let k = kills(
            true,
            vec![Mutant::ChangeMethodOn307],
            &[
                (Mutant::StaleHost, VerdictKind::Fail),
                (Mutant::ChangeMethodOn307, VerdictKind::Pass),
            ],
        );
        assert_eq!(k.killers().collect::<Vec<_>>(), vec![Mutant::StaleHost]);
        assert!(k.lacks_a_kill());
        assert!(!k.is_ok());
    }

    #[test]
    fn a_warn_by_a_rule_matched_mutant_counts() {
        let k = kills(
            true,
            vec![Mutant::ChangeMethodOn307],
            &[(Mutant::ChangeMethodOn307, VerdictKind::Warn)],
        );
        assert!(!k.lacks_a_kill());
        assert!(k.is_ok());
    }

    #[test]
    fn an_error_is_no_kill_and_info_cases_need_none() {
        let k = kills(
            true,
            vec![Mutant::ChangeMethodOn307],
            &[(Mutant::ChangeMethodOn307, VerdictKind::Error)],
        );
        assert!(k.lacks_a_kill());
        assert!(!kills(false, Vec::new(), &[]).lacks_a_kill());
    }

    #[test]
    fn the_matrix_counts_kills_per_mutant() {
        let mut table = BTreeMap::new();
        table.insert(
            "a".to_owned(),
            kills(
                true,
                vec![Mutant::ChangeMethodOn307],
                &[
                    (Mutant::StaleHost, VerdictKind::Fail),
                    (Mutant::ChangeMethodOn307, VerdictKind::Fail),
                ],
            ),
        );
        let matrix = Matrix::new(&table, &[Profile::Rfc9110]);
        let row = |name: &str| matrix.mutants.iter().find(|r| r.name == name).unwrap();
        assert_eq!((row("StaleHost").kills, row("StaleHost").rule_matched_kills), (1, 0));
        let change = row("ChangeMethodOn307");
        assert_eq!((change.kills, change.rule_matched_kills), (1, 1));
        assert_eq!(matrix.cases[0].rule_matched_killers, vec!["ChangeMethodOn307"]);
        assert_eq!(matrix.cases[0].other_killers, vec!["StaleHost"]);
    }
}
