//! Watchlists on disk: one JSON file per list, `<dir>/<name>.json`, written atomically (a
//! temporary file, fsync, rename, fsync of the directory) so a reader never sees half a list.
//! Other files in the directory (the alerts journal, editors' backups, dot files) are ignored.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::list::{valid_list_name, Watchlist};
use crate::WatchError;

/// A directory of watchlist files.
#[derive(Debug, Clone)]
pub struct WatchDir {
    path: PathBuf,
}

/// A file that could not be loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadError {
    /// The list's name (the file name without `.json`).
    pub name: String,
    /// The file.
    pub file: String,
    /// Why.
    pub error: String,
}

impl WatchDir {
    /// The directory at `path` (created when the first list is written).
    pub fn new(path: impl Into<PathBuf>) -> WatchDir {
        WatchDir { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file of list `name`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(format!("{name}.json"))
    }

    /// Names of the list files present, sorted.
    pub fn names(&self) -> Result<Vec<String>, WatchError> {
        let rd = match std::fs::read_dir(&self.path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(WatchError::Io { what: format!("listing {}", self.path.display()), error: e }),
        };
        let mut names = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|e| WatchError::Io { what: format!("listing {}", self.path.display()), error: e })?;
            let file = ent.file_name();
            let Some(f) = file.to_str() else { continue };
            if let Some(stem) = f.strip_suffix(".json") {
                if valid_list_name(stem) {
                    names.push(stem.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Reads and validates list `name` (`sinks` are the configured sink names).
    pub fn read(&self, name: &str, sinks: &[String]) -> Result<Option<Watchlist>, WatchError> {
        if !valid_list_name(name) {
            return Err(WatchError::Invalid(format!("{name:?} is not a watchlist name")));
        }
        let p = self.file(name);
        let text = match std::fs::read(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(WatchError::Io { what: format!("reading {}", p.display()), error: e }),
        };
        let w = Watchlist::from_json(&text, name).map_err(|e| WatchError::Invalid(format!("{}: {e}", p.display())))?;
        w.validate(sinks).map_err(|e| WatchError::Invalid(format!("{}: {e}", p.display())))?;
        Ok(Some(w))
    }

    /// Reads every list; files that fail are returned beside the good ones.
    pub fn load_all(&self, sinks: &[String]) -> Result<(Vec<Watchlist>, Vec<LoadError>), WatchError> {
        let mut lists = Vec::new();
        let mut errors = Vec::new();
        for name in self.names()? {
            match self.read(&name, sinks) {
                Ok(Some(w)) => lists.push(w),
                Ok(None) => {}
                Err(e) => {
                    errors.push(LoadError { file: self.file(&name).display().to_string(), name, error: e.to_string() })
                }
            }
        }
        Ok((lists, errors))
    }

    /// Writes `list` (validated by the caller) atomically.
    pub fn write(&self, list: &Watchlist) -> Result<(), WatchError> {
        if !valid_list_name(&list.name) {
            return Err(WatchError::Invalid(format!("{:?} is not a watchlist name", list.name)));
        }
        let io = |what: String| move |error| WatchError::Io { what, error };
        std::fs::create_dir_all(&self.path).map_err(io(format!("creating {}", self.path.display())))?;
        let dest = self.file(&list.name);
        let tmp = self.path.join(format!(".{}.json.tmp", list.name));
        let mut f = std::fs::File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
        f.write_all(&list.to_json()).and_then(|()| f.sync_all()).map_err(io(format!("writing {}", tmp.display())))?;
        drop(f);
        std::fs::rename(&tmp, &dest).map_err(io(format!("renaming {} to {}", tmp.display(), dest.display())))?;
        sync_dir(&self.path)
    }

    /// Removes list `name`; false if there was none.
    pub fn remove(&self, name: &str) -> Result<bool, WatchError> {
        if !valid_list_name(name) {
            return Err(WatchError::Invalid(format!("{name:?} is not a watchlist name")));
        }
        let p = self.file(name);
        match std::fs::remove_file(&p) {
            Ok(()) => {
                sync_dir(&self.path)?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(WatchError::Io { what: format!("removing {}", p.display()), error: e }),
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), WatchError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|error| WatchError::Io { what: format!("syncing directory {}", dir.display()), error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::Entry;

    #[test]
    fn lists_round_trip_through_files_and_bad_files_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let d = WatchDir::new(tmp.path().join("watch"));
        assert_eq!(d.names().unwrap(), Vec::<String>::new(), "a missing directory has no lists");
        let mut w = Watchlist::new("apt-1");
        w.entries.push(Entry { value: "*.example.com".into(), label: Some("case 7".into()) });
        d.write(&w).unwrap();
        assert_eq!(d.read("apt-1", &[]).unwrap(), Some(w.clone()));
        std::fs::write(d.path().join("broken.json"), "{not json").unwrap();
        std::fs::write(d.path().join("alerts.ndjson"), "").unwrap();
        std::fs::write(d.path().join(".hidden.json"), "{}").unwrap();
        let (lists, errors) = d.load_all(&[]).unwrap();
        assert_eq!(lists, vec![w]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].name, "broken");
        assert!(errors[0].error.contains("broken.json"), "{:?}", errors[0]);
        assert!(d.remove("apt-1").unwrap());
        assert!(!d.remove("apt-1").unwrap());
        assert!(d.remove("../x").is_err());
        assert_eq!(d.read("apt-1", &[]).unwrap(), None);
    }
}
