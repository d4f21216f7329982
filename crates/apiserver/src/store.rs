//! Object storage: every object in memory for reads, persisted to one redb file, with a
//! global resource version, and an event stream for watches.
//!
//! Writes run in a [`Tx`] under one lock, which gives each changed object the next
//! resource version. A committer thread then makes them durable in groups (all writes
//! waiting at that moment) and only then publishes the events to watchers and
//! acknowledges the writers, so watchers see events in resource-version order and every
//! acknowledged write survives the server's crash. How durable is the [`Durability`]:
//! - [`Durability::Fsync`]: each group is committed to the database with an fsync before
//!   the acknowledgement (survives power loss; a group commit costs one fsync).
//! - [`Durability::Os`] (default): each group is appended to a write-ahead log before the
//!   acknowledgement (in the operating system's hands: survives `kill -9` and any crash
//!   of the server), and the database is committed with an fsync at most 100 ms later,
//!   after which the log is emptied. A machine crash loses at most those 100 ms, never
//!   consistency: the log's records carry checksums and a torn tail is discarded.

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

/// How long acknowledged writes may stay only in the write-ahead log ([`Durability::Os`]).
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// Flush earlier when this many changes are pending.
const FLUSH_OPS: usize = 20_000;

/// When an acknowledged write is on disk (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Written to a write-ahead log before the acknowledgement, fsynced within 100 ms.
    #[default]
    Os,
    /// Committed with an fsync before the acknowledgement.
    Fsync,
}
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// How many events are kept for watches that resume from a resource version.
const HISTORY: usize = 100_000;

/// At most this much JSON of objects is kept in those events: every version of a large
/// object written over and over would otherwise stay in memory (a watch that falls
/// further behind gets 410 and lists again, as from the real server's watch cache).
const HISTORY_BYTES: usize = 32 * 1024 * 1024;

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
    /// Bytes of JSON of the objects of `events`.
    bytes: usize,
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
    /// Opens (or creates) the database file (and its write-ahead log, `<path>.wal`),
    /// recovers what the log holds, and loads every object.
    pub fn open(path: &Path, durability: Durability) -> Result<Store, String> {
        let db = Database::create(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        let wal_path = path.with_extension("wal");
        let wal = recover_wal(&db, &wal_path)?;
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
            bytes: 0,
            published: inner.rv,
        }));
        let (events, _) = broadcast::channel(1 << 16);
        let (tx, rx) = std::sync::mpsc::channel::<Batch>();
        let hist = history.clone();
        let ev = events.clone();
        let committer = std::thread::Builder::new()
            .name("apiserver-commit".into())
            .spawn(move || {
                let wal = (durability == Durability::Os).then_some(wal);
                commit_loop(db, wal, rx, hist, ev)
            })
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
    mut wal: Option<std::fs::File>,
    rx: std::sync::mpsc::Receiver<Batch>,
    history: Arc<Mutex<History>>,
    events: broadcast::Sender<Arc<Event>>,
) {
    use std::sync::mpsc::RecvTimeoutError;
    // Changes acknowledged through the log and not yet in the database.
    let mut pending: Vec<Op> = Vec::new();
    let mut pending_rv = 0u64;
    let mut pending_since: Option<std::time::Instant> = None;
    let mut open = true;
    while open {
        let first = match pending_since {
            None => rx.recv().ok(),
            Some(since) => match rx.recv_timeout(FLUSH_EVERY.saturating_sub(since.elapsed())) {
                Ok(b) => Some(b),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    None
                }
            },
        };
        if first.is_none() && pending_since.is_none() {
            break; // the channel closed with nothing pending
        }
        if let Some(first) = first {
            let mut batches = vec![first];
            while batches.len() < 1024 {
                match rx.try_recv() {
                    Ok(b) => batches.push(b),
                    Err(_) => break,
                }
            }
            let result = match wal.as_mut() {
                Some(file) => append_wal(file, &batches),
                None => persist(
                    &db,
                    batches.iter().flat_map(|b| b.ops.iter()),
                    batches.last().map(|b| b.rv),
                ),
            };
            if result.is_ok() {
                let mut h = history.lock();
                if let Some(last) = batches.last() {
                    h.published = last.rv;
                }
                for b in &batches {
                    for e in &b.events {
                        h.bytes += e.obj.json.len();
                        h.events.push_back(e.clone());
                        // No receivers is fine: nobody watches.
                        let _ = events.send(e.clone());
                    }
                }
                while h.events.len() > HISTORY || h.bytes > HISTORY_BYTES {
                    match h.events.pop_front() {
                        Some(e) => {
                            h.bytes = h.bytes.saturating_sub(e.obj.json.len());
                            h.compacted = e.rv;
                        }
                        None => {
                            h.bytes = 0;
                            break;
                        }
                    }
                }
            } else if let Err(e) = &result {
                tracing::error!(error = %e, "storage commit failed");
            }
            for b in batches {
                if wal.is_some() && result.is_ok() {
                    pending_rv = b.rv;
                    pending.extend(b.ops);
                    pending_since.get_or_insert_with(std::time::Instant::now);
                }
                let _ = b.done.send(result.clone());
            }
        }
        let due = pending_since.is_some_and(|t| t.elapsed() >= FLUSH_EVERY)
            || pending.len() >= FLUSH_OPS
            || !open;
        if due && !pending.is_empty() {
            match persist(&db, pending.iter(), Some(pending_rv)) {
                Ok(()) => {
                    pending.clear();
                    pending_since = None;
                    if let Some(file) = wal.as_mut()
                        && let Err(e) = file.set_len(0)
                    {
                        tracing::error!(error = %e, "emptying the write-ahead log failed");
                    }
                }
                // The log still holds everything; try again at the next period.
                Err(e) => {
                    tracing::error!(error = %e, "storage flush failed");
                    pending_since = Some(std::time::Instant::now());
                }
            }
        }
        if !open && pending.is_empty() {
            break;
        }
    }
}

