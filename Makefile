# The commands the README names. Each works on a fresh machine: what they need is installed or built
# (and cached) by the scripts they call.
.PHONY: quickstart test lint crds fmt

# Local control plane + simulator + operator + deploy/examples, then prints what it made.
quickstart:
	tests/quickstart

# Every test: lints, unit, client-vs-simulator, contract, control plane, end to end.
test: lint
	tests/run-all

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings
	cargo clippy --lib --bins --locked -- -D warnings -D clippy::unwrap_used -D clippy::expect_used

# Regenerates crds/ (and the chart's copy) from the Rust types.
crds:
	cargo run --quiet --bin corti-operator -- crds --dir crds

fmt:
	cargo fmt --all
