//! Reading main's stamp: the state, and the guard's verdict.

use crate::vocabulary::{ErrorKind, StampState, StampView};

pub const CURRENT: u32 = 3;

pub fn read(raw: Option<&str>, pk: bool) -> StampState {
    match raw {
        None if !pk => StampState::Unstamped,
        None => StampState::PkSetUnstamped,
        Some(r)
            if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) && !r.starts_with('0') =>
        {
            StampState::Version(r.parse().unwrap_or(u64::MAX))
        }
        Some(r) => StampState::Corrupt(r.to_string()),
    }
}

pub fn guard(state: &StampState) -> Result<u32, ErrorKind> {
    match state {
        StampState::Unstamped | StampState::PkSetUnstamped => Ok(1),
        StampState::Version(v) if *v <= u64::from(CURRENT) => Ok(*v as u32),
        StampState::Version(_) => Err(ErrorKind::UpgradeRequired),
        StampState::Corrupt(_) => Err(ErrorKind::CorruptStamp),
    }
}

pub fn view(raw: Option<&str>, pk: bool) -> StampView {
    let state = read(raw, pk);
    let verdict = guard(&state);
    StampView { state, verdict }
}
