//! charmcraft's extensions, expanded as `charmcraft pack` expands them.
//!
//! A 12-factor charm (a Flask, Django, FastAPI, Go, Express or Spring Boot web app run by
//! the `paas-charm` library) writes very little in its `charmcraft.yaml`: its name, its own
//! relations and options, and `extensions: [flask-framework]`. At pack time charmcraft
//! merges the extension's snippet into the file: the workload container and its image
//! resource, the `secret-storage` peer relation, the `logging`, `ingress`,
//! `metrics-endpoint` and `grafana-dashboard` endpoints, the framework's config options
//! (`flask-secret-key`, `webserver-workers`, ...) and the `rotate-secret-key` action. The
//! packed charm's `metadata.yaml` has all of it, and `paas-charm` observes those events in
//! the charm's `__init__`. Read as written, such a charm has no `secret_storage` relation
//! and fails in `__init__` on every hook.
//!
//! So the extensions are expanded before the spec is read, with charmcraft's rules
//! (`charmcraft expand-extensions` prints the same document):
//!
//! - extensions apply in sorted order;
//! - a key the charm sets wins over the extension's; mappings merge key by key; lists are
//!   the extension's items then the charm's (strings once each);
//! - an extension's version follows the charm's base: Ubuntu 22.04 and 24.04 (where each
//!   framework first shipped) give the `<framework>-app` container and image for Flask and
//!   Django and `app` for the others; later bases give `app`;
//! - each `requires` endpoint of the `oauth` interface adds its own options
//!   (`<endpoint>-redirect-path`, `<endpoint>-scopes`; Spring Boot also
//!   `<endpoint>-user-name-attribute`).
//!
//! The expanded document is also what the charm's copy carries as its `charmcraft.yaml`,
//! so `ops` reads, from the split files made of it, what the engine reads.

use super::yaml::{self, Node, Scalar, Value};
use super::{SpecError, invalid, wrong_type};

/// The extensions charmcraft ships for 12-factor apps.
const FRAMEWORKS: [&str; 6] = [
    "django",
    "expressjs",
    "fastapi",
    "flask",
    "go",
    "spring-boot",
];

/// What every 12-factor extension adds. `{framework}`, `{container}`, `{image}` and
/// `{more_actions}` are filled in per extension.
const COMMON: &str = "\
assumes: [k8s-api]
containers:
  {container}:
    resource: {image}
resources:
  {image}:
    type: oci-image
    description: The {framework} application's OCI image.
peers:
  secret-storage:
    interface: secret-storage
actions:
  rotate-secret-key:
    description: Rotate the application's secret key (users log in again).
{more_actions}requires:
  logging:
    interface: loki_push_api
  ingress:
    interface: ingress
    limit: 1
provides:
  metrics-endpoint:
    interface: prometheus_scrape
  grafana-dashboard:
    interface: grafana_dashboard
";

/// Gunicorn's options, shared by the Flask and Django extensions (no defaults: the
/// workload's own apply).
const GUNICORN: &str = "\
webserver-keepalive: {type: int}
webserver-threads: {type: int}
webserver-timeout: {type: int}
webserver-workers: {type: int}
webserver-worker-class: {type: string}
";

/// The port, metrics and secret-key options of the Go, Express and Spring Boot extensions.
const APP_PORT: &str = "app-port: {type: int, default: 8080}\n";
const METRICS: &str = "\
metrics-port: {type: int, default: 8080}
metrics-path: {type: string, default: /metrics}
";
const SECRET: &str = "\
app-secret-key: {type: string}
app-secret-key-id: {type: secret}
";

