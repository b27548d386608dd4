//! The committed CRDs are exactly what the Rust types generate (`make crds` regenerates them), and
//! they carry what users rely on: CEL rules, printer columns, short names, the `corti` category.

use std::path::Path;

use corti_operator::crd::{crd_yaml, crds};

#[test]
fn committed_crds_match_the_rust_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for crd in crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let generated = crd_yaml(&crd).expect("CRD renders");
        for dir in ["crds", "charts/corti-operator/crds", "deploy/crds"] {
            let path = root.join(dir).join(format!("{name}.yaml"));
            if dir != "crds" && !path.parent().is_some_and(Path::exists) {
                continue; // that copy arrives with the chart
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(committed == generated, "{} differs from the generated CRD: run `make crds`", path.display());
        }
    }
}

#[test]
fn crds_carry_validation_columns_and_names() {
    for crd in crds() {
        let yaml = crd_yaml(&crd).expect("CRD renders");
        assert!(yaml.contains("x-kubernetes-validations"), "{yaml}");
        assert_eq!(crd.spec.names.categories.as_deref(), Some(&["corti".to_string()][..]));
        assert!(crd.spec.names.short_names.as_ref().is_some_and(|names| !names.is_empty()));
        let version = &crd.spec.versions[0];
        let columns: Vec<&str> = version.additional_printer_columns.iter().flatten().map(|c| c.name.as_str()).collect();
        assert!(columns.contains(&"Ready") && columns.contains(&"Reason") && columns.contains(&"Age"), "{columns:?}");
        assert!(version.subresources.as_ref().is_some_and(|s| s.status.is_some()), "status subresource");
    }
}
