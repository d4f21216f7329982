//! Parsing a chart's templates on another thread while its values are coalesced and
//! validated.
//!
//! Templates parse without values, so `helm template` hands every template to a worker as
//! soon as the chart's files are read ([`ParseAhead::start_files`]), and
//! [`crate::render_chart`] given a loaded chart does so before anything else
//! ([`ParseAhead::start`]); values are read, dependencies processed, values coalesced and
//! checked against the schema meanwhile. The render thread then parses whatever the worker
//! has not reached yet itself, and takes the trees. The work is speculative and never reports
//! anything: a result counts only when the render asks for that template name *and* that
//! file's text, so a subchart renamed by an alias is parsed again under its new name, and a
//! disabled subchart's templates (and their errors) are ignored, as Helm never parses them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use crate::chart::{Chart, File};
use crate::render::{chart_path, engine_loads};
use crate::template::exec::FastMap;
use crate::template::{ParseError, Tree};

/// One template file parsed: its own tree and the trees of the `define`s in it.
pub(crate) type Parsed = Result<(Tree, Vec<Tree>), ParseError>;

/// Below this many bytes of templates a thread costs more than it saves.
const MIN_BYTES: usize = 16 * 1024;

/// The stack of a parsing thread: parsing recurses on nested actions, like rendering
/// (whose thread has as much).
const STACK: usize = 512 << 20;

struct Job {
    name: String,
    data: Arc<[u8]>,
}

struct Queue {
    /// The templates to parse, largest first, once listed.
    jobs: OnceLock<Vec<Job>>,
    next: AtomicUsize,
}

impl Queue {
    /// A queue of `jobs`, largest first, so that the last ones taken are short.
    fn new(mut jobs: Vec<Job>) -> Queue {
        jobs.sort_by_key(|j| std::cmp::Reverse(j.data.len()));
        Queue {
            jobs: OnceLock::from(jobs),
            next: AtomicUsize::new(0),
        }
    }

    /// The jobs, once listed (by the worker, for [`ParseAhead::start_files`]).
    fn jobs(&self) -> &[Job] {
        self.jobs.wait()
    }

    /// Parses jobs until none is left, on the calling thread.
    fn drain(&self) -> Batch {
        let jobs = self.jobs();
        let funcs = crate::funcs::func_map();
        let has = |n: &str| crate::template::exec::is_function(&funcs, n);
        let mut done = Vec::new();
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(i) else { break };
            done.push((i, crate::template::parse_shared(&job.name, &job.data, &has)));
        }
        Batch(done)
    }
}

/// Parse results made on one thread, handed whole to another.
struct Batch(Vec<(usize, Parsed)>);

// SAFETY: the trees hold `Rc`s, which must never be used from two threads at once. Every
// `Rc` in a batch was created by the `parse` calls that made it, and `parse` keeps no clone
// of any (no cache, no global, nothing shared between calls); those of one file's trees are
// shared only among those trees, which travel together. Sending a batch therefore moves
// every owner of those reference counts to the receiving thread at once, and the sending
// thread never touches them again.
unsafe impl Send for Batch {}

/// Templates being parsed ahead of a render.
pub(crate) struct ParseAhead {
    queue: Arc<Queue>,
    worker: Option<JoinHandle<Batch>>,
}

/// Templates parsed ahead, by template name, each with the text it was parsed from.
pub(crate) struct Ready(FastMap<String, (Arc<[u8]>, Parsed)>);

impl Ready {
    /// The parse of template `name` from `data`, when it was parsed ahead from that text.
    pub(crate) fn take(&mut self, name: &str, data: &Arc<[u8]>) -> Option<Parsed> {
        match self.0.remove(name) {
            Some((text, parsed)) if Arc::ptr_eq(&text, data) => Some(parsed),
            _ => None,
        }
    }
}

impl ParseAhead {
    /// Starts parsing the templates of `chart` (and its subcharts, under their own names)
    /// on a worker thread; nothing is started for a small chart or on a single core.
    pub(crate) fn start(chart: &Chart) -> ParseAhead {
        let mut jobs = Vec::new();
        list(chart, "", &mut jobs);
        if !(enough_text(jobs.iter().map(|j| j.data.len()).sum()) && cores_to_spare()) {
            jobs.clear();
        }
        Self::spawn(Queue::new(jobs))
    }