/// The framework's own config options, as lines of `config: options:` (unindented).
fn options(framework: &str) -> String {
    match framework {
        "flask" => format!(
            "{GUNICORN}\
flask-application-root: {{type: string}}
flask-debug: {{type: boolean}}
flask-env: {{type: string}}
flask-permanent-session-lifetime: {{type: int}}
flask-preferred-url-scheme: {{type: string, default: HTTPS}}
flask-secret-key: {{type: string}}
flask-secret-key-id: {{type: secret}}
flask-session-cookie-secure: {{type: boolean}}
"
        ),
        "django" => format!(
            "{GUNICORN}\
django-debug: {{type: boolean, default: false}}
django-secret-key: {{type: string}}
django-secret-key-id: {{type: secret}}
django-allowed-hosts: {{type: string}}
"
        ),
        "fastapi" => format!(
            "\
webserver-workers: {{type: int, default: 1}}
webserver-port: {{type: int, default: 8080}}
webserver-log-level: {{type: string, default: info}}
{METRICS}{SECRET}"
        ),
        "spring-boot" => format!(
            "{APP_PORT}\
app-profiles: {{type: string}}
metrics-port: {{type: int, default: 8080}}
metrics-path: {{type: string, default: /actuator/prometheus}}
{SECRET}"
        ),
        // go, expressjs
        _ => format!("{APP_PORT}{METRICS}{SECRET}"),
    }
}

/// The options each `oauth` endpoint adds, for endpoint `e` (the charm's own name, so
/// written as quoted YAML scalars: a name YAML would read otherwise cannot change the
/// snippet's shape; the spec's name check judges it later).
fn oauth_options(framework: &str, e: &str) -> String {
    let q = |s: String| serde_json::Value::String(s).to_string();
    let mut lines = vec![
        format!(
            "{}: {{type: string, default: {}}}",
            q(format!("{e}-redirect-path")),
            q(if framework == "spring-boot" {
                format!("/login/oauth2/code/{e}")
            } else {
                "/callback".to_string()
            })
        ),
        format!(
            "{}: {{type: string, default: openid profile email}}",
            q(format!("{e}-scopes"))
        ),
    ];
    if framework == "spring-boot" {
        lines.push(format!(
            "{}: {{type: string, default: sub}}",
            q(format!("{e}-user-name-attribute"))
        ));
    }
    lines.join("\n") + "\n"
}

/// Expand the `extensions:` of a unified `charmcraft.yaml` in place. Returns whether the
/// document had any (and so changed).
pub(super) fn expand(file: &str, root: &mut Node) -> Result<bool, SpecError> {
    let Value::Map(pairs) = &mut root.value else {
        return Ok(false);
    };
    let Some(at) = pairs
        .iter()
        .position(|(k, _)| k.as_str() == Some("extensions"))
    else {
        return Ok(false);
    };
    let (_, list) = pairs.remove(at);
    let mut names = Vec::new();
    match &list.value {
        Value::Scalar(Scalar::Null) => {}
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let Some(name) = item.as_str() else {
                    return Err(wrong_type(
                        file,
                        item,
                        &format!("extensions[{i}]"),
                        "an extension name",
                    ));
                };
                let framework = name.strip_suffix("-framework").unwrap_or("");
                if !FRAMEWORKS.contains(&framework) {
                    return Err(invalid(
                        file,
                        item,
                        &format!("extensions[{i}]"),
                        format!(
                            "charmcraft has no extension {name:?} that charmfuzz knows (it knows {})",
                            FRAMEWORKS.map(|f| format!("{f}-framework")).join(", ")
                        ),
                    ));
                }
                names.push(framework.to_string());
            }
        }
        _ => {
            return Err(wrong_type(
                file,
                &list,
                "extensions",
                "a list of extension names",
            ));
        }
    }
    if names.is_empty() {
        return Ok(false);
    }
    names.sort();
    names.dedup();
    let first_version = first_version_base(root);
    let oauth = oauth_endpoints(root);
    for framework in &names {
        let snippet = snippet(framework, first_version, &oauth);
        let node = match yaml::parse(&snippet) {
            Ok(Some(node)) => node,
            other => {
                panic!("the {framework} extension's snippet is not YAML ({other:?}):\n{snippet}")
            }
        };
        merge_into(root, node);
    }
    Ok(true)
}

