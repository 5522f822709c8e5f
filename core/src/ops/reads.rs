//! Access to the records an embedding fetched, asking for what is missing.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::Stop;
use crate::protocol::Need;

/// The records and scans of a step input.
pub struct Reads<'a> {
    records: &'a BTreeMap<String, Option<String>>,
    scans: &'a BTreeMap<String, Vec<(String, String)>>,
}

impl<'a> Reads<'a> {
    /// Wraps the records and scans of a step input.
    pub fn new(
        records: &'a BTreeMap<String, Option<String>>,
        scans: &'a BTreeMap<String, Vec<(String, String)>>,
    ) -> Self {
        Self { records, scans }
    }

    /// The records under `keys` (`None` = absent), or [`Stop::Need`] naming
    /// every key not fetched yet.
    pub fn get<const N: usize>(&self, keys: [&str; N]) -> Result<[Option<&'a str>; N], Stop> {
        self.ask_for_missing(keys.iter().copied())?;
        Ok(keys.map(|k| self.fetched(k)))
    }

    /// [`Reads::get`] for any number of keys.
    pub fn get_all(&self, keys: &[String]) -> Result<Vec<Option<&'a str>>, Stop> {
        self.ask_for_missing(keys.iter().map(String::as_str))?;
        Ok(keys.iter().map(|k| self.fetched(k)).collect())
    }

    /// [`Stop::Need`] for the keys not fetched yet, if any.
    fn ask_for_missing<'k>(&self, keys: impl Iterator<Item = &'k str>) -> Result<(), Stop> {
        let missing: Vec<String> = keys
            .filter(|k| !self.records.contains_key(*k))
            .map(String::from)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Stop::Need(Need {
            get: missing,
            scan: Vec::new(),
        }))
    }

    fn fetched(&self, key: &str) -> Option<&'a str> {
        self.records.get(key).and_then(|v| v.as_deref())
    }

    /// Every `(key, record)` under `prefix`, or [`Stop::Need`] for the scan.
    pub fn scan(&self, prefix: &str) -> Result<&'a [(String, String)], Stop> {
        match self.scans.get(prefix) {
            Some(found) => Ok(found),
            None => Err(Stop::Need(Need {
                get: Vec::new(),
                scan: alloc::vec![String::from(prefix)],
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_only_for_what_is_missing() {
        let mut records = BTreeMap::new();
        records.insert(String::from("a"), Some(String::from("1")));
        records.insert(String::from("b"), None);
        let scans = BTreeMap::new();
        let reads = Reads::new(&records, &scans);
        assert!(matches!(reads.get(["a", "b"]), Ok([Some("1"), None])));
        match reads.get(["a", "c"]) {
            Err(Stop::Need(need)) => assert_eq!(need.get, alloc::vec![String::from("c")]),
            _ => panic!("expected a need"),
        }
        assert!(matches!(reads.scan("p"), Err(Stop::Need(n)) if n.scan == ["p"]));
        let keys = [String::from("b"), String::from("a")];
        assert!(matches!(
            reads.get_all(&keys).as_deref(),
            Ok([None, Some("1")])
        ));
        let keys = [String::from("x"), String::from("a"), String::from("y")];
        match reads.get_all(&keys) {
            Err(Stop::Need(need)) => assert_eq!(need.get, ["x", "y"]),
            _ => panic!("expected a need"),
        }
    }
}
