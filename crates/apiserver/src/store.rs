//! Object storage: every object in memory for reads, persisted to one redb file, with a
//! global resource version, and an event stream for watches.
//!
//! Writes run in a [`Tx`] under one lock, which gives each changed object the next
//! resource version. A committer thread then writes them to the database in batches (one
//! fsync for all writes waiting at that moment) and only after the commit publishes the
//! events to watchers and acknowledges the writers, so every acknowledged write survives a
//! crash and watchers see events in resource-version order.

use crate::error::{ApiError, ApiResult};
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{broadcast, oneshot};

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// How many events are kept for watches that resume from a resource version.
const HISTORY: usize = 100_000;

/// A stored object: its JSON value and serialized bytes.
#[derive(Debug)]
pub struct Obj {
    /// The object.
    pub value: Value,
    /// `value` serialized.
    pub json: Bytes,
    /// Its resource version.
    pub rv: u64,
}

impl Obj {
    fn new(value: Value, rv: u64) -> Self {
        let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        Obj { value, json, rv }
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> &str {
        self.value["metadata"]["uid"].as_str().unwrap_or_default()
    }
}

/// Watch event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A change to one object.
#[derive(Debug)]
pub struct Event {
    /// Resource version of the change.
    pub rv: u64,
    /// What happened.
    pub type_: EventType,
    /// Storage key (`group/plural/namespace/name`).
    pub key: String,
    /// The object after the change (for deletions: its last state, with the deletion's
    /// resource version).
    pub obj: Arc<Obj>,
    /// The object before the change, if it existed.
    pub prev: Option<Arc<Obj>>,
    /// The watch line `{"type":…,"object":…}\n` of this event as stored, encoded once
    /// for all watchers.
    line: std::sync::OnceLock<Bytes>,
}

impl Event {
    fn new(rv: u64, type_: EventType, key: &str, obj: Arc<Obj>, prev: Option<Arc<Obj>>) -> Event {
        Event {
            rv,
            type_,
            key: key.to_owned(),
            obj,
            prev,
            line: std::sync::OnceLock::new(),
        }
    }

    /// The watch line for a type of event, shared between watchers when the type is the
    /// event's own.
    pub fn line(&self, type_: &str) -> Bytes {
        let encode = || {
            let mut out = Vec::with_capacity(self.obj.json.len() + 32);
            out.extend_from_slice(b"{\"type\":\"");
            out.extend_from_slice(type_.as_bytes());
            out.extend_from_slice(b"\",\"object\":");
            out.extend_from_slice(&self.obj.json);
            out.extend_from_slice(b"}\n");
            Bytes::from(out)
        };
        if type_ == self.type_.as_str() {
            self.line.get_or_init(encode).clone()
        } else {
            encode()
        }
    }

    /// The storage identity (`group/plural`) of the object.
    pub fn storage(&self) -> &str {
        storage_of(&self.key)
    }
}

/// `group/plural/namespace/name`.
pub fn key(storage: &str, namespace: &str, name: &str) -> String {
    format!("{storage}/{namespace}/{name}")
}

/// The prefix of all keys of a storage identity, or of one namespace of it.
pub fn prefix(storage: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{storage}/{ns}/"),
        None => format!("{storage}/"),
    }
}

fn storage_of(key: &str) -> &str {
    // group/plural/ns/name: the storage identity is the first two segments.
    let mut idx = 0;
    for (n, (i, _)) in key.match_indices('/').enumerate() {
        if n == 1 {
            idx = i;
            break;
        }
    }
    &key[..idx]
}

struct Inner {
    rv: u64,
    objects: BTreeMap<String, Arc<Obj>>,
    by_uid: HashMap<String, String>,
    dependents: HashMap<String, BTreeSet<String>>,
}

