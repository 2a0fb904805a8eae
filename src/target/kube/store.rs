//! The cluster's objects and the REST rules of the Kubernetes API over them.
//!
//! Every Kubernetes object lives at a path that names its API group and version, its
//! namespace (unless the kind is cluster-wide), its resource (the plural, `pods`) and its
//! name: `/api/v1/namespaces/<ns>/pods/<name>` for the core group, `/apis/apps/v1/
//! namespaces/<ns>/statefulsets/<name>` for the others. A collection is the path without
//! the name. On those paths the API server answers `GET` (one object, or a `<Kind>List`
//! filtered by label and field selectors), `POST` (create; `409 AlreadyExists` if the name
//! is taken), `PUT` (replace), `PATCH` (JSON merge patch, strategic merge patch, JSON patch,
//! or server-side apply, which also creates) and `DELETE`, with a `Status` object for every
//! error. This module is those rules over an in-memory map, with no I/O: the server
//! ([`super::KubeApi`]) feeds it requests, and each input starts again from
//! [`Cluster::seeded`].
//!
//! What the cluster holds at the start is what Juju creates when it deploys a Kubernetes
//! application `<app>` into the model's namespace: the namespace, the application's
//! StatefulSet, its pod `<app>-0` with the `charm` container and one per workload
//! container, the `<app>` Service (a ClusterIP with Juju's placeholder port until the
//! charm opens ports) and the headless `<app>-endpoints`, and the application's
//! ServiceAccount. The StatefulSet's controller is played in one rule: a change to the pod
//! template is rolled out to the pod at once (its containers and a new
//! `controller-revision-hash`), and a deleted pod comes back from the template.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Where an object lives: `group/version` (`v1` for the core group), namespace (empty
/// for cluster-wide kinds), resource (the plural) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub api: String,
    pub namespace: String,
    pub resource: String,
    pub name: String,
}

/// A request, as the router understood its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPath {
    pub api: String,
    pub namespace: String,
    pub resource: String,
    /// `None` for the collection.
    pub name: Option<String>,
    /// `status`, `scale`, `log`, ... after the name.
    pub subresource: Option<String>,
}

/// Read a request path (`/api/v1/namespaces/m/pods/p`) into what it addresses. `None` for
/// a path that is not a resource path (discovery, `/version`: the server answers those).
pub fn parse_path(path: &str) -> Option<ApiPath> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => (version.to_string(), rest),
        ["apis", group, version, rest @ ..] => (format!("{group}/{version}"), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (ns.to_string(), tail),
        _ => (String::new(), rest),
    };
    match rest {
        [resource] => Some(ApiPath {
            api,
            namespace,
            resource: resource.to_string(),
            name: None,
            subresource: None,
        }),
        [resource, name, sub @ ..] if sub.len() <= 1 => Some(ApiPath {
            api,
            namespace,
            resource: resource.to_string(),
            name: Some(name.to_string()),
            subresource: sub.first().map(|s| s.to_string()),
        }),
        _ => None,
    }
}

/// The kinds Juju's objects and common charm calls use, by resource (for list kinds and
/// for objects created without one).
fn kind_of(resource: &str) -> String {
    match resource {
        "pods" => "Pod",
        "services" => "Service",
        "statefulsets" => "StatefulSet",
        "deployments" => "Deployment",
        "daemonsets" => "DaemonSet",
        "replicasets" => "ReplicaSet",
        "configmaps" => "ConfigMap",
        "secrets" => "Secret",
        "serviceaccounts" => "ServiceAccount",
        "namespaces" => "Namespace",
        "nodes" => "Node",
        "endpoints" => "Endpoints",
        "persistentvolumeclaims" => "PersistentVolumeClaim",
        "persistentvolumes" => "PersistentVolume",
        "roles" => "Role",
        "rolebindings" => "RoleBinding",
        "clusterroles" => "ClusterRole",
        "clusterrolebindings" => "ClusterRoleBinding",
        "ingresses" => "Ingress",
        "networkpolicies" => "NetworkPolicy",
        "poddisruptionbudgets" => "PodDisruptionBudget",
        "controllerrevisions" => "ControllerRevision",
        "events" => "Event",
        "leases" => "Lease",
        "customresourcedefinitions" => "CustomResourceDefinition",
        other => {
            // A custom resource: its kind is the singular, capitalised, as most CRDs name it.
            let singular = other.strip_suffix('s').unwrap_or(other);
            let mut c = singular.chars();
            return c
                .next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default();
        }
    }
    .to_string()
}

