//! The release (`.github/workflows/release.yml`): the versions it checks agree, and the image it
//! pushes is exactly the chart's default one.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::{Ran, documents, find, render, repo};

fn release_check(root: &Path, args: &[&str]) -> Ran {
    Ran::of(
        Command::new(repo().join("deploy/release-check"))
            .arg("--root")
            .arg(root)
            .args(args),
    )
}

fn workflow() -> Value {
    let text = std::fs::read_to_string(repo().join(".github/workflows/release.yml"))
        .expect(".github/workflows/release.yml");
    documents(&text).remove(0)
}

#[test]
fn release_check_refuses_versions_out_of_step() {
    let version = env!("CARGO_PKG_VERSION");
    let ran = release_check(&repo(), &["--tag", &format!("v{version}")]);
    assert!(ran.success, "{}", ran.stderr);
    assert_eq!(ran.stdout.trim(), version);

    let ran = release_check(&repo(), &["--tag", &format!("v{version}-rc.9")]);
    assert!(!ran.success);
    assert!(ran.stderr.contains("is not v"), "{}", ran.stderr);

    // A copy whose chart was bumped without the crate: refused, naming what differs.
    let copy = tempfile::tempdir().expect("a temporary directory");
    let chart = copy.path().join("charts/corti-operator");
    std::fs::create_dir_all(&chart).expect("mkdir");
    std::fs::copy(repo().join("Cargo.toml"), copy.path().join("Cargo.toml")).expect("copy");
    for file in ["Chart.yaml", "values.yaml"] {
        std::fs::copy(
            repo().join("charts/corti-operator").join(file),
            chart.join(file),
        )
        .expect("copy");
    }
    assert!(release_check(copy.path(), &[]).success, "the copy agrees");
    let chart_yaml = chart.join("Chart.yaml");
    let text = std::fs::read_to_string(&chart_yaml).expect("Chart.yaml");
    let bumped = text.replace(
        &format!("appVersion: \"{version}\""),
        "appVersion: \"99.0.0\"",
    );
    assert_ne!(bumped, text, "Chart.yaml has appVersion \"{version}\"");
    std::fs::write(&chart_yaml, bumped).expect("write");
    let ran = release_check(copy.path(), &[]);
    assert!(!ran.success);
    assert!(ran.stderr.contains("appVersion 99.0.0"), "{}", ran.stderr);
}

#[test]
fn release_workflow_builds_both_architectures_from_the_dockerfile() {
    let workflow = workflow();
    let platforms: Vec<&str> = workflow["jobs"]["image"]["strategy"]["matrix"]["include"]
        .as_array()
        .expect("the image job's matrix")
        .iter()
        .filter_map(|entry| entry["platform"].as_str())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let build = workflow["jobs"]["image"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["id"] == "build")
        .expect("the build step");
    assert_eq!(build["with"]["file"], "deploy/Dockerfile");
    assert!(repo().join("deploy/Dockerfile").is_file());
    assert_eq!(workflow["on"]["push"]["tags"][0], "v*");
    assert_eq!(
        workflow["jobs"]["publish"]["permissions"]["id-token"], "write",
        "keyless signing needs the OIDC token"
    );
}

#[test]
#[ignore = "needs the local control plane and helm: make test-e2e"]
fn chart_default_image_is_the_one_the_release_pushes() {
    // The release pushes $REGISTRY/<owner>/$IMAGE_NAME:<version of the tag>, and the tag must be
    // v<appVersion>; the owner of the public repository is the one in Cargo.toml.
    let workflow = workflow();
    let registry = workflow["env"]["REGISTRY"].as_str().expect("env.REGISTRY");
    let image_name = workflow["env"]["IMAGE_NAME"]
        .as_str()
        .expect("env.IMAGE_NAME");
    let repository = env!("CARGO_PKG_REPOSITORY");
    let owner = repository
        .strip_prefix("https://github.com/")
        .and_then(|path| path.split('/').next())
        .expect("Cargo.toml's repository is on GitHub")
        .to_lowercase();
    let version = env!("CARGO_PKG_VERSION");
    let pushed = format!("{registry}/{owner}/{image_name}:{version}");

    let docs = render(&[]);
    let deployment = find(&docs, "Deployment", "corti-corti-operator", None);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        pushed.as_str()
    );
    // What the release itself compares before pushing anything.
    let ran = release_check(&repo(), &["--image"]);
    assert!(ran.success, "{}", ran.stderr);
    assert_eq!(ran.stdout.trim(), pushed);
}
