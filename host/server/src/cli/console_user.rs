//! `madoguchi console-user add|list|passwd|disable|enable`: people who log into the web
//! console, straight in the store (run with the server stopped; the API has the same
//! operations for a running server). Passwords come from standard input and only their
//! argon2id hash is stored.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Subcommand;
use madoguchi_store::{NewAudit, Role, StoreError};

#[derive(Debug, Subcommand)]
pub enum ConsoleUserCommand {
    /// Add a console user:
    /// `echo 'pass phrase' | madoguchi console-user add kanri --role admin --password-stdin`.
    Add {
        name: String,
        /// admin, supervisor, operator, auditor or viewer.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List console users (name, role, disabled).
    List,
    /// Set a new password (read from standard input); ends the user's sessions.
    Passwd {
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Disable a user (their sessions end; the account and its audit history stay).
    Disable { name: String },
    /// Enable a disabled user again.
    Enable { name: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse().map_err(|e: StoreError| e.to_string())
}

fn who() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .map_or_else(|| "cli".to_string(), |u| format!("cli:{u}"))
}

pub fn run(cmd: ConsoleUserCommand, data: &Path) -> Result<()> {
    let store = super::token::open(data)?;
    let audit = |action: &str, name: &str, detail: serde_json::Value| {
        store.append_audit(&NewAudit {
            who: &who(),
            action,
            object: &format!("console-user:{name}"),
            source: "cli",
            detail,
        })
    };
    match cmd {
        ConsoleUserCommand::Add { name, role, .. } => {
            let password = super::user::read_password()?;
            let u = store
                .add_console_user(&name, role, &password)
                .with_context(|| format!("cannot add console user {name}"))?;
            audit("console-user.add", &name, serde_json::json!({"role": role}))?;
            println!("added console user {} ({})", u.name, u.role);
        }
        ConsoleUserCommand::List => {
            println!("{:<24}  {:<10}  disabled", "name", "role");
            for u in store.list_console_users()? {
                println!("{:<24}  {:<10}  {}", u.name, u.role, u.disabled);
            }
        }
        ConsoleUserCommand::Passwd { name, .. } => {
            let password = super::user::read_password()?;
            store.update_console_user(&name, None, None, Some(&password))?;
            audit(
                "console-user.change",
                &name,
                serde_json::json!({"password_reset": true}),
            )?;
            println!("password of {name} changed");
        }
        ConsoleUserCommand::Disable { name } => {
            store.update_console_user(&name, None, Some(true), None)?;
            audit(
                "console-user.change",
                &name,
                serde_json::json!({"disabled": true}),
            )?;
            println!("{name} disabled");
        }
        ConsoleUserCommand::Enable { name } => {
            store.update_console_user(&name, None, Some(false), None)?;
            audit(
                "console-user.change",
                &name,
                serde_json::json!({"disabled": false}),
            )?;
            println!("{name} enabled");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_store::Store;

    #[test]
    fn list_disable_enable_through_the_command() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            s.add_console_user("kansa", Role::Auditor, "password-1")
                .unwrap();
        }
        run(ConsoleUserCommand::List, dir.path()).unwrap();
        run(
            ConsoleUserCommand::Disable {
                name: "kansa".into(),
            },
            dir.path(),
        )
        .unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert!(s.console_user("kansa").unwrap().unwrap().disabled);
        let audit = s
            .query_audit(&madoguchi_store::AuditQuery {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(audit.entries[0].action, "console-user.change");
        assert_eq!(audit.entries[0].source, "cli");
        drop(s);
        let err = run(
            ConsoleUserCommand::Enable {
                name: "nobody".into(),
            },
            dir.path(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("nobody"), "{err:#}");
        assert!(parse_role("auditor").is_ok());
        assert!(parse_role("root").unwrap_err().contains("supervisor"));
    }
}