fn persist<'a>(
    db: &Database,
    ops: impl Iterator<Item = &'a Op>,
    rv: Option<u64>,
) -> Result<(), String> {
    let w = db.begin_write().map_err(|e| e.to_string())?;
    {
        let mut objects = w.open_table(OBJECTS).map_err(|e| e.to_string())?;
        for op in ops {
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
        let mut meta = w.open_table(META).map_err(|e| e.to_string())?;
        if let Some(rv) = rv {
            meta.insert("rv", rv).map_err(|e| e.to_string())?;
        }
    }
    w.commit().map_err(|e| e.to_string())
}

/// Appends one log record for a group of batches: `len u32, crc32 u32, payload` where the
/// payload is `rv u64, count u32` and per change `1 (put) | 2 (delete), key, [value]`
/// (byte strings as `len u32, bytes`), little-endian.
fn append_wal(file: &mut std::fs::File, batches: &[Batch]) -> Result<(), String> {
    use std::io::Write;
    let rv = batches.last().map_or(0, |b| b.rv);
    let count: usize = batches.iter().map(|b| b.ops.len()).sum();
    let mut payload = Vec::with_capacity(64 + count * 512);
    payload.extend_from_slice(&rv.to_le_bytes());
    payload.extend_from_slice(&(count as u32).to_le_bytes());
    let bytes = |payload: &mut Vec<u8>, b: &[u8]| {
        payload.extend_from_slice(&(b.len() as u32).to_le_bytes());
        payload.extend_from_slice(b);
    };
    for op in batches.iter().flat_map(|b| b.ops.iter()) {
        match op {
            Op::Put(k, obj) => {
                payload.push(1);
                bytes(&mut payload, k.as_bytes());
                bytes(&mut payload, &obj.json);
            }
            Op::Delete(k) => {
                payload.push(2);
                bytes(&mut payload, k.as_bytes());
            }
        }
    }
    let mut record = Vec::with_capacity(payload.len() + 8);
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    record.extend_from_slice(&payload);
    // A failed append must not leave a torn record in front of later ones (replay stops
    // at the first bad record): cut the file back to where it was.
    let before = file
        .metadata()
        .map_err(|e| format!("write-ahead log: {e}"))?
        .len();
    file.write_all(&record).map_err(|e| {
        let _ = file.set_len(before);
        format!("write-ahead log: {e}")
    })
}

/// One change read back from the log.
enum WalOp {
    Put(String, Vec<u8>),
    Delete(String),
}

/// Parses the log's records; stops at the first incomplete or corrupt one (a torn tail).
fn parse_wal(data: &[u8]) -> Vec<(u64, Vec<WalOp>)> {
    fn take<'a>(d: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if d.len() < n {
            return None;
        }
        let (a, b) = d.split_at(n);
        *d = b;
        Some(a)
    }
    fn u32le(d: &mut &[u8]) -> Option<u32> {
        take(d, 4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
    }
    fn record(mut p: &[u8]) -> Option<(u64, Vec<WalOp>)> {
        let rv = u64::from_le_bytes(take(&mut p, 8)?.try_into().ok()?);
        let count = u32le(&mut p)? as usize;
        let mut ops = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            let tag = take(&mut p, 1)?[0];
            let n = u32le(&mut p)? as usize;
            let key = String::from_utf8(take(&mut p, n)?.to_vec()).ok()?;
            match tag {
                1 => {
                    let n = u32le(&mut p)? as usize;
                    ops.push(WalOp::Put(key, take(&mut p, n)?.to_vec()));
                }
                2 => ops.push(WalOp::Delete(key)),
                _ => return None,
            }
        }
        p.is_empty().then_some((rv, ops))
    }
    let mut out = Vec::new();
    let mut d = data;
    while !d.is_empty() {
        let Some(len) = u32le(&mut d) else { break };
        let Some(crc) = u32le(&mut d) else { break };
        let Some(payload) = take(&mut d, len as usize) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Some(rec) = record(payload) else { break };
        out.push(rec);
    }
    out
}