impl Inner {
    fn index(&mut self, key: &str, obj: &Obj) {
        let uid = obj.uid();
        if !uid.is_empty() {
            self.by_uid.insert(uid.to_owned(), key.to_owned());
        }
        for owner in owner_uids(&obj.value) {
            self.dependents
                .entry(owner)
                .or_default()
                .insert(key.to_owned());
        }
    }

    fn unindex(&mut self, key: &str, obj: &Obj) {
        let uid = obj.uid();
        if self.by_uid.get(uid).map(String::as_str) == Some(key) {
            self.by_uid.remove(uid);
        }
        for owner in owner_uids(&obj.value) {
            if let Some(set) = self.dependents.get_mut(&owner) {
                set.remove(key);
                if set.is_empty() {
                    self.dependents.remove(&owner);
                }
            }
        }
    }
}

fn owner_uids(v: &Value) -> Vec<String> {
    v["metadata"]["ownerReferences"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r["uid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

enum Op {
    Put(String, Arc<Obj>),
    Delete(String),
}

struct Batch {
    ops: Vec<Op>,
    events: Vec<Arc<Event>>,
    rv: u64,
    done: oneshot::Sender<Result<(), String>>,
}

struct History {
    events: VecDeque<Arc<Event>>,
    /// Events after this resource version are all in `events`.
    compacted: u64,
    /// The last published (durable) resource version.
    published: u64,
}

/// The store.
pub struct Store {
    inner: RwLock<Inner>,
    commit_tx: Mutex<Option<std::sync::mpsc::Sender<Batch>>>,
    committer: Mutex<Option<std::thread::JoinHandle<()>>>,
    history: Arc<Mutex<History>>,
    events: broadcast::Sender<Arc<Event>>,
}

/// A pending commit: resolves when the write is durable.
pub struct Commit(Option<oneshot::Receiver<Result<(), String>>>);

impl Commit {
    /// A commit with nothing to wait for.
    pub fn none() -> Commit {
        Commit(None)
    }

    /// Waits until the write is on disk.
    pub async fn wait(self) -> ApiResult<()> {
        match self.0 {
            None => Ok(()),
            Some(rx) => match rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(ApiError::internal(format!("storage: {e}"))),
                Err(_) => Err(ApiError::internal("storage is shutting down")),
            },
        }
    }
}

/// The current objects under a prefix, and the events after them.
pub struct Snapshot {
    /// Live events (those at or below `rv` are already in `items`).
    pub live: broadcast::Receiver<Arc<Event>>,
    /// Resource version of the snapshot.
    pub rv: u64,
    /// The objects, by key.
    pub items: Vec<(String, Arc<Obj>)>,
}

/// Subscription for a watch: the events it must replay, then the live stream.
pub struct Subscription {
    /// Past events after the requested resource version.
    pub replay: Vec<Arc<Event>>,
    /// Live events.
    pub live: broadcast::Receiver<Arc<Event>>,
}

impl Store {
    /// Opens (or creates) the database file and loads every object.
    pub fn open(path: &Path) -> Result<Store, String> {
        let db = Database::create(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        let mut inner = Inner {
            rv: 0,
            objects: BTreeMap::new(),
            by_uid: HashMap::new(),
            dependents: HashMap::new(),
        };
        {
            let w = db.begin_write().map_err(|e| e.to_string())?;
            w.open_table(OBJECTS).map_err(|e| e.to_string())?;
            w.open_table(META).map_err(|e| e.to_string())?;
            w.commit().map_err(|e| e.to_string())?;
        }
        {
            let r = db.begin_read().map_err(|e| e.to_string())?;
            let meta = r.open_table(META).map_err(|e| e.to_string())?;
            if let Some(rv) = meta.get("rv").map_err(|e| e.to_string())? {
                inner.rv = rv.value();
            }
            let objects = r.open_table(OBJECTS).map_err(|e| e.to_string())?;
            for entry in objects.iter().map_err(|e| e.to_string())? {
                let (k, v) = entry.map_err(|e| e.to_string())?;
                let key = k.value().to_owned();
                let value: Value = serde_json::from_slice(v.value())
                    .map_err(|e| format!("corrupt object {key} in {}: {e}", path.display()))?;
                let rv = value["metadata"]["resourceVersion"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                inner.rv = inner.rv.max(rv);
                let obj = Arc::new(Obj {
                    json: Bytes::copy_from_slice(v.value()),
                    value,
                    rv,
                });
                inner.index(&key, &obj);
                inner.objects.insert(key, obj);
            }
        }
        let history = Arc::new(Mutex::new(History {
            events: VecDeque::new(),
            compacted: inner.rv,
            published: inner.rv,
        }));
        let (events, _) = broadcast::channel(1 << 16);
        let (tx, rx) = std::sync::mpsc::channel::<Batch>();
        let hist = history.clone();
        let ev = events.clone();
        let committer = std::thread::Builder::new()
            .name("apiserver-commit".into())
            .spawn(move || commit_loop(db, rx, hist, ev))
            .map_err(|e| e.to_string())?;
        Ok(Store {
            inner: RwLock::new(inner),
            commit_tx: Mutex::new(Some(tx)),
            committer: Mutex::new(Some(committer)),
            history,
            events,
        })
    }

    /// The current resource version.
    #[cfg(test)]
    pub fn rv(&self) -> u64 {
        self.inner.read().rv
    }

    /// The last durable resource version (for watch bookmarks).
    pub fn published_rv(&self) -> u64 {
        self.history.lock().published
    }

    /// One object.
    pub fn get(&self, key: &str) -> Option<Arc<Obj>> {
        self.inner.read().objects.get(key).cloned()
    }

    /// The object with a uid, and its key.
    pub fn by_uid(&self, uid: &str) -> Option<(String, Arc<Obj>)> {
        let inner = self.inner.read();
        let key = inner.by_uid.get(uid)?;
        inner.objects.get(key).map(|o| (key.clone(), o.clone()))
    }

    /// Keys of objects with an owner reference to a uid.
    pub fn dependents(&self, owner_uid: &str) -> Vec<String> {
        self.inner
            .read()
            .dependents
            .get(owner_uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// All objects under a key prefix, in key order, with the resource version of the
    /// snapshot.
    pub fn list(&self, prefix: &str) -> (u64, Vec<(String, Arc<Obj>)>) {
        let inner = self.inner.read();
        let items = inner
            .objects
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (inner.rv, items)
    }

    /// Runs a write transaction. On success the changes are visible at once and the
    /// returned [`Commit`] resolves when they are durable; on error nothing changed.
    pub fn write<T>(&self, f: impl FnOnce(&mut Tx) -> ApiResult<T>) -> ApiResult<(T, Commit)> {
        let mut inner = self.inner.write();
        let mut tx = Tx {
            base: &inner,
            next_rv: inner.rv,
            overlay: BTreeMap::new(),
            events: Vec::new(),
        };
        let out = f(&mut tx)?;
        let Tx {
            next_rv,
            overlay,
            events,
            ..
        } = tx;
        if events.is_empty() {
            return Ok((out, Commit(None)));
        }
        let mut ops = Vec::with_capacity(overlay.len());
        for (key, change) in overlay {
            if let Some(old) = inner.objects.get(&key).cloned() {
                inner.unindex(&key, &old);
            }
            match change {
                Some(obj) => {
                    inner.index(&key, &obj);
                    inner.objects.insert(key.clone(), obj.clone());
                    ops.push(Op::Put(key, obj));
                }
                None => {
                    inner.objects.remove(&key);
                    ops.push(Op::Delete(key));
                }
            }
        }
        inner.rv = next_rv;
        let (done, rx) = oneshot::channel();
        let batch = Batch {
            ops,
            events,
            rv: next_rv,
            done,
        };
        // Sent under the lock so the committer receives batches in resource-version order.
        let sent = self
            .commit_tx
            .lock()
            .as_ref()
            .map(|tx| tx.send(batch).is_ok())
            .unwrap_or(false);
        if !sent {
            return Err(ApiError::internal("storage is shutting down"));
        }
        Ok((out, Commit(Some(rx))))
    }

    /// Subscribes to events after `after_rv`. Fails with 410 when events after that
    /// version are no longer kept.
    pub fn subscribe(&self, after_rv: u64) -> ApiResult<Subscription> {
        let history = self.history.lock();
        if after_rv < history.compacted {
            return Err(ApiError::expired(format!(
                "too old resource version: {after_rv} ({})",
                history.compacted
            )));
        }
        let live = self.events.subscribe();
        let replay = history
            .events
            .iter()
            .filter(|e| e.rv > after_rv)
            .cloned()
            .collect();
        Ok(Subscription { replay, live })
    }

    /// Subscribes to live events only, together with a snapshot of the objects under a
    /// prefix (for watches that start with the current state). Events with a resource
    /// version at or below the snapshot's are already reflected in it.
    pub fn subscribe_with_snapshot(&self, prefix: &str) -> Snapshot {
        let _history = self.history.lock();
        let live = self.events.subscribe();
        let (rv, items) = self.list(prefix);
        Snapshot { live, rv, items }
    }

    /// Stops the committer after it has written everything pending.
    pub fn close(&self) {
        self.commit_tx.lock().take();
        if let Some(h) = self.committer.lock().take() {
            let _ = h.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

fn commit_loop(
    db: Database,
    rx: std::sync::mpsc::Receiver<Batch>,
    history: Arc<Mutex<History>>,
    events: broadcast::Sender<Arc<Event>>,
) {
    while let Ok(first) = rx.recv() {
        let mut batches = vec![first];
        while batches.len() < 1024 {
            match rx.try_recv() {
                Ok(b) => batches.push(b),
                Err(_) => break,
            }
        }
        let result = persist(&db, &batches);
        if result.is_ok() {
            let mut h = history.lock();
            if let Some(last) = batches.last() {
                h.published = last.rv;
            }
            for b in &batches {
                for e in &b.events {
                    h.events.push_back(e.clone());
                    // No receivers is fine: nobody watches.
                    let _ = events.send(e.clone());
                }
            }
            while h.events.len() > HISTORY {
                if let Some(e) = h.events.pop_front() {
                    h.compacted = e.rv;
                }
            }
        } else if let Err(e) = &result {
            tracing::error!(error = %e, "storage commit failed");
        }
        for b in batches {
            let _ = b.done.send(result.clone());
        }
    }
}

fn persist(db: &Database, batches: &[Batch]) -> Result<(), String> {
    let w = db.begin_write().map_err(|e| e.to_string())?;
    {
        let mut objects = w.open_table(OBJECTS).map_err(|e| e.to_string())?;
        for b in batches {
            for op in &b.ops {
                match op {
                    Op::Put(k, obj) => {
                        objects
                            .insert(k.as_str(), obj.json.as_ref())
                            .map_err(|e| e.to_string())?;
                    }
                    Op::Delete(k) => {
                        objects.remove(k.as_str()).map_err(|e| e.to_string())?;
                    }
                }
            }
        }
        let mut meta = w.open_table(META).map_err(|e| e.to_string())?;
        if let Some(last) = batches.last() {
            meta.insert("rv", last.rv).map_err(|e| e.to_string())?;
        }
    }
    w.commit().map_err(|e| e.to_string())
}

/// A write transaction: changes are buffered and applied together when it succeeds.
pub struct Tx<'a> {
    base: &'a Inner,
    next_rv: u64,
    overlay: BTreeMap<String, Option<Arc<Obj>>>,
    events: Vec<Arc<Event>>,
}

impl Tx<'_> {
    /// The current state of an object, including this transaction's changes.
    pub fn get(&self, key: &str) -> Option<Arc<Obj>> {
        match self.overlay.get(key) {
            Some(change) => change.clone(),
            None => self.base.objects.get(key).cloned(),
        }
    }

    /// The resource version the next change will get.
    pub fn peek_rv(&self) -> u64 {
        self.next_rv + 1
    }

    /// Stores an object, giving it the next resource version (written into
    /// `metadata.resourceVersion`).
    pub fn put(&mut self, key: &str, mut value: Value) -> Arc<Obj> {
        self.next_rv += 1;
        let rv = self.next_rv;
        if let Some(m) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let prev = self.get(key);
        let obj = Arc::new(Obj::new(value, rv));
        self.overlay.insert(key.to_owned(), Some(obj.clone()));
        let type_ = if prev.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.events
            .push(Arc::new(Event::new(rv, type_, key, obj.clone(), prev)));
        obj
    }

    /// Removes an object; the DELETED event carries its last state with a new resource
    /// version.
    pub fn delete(&mut self, key: &str) -> Option<Arc<Obj>> {
        let old = self.get(key)?;
        self.next_rv += 1;
        let rv = self.next_rv;
        let mut last = old.value.clone();
        if let Some(m) = last.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let obj = Arc::new(Obj::new(last, rv));
        self.overlay.insert(key.to_owned(), None);
        self.events.push(Arc::new(Event::new(
            rv,
            EventType::Deleted,
            key,
            obj.clone(),
            Some(old),
        )));
        Some(obj)
    }

    /// Keys of objects under a prefix, including this transaction's changes.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut keys: BTreeSet<String> = self
            .base
            .objects
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for (k, change) in &self.overlay {
            if k.starts_with(prefix) {
                if change.is_some() {
                    keys.insert(k.clone());
                } else {
                    keys.remove(k);
                }
            }
        }
        keys.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default", "uid": name}})
    }

    #[tokio::test]
    async fn writes_persist_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let store = Store::open(&path).unwrap();
            let mut sub = store.subscribe(0).unwrap();
            let (_, commit) = store
                .write(|tx| {
                    tx.put(&key("/configmaps", "default", "a"), cm("a"));
                    tx.put(&key("/configmaps", "default", "b"), cm("b"));
                    Ok(())
                })
                .unwrap();
            commit.wait().await.unwrap();
            let (_, commit) = store
                .write(|tx| {
                    tx.delete(&key("/configmaps", "default", "a"));
                    Ok(())
                })
                .unwrap();
            commit.wait().await.unwrap();
            let types: Vec<_> = (0..3)
                .map(|_| sub.live.try_recv().unwrap())
                .map(|e| (e.rv, e.type_))
                .collect();
            assert_eq!(
                types,
                [
                    (1, EventType::Added),
                    (2, EventType::Added),
                    (3, EventType::Deleted)
                ]
            );
            assert_eq!(store.rv(), 3);
            store.close();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.rv(), 3);
        let (_, items) = store.list(&prefix("/configmaps", None));
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].1.value["metadata"]["resourceVersion"], "2");
        assert!(store.by_uid("b").is_some());
        assert!(matches!(store.subscribe(1), Err(e) if e.code == 410));
    }

    #[test]
    fn failed_transactions_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let r: ApiResult<((), Commit)> = store.write(|tx| {
            tx.put(&key("/configmaps", "default", "a"), cm("a"));
            Err(ApiError::bad_request("no"))
        });
        assert!(r.is_err());
        assert_eq!(store.rv(), 0);
        assert!(store.get(&key("/configmaps", "default", "a")).is_none());
    }

    #[test]
    fn storage_of_keys() {
        assert_eq!(
            storage_of("apps/deployments/default/web"),
            "apps/deployments"
        );
        assert_eq!(storage_of("/namespaces//default"), "/namespaces");
    }
}
