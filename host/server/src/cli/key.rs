//! `madoguchi key rotate`: a new master key, without re-encrypting any audio. Every sealed
//! recording's file key is re-wrapped (a 96-byte header slot) and every user's HA1s are
//! re-sealed (one store transaction). Run it with the server stopped.
//!
//! With `--new-key-file`, that file's key becomes the master key: point the config
//! (`[security] master_key_file`) or `$MADOGUCHI_MASTER_KEY_FILE` at it afterwards. Without
//! it, the default `DATA/master.key` is replaced by a fresh key. Interrupted, the command can
//! be run again: files already under the new key are skipped, and the generated key waits
//! in `DATA/master.key.new` until everything is under it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use madoguchi_media::recording::sealed::rewrap;
use madoguchi_store::keys::{KeySource, DEFAULT_KEY_FILE};
use madoguchi_store::{MasterKey, Store};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Replace the master key: re-wrap every recording's key and re-seal the users' secrets.
    Rotate {
        /// The new key (64 hex digits, mode 0600). Default: generate one into DATA/master.key.
        #[arg(long)]
        new_key_file: Option<PathBuf>,
    },
    /// Print the id of the master key in use (never the key).
    Id,
}

pub fn run(cmd: KeyCommand, data: &Path) -> Result<()> {
    let (old, source) = MasterKey::resolve(data, None).context("cannot get the master key")?;
    match cmd {
        KeyCommand::Id => println!("{}\t{source}", old.id()),
        KeyCommand::Rotate { new_key_file } => rotate(data, old, source, new_key_file)?,
    }
    Ok(())
}

fn rotate(data: &Path, old: MasterKey, source: KeySource, file: Option<PathBuf>) -> Result<()> {
    let default = data.join(DEFAULT_KEY_FILE);
    let pending = data.join(format!("{DEFAULT_KEY_FILE}.new"));
    let new = match &file {
        Some(f) => MasterKey::read_file(f)?,
        None => {
            if source != KeySource::File(default.clone()) {
                bail!("the master key in use comes from {source}; name the new one with --new-key-file");
            }
            match MasterKey::read_file(&pending) {
                Ok(k) => k,
                Err(_) => {
                    let _ = std::fs::remove_file(&pending);
                    let k = MasterKey::generate();
                    k.write_new_file(&pending)?;
                    k
                }
            }
        }
    };
    if new == old {
        bail!("the new key is the key in use");
    }
    let (old_rec, new_rec) = (
        crate::protect::recording_key(&old),
        crate::protect::recording_key(&new),
    );
    let dir = data.join("recordings");
    let mut rewrapped = 0;
    if dir.exists() {
        let cap = cap_std::fs::Dir::open_ambient_dir(&dir, cap_std::ambient_authority())?;
        let mut names: Vec<String> = cap
            .entries()?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".wav") || n.ends_with(".wav.part"))
            .collect();
        names.sort();
        for n in names {
            let mut head = [0u8; 8];
            let sealed = cap
                .open(&n)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok()
                && madoguchi_media::recording::sealed::is_sealed(&head);
            if !sealed {
                continue;
            }
            if rewrap(&cap, &n, &old_rec, &new_rec).with_context(|| format!("recording {n}"))? {
                rewrapped += 1;
            }
        }
    }
    let store = Store::open_with_key(data, old)?;
    let users = store.reseal_users(&new)?;
    drop(store);
    if file.is_none() {
        std::fs::rename(&pending, &default).context("cannot install the new master key")?;
    }
    println!(
        "rotated to key {}: {rewrapped} recordings re-wrapped, {users} users re-sealed",
        new.id()
    );
    if let Some(f) = file {
        println!(
            "now point [security] master_key_file or MADOGUCHI_MASTER_KEY_FILE at {}",
            f.display()
        );
    }
    Ok(())
}