    /// Starts parsing the templates among a chart's files (paths from its root, as read,
    /// before the chart is built from them), under the names their `Chart.yaml`s give.
    /// Subcharts packed as archives are left to the render.
    ///
    /// The worker reads the `Chart.yaml`s and lists the templates itself, so the caller goes
    /// on building the chart at once.
    pub(crate) fn start_files(files: &[File]) -> ParseAhead {
        // (no need to read the Chart.yaml files for a chart too small to gain from it)
        let templates = files
            .iter()
            .filter(|f| f.name.starts_with("templates/") || f.name.contains("/templates/"))
            .map(|f| f.data.len() as usize);
        if !(enough_text(templates.sum()) && cores_to_spare()) {
            return Self::spawn(Queue::new(Vec::new()));
        }
        let files = files.to_vec();
        let queue = Queue {
            jobs: OnceLock::new(),
            next: AtomicUsize::new(0),
        };
        Self::spawn_listing(queue, move |jobs| {
            list_files(
                files.iter().map(|f| (f.name.as_str(), f)).collect(),
                "",
                jobs,
            );
            if !enough_text(jobs.iter().map(|j| j.data.len()).sum()) {
                jobs.clear();
            }
        })
    }

    /// Starts the worker on `queue` (none for no jobs).
    fn spawn(queue: Queue) -> ParseAhead {
        if queue.jobs().is_empty() {
            return ParseAhead {
                queue: Arc::new(queue),
                worker: None,
            };
        }
        Self::spawn_listing(queue, |_| {})
    }

    /// Starts the worker, which lists the jobs with `list` when the queue has none yet,
    /// then parses. The jobs are published even if listing fails, so the render thread
    /// never waits for them in vain.
    fn spawn_listing(
        queue: Queue,
        list: impl FnOnce(&mut Vec<Job>) + Send + 'static,
    ) -> ParseAhead {
        /// Publishes the jobs listed so far when dropped (also when unwinding).
        struct Publish<'a>(&'a Queue, Vec<Job>);
        impl Drop for Publish<'_> {
            fn drop(&mut self) {
                let mut jobs = std::mem::take(&mut self.1);
                jobs.sort_by_key(|j| std::cmp::Reverse(j.data.len()));
                let _ = self.0.jobs.set(jobs);
            }
        }
        let queue = Arc::new(queue);
        let q = queue.clone();
        let builder = std::thread::Builder::new()
            .name("template-parse".into())
            .stack_size(STACK);
        let worker = spawn_elsewhere(builder, move || {
            if q.jobs.get().is_none() {
                let mut publish = Publish(&q, Vec::new());
                list(&mut publish.1);
            }
            q.drain()
        });
        match worker {
            Ok(w) => ParseAhead {
                queue,
                worker: Some(w),
            },
            // no worker: nothing parsed ahead (the render parses everything)
            Err(_) => ParseAhead {
                queue: Arc::new(Queue::new(Vec::new())),
                worker: None,
            },
        }
    }

    /// Parses on the calling thread whatever the worker has not taken, waits for the
    /// worker and returns everything parsed. A worker that failed leaves its templates out
    /// (the render parses them itself).
    pub(crate) fn finish(mut self) -> Ready {
        let mut batches = vec![self.queue.drain()];
        if let Some(Ok(b)) = self.worker.take().map(JoinHandle::join) {
            batches.push(b);
        }
        let mut jobs: Vec<Option<&Job>> = self.queue.jobs().iter().map(Some).collect();
        let mut ready = FastMap::default();
        ready.reserve(jobs.len());
        for Batch(done) in batches {
            for (i, parsed) in done {
                if let Some(job) = jobs.get_mut(i).and_then(Option::take) {
                    ready.insert(job.name.clone(), (job.data.clone(), parsed));
                }
            }
        }
        Ready(ready)
    }
}

impl Drop for ParseAhead {
    /// A render that fails before it needs the trees stops the worker after its current
    /// file.
    fn drop(&mut self) {
        // (the jobs may not be listed yet: no index reaches this one)
        self.queue.next.store(usize::MAX / 2, Ordering::Relaxed);
    }
}

