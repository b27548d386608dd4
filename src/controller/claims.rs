//! Two resources that claim one remote object must not fight over it: the earliest created keeps
//! it, and every later one is told `Conflict` and touches nothing remotely.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// A resource's claim on a remote key, as the reflector's cache shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub namespace: String,
    pub name: String,
    pub created: Option<Time>,
}

impl Claim {
    fn order_key(&self) -> (Option<&Time>, &str, &str) {
        (self.created.as_ref(), &self.namespace, &self.name)
    }
}

/// The claim that owns the key, if it is not `mine`. Order: creation time, then namespace and
/// name, so every reconcile of every claimant reaches the same verdict.
pub fn earlier_claim<'a>(mine: &Claim, others: impl IntoIterator<Item = &'a Claim>) -> Option<&'a Claim> {
    others
        .into_iter()
        .filter(|other| !(other.namespace == mine.namespace && other.name == mine.name))
        .filter(|other| other.order_key() < mine.order_key())
        .min_by(|a, b| a.order_key().cmp(&b.order_key()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(namespace: &str, name: &str, second: i64) -> Claim {
        Claim {
            namespace: namespace.into(),
            name: name.into(),
            created: Some(Time(k8s_openapi::jiff::Timestamp::from_second(second).unwrap())),
        }
    }

    #[test]
    fn the_earliest_claim_wins_and_ties_break_by_name() {
        let (a, b, c) = (claim("t", "a", 10), claim("t", "b", 20), claim("u", "c", 10));
        let all = [a.clone(), b.clone(), c.clone()];
        assert_eq!(earlier_claim(&a, &all), None);
        assert_eq!(earlier_claim(&b, &all), Some(&a));
        assert_eq!(earlier_claim(&c, &all), Some(&a), "same second: namespace t sorts before u");
        assert_eq!(earlier_claim(&a, &[]), None);
    }
}
