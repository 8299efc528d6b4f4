//! `madoguchi token create|list|revoke`: admin API bearer tokens, straight in the store.
//!
//! These open the data directory's store directly (there is no API call that mints the
//! first token), so they work with the server stopped. redb lets one process at a time open
//! the file: while `madoguchi serve` runs on the same data directory they fail with a message
//! saying so.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use clap::Subcommand;
use madoguchi_store::{Role, Store, StoreError};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (shown only this once):
    /// `madoguchi token create --role admin --label "ci deploy"`.
    Create {
        /// admin (everything), supervisor (queues, calls, listen to recordings), operator
        /// (scenarios, prompts, hours), auditor (audit log, recording metadata) or viewer (read).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Whose or what for; recorded as the actor of changes made with the token.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List tokens (id, role, label, created); secrets are never stored, so never shown.
    List,
    /// Revoke a token by its id (the 8 hex digits `token list` shows); it stops working at once.
    Revoke { id: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse().map_err(|e: StoreError| e.to_string())
}

pub fn run(cmd: TokenCommand, data: &Path) -> Result<()> {
    let store = open(data)?;
    match cmd {
        TokenCommand::Create { role, label } => {
            let who = std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty())
                .map_or_else(|| "cli".to_string(), |u| format!("cli:{u}"));
            let (secret, meta) = store
                .create_token(role, &label, &who)
                .context("cannot create the token")?;
            eprintln!(
                "created {} token {} ({}); the secret below is shown only now:",
                meta.role,
                meta.id,
                if label.is_empty() { "no label" } else { &label }
            );
            println!("{secret}");
        }
        TokenCommand::List => {
            let mut out = std::io::stdout().lock();
            let header = format!(
                "{:<8}  {:<8}  {:<25}  {:<16}  label",
                "id", "role", "created", "by"
            );
            if !super::out::line(&mut out, &header)? {
                return Ok(());
            }
            for t in store.list_tokens()? {
                let row = format!(
                    "{:<8}  {:<8}  {:<25}  {:<16}  {}",
                    t.id,
                    t.role,
                    crate::observe::time::rfc3339_jst(t.created_unix),
                    t.created_by,
                    t.label
                );
                if !super::out::line(&mut out, &row)? {
                    return Ok(());
                }
            }
        }
        TokenCommand::Revoke { id } => {
            let meta = store.revoke_token(&id)?;
            println!("revoked {} token {} {}", meta.role, meta.id, meta.label);
        }
    }
    Ok(())
}

/// Opens the store, turning "the file is locked" into advice about the running server.
pub(crate) fn open(data: &Path) -> Result<Store> {
    match Store::open(data) {
        Ok(s) => Ok(s),
        Err(StoreError::Db(e)) if matches!(*e, redb::Error::DatabaseAlreadyOpen) => Err(anyhow!(
            "the store in {} is in use by another process (is `madoguchi serve` running on \
             this data directory?): stop the server to manage tokens, or use --data for \
             another directory",
            data.display()
        )),
        Err(e) => Err(e).with_context(|| format!("cannot open the store in {}", data.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_list_revoke_through_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let create = |role| TokenCommand::Create {
            role,
            label: "ops".into(),
        };
        run(create(Role::Admin), dir.path()).unwrap();
        run(create(Role::Viewer), dir.path()).unwrap();
        run(TokenCommand::List, dir.path()).unwrap();
        let tokens = Store::open(dir.path()).unwrap().list_tokens().unwrap();
        assert_eq!(tokens.len(), 2);
        assert!(tokens.iter().all(|t| t.label == "ops"));
        run(
            TokenCommand::Revoke {
                id: tokens[0].id.clone(),
            },
            dir.path(),
        )
        .unwrap();
        let err = run(
            TokenCommand::Revoke {
                id: tokens[0].id.clone(),
            },
            dir.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no token"), "{err:#}");
        assert_eq!(
            Store::open(dir.path()).unwrap().list_tokens().unwrap(),
            vec![tokens[1].clone()]
        );
    }

    #[test]
    fn a_store_in_use_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let _server = Store::open(dir.path()).unwrap();
        let err = run(TokenCommand::List, dir.path()).unwrap_err();
        assert!(err.to_string().contains("madoguchi serve"), "{err:#}");
    }

    #[test]
    fn roles_parse_from_the_command_line() {
        assert_eq!(parse_role("operator"), Ok(Role::Operator));
        assert!(parse_role("root")
            .unwrap_err()
            .contains("admin, supervisor, operator, auditor or viewer"));
        assert_eq!(parse_role("auditor"), Ok(Role::Auditor));
        assert_eq!(parse_role("supervisor"), Ok(Role::Supervisor));
    }
}
