//! A small tmpfs mounted over a directory, for tests of a full disk: a
//! node whose data directory is on it runs out of space after a few
//! megabytes. Mounting needs root ([`is_root`]); the [`Tmpfs`] guard
//! unmounts on drop, on every path, a panicking test's included.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether this process runs as root (real uid 0): what mounting, network
/// namespaces and nftables need. Tests that need root say they were skipped
/// and pass otherwise (CI runs as root).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A tmpfs mounted at a directory until dropped.
#[derive(Debug)]
pub struct Tmpfs {
    dir: PathBuf,
    mounted: bool,
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=` reads it: `16m`) at
    /// `dir`, creating the directory; panics (naming the command) if it cannot.
    pub fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("creating the mount point");
        run(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
                .arg("tmpfs")
                .arg(dir),
            &format!("mount -t tmpfs -o size={size} tmpfs {}", dir.display()),
        );
        Tmpfs {
            dir: dir.to_owned(),
            mounted: true,
        }
    }

    /// Grows (or shrinks) the mounted tmpfs to `size`, keeping its files:
    /// "space freed" as an operator would free it.
    pub fn resize(&self, size: &str) {
        run(
            Command::new("mount")
                .args(["-o", &format!("remount,size={size}")])
                .arg(&self.dir),
            &format!("mount -o remount,size={size} {}", self.dir.display()),
        );
    }

    /// Bytes used and free on the tmpfs, as `df` reports them.
    pub fn usage(&self) -> (u64, u64) {
        let out = Command::new("df")
            .args(["-B1", "--output=used,avail"])
            .arg(&self.dir)
            .output()
            .expect("running df");
        let text = String::from_utf8_lossy(&out.stdout);
        let nums: Vec<u64> = text
            .lines()
            .nth(1)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        match nums[..] {
            [used, avail] => (used, avail),
            _ => panic!("unexpected df output: {text}"),
        }
    }

    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unmounts now. A process still holding files in it (a node the test
    /// failed to stop) would make a plain unmount fail, so that case falls
    /// back to a lazy one: the mount leaves the tree at once and the memory
    /// goes when the last file closes.
    pub fn unmount(&mut self) {
        if !std::mem::take(&mut self.mounted) {
            return;
        }
        let plain = Command::new("umount").arg(&self.dir).status();
        if !plain.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        self.unmount();
    }
}
