# The commands the README names. Each works on a fresh machine: what they need is installed or built
# (and cached) by the scripts they call.
.PHONY: quickstart test test-unit test-reconcile test-e2e lint deny deny-advisories actionlint crds fmt image

# Local control plane + simulator + operator + deploy/examples, then prints what it made.
quickstart:
	tests/quickstart

# Every test: lints, the tier without a control plane, then the tiers on a real one.
test: lint test-unit test-e2e

# Unit, client-vs-simulator, simulator-vs-contract and CRD tests: no control plane needed.
test-unit:
	cargo test --locked

# The fast reconcile tier alone: whole passes in process, in seconds.
test-reconcile:
	cargo test --locked --lib controller::

# On a real local control plane (built from Go modules and cached on first use): its smoke test,
# the operator end to end, the Helm chart; then the Argo CD health checks.
test-e2e:
	tests/run-all

# cargo-deny, built once into a cache outside the clone, keyed by its version.
DENY_VERSION := 0.20.2
DENY := $(HOME)/.cache/corti-operator/tools/cargo-deny-$(DENY_VERSION)/bin/cargo-deny

$(DENY):
	cargo install --locked --quiet --version $(DENY_VERSION) --root $(dir $(@D)) cargo-deny

# Licences, bans and sources (deny.toml). Advisories need the RustSec database from GitHub, which
# the build machines cannot reach: `make deny-advisories` on a networked runner.
deny: $(DENY)
	$(DENY) check licenses bans sources

deny-advisories: $(DENY)
	$(DENY) check advisories

# actionlint (GitHub Actions workflows), built from its Go module into a cache outside the clone,
# keyed by its version. It also runs shellcheck on `run:` scripts when shellcheck is installed.
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := $(HOME)/.cache/corti-operator/tools/actionlint-$(ACTIONLINT_VERSION)/bin/actionlint

$(ACTIONLINT):
	GOBIN=$(@D) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

actionlint: $(ACTIONLINT)
	$(ACTIONLINT) .github/workflows/*.yml

lint: deny actionlint
	deploy/release-check >/dev/null
	cargo fmt --all -- --check
	cargo clippy --all-targets --locked -- -D warnings
	cargo clippy --lib --bins --locked -- -D warnings -D clippy::unwrap_used -D clippy::expect_used

# The container image (deploy/Dockerfile, FROM scratch) from static binaries built here: no registry,
# no daemon (podman, installed if missing). Its last line is the image reference.
image:
	@deploy/image/build

# Regenerates crds/ from the Rust types.
crds:
	cargo run --quiet --bin corti-operator -- crds --dir crds

fmt:
	cargo fmt --all
