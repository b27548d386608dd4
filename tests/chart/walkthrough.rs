//! The README's Helm walkthrough, read as a script: every namespace it applies into is created
//! first, and the example Customer it applies finds the credentials Secret it names.

use super::{documents, repo};

/// The first ```sh block after `heading` in the README, as one line per command.
fn commands_after(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let section = &readme[readme.find(heading).expect("the heading")..];
    let block = &section[section.find("```sh\n").expect("a sh block") + 6..];
    let block = &block[..block.find("```").expect("the block's end")];
    block
        .replace("\\\n", " ")
        .lines()
        .map(|line| {
            line.split(" #")
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

fn flag<'a>(command: &'a str, name: &str) -> Option<&'a str> {
    let mut words = command.split_whitespace();
    words.find(|w| *w == name).and_then(|_| words.next())
}

#[test]
fn helm_walkthrough_creates_what_the_example_needs() {
    let commands = commands_after("## Install in a real cluster (Helm)");
    let mut namespaces: Vec<String> = Vec::new();
    let mut secrets: Vec<(String, String)> = Vec::new();
    let mut applied = Vec::new();
    for command in &commands {
        if let Some(ns) = command.strip_prefix("kubectl create namespace ") {
            namespaces.push(ns.trim().to_owned());
        }
        if command.starts_with("helm install") && command.contains("--create-namespace") {
            namespaces.push(
                flag(command, "--namespace")
                    .expect("--namespace")
                    .to_owned(),
            );
        }
        if command.contains("create secret generic") {
            let ns = flag(command, "--namespace").expect("the Secret's --namespace");
            assert!(
                namespaces.iter().any(|n| n == ns),
                "{ns} is created before: {command}"
            );
            let name = flag(command, "generic").expect("the Secret's name");
            secrets.push((ns.to_owned(), name.to_owned()));
        }
        if let Some(file) = flag(command, "-f").filter(|_| command.starts_with("kubectl apply")) {
            applied.push(file.to_owned());
        }
    }
    assert!(
        !applied.is_empty(),
        "the walkthrough applies an example: {commands:?}"
    );
    for file in applied {
        let text = std::fs::read_to_string(repo().join(&file)).expect("the applied file");
        for object in documents(&text) {
            let ns = object["metadata"]["namespace"]
                .as_str()
                .expect("a namespace");
            assert!(
                namespaces.iter().any(|n| n == ns),
                "{file}: namespace {ns} is never created"
            );
            if let Some(secret) = object["spec"]["credentialsSecretRef"]["name"].as_str() {
                assert!(
                    secrets.contains(&(ns.to_owned(), secret.to_owned())),
                    "{file} acts with Secret {ns}/{secret}, which the walkthrough never creates"
                );
            }
        }
    }
}