/// Whether the charm's base is one the extensions' first version supports (Ubuntu 22.04 or
/// 24.04), or it names none.
fn first_version_base(root: &Node) -> bool {
    let mut bases: Vec<(String, String)> = Vec::new();
    if let Some(base) = root.get("base").and_then(|(_, n)| n.as_str()) {
        if let Some((name, channel)) = base.split_once('@') {
            bases.push((name.to_string(), channel.to_string()));
        }
    }
    if let Some((
        _,
        Node {
            value: Value::Seq(items),
            ..
        },
    )) = root.get("bases")
    {
        for item in items {
            // `- name: ubuntu\n  channel: "22.04"`, or `build-on:`/`run-on:` lists of those.
            let mut entries = vec![item];
            for key in ["build-on", "run-on"] {
                if let Some((
                    _,
                    Node {
                        value: Value::Seq(inner),
                        ..
                    },
                )) = item.get(key)
                {
                    entries.extend(inner.iter());
                }
            }
            for e in entries {
                let name = e.get("name").and_then(|(_, n)| n.as_str());
                let channel = e.get("channel").map(|(_, n)| match &n.value {
                    Value::Scalar(Scalar::Str(s)) => s.clone(),
                    _ => n.raw.clone(),
                });
                if let (Some(name), Some(channel)) = (name, channel) {
                    bases.push((name.to_string(), channel));
                }
            }
        }
    }
    bases.is_empty()
        || bases
            .iter()
            .any(|(n, c)| n == "ubuntu" && (c == "22.04" || c == "24.04"))
}

/// The charm's `requires` endpoints of the `oauth` interface.
fn oauth_endpoints(root: &Node) -> Vec<String> {
    let Some((
        _,
        Node {
            value: Value::Map(pairs),
            ..
        },
    )) = root.get("requires")
    else {
        return Vec::new();
    };
    pairs
        .iter()
        .filter(|(_, v)| v.get("interface").and_then(|(_, i)| i.as_str()) == Some("oauth"))
        .filter_map(|(k, _)| k.as_str().map(str::to_string))
        .collect()
}

