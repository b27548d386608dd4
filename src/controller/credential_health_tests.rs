//! The `CredentialsValid` decision, case by case: every credentials gap, a refusal with and
//! without a held-back login, a wrong project, a member account, a look with no answer, and a
//! pass that never got as far as the credentials. No message may carry an email or a password.

use super::*;
use crate::admin_api::ApiError;
use crate::controller::error::CustomerWait;
use crate::crd::Customer;

const SECRET: &str = "tenants/corti-admin";

fn look(answered: bool, next_login: Option<&str>) -> FirstLook {
    FirstLook {
        secret: SECRET.into(),
        answered,
        next_login: next_login.map(|t| t.parse().unwrap()),
    }
}

fn api(error: ApiError) -> Error {
    Error::Api(error)
}

fn said(verdict: Option<CredentialsVerdict>) -> (Status, &'static str, String) {
    let verdict = verdict.expect("a verdict");
    (verdict.status, verdict.reason.as_str(), verdict.message)
}

#[test]
fn a_look_the_admin_api_answered_is_a_successful_login_whatever_fails_later() {
    let (status, reason, message) = said(credentials_verdict(Some(&look(true, None)), None));
    assert_eq!((status, reason), (Status::True, "LoginSucceeded"));
    assert_eq!(
        message,
        "the credentials in Secret tenants/corti-admin log in to the Admin API"
    );
    // A create that fails afterwards says nothing against the credentials.
    let later = api(ApiError::Unavailable {
        status: 503,
        message: "down".into(),
    });
    let (status, reason, _) = said(credentials_verdict(Some(&look(true, None)), Some(&later)));
    assert_eq!((status, reason), (Status::True, "LoginSucceeded"));
}

#[test]
fn every_gap_is_false_with_its_own_reason_and_names_the_secret() {
    let gaps = [
        (CredentialsGap::NoneConfigured, "NoCredentials", ""),
        (
            CredentialsGap::OutOfScope {
                namespace: "tenants".into(),
            },
            "OutOfScope",
            "tenants",
        ),
        (
            CredentialsGap::SecretMissing {
                namespace: "tenants".into(),
                name: "corti-admin".into(),
            },
            "SecretNotFound",
            SECRET,
        ),
        (
            CredentialsGap::KeyMissing {
                namespace: "tenants".into(),
                name: "corti-admin".into(),
                key: "password",
            },
            "KeyMissing",
            SECRET,
        ),
    ];
    for (gap, expected, named) in gaps {
        let error = Error::from(gap);
        let (status, reason, message) = said(credentials_verdict(None, Some(&error)));
        assert_eq!((status, reason), (Status::False, expected), "{message}");
        assert!(message.contains(named), "{message}");
    }
}

#[test]
fn a_refused_login_says_when_the_next_one_is_tried_and_never_the_server_words() {
    let refused = api(ApiError::Unauthorized {
        message: "invalid login for admin@corti.test".into(),
    });
    let held = look(false, Some("2027-01-01T00:00:15Z"));
    let (status, reason, message) = said(credentials_verdict(Some(&held), Some(&refused)));
    assert_eq!((status, reason), (Status::False, "LoginRefused"));
    assert!(message.contains(SECRET), "{message}");
    assert!(
        message.contains("held back until 2027-01-01T00:00:15Z"),
        "{message}"
    );
    assert!(!message.contains('@'), "no email: {message}");
    let (_, _, unheld) = said(credentials_verdict(
        Some(&look(false, None)),
        Some(&refused),
    ));
    assert!(!unheld.contains("held back"), "{unheld}");
}

#[test]
fn a_wrong_project_and_a_member_account_are_false_though_the_login_worked() {
    let missing = Error::ProjectNotFound {
        project_id: "p-1".into(),
        source: ApiError::NotFound {
            message: "no such project".into(),
        },
    };
    let (status, reason, message) = said(credentials_verdict(
        Some(&look(false, None)),
        Some(&missing),
    ));
    assert_eq!((status, reason), (Status::False, "ProjectNotFound"));
    assert!(
        message.contains("\"p-1\"") && message.contains(SECRET),
        "{message}"
    );
    // A member may list, so the look was answered; the write that followed was forbidden.
    let forbidden = api(ApiError::Forbidden {
        message: "not an admin".into(),
    });
    let (status, reason, _) = said(credentials_verdict(
        Some(&look(true, None)),
        Some(&forbidden),
    ));
    assert_eq!((status, reason), (Status::False, "Forbidden"));
}

#[test]
fn a_look_without_an_answer_says_nothing_new_and_no_look_is_unknown() {
    let down = api(ApiError::Unavailable {
        status: 503,
        message: "down".into(),
    });
    assert_eq!(
        credentials_verdict(Some(&look(false, None)), Some(&down)),
        None
    );
    let waiting = Error::from(CustomerWait::NotReadyYet { name: "c".into() });
    let (status, reason, _) = said(credentials_verdict(None, Some(&waiting)));
    assert_eq!((status, reason), (Status::Unknown, "NotChecked"));
}

fn recorded(status: &crate::crd::CustomerStatus) -> Vec<(String, String, String)> {
    status
        .sync
        .conditions
        .iter()
        .map(|c| (c.type_.clone(), c.status.clone(), c.reason.clone()))
        .collect()
}

#[test]
fn a_pass_that_learned_nothing_keeps_the_condition_and_its_transition_time() {
    let mut status = crate::crd::CustomerStatus::default();
    let down: Result<(), Error> = Err(api(ApiError::Unavailable {
        status: 503,
        message: "down".into(),
    }));
    record_credentials_valid::<Customer, _>(&mut status, Some(&look(false, None)), &down, Some(1));
    assert_eq!(
        recorded(&status),
        [(
            "CredentialsValid".into(),
            "Unknown".into(),
            "NotChecked".into()
        )],
        "nothing known yet"
    );
    let ok: Result<(), Error> = Ok(());
    record_credentials_valid::<Customer, _>(&mut status, Some(&look(true, None)), &ok, Some(1));
    let first = status.sync.conditions[0].clone();
    assert_eq!(
        (first.status.as_str(), first.reason.as_str()),
        ("True", "LoginSucceeded")
    );
    record_credentials_valid::<Customer, _>(&mut status, Some(&look(false, None)), &down, Some(1));
    assert_eq!(
        status.sync.conditions,
        std::slice::from_ref(&first),
        "a blip changes nothing"
    );
    record_credentials_valid::<Customer, _>(&mut status, Some(&look(true, None)), &ok, Some(1));
    assert_eq!(
        status.sync.conditions,
        [first],
        "an idle pass sets the very same condition: nothing to write"
    );
}
