//! The demo's way into the console: an admin console user with a random password (the
//! console's router sends `/` to `/console/`).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result};
use madoguchi_store::{NewAudit, Role, Store};
use rand::Rng;

/// The demo's console user.
pub const DEMO_CONSOLE_USER: &str = "admin";
/// File in the data directory holding its password (owner-only).
pub const PASSWORD_FILE: &str = "console-password";

/// A password of 16 letters and digits without look-alikes (no 0/O, 1/l/I).
fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..16)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Creates the demo's admin console user once (password in `DATA/console-password`) and
/// prints how to log in.
pub fn ensure_console_admin(store: &Store, data_dir: &Path, http: SocketAddr) -> Result<()> {
    let path = data_dir.join(PASSWORD_FILE);
    let password = if store.console_user(DEMO_CONSOLE_USER)?.is_none() {
        let password = random_password();
        store
            .add_console_user(DEMO_CONSOLE_USER, Role::Admin, &password)
            .context("cannot create the demo's console user")?;
        store.append_audit(&NewAudit {
            who: "madoguchi demo",
            action: "console-user.add",
            object: &format!("console-user:{DEMO_CONSOLE_USER}"),
            source: "system",
            detail: serde_json::json!({"role": "admin"}),
        })?;
        let _ = std::fs::remove_file(&path);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        std::io::Write::write_all(&mut opts.open(&path)?, password.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Some(password)
    } else {
        std::fs::read_to_string(&path)
            .ok()
            .map(|p| p.trim().to_string())
    };
    let host = if http.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        match http {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        }
    };
    eprintln!();
    eprintln!(
        "  コンソール (console): http://{host}:{}/console/",
        http.port()
    );
    match password {
        Some(p) => {
            eprintln!("  ユーザー名 (user): {DEMO_CONSOLE_USER}   パスワード (password): {p}")
        }
        None => eprintln!(
            "  ユーザー名 (user): {DEMO_CONSOLE_USER}   (password file {} missing: \
             set one with `madoguchi console-user passwd {DEMO_CONSOLE_USER} --password-stdin`)",
            path.display()
        ),
    }
    eprintln!();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_admin_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let http: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        ensure_console_admin(&store, dir.path(), http).unwrap();
        let pw = std::fs::read_to_string(dir.path().join(PASSWORD_FILE)).unwrap();
        assert_eq!(pw.len(), 16);
        let u = store.console_user(DEMO_CONSOLE_USER).unwrap().unwrap();
        assert_eq!(u.role, Role::Admin);
        assert!(madoguchi_store::console::verify_password(
            &u.password_hash,
            &pw
        ));
        ensure_console_admin(&store, dir.path(), http).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(PASSWORD_FILE)).unwrap(),
            pw
        );
    }
}