/// The snippet one extension merges into the document, as YAML text.
fn snippet(framework: &str, first_version: bool, oauth: &[String]) -> String {
    let (container, image) = if first_version && (framework == "flask" || framework == "django") {
        (format!("{framework}-app"), format!("{framework}-app-image"))
    } else {
        ("app".to_string(), "app-image".to_string())
    };
    // Django's extension adds an action of its own.
    let more_actions = if framework == "django" {
        "  create-superuser:
    description: Create a Django superuser.
    params:
      username: {type: string}
      email: {type: string}
    required: [username, email]
"
    } else {
        ""
    };
    let mut text = COMMON
        .replace("{framework}", framework)
        .replace("{container}", &container)
        .replace("{image}", &image)
        .replace("{more_actions}", more_actions);
    let mut lines = options(framework);
    for e in oauth {
        lines.push_str(&oauth_options(framework, e));
    }
    text.push_str("config:\n  options:\n");
    for line in lines.lines() {
        text.push_str("    ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Whether a value counts as set, as Python's truth test does (charmcraft merges with
/// `if existing_property:`).
fn is_set(node: &Node) -> bool {
    match &node.value {
        Value::Scalar(Scalar::Null) => false,
        Value::Scalar(Scalar::Bool(b)) => *b,
        Value::Scalar(Scalar::Int(i)) => *i != 0,
        Value::Scalar(Scalar::Float(f)) => *f != 0.0,
        Value::Scalar(Scalar::BigInt(_)) => true,
        Value::Scalar(Scalar::Str(s)) => !s.is_empty(),
        Value::Seq(items) => !items.is_empty(),
        Value::Map(pairs) => !pairs.is_empty(),
    }
}

/// Merge the extension's `ext` into the charm's `existing`, charmcraft's way: what the
/// charm set wins, mappings merge, lists put the extension's items first.
fn merge_into(existing: &mut Node, ext: Node) {
    if !is_set(existing) {
        *existing = ext;
        return;
    }
    match (&mut existing.value, ext.value) {
        (Value::Seq(mine), Value::Seq(theirs)) => {
            let mut merged = theirs;
            merged.append(mine);
            let all_strings = merged.iter().all(|n| n.as_str().is_some());
            if all_strings {
                let mut seen = std::collections::HashSet::new();
                merged.retain(|n| seen.insert(n.as_str().unwrap_or_default().to_string()));
            }
            *mine = merged;
        }
        (Value::Map(mine), Value::Map(theirs)) => {
            for (key, value) in theirs {
                match mine.iter_mut().find(|(k, _)| k.value == key.value) {
                    Some((_, slot)) => merge_into(slot, value),
                    None => mine.push((key, value)),
                }
            }
        }
        // A scalar the charm set, or a type that differs: the charm's stays.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(text: &str) -> serde_json::Value {
        let mut root = yaml::parse(text).unwrap().unwrap();
        assert!(expand("charmcraft.yaml", &mut root).unwrap());
        super::super::to_json("charmcraft.yaml", &root, "").unwrap()
    }

    #[test]
    fn every_framework_snippet_parses_with_its_options() {
        for f in FRAMEWORKS {
            for first in [true, false] {
                let text = snippet(f, first, &["sso".to_string()]);
                let node = yaml::parse(&text).unwrap().unwrap();
                let json = super::super::to_json("x", &node, "").unwrap();
                assert_eq!(
                    json["peers"]["secret-storage"]["interface"],
                    "secret-storage"
                );
                assert_eq!(
                    json["config"]["options"]["sso-scopes"]["default"],
                    "openid profile email"
                );
                assert!(json["actions"]["rotate-secret-key"].is_object(), "{f}");
            }
        }
    }

    #[test]
    fn flask_on_24_04_gets_its_container_relations_options_and_keeps_the_charms_own() {
        let doc = expanded(
            "name: web\ntype: charm\nbase: ubuntu@24.04\nextensions: [flask-framework]\n\
             requires:\n  db: {interface: postgresql_client}\n  login: {interface: oauth}\n\
             config:\n  options:\n    site: {type: string, default: x}\n\
             assumes: [juju]\n",
        );
        assert!(doc.get("extensions").is_none());
        assert_eq!(
            doc["containers"]["flask-app"]["resource"],
            "flask-app-image"
        );
        assert_eq!(doc["resources"]["flask-app-image"]["type"], "oci-image");
        assert_eq!(doc["requires"]["db"]["interface"], "postgresql_client");
        assert_eq!(doc["requires"]["logging"]["interface"], "loki_push_api");
        assert_eq!(doc["requires"]["ingress"]["limit"], 1);
        assert_eq!(
            doc["provides"]["metrics-endpoint"]["interface"],
            "prometheus_scrape"
        );
        let options = &doc["config"]["options"];
        assert_eq!(options["site"]["default"], "x");
        assert_eq!(options["flask-preferred-url-scheme"]["default"], "HTTPS");
        assert_eq!(options["flask-secret-key-id"]["type"], "secret");
        assert_eq!(options["login-redirect-path"]["default"], "/callback");
        // Lists: the extension's items first, each string once.
        assert_eq!(doc["assumes"], serde_json::json!(["k8s-api", "juju"]));
    }

    #[test]
    fn a_later_base_gives_the_app_container_and_django_its_superuser_action() {
        let doc = expanded("name: web\nbase: ubuntu@26.04\nextensions: [django-framework]\n");
        assert_eq!(doc["containers"]["app"]["resource"], "app-image");
        assert_eq!(
            doc["actions"]["create-superuser"]["required"],
            serde_json::json!(["username", "email"])
        );
        assert_eq!(doc["config"]["options"]["django-debug"]["default"], false);
    }

    #[test]
    fn what_the_charm_set_wins_over_the_extension() {
        let doc = expanded(
            "name: web\nbases: [{name: ubuntu, channel: '22.04'}]\nextensions: [go-framework]\n\
             config:\n  options:\n    app-port: {type: int, default: 9000}\n",
        );
        assert_eq!(doc["config"]["options"]["app-port"]["default"], 9000);
        assert_eq!(
            doc["config"]["options"]["metrics-path"]["default"],
            "/metrics"
        );
        assert_eq!(doc["containers"]["app"]["resource"], "app-image");
    }

    #[test]
    fn an_unknown_extension_is_named_in_the_error() {
        let mut root = yaml::parse("name: web\nextensions: [rails-framework]\n")
            .unwrap()
            .unwrap();
        let err = expand("charmcraft.yaml", &mut root)
            .unwrap_err()
            .to_string();
        assert!(err.contains("charmcraft.yaml:2:"), "{err}");
        assert!(err.contains("\"rails-framework\""), "{err}");
        assert!(err.contains("flask-framework"), "{err}");
    }
}
