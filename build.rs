//! Puts the git commit into `qa-pipe --version` when built from a checkout. From a tarball
//! (no .git, or no git) the version is the package's alone. The script reruns only when
//! HEAD or the branch it points to moves, not on every build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Asks cargo to rerun when `p` changes; only for paths that exist, since a missing one
/// would make every build rerun the script.
fn watch(p: &Path) {
    if p.exists() {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    // Only a checkout of this package counts, not a repository the tarball was unpacked in.
    let own = manifest.join(".git").exists();
    let dir = manifest.to_string_lossy().into_owned();
    let commit = own
        .then(|| git(&["-C", &dir, "rev-parse", "--short=12", "HEAD"]))
        .flatten();
    if let Some(git_dir) = own
        .then(|| git(&["-C", &dir, "rev-parse", "--absolute-git-dir"]))
        .flatten()
    {
        // A worktree keeps HEAD in its own git dir and the branches in the common one.
        let git_dir = PathBuf::from(git_dir);
        watch(&git_dir.join("HEAD"));
        let common = git(&["-C", &dir, "rev-parse", "--git-common-dir"])
            .map(|c| manifest.join(c))
            .unwrap_or_else(|| git_dir.clone());
        if let Some(branch) = git(&["-C", &dir, "symbolic-ref", "-q", "HEAD"]) {
            let loose = common.join(&branch);
            watch(&loose);
            if !loose.exists() {
                // A packed branch: its first commit writes the loose ref into this folder.
                watch(loose.parent().unwrap_or(&common));
            }
            watch(&common.join("packed-refs"));
        }
    }
    let suffix = commit.map(|c| format!(" ({c})")).unwrap_or_default();
    println!("cargo:rustc-env=QA_PIPE_VERSION_COMMIT={suffix}");
}
