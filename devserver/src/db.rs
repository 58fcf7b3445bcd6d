//! SQLite persistence (stub).
use std::path::Path;
/// The database.
#[derive(Debug)]
pub struct Db {}
impl Db {
    /// Opens `DIR/emulator.sqlite3`.
    pub fn open(_dir: &Path) -> anyhow::Result<Self> {
        Ok(Db {})
    }
}
