//! Which cluster format each command needs (`domain::version`): a node of an older format
//! would refuse it, or apply it without what it cannot read (serde skips unknown fields), and
//! so drift from the others. The writer refuses a command the cluster's format does not cover
//! yet, before proposing it.

use super::command::{Command, ReceiveTimes, SweepFrom};
use crate::domain::version::FIRST_FORMAT;
use crate::federation::protocol::Change;

/// Format 2: OIDC, user status, SCIM attributes, a group's record in a membership change,
/// federation receive times, expiry sweeps by the expiry index.
const OIDC_STATUS_SCIM: u32 = 2;

impl Command {
    /// The lowest cluster format that applies this command as meant on every node.
    pub fn format_needed(&self) -> u32 {
        match self {
            Command::PutOidcProvider { .. }
            | Command::DeleteOidcProvider { .. }
            | Command::PutIdentityMapping { .. }
            | Command::DeleteIdentityMapping { .. } => OIDC_STATUS_SCIM,
            Command::UpdateUser { disabled, scim, .. } if disabled.is_some() || scim.is_some() => {
                OIDC_STATUS_SCIM
            }
            Command::PutUser { user, .. } if user.disabled || user.scim.is_some() => {
                OIDC_STATUS_SCIM
            }
            Command::PutGroup { group, .. } if group.scim.is_some() => OIDC_STATUS_SCIM,
            Command::UpdateGroupMembers {
                record: Some(_), ..
            } => OIDC_STATUS_SCIM,
            Command::FederationReceive { times, events, .. } => {
                times_format(times).max(highest_format(events.iter().map(|e| &e.change)))
            }
            Command::FederationSync { times, changes, .. } => {
                times_format(times).max(highest_format(changes))
            }
            Command::FederationAck { held: Some(_), .. } => OIDC_STATUS_SCIM,
            Command::ExpireBefore {
                from: Some(SweepFrom::Due(_)),
                ..
            } => OIDC_STATUS_SCIM,
            Command::Batch { commands } => commands
                .iter()
                .map(Command::format_needed)
                .max()
                .unwrap_or(FIRST_FORMAT),
            // Proposed only once every voter supports its version (see `Cluster`).
            Command::RaiseFormat { .. } => FIRST_FORMAT,
            _ => FIRST_FORMAT,
        }
    }
}

/// The highest format any of `changes` needs (the first format for none).
pub fn highest_format<'a>(changes: impl IntoIterator<Item = &'a Change>) -> u32 {
    changes
        .into_iter()
        .map(Change::format_needed)
        .fold(FIRST_FORMAT, u32::max)
}

/// Releases before formats read the leader's clock (`now_ms`) of a receive, not the rest.
fn times_format(times: &ReceiveTimes) -> u32 {
    match times.cut_off > 0 || times.max_future_ms > 0 {
        true => OIDC_STATUS_SCIM,
        false => FIRST_FORMAT,
    }
}

impl Change {
    /// The lowest format a site must be at to take this change whole: a site below it would
    /// refuse the message or drop what it cannot read, so the sender holds it back.
    pub fn format_needed(&self) -> u32 {
        match self {
            Change::Oidc { .. } => OIDC_STATUS_SCIM,
            Change::User { state, .. }
                if state
                    .fields
                    .as_ref()
                    .is_some_and(|f| f.disabled || f.scim.is_some()) =>
            {
                OIDC_STATUS_SCIM
            }
            Change::Group { state, .. }
                if state.fields.as_ref().is_some_and(|f| f.scim.is_some()) =>
            {
                OIDC_STATUS_SCIM
            }
            _ => FIRST_FORMAT,
        }
    }
}
