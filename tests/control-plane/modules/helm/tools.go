//go:build tools

// Package tools records the binary this module exists to build.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
