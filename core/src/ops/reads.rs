//! Access to the records an embedding fetched, asking for what is missing.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::Stop;
use crate::protocol::Need;

/// The records and scans of a step input.
pub struct Reads<'a> {
    records: &'a BTreeMap<String, Option<String>>,
    scans: &'a BTreeMap<String, Vec<(String, String)>>,
    /// Keys the operation will want later, asked for with the next need
    /// so that they come in the same round ([`Reads::also_fetch`]).
    prefetch: RefCell<Vec<String>>,
}

impl<'a> Reads<'a> {
    /// Wraps the records and scans of a step input.
    pub fn new(
        records: &'a BTreeMap<String, Option<String>>,
        scans: &'a BTreeMap<String, Vec<(String, String)>>,
    ) -> Self {
        Self {
            records,
            scans,
            prefetch: RefCell::new(Vec::new()),
        }
    }

    /// Asks for `keys` too with the next [`Stop::Need`], whatever it is
    /// for: keys the operation knows it will read later (its target
    /// session's attribute index or records), fetched in the same round
    /// as what it needs now, which saves the embedding a step. Reading
    /// them early exposes nothing: what is answered is still decided
    /// after authorization.
    pub fn also_fetch(&self, keys: impl IntoIterator<Item = String>) {
        let mut prefetch = self.prefetch.borrow_mut();
        for key in keys {
            if !self.records.contains_key(&key) && !prefetch.contains(&key) {
                prefetch.push(key);
            }
        }
    }

    /// The keys of [`Reads::also_fetch`] not fetched yet and not in `need`.
    fn prefetched(&self, need: &[String]) -> Vec<String> {
        self.prefetch
            .borrow()
            .iter()
            .filter(|k| !self.records.contains_key(*k) && !need.contains(k))
            .cloned()
            .collect()
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
        let mut missing: Vec<String> = keys
            .filter(|k| !self.records.contains_key(*k))
            .map(String::from)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let early = self.prefetched(&missing);
        missing.extend(early);
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
                get: self.prefetched(&[]),
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

    #[test]
    fn keys_to_fetch_early_come_with_the_next_need_once() {
        let mut records = BTreeMap::new();
        records.insert(String::from("a"), Some(String::from("1")));
        let scans = BTreeMap::new();
        let reads = Reads::new(&records, &scans);
        // Already fetched, asked twice, or also needed now: asked for once.
        reads.also_fetch([String::from("a"), String::from("later"), String::from("c")]);
        reads.also_fetch([String::from("later")]);
        assert!(
            matches!(reads.get(["a"]), Ok([Some("1")])),
            "nothing needed, nothing asked"
        );
        match reads.get(["c"]) {
            Err(Stop::Need(need)) => assert_eq!(need.get, ["c", "later"]),
            _ => panic!("expected a need"),
        }
        match reads.scan("p") {
            Err(Stop::Need(need)) => {
                assert_eq!(need.get, ["later", "c"]);
                assert_eq!(need.scan, ["p"]);
            }
            _ => panic!("expected a need"),
        }
    }
}