/// An API answer: the status code and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub code: u16,
    pub body: Value,
}

/// `404 NotFound` for the object `name` of the path's resource.
fn not_found(t: &ApiPath, name: &str) -> Answer {
    status(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", t.resource),
    )
}

fn status(code: u16, reason: &str, message: String) -> Answer {
    Answer {
        code,
        body: json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code,
        }),
    }
}

fn ok(code: u16, body: Value) -> Answer {
    Answer { code, body }
}

/// How a `PATCH` body is to be applied (from its `Content-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`: a merge in which lists of named objects
    /// (containers, ports, env, volumes) merge item by item.
    Strategic,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/apply-patch+yaml`: server-side apply, which creates what is missing.
    Apply,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> Option<PatchKind> {
        let ct = ct.split(';').next().unwrap_or("").trim();
        Some(match ct {
            "application/merge-patch+json" => PatchKind::Merge,
            "application/strategic-merge-patch+json" => PatchKind::Strategic,
            "application/json-patch+json" => PatchKind::Json,
            "application/apply-patch+yaml" | "application/apply-patch+json" => PatchKind::Apply,
            _ => return None,
        })
    }
}

/// The cluster: every object, and the counter behind `resourceVersion` and `uid`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cluster {
    objects: BTreeMap<Key, Value>,
    version: u64,
    /// The application whose StatefulSet the controller rule keeps (`None` in tests of
    /// the bare rules).
    app: Option<(String, String)>,
}

/// A workload container of the pod: its name and image.
pub struct PodContainer {
    pub name: String,
    pub image: String,
}

impl Cluster {
    /// What Juju has created in namespace `ns` for application `app` whose pod runs the
    /// given workload containers (see the module docs).
    pub fn seeded(ns: &str, app: &str, containers: &[PodContainer]) -> Cluster {
        let mut c = Cluster {
            app: Some((ns.to_string(), app.to_string())),
            ..Cluster::default()
        };
        let labels = json!({ "app.kubernetes.io/name": app });
        let mut pod_containers = vec![json!({
            "name": "charm",
            "image": "jujusolutions/charm-base:ubuntu-22.04",
            "resources": {},
        })];
        for w in containers {
            pod_containers.push(json!({ "name": w.name, "image": w.image, "resources": {} }));
        }
        c.put(
            "v1",
            "",
            "namespaces",
            json!({"metadata": {"name": ns}, "status": {"phase": "Active"}}),
        );
        c.put(
            "v1",
            ns,
            "serviceaccounts",
            json!({"metadata": {"name": app, "labels": labels}}),
        );
        c.put(
            "v1",
            ns,
            "services",
            json!({
                "metadata": {"name": app, "labels": labels},
                "spec": {
                    "type": "ClusterIP", "clusterIP": "10.152.183.100", "selector": labels,
                    "ports": [{"name": "placeholder", "port": 65535, "protocol": "TCP",
                               "targetPort": 65535}],
                },
            }),
        );
        c.put(
            "v1",
            ns,
            "services",
            json!({
                "metadata": {"name": format!("{app}-endpoints"), "labels": labels},
                "spec": {"type": "ClusterIP", "clusterIP": "None", "selector": labels,
                         "publishNotReadyAddresses": true,
                         "ports": [{"name": "placeholder", "port": 65535, "protocol": "TCP"}]},
            }),
        );
        c.put(
            "apps/v1",
            ns,
            "statefulsets",
            json!({
                "metadata": {"name": app, "labels": labels, "generation": 1},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "serviceName": format!("{app}-endpoints"),
                    "podManagementPolicy": "Parallel",
                    "updateStrategy": {"type": "RollingUpdate",
                                       "rollingUpdate": {"partition": 0}},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"serviceAccountName": app, "containers": pod_containers},
                    },
                },
                "status": {"replicas": 1, "readyReplicas": 1, "currentReplicas": 1,
                           "updatedReplicas": 1, "availableReplicas": 1,
                           "observedGeneration": 1},
            }),
        );
        c.roll_out();
        c
    }

    /// Store `obj` (with its `apiVersion`, `kind` and server-side metadata filled in).
    fn put(&mut self, api: &str, ns: &str, resource: &str, mut obj: Value) -> Value {
        self.version += 1;
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let o = obj.as_object_mut().expect("objects are mappings");
        o.insert("apiVersion".into(), json!(api));
        if !o.get("kind").is_some_and(Value::is_string) {
            o.insert("kind".into(), json!(kind_of(resource)));
        }
        let meta = o
            .entry("metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("metadata is a mapping");
        if !ns.is_empty() {
            meta.insert("namespace".into(), json!(ns));
        }
        meta.entry("uid")
            .or_insert_with(|| json!(format!("00000000-0000-4000-8000-{:012x}", self.version)));
        meta.entry("creationTimestamp")
            .or_insert_with(|| json!("2026-01-01T00:00:00Z"));
        meta.insert("resourceVersion".into(), json!(self.version.to_string()));
        let key = Key {
            api: api.to_string(),
            namespace: ns.to_string(),
            resource: resource.to_string(),
            name,
        };
        self.objects.insert(key, obj.clone());
        obj
    }

    /// One object, if it exists.
    pub fn get(&self, api: &str, ns: &str, resource: &str, name: &str) -> Option<&Value> {
        self.objects.get(&Key {
            api: api.into(),
            namespace: ns.into(),
            resource: resource.into(),
            name: name.into(),
        })
    }

    /// Answer one request: `query` is the URL's query string, `content_type` the body's.
    pub fn handle(
        &mut self,
        method: &str,
        path: &ApiPath,
        query: &str,
        content_type: &str,
        body: &[u8],
    ) -> Answer {
        let answer = self.dispatch(method, path, query, content_type, body);
        if method != "GET" && answer.code < 300 {
            self.roll_out();
        }
        answer
    }

    /// Route a request to its verb: a method on one named object, or on the collection.
    fn dispatch(
        &mut self,
        method: &str,
        t: &ApiPath,
        query: &str,
        content_type: &str,
        body: &[u8],
    ) -> Answer {
        let key = t.name.as_ref().map(|name| Key {
            api: t.api.clone(),
            namespace: t.namespace.clone(),
            resource: t.resource.clone(),
            name: name.clone(),
        });
        if let Some(sub) = &t.subresource {
            if sub != "status" {
                return status(
                    404,
                    "NotFound",
                    format!("the server could not find the requested resource ({sub})"),
                );
            }
        }
        match (method, key) {
            ("GET", Some(key)) => self.read(t, &key),
            ("GET", None) => self.list(t, query),
            ("POST", None) => self.create(t, body),
            ("PUT", Some(key)) => self.replace(t, &key, body),
            ("PATCH", Some(key)) => self.patch(t, &key, content_type, body),
            ("DELETE", Some(key)) => self.delete(t, key),
            ("DELETE", None) => self.delete_collection(t, query),
            (m, _) => status(405, "MethodNotAllowed", format!("{m} is not allowed here")),
        }
    }

    /// `GET` of one object.
    fn read(&self, t: &ApiPath, key: &Key) -> Answer {
        match self.objects.get(key) {
            Some(o) => ok(200, o.clone()),
            None => not_found(t, &key.name),
        }
    }

    /// `GET` of a collection: the objects the selectors pick, or a watch.
    fn list(&self, t: &ApiPath, query: &str) -> Answer {
        let param = |k: &str| query_param(query, k);
        if param("watch").is_some_and(|v| v == "true" || v == "1") {
            // No changes happen while the charm watches: the stream ends at once.
            return ok(200, Value::Null);
        }
        let labels = param("labelSelector").unwrap_or_default();
        let fields = param("fieldSelector").unwrap_or_default();
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|(k, _)| {
                k.api == t.api
                    && k.resource == t.resource
                    && (t.namespace.is_empty() || k.namespace == t.namespace)
            })
            .map(|(_, o)| o)
            .filter(|o| selects_labels(&labels, o) && selects_fields(&fields, o))
            .cloned()
            .collect();
        ok(
            200,
            json!({
                "kind": format!("{}List", kind_of(&t.resource)),
                "apiVersion": t.api,
                "metadata": {"resourceVersion": self.version.to_string()},
                "items": items,
            }),
        )
    }

    /// `POST` to a collection: a new object, named or with a generated name.
    fn create(&mut self, t: &ApiPath, body: &[u8]) -> Answer {
        let Some(mut obj) = parse_body(body) else {
            return status(400, "BadRequest", "the body is not a JSON object".into());
        };
        let name = match obj["metadata"]["name"].as_str() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => match obj["metadata"]["generateName"].as_str() {
                Some(prefix) => {
                    let n = format!("{prefix}{:05x}", self.version + 1);
                    obj["metadata"]["name"] = json!(n);
                    n
                }
                None => {
                    return status(
                        422,
                        "Invalid",
                        "metadata.name: Required value: name or generateName is required".into(),
                    );
                }
            },
        };
        if self.get(&t.api, &t.namespace, &t.resource, &name).is_some() {
            return status(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", t.resource),
            );
        }
        ok(201, self.put(&t.api, &t.namespace, &t.resource, obj))
    }

    /// `PUT` of one object: replaces an existing one.
    fn replace(&mut self, t: &ApiPath, key: &Key, body: &[u8]) -> Answer {
        let Some(obj) = parse_body(body) else {
            return status(400, "BadRequest", "the body is not a JSON object".into());
        };
        let Some(old) = self.objects.get(key) else {
            return not_found(t, &key.name);
        };
        let obj = keep_identity(old, obj, &key.name);
        ok(200, self.put(&t.api, &t.namespace, &t.resource, obj))
    }

    /// `PATCH` of one object, in the kind the content type names (a server-side apply
    /// creates the object).
    fn patch(&mut self, t: &ApiPath, key: &Key, content_type: &str, body: &[u8]) -> Answer {
        let Some(kind) = PatchKind::from_content_type(content_type) else {
            return status(
                415,
                "UnsupportedMediaType",
                format!("the body of the request was in an unknown format: {content_type}"),
            );
        };
        let old = self.objects.get(key).cloned();
        let base = match (&old, kind) {
            (Some(o), _) => o.clone(),
            (None, PatchKind::Apply) => json!({"metadata": {"name": key.name}}),
            (None, _) => return not_found(t, &key.name),
        };
        let patched = match kind {
            PatchKind::Json => {
                let Ok(patch) = serde_json::from_slice::<json_patch::Patch>(body) else {
                    return status(400, "BadRequest", "not a JSON patch".into());
                };
                let mut doc = base;
                if let Err(e) = json_patch::patch(&mut doc, &patch) {
                    return status(422, "Invalid", format!("the JSON patch: {e}"));
                }
                doc
            }
            _ => {
                let Some(patch) = parse_body(body) else {
                    return status(400, "BadRequest", "the body is not an object".into());
                };
                let mut doc = base;
                if kind == PatchKind::Merge {
                    json_patch::merge(&mut doc, &patch);
                } else {
                    strategic_merge(&mut doc, &patch);
                }
                doc
            }
        };
        let patched = match &old {
            Some(o) => keep_identity(o, patched, &key.name),
            None => patched,
        };
        let code = if old.is_some() { 200 } else { 201 };
        ok(code, self.put(&t.api, &t.namespace, &t.resource, patched))
    }

    /// `DELETE` of one object.
    fn delete(&mut self, t: &ApiPath, key: Key) -> Answer {
        match self.objects.remove(&key) {
            Some(o) => ok(200, o),
            None => not_found(t, &key.name),
        }
    }

    /// `DELETE` of a collection: the objects the label selector picks.
    fn delete_collection(&mut self, t: &ApiPath, query: &str) -> Answer {
        let labels = query_param(query, "labelSelector").unwrap_or_default();
        self.objects.retain(|k, o| {
            !(k.api == t.api
                && k.resource == t.resource
                && k.namespace == t.namespace
                && selects_labels(&labels, o))
        });
        ok(
            200,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        )
    }

    /// The StatefulSet controller, in one rule: the pod follows its StatefulSet's template.
    fn roll_out(&mut self) {
        let Some((ns, app)) = self.app.clone() else {
            return;
        };
        let Some(sts) = self.get("apps/v1", &ns, "statefulsets", &app).cloned() else {
            return;
        };
        let template = &sts["spec"]["template"];
        let revision = format!(
            "{app}-{:08x}",
            crc32fast::hash(template.to_string().as_bytes())
        );
        let pod_name = format!("{app}-0");
        let current = self.get("v1", &ns, "pods", &pod_name).cloned();
        let same = current.as_ref().is_some_and(|p| {
            p["metadata"]["labels"]["controller-revision-hash"].as_str() == Some(&revision)
        });
        if same {
            return;
        }
        let mut labels = template["metadata"]["labels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        labels["controller-revision-hash"] = json!(revision);
        labels["statefulset.kubernetes.io/pod-name"] = json!(pod_name);
        let containers = template["spec"]["containers"].clone();
        let statuses: Vec<Value> = containers
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        json!({"name": c["name"], "image": c["image"], "ready": true,
                               "started": true, "restartCount": 0,
                               "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}})
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut spec = template["spec"].clone();
        if !spec.is_object() {
            spec = json!({});
        }
        spec["hostname"] = json!(pod_name);
        spec["subdomain"] = json!(format!("{app}-endpoints"));
        spec["nodeName"] = json!("charmfuzz-node");
        let pod = json!({
            "metadata": {
                "name": pod_name, "labels": labels,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                                     "name": app, "controller": true,
                                     "uid": sts["metadata"]["uid"]}],
            },
            "spec": spec,
            "status": {"phase": "Running", "podIP": "10.1.0.10", "hostIP": "10.0.0.10",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": statuses},
        });
        self.put("v1", &ns, "pods", pod);
        if let Some(s) = self.objects.get_mut(&Key {
            api: "apps/v1".into(),
            namespace: ns,
            resource: "statefulsets".into(),
            name: app,
        }) {
            s["status"]["currentRevision"] = json!(revision);
            s["status"]["updateRevision"] = json!(revision);
        }
    }
}

/// A replaced or patched object keeps its name, uid and creation time.
fn keep_identity(old: &Value, mut new: Value, name: &str) -> Value {
    if !new["metadata"].is_object() {
        new["metadata"] = json!({});
    }
    new["metadata"]["name"] = json!(name);
    for k in ["uid", "creationTimestamp"] {
        if let Some(v) = old["metadata"].get(k) {
            new["metadata"][k] = v.clone();
        }
    }
    new
}

fn parse_body(body: &[u8]) -> Option<Value> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.is_object().then_some(v)
}

/// A strategic merge patch: a JSON merge patch, except that a list of objects that all
/// have a `name` (containers, env, ports, volumes) merges item by item by name, as the
/// built-in kinds declare for those lists.
fn strategic_merge(doc: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *doc = patch.clone();
        return;
    };
    if !doc.is_object() {
        *doc = Value::Object(Map::new());
    }
    let d = doc.as_object_mut().expect("made an object");
    for (k, pv) in p {
        if k.starts_with("$") {
            continue;
        }
        if pv.is_null() {
            d.remove(k);
            continue;
        }
        let named = |v: &Value| {
            v.as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(|i| i["name"].is_string()))
        };
        match d.get_mut(k) {
            Some(dv) if named(dv) && named(pv) => {
                let items = dv.as_array_mut().expect("checked");
                for pi in pv.as_array().expect("checked") {
                    match items.iter_mut().find(|i| i["name"] == pi["name"]) {
                        Some(i) => strategic_merge(i, pi),
                        None => items.push(pi.clone()),
                    }
                }
            }
            Some(dv) if dv.is_object() && pv.is_object() => strategic_merge(dv, pv),
            _ => {
                d.insert(k.clone(), pv.clone());
            }
        }
    }
}

/// A query parameter's value, decoded.
fn query_param(query: &str, key: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Whether `obj`'s labels satisfy a label selector (`a=b,c!=d,e,!f`, `a in (x,y)`,
/// `a notin (x)`).
fn selects_labels(selector: &str, obj: &Value) -> bool {
    let labels = &obj["metadata"]["labels"];
    let label = |k: &str| labels.get(k.trim()).and_then(Value::as_str);
    split_selector(selector).iter().all(|term| {
        let term = term.trim();
        if term.is_empty() {
            return true;
        }
        if let Some((k, set)) = term.split_once(" notin ") {
            let set = set_items(set);
            return label(k).is_none_or(|v| !set.contains(&v));
        }
        if let Some((k, set)) = term.split_once(" in ") {
            let set = set_items(set);
            return label(k).is_some_and(|v| set.contains(&v));
        }
        if let Some((k, v)) = term.split_once("!=") {
            return label(k) != Some(v.trim());
        }
        if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            return label(k) == Some(v.trim());
        }
        match term.strip_prefix('!') {
            Some(k) => label(k).is_none(),
            None => label(term).is_some(),
        }
    })
}

/// Split a selector at the commas that are not inside a `( )` set.
fn split_selector(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn set_items(set: &str) -> Vec<&str> {
    set.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .collect()
}

/// Whether `obj` satisfies a field selector (`metadata.name=x`, `status.phase!=Failed`).
fn selects_fields(selector: &str, obj: &Value) -> bool {
    split_selector(selector).iter().all(|term| {
        let term = term.trim();
        if term.is_empty() {
            return true;
        }
        let (path, want, equal) = match term.split_once("!=") {
            Some((p, v)) => (p, v, false),
            None => match term.split_once("==").or_else(|| term.split_once('=')) {
                Some((p, v)) => (p, v, true),
                None => return true,
            },
        };
        let mut v = obj;
        for part in path.trim().split('.') {
            v = &v[part];
        }
        let got = match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        (got == want.trim()) == equal
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Cluster {
        Cluster::seeded(
            "model",
            "web",
            &[PodContainer {
                name: "app".into(),
                image: "app-image".into(),
            }],
        )
    }

    fn call(c: &mut Cluster, method: &str, path: &str, ct: &str, body: &str) -> Answer {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        c.handle(
            method,
            &parse_path(path).unwrap(),
            query,
            ct,
            body.as_bytes(),
        )
    }

    #[test]
    fn paths_name_group_namespace_resource_and_name() {
        let t = parse_path("/apis/apps/v1/namespaces/m/statefulsets/web/status").unwrap();
        assert_eq!(
            (t.api.as_str(), t.namespace.as_str(), t.resource.as_str()),
            ("apps/v1", "m", "statefulsets")
        );
        assert_eq!(t.name.as_deref(), Some("web"));
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = parse_path("/api/v1/namespaces/m").unwrap();
        assert_eq!(
            (t.resource.as_str(), t.name.as_deref()),
            ("namespaces", Some("m"))
        );
        let t = parse_path("/api/v1/namespaces/m/pods").unwrap();
        assert_eq!((t.resource.as_str(), t.name), ("pods", None));
        assert!(parse_path("/version").is_none());
    }

    #[test]
    fn juju_s_objects_are_there_and_others_are_not_found() {
        let mut c = cluster();
        let pod = call(&mut c, "GET", "/api/v1/namespaces/model/pods/web-0", "", "");
        assert_eq!(pod.code, 200);
        let names: Vec<_> = pod.body["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["charm", "app"]);
        assert_eq!(pod.body["kind"], "Pod");
        let svc = call(
            &mut c,
            "GET",
            "/api/v1/namespaces/model/services/web",
            "",
            "",
        );
        assert_eq!(svc.body["spec"]["ports"][0]["port"], 65535);
        let missing = call(
            &mut c,
            "GET",
            "/api/v1/namespaces/model/configmaps/x",
            "",
            "",
        );
        assert_eq!(missing.code, 404);
        assert_eq!(missing.body["reason"], "NotFound");
    }

    #[test]
    fn a_template_patch_rolls_out_to_the_pod() {
        let mut c = cluster();
        let before = c.get("v1", "model", "pods", "web-0").unwrap().clone();
        let patch = r#"{"spec":{"template":{"spec":{"containers":[
            {"name":"app","resources":{"limits":{"cpu":"2"}}}]}}}}"#;
        let a = call(
            &mut c,
            "PATCH",
            "/apis/apps/v1/namespaces/model/statefulsets/web?fieldManager=x",
            "application/strategic-merge-patch+json",
            patch,
        );
        assert_eq!(a.code, 200, "{}", a.body);
        let containers = &a.body["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers.as_array().unwrap().len(), 2, "merged by name");
        let pod = c.get("v1", "model", "pods", "web-0").unwrap();
        assert_eq!(
            pod["spec"]["containers"][1]["resources"]["limits"]["cpu"],
            "2"
        );
        assert_ne!(
            pod["metadata"]["labels"]["controller-revision-hash"],
            before["metadata"]["labels"]["controller-revision-hash"]
        );
        // A deleted pod comes back from its StatefulSet.
        let d = call(
            &mut c,
            "DELETE",
            "/api/v1/namespaces/model/pods/web-0",
            "",
            "",
        );
        assert_eq!(d.code, 200);
        assert!(c.get("v1", "model", "pods", "web-0").is_some());
    }

    #[test]
    fn create_conflicts_apply_creates_and_lists_select_by_label() {
        let mut c = cluster();
        let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg",
            "labels":{"tier":"web"}},"data":{"a":"1"}}"#;
        let path = "/api/v1/namespaces/model/configmaps";
        assert_eq!(call(&mut c, "POST", path, "application/json", cm).code, 201);
        assert_eq!(call(&mut c, "POST", path, "application/json", cm).code, 409);
        let applied = call(
            &mut c,
            "PATCH",
            "/api/v1/namespaces/model/configmaps/other?fieldManager=charm&force=true",
            "application/apply-patch+yaml",
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"},"data":{}}"#,
        );
        assert_eq!(applied.code, 201, "{}", applied.body);
        let list = call(
            &mut c,
            "GET",
            &format!("{path}?labelSelector=tier%3Dweb"),
            "",
            "",
        );
        assert_eq!(list.body["kind"], "ConfigMapList");
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
        let jp = call(
            &mut c,
            "PATCH",
            "/api/v1/namespaces/model/configmaps/cfg",
            "application/json-patch+json",
            r#"[{"op":"replace","path":"/data/a","value":"2"}]"#,
        );
        assert_eq!(jp.body["data"]["a"], "2");
        let bad = call(
            &mut c,
            "PATCH",
            "/api/v1/namespaces/model/configmaps/cfg",
            "application/json-patch+json",
            r#"[{"op":"test","path":"/data/a","value":"9"}]"#,
        );
        assert_eq!(bad.code, 422);
        let pods = call(
            &mut c,
            "GET",
            "/api/v1/namespaces/model/pods?labelSelector=app.kubernetes.io%2Fname%20in%20(web,x)",
            "",
            "",
        );
        assert_eq!(pods.body["items"].as_array().unwrap().len(), 1);
    }
}
