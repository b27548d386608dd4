# The commands the README names. Each works on a fresh machine: what they need is installed or built
# (and cached) by the scripts they call.
.PHONY: quickstart test test-e2e lint crds fmt

# Local control plane + simulator + operator + deploy/examples, then prints what it made.
quickstart:
	tests/quickstart

# Lints, then every test that needs no control plane: unit, client and simulator, contract, CRDs.
test: lint
	cargo test --locked

# The tiers on a real local control plane (built from Go modules and cached on first use):
# control-plane smoke test and the operator end to end.
test-e2e:
	tests/run-all

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings
	cargo clippy --lib --bins --locked -- -D warnings -D clippy::unwrap_used -D clippy::expect_used

# Regenerates crds/ from the Rust types.
crds:
	cargo run --quiet --bin corti-operator -- crds --dir crds

fmt:
	cargo fmt --all
