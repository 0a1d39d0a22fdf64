//! Mutants: the reference user agent with one rule deliberately broken. Every
//! `must`/`should` case must be failed by at least one of them.

use serde::{Deserialize, Serialize};

/// One deliberately broken rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Mutant {
    /// 307 follow-up uses GET.
    ChangeMethodOn307,
    /// 307 follow-up drops the body.
    DropBodyOn307,
}

impl Mutant {
    /// Every mutant, in a stable order.
    pub const ALL: &'static [Mutant] = &[Mutant::ChangeMethodOn307, Mutant::DropBodyOn307];

    /// The mutant's name, as printed (`KeepMethodOn303`).
    pub fn name(self) -> String {
        format!("{self:?}")
    }
}
