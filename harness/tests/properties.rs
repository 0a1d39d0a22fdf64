//! The properties hold for the reference user agent, and each is falsified
//! by a mutant with a shrunk counterexample that loads as a real case.

use std::path::Path;

use hopcheck::case::{parse_case, Catalogue, Profile};
use hopcheck::properties::{run_property, Counterexample, Property, PropertyVerdict};
use hopcheck::runner::{RunConfig, Runner};
use hopcheck::targets::mutant::Mutant;
use hopcheck::targets::reference::ReferenceAgent;
use hopcheck::targets::Target;
use hopcheck::verdict::VerdictKind;

/// Samples per property: enough to reach every generator branch, few enough to stay quick.
const SAMPLES: u32 = 64;

struct World {
    runtime: tokio::runtime::Runtime,
    runner: Runner,
    catalogue: Catalogue,
}

fn world(profile: Profile) -> World {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let runner = Runner::new(RunConfig {
        profile,
        ..RunConfig::default()
    })
    .expect("runner");
    let catalogue = Catalogue::load(&hopcheck::project_dir("suites").join("requirements.toml")).expect("catalogue");
    World {
        runtime,
        runner,
        catalogue,
    }
}

impl World {
    fn run(&self, property: Property, target: &dyn Target, profile: Profile) -> PropertyVerdict {
        let handle = self.runtime.handle();
        run_property(
            property,
            target,
            &self.runner,
            &self.catalogue,
            profile,
            SAMPLES,
            handle,
        )
        .verdict
    }

    /// The verdict `target` earns on the counterexample, loaded from its TOML.
    fn verdict_on(&self, found: &Counterexample, target: &dyn Target, profile: Profile) -> VerdictKind {
        let id = "generated/counterexample";
        let case = parse_case(id, Path::new("counterexample.toml"), &found.toml, &self.catalogue)
            .unwrap_or_else(|e| panic!("the counterexample does not load:\n{e}\n{}", found.toml));
        self.runtime
            .block_on(self.runner.run_case(target, &case, &self.catalogue, profile))
            .verdict
            .kind
    }
}

#[rstest::rstest]
fn each_property_holds_for_the_reference(
    #[values(Property::MethodAndBody, Property::LocationResolution, Property::AuthorizationScope)] property: Property,
    #[values(Profile::Rfc9110, Profile::Fetch)] profile: Profile,
) {
    let world = world(profile);
    match world.run(property, &ReferenceAgent::new(), profile) {
        PropertyVerdict::Held => {}
        PropertyVerdict::Falsified(found) => {
            panic!("{} failed: {}\n{}", property.name(), found.failure, found.toml)
        }
        other => panic!("{} did not run: {other:?}", property.name()),
    }
}

#[rstest::rstest]
#[case::body_dropped_on_307(Property::MethodAndBody, Mutant::DropBodyOn307, Profile::Rfc9110)]
#[case::naive_resolution(Property::LocationResolution, Mutant::NaiveResolve, Profile::Rfc9110)]
#[case::full_path_merge(Property::LocationResolution, Mutant::ResolveAgainstFullPath, Profile::Fetch)]
#[case::rfc3986_under_fetch(Property::LocationResolution, Mutant::Rfc3986UnderFetch, Profile::Fetch)]
#[case::authorization_kept(Property::AuthorizationScope, Mutant::KeepAuthorizationCrossOrigin, Profile::Rfc9110)]
fn each_property_is_falsified_by_a_mutant(
    #[case] property: Property,
    #[case] mutant: Mutant,
    #[case] profile: Profile,
) {
    let world = world(profile);
    let broken = ReferenceAgent::with_mutant(mutant);
    let found = match world.run(property, &broken, profile) {
        PropertyVerdict::Falsified(found) => found,
        other => panic!("{mutant:?} was not caught by {}: {other:?}", property.name()),
    };
    assert_ne!(
        world.verdict_on(&found, &broken, profile),
        VerdictKind::Pass,
        "{}",
        found.toml
    );
    assert_eq!(
        world.verdict_on(&found, &ReferenceAgent::new(), profile),
        VerdictKind::Pass,
        "{}",
        found.toml
    );
}

#[test]
fn shrinking_leaves_the_smallest_failing_shape() {
    let world = world(Profile::Rfc9110);

    let body = match world.run(
        Property::MethodAndBody,
        &ReferenceAgent::with_mutant(Mutant::DropBodyOn307),
        Profile::Rfc9110,
    ) {
        PropertyVerdict::Falsified(found) => found,
        other => panic!("not falsified: {other:?}"),
    };
    let step = &body.case.steps[0];
    let bytes = step
        .body
        .as_ref()
        .map(|b| b.bytes().expect("base64"))
        .unwrap_or_default();
    assert_eq!(bytes.len(), 1, "{}", body.toml);
    assert_eq!(body.case.origin[0].reply.status, 307);
    assert_eq!(step.method, "POST");

    let chain = match world.run(
        Property::AuthorizationScope,
        &ReferenceAgent::with_mutant(Mutant::KeepAuthorizationCrossOrigin),
        Profile::Rfc9110,
    ) {
        PropertyVerdict::Falsified(found) => found,
        other => panic!("not falsified: {other:?}"),
    };
    // One redirect to a place that differs from the start in one component.
    assert_eq!(chain.case.origin.len(), 2, "{}", chain.toml);
    assert!(chain.toml.starts_with("# Found by the `authorization-scope` property"));
}
