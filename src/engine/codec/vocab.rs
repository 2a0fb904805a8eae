//! The words the decoder draws payloads from.
//!
//! Charms react to what they read: a databag key they look for, a config value they parse,
//! a notice key they match. Random bytes rarely hit those, so payloads are drawn mostly
//! from a vocabulary of likely words, and only sometimes spelled out as literal bytes.

use crate::engine::action::Databag;
use crate::spec::CharmSpec;
use serde_json::Value;
use std::collections::BTreeMap;

/// The words the decoder draws payloads from: databag keys and values, config strings,
/// notice keys. Built once per charm: the words every charm gets and its spec's names, then
/// the samples of its fuzzing config and the string literals of its code
/// ([`crate::spec::literals`], added by [`crate::charm::Charm::load`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vocabulary {
    pub words: Vec<String>,
    pub config_samples: BTreeMap<String, Vec<Value>>,
    /// Whole databags to try, per interface name.
    pub relation_samples: BTreeMap<String, Vec<Databag>>,
    pub notice_keys: Vec<String>,
    pub secret_samples: Vec<Databag>,
    /// Pebble check names per container.
    pub checks: BTreeMap<String, Vec<String>>,
}

impl Vocabulary {
    /// Words every charm gets, plus the names its spec declares.
    pub fn for_spec(spec: &CharmSpec) -> Vocabulary {
        let mut words: Vec<String> = [
            "host",
            "port",
            "hostname",
            "address",
            "ingress-address",
            "private-address",
            "url",
            "endpoints",
            "database",
            "username",
            "password",
            "user",
            "secret-id",
            "tls",
            "ca",
            "version",
            "data",
            "name",
            "true",
            "false",
            "null",
            "{}",
            "[]",
            "0",
            "1",
            "-1",
            "localhost",
            "127.0.0.1",
            "5432",
            "8080",
            "http://localhost:8080",
            "[\"a\", \"b\"]",
            "{\"key\": \"value\"}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        words.extend(spec.config.iter().map(|o| o.name.clone()));
        words.extend(spec.endpoints.iter().map(|e| e.name.clone()));
        words.extend(spec.endpoints.iter().map(|e| e.interface.clone()));
        let mut seen = std::collections::BTreeSet::new();
        words.retain(|w| seen.insert(w.clone()));
        Vocabulary {
            words,
            notice_keys: vec!["charmfuzz.test/notice".into()],
            ..Default::default()
        }
    }
}
