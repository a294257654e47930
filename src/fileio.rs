//! Durable file primitives the store and the state files share: atomic replacement and
//! content hashing.

use std::fs;
use std::path::Path;

/// Writes a small file atomically (a temporary name of this process, then a rename), for
/// state shared between runs: readers see the old content or the new, never a mix. On any
/// failure (a full or read-only disk) the temporary file is removed, and the error names
/// the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let named = |e: std::io::Error, what: &str, p: &Path| {
        std::io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()))
    };
    if let Err(e) = fs::write(&tmp, bytes) {
        let _ = fs::remove_file(&tmp);
        return Err(named(e, "writing", &tmp));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        named(e, "renaming to", path)
    })
}

/// blake3 of a file's content; large files are memory-mapped and hashed on all cores,
/// since verifying every artifact is most of what a fully cached run does.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    h.update_mmap_rayon(path)?;
    Ok(h.finalize().to_hex().to_string())
}