/// Replays the write-ahead log into the database (records newer than its resource
/// version), commits with an fsync, empties the log and returns it open for appending.
fn recover_wal(db: &Database, path: &Path) -> Result<std::fs::File, String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    if !data.is_empty() {
        let stored = {
            let r = db.begin_read().map_err(|e| e.to_string())?;
            match r.open_table(META) {
                Ok(meta) => meta
                    .get("rv")
                    .map_err(|e| e.to_string())?
                    .map_or(0, |v| v.value()),
                Err(_) => 0,
            }
        };
        let records = parse_wal(&data);
        let w = db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut objects = w.open_table(OBJECTS).map_err(|e| e.to_string())?;
            let mut meta = w.open_table(META).map_err(|e| e.to_string())?;
            for (rv, ops) in records.iter().filter(|(rv, _)| *rv > stored) {
                for op in ops {
                    match op {
                        WalOp::Put(k, v) => {
                            objects
                                .insert(k.as_str(), v.as_slice())
                                .map_err(|e| e.to_string())?;
                        }
                        WalOp::Delete(k) => {
                            objects.remove(k.as_str()).map_err(|e| e.to_string())?;
                        }
                    }
                }
                meta.insert("rv", *rv).map_err(|e| e.to_string())?;
            }
        }
        w.commit().map_err(|e| e.to_string())?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    file.set_len(0)
        .map_err(|e| format!("emptying {}: {e}", path.display()))?;
    Ok(file)
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
        for durability in [Durability::Os, Durability::Fsync] {
            writes_persist_and_reload_with(durability).await;
        }
    }

    async fn writes_persist_and_reload_with(durability: Durability) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let store = Store::open(&path, durability).unwrap();
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
        let store = Store::open(&path, durability).unwrap();
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
        let store = Store::open(&dir.path().join("s.redb"), Durability::Os).unwrap();
        let r: ApiResult<((), Commit)> = store.write(|tx| {
            tx.put(&key("/configmaps", "default", "a"), cm("a"));
            Err(ApiError::bad_request("no"))
        });
        assert!(r.is_err());
        assert_eq!(store.rv(), 0);
        assert!(store.get(&key("/configmaps", "default", "a")).is_none());
    }

    fn batch(rv: u64, ops: Vec<Op>) -> Batch {
        Batch {
            ops,
            events: Vec::new(),
            rv,
            done: oneshot::channel().0,
        }
    }

    fn put(name: &str, rv: u64) -> Op {
        let mut v = cm(name);
        v["metadata"]["resourceVersion"] = json!(rv.to_string());
        Op::Put(
            key("/configmaps", "default", name),
            Arc::new(Obj::new(v, rv)),
        )
    }

    /// What a crash leaves: acknowledged groups only in the log (one of them already in
    /// the database), then a torn record. Reopening replays the log, skips what the
    /// database has and the torn tail, and empties the log.
    #[test]
    fn log_replay_after_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let wal_path = path.with_extension("wal");
        {
            let db = Database::create(&path).unwrap();
            // The database already has rv 1 (flushed before the crash).
            persist(&db, [put("a", 1)].iter(), Some(1)).unwrap();
            let mut wal = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&wal_path)
                .unwrap();
            append_wal(&mut wal, &[batch(1, vec![put("a", 1)])]).unwrap();
            append_wal(
                &mut wal,
                &[
                    batch(2, vec![put("b", 2)]),
                    batch(3, vec![Op::Delete(key("/configmaps", "default", "a"))]),
                ],
            )
            .unwrap();
            append_wal(&mut wal, &[batch(4, vec![put("c", 4)])]).unwrap();
            // Tear the last record.
            let len = wal.metadata().unwrap().len();
            wal.set_len(len - 3).unwrap();
        }
        let store = Store::open(&path, Durability::Os).unwrap();
        assert_eq!(store.rv(), 3);
        assert!(store.get(&key("/configmaps", "default", "a")).is_none());
        assert!(store.get(&key("/configmaps", "default", "b")).is_some());
        assert!(store.get(&key("/configmaps", "default", "c")).is_none());
        assert_eq!(std::fs::metadata(&wal_path).unwrap().len(), 0);
        store.close();
        // A corrupt record stops the replay at that record.
        let mut data = Vec::new();
        {
            let mut f = tempfile::tempfile().unwrap();
            append_wal(&mut f, &[batch(9, vec![put("x", 9)])]).unwrap();
            use std::io::{Read, Seek};
            f.rewind().unwrap();
            f.read_to_end(&mut data).unwrap();
        }
        assert_eq!(parse_wal(&data).len(), 1);
        let last = data.len() - 1;
        data[last] ^= 0xff;
        assert!(parse_wal(&data).is_empty());
        assert!(parse_wal(&[1, 2, 3]).is_empty());
    }

    #[tokio::test]
    async fn log_mode_flushes_to_the_database_within_the_period() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let store = Store::open(&path, Durability::Os).unwrap();
        let (_, commit) = store
            .write(|tx| {
                tx.put(&key("/configmaps", "default", "a"), cm("a"));
                Ok(())
            })
            .unwrap();
        commit.wait().await.unwrap();
        let wal = path.with_extension("wal");
        assert!(
            std::fs::metadata(&wal).unwrap().len() > 0,
            "acknowledged from the log"
        );
        tokio::time::sleep(FLUSH_EVERY * 4).await;
        assert_eq!(
            std::fs::metadata(&wal).unwrap().len(),
            0,
            "flushed and emptied"
        );
        store.close();
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
