// gitops web view: live fragments from the server (server-sent events), lazy YAML,
// actions and diffs without leaving the page. Pages work without this script; it only
// enhances them. Every HTML fragment comes escaped from the server; text from requests
// is inserted as text.
"use strict";
(function () {
  var live = document.getElementById("live");
  var loaded = {}; // data-src -> text, so swapped fragments keep opened YAML

  function setLive(on, text) {
    if (!live) return;
    live.textContent = text;
    live.className = "live " + (on ? "on" : "off");
  }

  function loadDetails(d) {
    var src = d.getAttribute("data-src");
    var pre = d.querySelector("pre");
    if (!src || !pre) return;
    if (loaded[src] !== undefined) {
      pre.textContent = loaded[src];
      return;
    }
    fetch(src, { headers: { Accept: "text/plain" } })
      .then(function (r) {
        return r.text().then(function (t) {
          if (r.ok) loaded[src] = t;
          pre.textContent = r.ok ? t : "Error: " + t;
        });
      })
      .catch(function (e) { pre.textContent = "Error: " + e; });
  }

  document.addEventListener("toggle", function (e) {
    var d = e.target;
    if (d.tagName === "DETAILS" && d.open && d.hasAttribute("data-src")) loadDetails(d);
  }, true);

  function openKeys(root) {
    var keys = [];
    root.querySelectorAll("details[open][data-key]").forEach(function (d) {
      keys.push(d.getAttribute("data-key"));
    });
    return keys;
  }

  function swap(id, html) {
    var el = document.getElementById(id);
    if (!el) return;
    // The stream starts with every fragment: leave the ones the page already shows.
    var parsed = document.createElement("template");
    parsed.innerHTML = html;
    if (parsed.innerHTML === el.innerHTML) return;
    var open = openKeys(el);
    var active = document.activeElement;
    var focusValue = active && el.contains(active) && active.tagName === "BUTTON" ? active.value : null;
    el.innerHTML = html;
    open.forEach(function (k) {
      el.querySelectorAll("details[data-key]").forEach(function (d) {
        if (d.getAttribute("data-key") === k) {
          d.open = true;
          var src = d.getAttribute("data-src");
          if (src && loaded[src] !== undefined) d.querySelector("pre").textContent = loaded[src];
        }
      });
    });
    if (focusValue) {
      var b = el.querySelector('button[value="' + focusValue + '"]');
      if (b) b.focus();
    }
    if (id === "rows") applyFilter();
    refreshTimes(el);
  }

  // Live updates.
  var stream = document.body.getAttribute("data-stream");
  if (stream && window.EventSource) {
    var es = new EventSource(stream);
    es.addEventListener("hello", function () { setLive(true, "live"); });
    es.addEventListener("fragment", function (e) {
      try {
        var f = JSON.parse(e.data);
        swap(f.id, f.html);
        var gone = document.getElementById("gone");
        if (f.id === "head" && gone) gone.textContent = "";
      } catch (err) { /* a broken message is dropped; the next one replaces it */ }
    });
    es.addEventListener("gone", function (e) {
      var g = document.getElementById("gone");
      try { if (g) g.textContent = JSON.parse(e.data).message; } catch (err) { /* ignore */ }
    });
    es.onerror = function () { setLive(false, "reconnecting…"); };
    es.onopen = function () { setLive(true, "live"); };
  }

  // Actions: reconcile, suspend, resume.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute("data-action-form")) return;
    e.preventDefault();
    var button = e.submitter;
    if (!button || !button.value) return;
    var status = document.getElementById("action-status");
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    button.setAttribute("aria-busy", "true");
    if (status) {
      status.className = "";
      status.textContent = button.textContent + "…";
    }
    var body = new URLSearchParams();
    body.set("action", button.value);
    fetch(form.getAttribute("action"), {
      method: "POST",
      headers: { Accept: "application/json" },
      body: body,
    })
      .then(function (r) {
        var ct = r.headers.get("Content-Type") || "";
        if (ct.indexOf("application/json") === 0) return r.json();
        return r.text().then(function (t) { return { ok: false, lines: ["HTTP " + r.status + ": " + t.replace(/<[^>]*>/g, " ").trim()] }; });
      })
      .then(function (res) {
        if (status) {
          status.className = res.ok ? "" : "failed";
          status.textContent = (res.lines || []).join("\n");
        }
      })
      .catch(function (err) {
        if (status) {
          status.className = "failed";
          status.textContent = "The request failed: " + err;
        }
      })
      .finally(function () {
        // The live stream may have replaced the form meanwhile.
        document.querySelectorAll("form[data-action-form] button").forEach(function (b) {
          b.removeAttribute("aria-busy");
          b.disabled = b.hasAttribute("data-locked");
        });
      });
  });

  // Diff with Git (Kustomizations), drift from the release (HelmReleases).
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button[data-diff]") : null;
    if (!b) return;
    var out = document.getElementById("diff-out");
    b.disabled = true;
    b.setAttribute("aria-busy", "true");
    if (out) out.textContent = "Comparing…";
    fetch(b.getAttribute("data-diff"), { method: "POST", headers: { Accept: "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) { if (out) out.innerHTML = html; })
      .catch(function (err) { if (out) out.textContent = "The request failed: " + err; })
      .finally(function () { b.disabled = false; b.removeAttribute("aria-busy"); });
  });

  // Filter of the overview's rows.
  var filter = document.getElementById("filter");
  function applyFilter() {
    if (!filter) return;
    var q = filter.value.trim().toLowerCase();
    document.querySelectorAll("#rows tr").forEach(function (tr) {
      tr.hidden = q !== "" && tr.textContent.toLowerCase().indexOf(q) < 0;
    });
  }
  if (filter) filter.addEventListener("input", applyFilter);

  // Ages ("5m ago") stay current.
  function ago(secs) {
    if (secs < 0) return "just now";
    if (secs < 60) return secs + "s ago";
    if (secs < 3600) return Math.floor(secs / 60) + "m ago";
    if (secs < 86400) return Math.floor(secs / 3600) + "h ago";
    return Math.floor(secs / 86400) + "d ago";
  }
  function refreshTimes(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (t) {
      var at = Date.parse(t.getAttribute("datetime"));
      if (!isNaN(at)) t.textContent = ago(Math.floor((Date.now() - at) / 1000));
    });
  }
  setInterval(refreshTimes, 10000);
})();