/// Whether this many bytes of templates are enough to gain from parsing on another thread.
fn enough_text(bytes: usize) -> bool {
    bytes >= MIN_BYTES
}

/// Whether the process may use more than one core (asked once per render: it reads the
/// cgroup's limits).
fn cores_to_spare() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// Every template the engine would parse for `chart`, under the names the chart has now.
fn list(c: &Chart, parent: &str, out: &mut Vec<Job>) {
    let path = chart_path(parent, c.name());
    for d in &c.dependencies {
        list(d, &path, out);
    }
    for t in c
        .templates
        .iter()
        .filter(|t| engine_loads(c.is_library(), &t.name))
    {
        // (templates are always read at load)
        if let Ok(data) = t.data.bytes() {
            out.push(Job {
                name: format!("{path}/{}", t.name),
                data: data.clone(),
            });
        }
    }
}

/// Every template among the files of a chart not built yet, as [`list`] names them, from the
/// `Chart.yaml`s among them; a chart whose `Chart.yaml` does not read contributes nothing.
fn list_files(files: Vec<(&str, &File)>, parent: &str, out: &mut Vec<Job>) {
    let Some(meta) = files
        .iter()
        .find(|(n, _)| *n == "Chart.yaml")
        .and_then(|(_, f)| crate::chart::parse_metadata(f.data.bytes().ok()?).ok())
    else {
        return;
    };
    let path = chart_path(parent, &meta.name);
    let library = meta.chart_type == "library";
    let mut subcharts: std::collections::BTreeMap<&str, Vec<(&str, &File)>> = Default::default();
    for (name, f) in files {
        if name.starts_with("templates/") {
            if engine_loads(library, name)
                && let Ok(data) = f.data.bytes()
            {
                out.push(Job {
                    name: format!("{path}/{name}"),
                    data: data.clone(),
                });
            }
        } else if let Some((dir, rest)) =
            name.strip_prefix("charts/").and_then(|r| r.split_once('/'))
            && !dir.starts_with(['.', '_'])
        {
            subcharts.entry(dir).or_default().push((rest, f));
        }
    }
    for (_, files) in subcharts {
        list_files(files, &path, out);
    }
}

/// Spawns `f` on a thread that starts on another core than the calling thread's.
///
/// Linux queues a new thread on its parent's core, and an idle core takes it over only at
/// its next load-balancing tick, milliseconds later: about as long as the work the thread
/// is meant to overlap. So the thread is pinned to another of the process's cores before
/// it first runs, and once it runs it takes back all the cores the process may use.
#[cfg(target_os = "linux")]
fn spawn_elsewhere<T: Send + 'static>(
    builder: std::thread::Builder,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<JoinHandle<T>> {
    use std::os::unix::thread::JoinHandleExt;
    use std::sync::atomic::AtomicBool;
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: cpu_set_t is plain bits; sched_getaffinity and sched_getcpu only write to
    // what they are given.
    let (allowed, here) = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let ok = libc::sched_getaffinity(0, size, &mut set) == 0;
        (ok.then_some(set), libc::sched_getcpu())
    };
    let Some(allowed) = allowed else {
        return builder.spawn(f);
    };
    let other = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: CPU_ISSET reads one bit of a set within its size.
        .find(|&c| c as i32 != here && unsafe { libc::CPU_ISSET(c, &allowed) });
    let pinned = Arc::new(AtomicBool::new(false));
    let seen = pinned.clone();
    let handle = builder.spawn(move || {
        // the pinning below happens right after the spawn; wait for it so that it is not
        // made after the thread has unpinned itself
        while !seen.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        // SAFETY: sets this thread's own affinity from a valid set.
        unsafe { libc::sched_setaffinity(0, size, &allowed) };
        f()
    })?;
    if let Some(c) = other {
        // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET sets a bit within it; the
        // thread handle is alive for the call.
        unsafe {
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(c, &mut one);
            libc::pthread_setaffinity_np(handle.as_pthread_t(), size, &one);
        }
    }
    pinned.store(true, Ordering::Release);
    Ok(handle)
}

#[cfg(not(target_os = "linux"))]
fn spawn_elsewhere<T: Send + 'static>(
    builder: std::thread::Builder,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<JoinHandle<T>> {
    builder.spawn(f)
}
