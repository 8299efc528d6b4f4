//! `madoguchi user add|list|passwd|remove`: staff extensions in the embedded store.
//!
//! Passwords are read from standard input (never from the command line, where `ps` and
//! shell history would show them) and only their digest HA1 hashes are stored.

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use madoguchi_sip::auth::{ha1_md5, ha1_sha256};
use madoguchi_store::{Store, UserRecord};

/// The digest realm users are created for unless `--realm` says otherwise.
pub const DEFAULT_REALM: &str = "madoguchi";

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user: `madoguchi user add 1001 --name "窓口 太郎" --password-stdin`.
    Add {
        extension: String,
        #[arg(long)]
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long, default_value = DEFAULT_REALM)]
        realm: String,
    },
    /// List users (extension, name, realm, disabled).
    List,
    /// Set a new password (read from standard input).
    Passwd {
        extension: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Remove a user.
    Remove { extension: String },
}

pub fn run(cmd: UserCommand, data: &Path) -> Result<()> {
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create data directory {}", data.display()))?;
    let store = Store::open(data)
        .with_context(|| format!("cannot open the store in {}", data.display()))?;
    match cmd {
        UserCommand::Add {
            extension,
            name,
            realm,
            ..
        } => {
            let password = read_password()?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let rec = UserRecord {
                ha1_md5: ha1_md5(&extension, &realm, &password),
                ha1_sha256: ha1_sha256(&extension, &realm, &password),
                extension,
                display_name: name,
                realm,
                created_unix: now,
                disabled: false,
            };
            store
                .add_user(&rec)
                .with_context(|| format!("cannot add user {}", rec.extension))?;
            println!("added user {} ({})", rec.extension, rec.display_name);
        }
        UserCommand::List => {
            println!(
                "{:<12} {:<24} {:<12} disabled",
                "extension", "name", "realm"
            );
            for u in store.list_users()? {
                println!(
                    "{:<12} {:<24} {:<12} {}",
                    u.extension, u.display_name, u.realm, u.disabled
                );
            }
        }
        UserCommand::Passwd { extension, .. } => {
            let Some(u) = store.get_user(&extension)? else {
                bail!("no user {extension}");
            };
            let password = read_password()?;
            store.set_password(
                &extension,
                &ha1_md5(&extension, &u.realm, &password),
                &ha1_sha256(&extension, &u.realm, &password),
            )?;
            println!("password changed for {extension}");
        }
        UserCommand::Remove { extension } => {
            store.remove_user(&extension)?;
            println!("removed user {extension}");
        }
    }
    Ok(())
}

pub(crate) fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.len() < 8 {
        bail!("the password must be at least 8 characters");
    }
    Ok(pw)
}
