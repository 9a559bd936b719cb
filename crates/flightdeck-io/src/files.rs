//! Files and folders flightdeck creates hold real inputs, outputs and notes: they are the user's
//! alone (0600 and 0700) whatever the umask.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and any missing parents as 0700; folders that already existed keep their mode,
/// since the user may have chosen them (a data dir in their home, say).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|a| !a.exists()).collect();
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    // The umask can take bits off the mode asked for, so the folders made are set exactly.
    for created in missing {
        fs::set_permissions(created, Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

/// Open options that create a file as 0600.
pub fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Sets an open file to 0600: the umask may have taken bits off, and a file written by an older
/// version may be world-readable.
pub fn make_private(file: &File) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(FILE_MODE))
}

/// Creates (or truncates) a file for writing, 0600.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    make_private(&file)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_folders_are_private_and_existing_ones_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), Permissions::from_mode(0o755)).unwrap();
        let nested = dir.path().join("a").join("b");
        create_private_dir(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("a")), DIR_MODE);
        assert_eq!(mode(&nested), DIR_MODE);
        assert_eq!(mode(dir.path()), 0o755);
        create_private(&nested.join("f")).unwrap();
        assert_eq!(mode(&nested.join("f")), FILE_MODE);
    }
}
