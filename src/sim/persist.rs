//! Simulator: the optional state file.
//!
//! JSON in the `GET /_sim/state` format, loaded at start and replaced atomically (write a temporary
//! file beside it, then rename) after every write, so a crash never leaves half a file.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::wire::StateDump;

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read state file {path}")]
    Read { path: PathBuf, source: io::Error },
    #[error("state file {path} is not a simulator state")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write state file {path}")]
    Write { path: PathBuf, source: io::Error },
}

/// The saved state, or `None` when the file does not exist yet.
pub fn load(path: &Path) -> Result<Option<StateDump>, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(PersistError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| PersistError::Parse {
            path: path.to_owned(),
            source,
        })
}

pub fn save(path: &Path, state: &StateDump) -> Result<(), PersistError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let write = || -> io::Result<()> {
        let json = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|source| PersistError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::wire::ProjectDump;

    #[test]
    fn missing_file_is_empty_and_saves_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(load(&path).unwrap(), None);
        let state = StateDump {
            projects: vec![ProjectDump {
                project_id: "p1".into(),
                embedded_assistant: true,
                customers: Vec::new(),
            }],
        };
        save(&path, &state).unwrap();
        assert_eq!(load(&path).unwrap(), Some(state));
        assert!(!dir.path().join("state.json.tmp").exists());
    }

    #[test]
    fn garbage_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{").unwrap();
        let err = load(&path).unwrap_err();
        assert!(err.to_string().contains("state.json"));
    }
}
