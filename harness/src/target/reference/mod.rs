//! The reference user agent: a strict client on hyper that follows RFC 9110
//! §15.4, RFC 3986 §5, RFC 6797 (and WHATWG Fetch under the fetch profile).

use super::mutant::Mutant;
use super::{BoxFuture, Plan, Target, TargetError, TargetRun};

/// The reference user agent, optionally with one rule broken.
#[derive(Debug, Clone, Default)]
pub struct ReferenceAgent {
    mutant: Option<Mutant>,
    name: String,
}

impl ReferenceAgent {
    pub fn new() -> ReferenceAgent {
        ReferenceAgent {
            mutant: None,
            name: "reference".to_owned(),
        }
    }

    pub fn with_mutant(mutant: Mutant) -> ReferenceAgent {
        ReferenceAgent {
            mutant: Some(mutant),
            name: format!("reference~{}", mutant.name()),
        }
    }

    pub fn mutant(&self) -> Option<Mutant> {
        self.mutant
    }
}

impl Target for ReferenceAgent {
    fn name(&self) -> &str {
        &self.name
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn run<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<TargetRun, TargetError>> {
        let _ = plan;
        todo!("reference user agent")
    }
}
