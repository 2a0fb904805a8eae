//! The unit a reproducer is written from: captured by replaying a finding up to the hook
//! that failed, it must be what that hook saw in the run, and nothing from earlier inputs.

use charmfuzz::charm::Charm;
use charmfuzz::engine::Trace;
use charmfuzz::repro::Scene;
use charmfuzz::target::{Target, TargetConfig};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn demo_target() -> Target {
    let dir = root().join("examples/charms/demo-k8s");
    let charm = Charm::load(&dir).unwrap().for_target();
    Target::new(
        charm,
        TargetConfig::default(),
        Some(Path::new(env!("CARGO_BIN_EXE_charmfuzz"))),
    )
    .expect("the demo charm starts")
}

/// The scene before BUG-4's failing `get-status` action.
fn bug4_scene(target: &mut Target, bytes: &[u8], event: usize) -> Scene {
    target.scene_before = Some(event);
    target.run_bytes(bytes, None).expect("the input runs");
    target.scene_before = None;
    let mut scenes = target.take_scenes();
    assert_eq!(scenes.len(), 1, "the replay reached the failing hook");
    scenes.pop().unwrap()
}

/// The data storage of a Kubernetes unit outlives a restart of its container, but not the
/// input: every input starts from a unit that was never deployed. (It once did, and a
/// reproducer of BUG-4 showed one backup file per earlier replay.)
#[test]
fn storage_in_a_container_does_not_leak_from_one_input_to_the_next() {
    let mut target = demo_target();
    let story = root().join("tests/fixtures/stories/demo-k8s-bug4.json");
    let story = Trace::from_json(&std::fs::read_to_string(story).unwrap()).unwrap();
    let (bytes, report) = target.run_story(&story).expect("the story plays");
    let finding = report.finding.expect("the story reaches BUG-4");
    for _ in 0..2 {
        let scene = bug4_scene(&mut target, &bytes, finding.event);
        assert_eq!(scene.hook, "get-status-action");
        let web = scene.containers.iter().find(|c| c.name == "web").unwrap();
        let backups: Vec<&String> = web
            .files
            .keys()
            .filter(|p| p.starts_with("/var/lib/demo/backups/"))
            .collect();
        assert_eq!(backups.len(), 1, "one backup action, one file: {backups:?}");
        assert!(web.can_connect);
        let check = web.checks.iter().find(|c| c.name == "web-alive").unwrap();
        assert_eq!((check.status.as_str(), check.failures), ("down", 3));
        // The restore the second check failure started, as the charm stored it.
        let stored = &scene.unit_state.stored[0];
        assert_eq!(stored.owner_path, "DemoCharm");
        assert!(
            stored.content.contains("'finished': ''"),
            "{}",
            stored.content
        );
        assert!(scene.unit_state.deferred.is_empty());
    }
}
