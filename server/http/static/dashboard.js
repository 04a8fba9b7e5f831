// Workpool dashboard: polls /api/pools, keeps an hour of history per pool in
// memory, and calls the JSON API for pool and work item actions.
"use strict";

const POLL_MS = 2000;
const HISTORY_MS = 60 * 60 * 1000;
// The server's default max_parallelism, used by Resume when this page never
// saw the pool running and the limit box contains no positive number.
const DEFAULT_LIMIT = 10;

const history = new Map(); // pool name -> [{t, pending, running, completed}]
const lastLimit = new Map(); // pool name -> last limit above 0 seen
const rows = new Map(); // pool name -> row elements
let lookedUpId = null;

function $(id) {
  return document.getElementById(id);
}

// A server with tokens returns 401 without one, and 403 when the token lacks
// the admin role. The token is then kept in this tab's session storage only.
const TOKEN_KEY = "workpool-token";

async function callApi(method, path, body) {
  const options = { method, headers: {} };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) {
    options.headers.Authorization = `Bearer ${token}`;
  }
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 || response.status === 403) {
    $("token-form").hidden = false;
  }
  if (!response.ok) {
    throw new Error(data.error || `${method} ${path} failed: ${response.status}`);
  }
  return data;
}

function formatAge(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function formatTime(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  return new Date(seconds * 1000).toLocaleString();
}

function showMessage(element, text, kind) {
  element.textContent = text;
  element.className = `message ${kind}`;
}

// Pools

function recordPoll(pool, now) {
  let points = history.get(pool.name);
  if (!points) {
    points = [];
    history.set(pool.name, points);
  }
  points.push({
    t: now,
    pending: pool.pending,
    running: pool.running,
    completed: pool.completed_total,
    failed: pool.failed_total,
    retried: pool.retried_total,
  });
  while (points.length && now - points[0].t > HISTORY_MS) points.shift();
  return points;
}

// Per-second increase of a counter between two polls; null when unknown.
function counterRate(before, after, key) {
  if (!before || !after) return null;
  if (after[key] === null || before[key] === null) return null;
  const seconds = (after.t - before.t) / 1000;
  if (seconds <= 0) return null;
  // A restarted server starts its counter again from 0.
  return Math.max(0, after[key] - before[key]) / seconds;
}

function lastRate(points, key) {
  return counterRate(points[points.length - 2], points[points.length - 1], key);
}

function throughput(points) {
  return lastRate(points, "completed");
}

function formatRate(rate) {
  return rate === null ? "–" : `${rate.toFixed(2)} /s`;
}

const DEPTH_SERIES = [
  { name: "pending", color: "--pending", value: (p) => p.pending },
  { name: "running", color: "--running", value: (p) => p.running },
];

const RATE_SERIES = [
  { name: "finished /s", color: "--running", value: (p, prev) => counterRate(prev, p, "completed") },
  { name: "failed /s", color: "--failed", value: (p, prev) => counterRate(prev, p, "failed") },
  { name: "retried /s", color: "--pending", value: (p, prev) => counterRate(prev, p, "retried") },
];

function drawChart(canvas, points, now, series = DEPTH_SERIES) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, height);
  ctx.strokeStyle = "#d0d7de";
  ctx.strokeRect(0.5, 0.5, width - 1, height - 1);

  // values[s][i] is series s at point i, null where it is unknown.
  const values = series.map((s) => points.map((p, i) => s.value(p, points[i - 1])));
  let top = 1;
  for (const column of values) {
    for (const v of column) if (v !== null) top = Math.max(top, v);
  }
  // Until the page has an hour of polls, the chart spans what it has (at
  // least a minute), so a fresh page does not squeeze it against the edge.
  const oldest = points.length ? points[0].t : now;
  const span = Math.min(HISTORY_MS, Math.max(60 * 1000, now - oldest));
  const x = (t) => width - 4 - ((now - t) / span) * (width - 8);
  const y = (v) => height - 3 - (v / top) * (height - 16);

  const style = getComputedStyle(document.documentElement);
  series.forEach((s, index) => {
    const color = style.getPropertyValue(s.color).trim();
    ctx.beginPath();
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    let drawing = false;
    points.forEach((p, i) => {
      const v = values[index][i];
      if (v === null) {
        drawing = false;
      } else if (drawing) {
        ctx.lineTo(x(p.t), y(v));
      } else {
        ctx.moveTo(x(p.t), y(v));
        drawing = true;
      }
    });
    ctx.stroke();
    const last = values[index][points.length - 1];
    if (last !== null && last !== undefined) {
      ctx.fillStyle = color;
      ctx.fillRect(x(points[points.length - 1].t) - 2, y(last) - 2, 4, 4);
    }
  });
  ctx.fillStyle = "#4f5863";
  ctx.font = "11px system-ui, sans-serif";
  const shown = Number.isInteger(top) ? top : top.toFixed(2);
  ctx.fillText(`max ${shown}, last ${Math.round(span / 60000)} min`, 4, 11);
}

function makeButton(label, onClick, className) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  if (className) button.className = className;
  button.addEventListener("click", onClick);
  return button;
}

async function setLimit(name, value) {
  const message = $("action-message");
  try {
    await callApi("POST", `/api/pools/${encodeURIComponent(name)}`, {
      max_parallelism: value,
    });
    const what = value === 0 ? "paused" : `limit set to ${value}`;
    showMessage(message, `Pool ${name}: ${what}.`, "ok");
    await refresh();
  } catch (error) {
    showMessage(message, `Pool ${name}: ${error.message}`, "error");
  }
}

function limitFromInput(input) {
  const value = Number(input.value);
  return Number.isInteger(value) && value >= 0 ? value : null;
}

// Shows what a pool's scheduling settings do right now: the circuit breaker's
// state and the items running on slots borrowed from the parent pool.
function appendScheduling(cell, pool) {
  if (pool.borrowed > 0) {
    const borrowed = document.createElement("div");
    borrowed.className = "borrowed";
    borrowed.textContent = `${pool.borrowed.toLocaleString()} on ${pool.parent}'s slots`;
    cell.appendChild(borrowed);
  }
  if (pool.circuit_state === "open" || pool.circuit_state === "half_open") {
    const breaker = document.createElement("div");
    breaker.className = "circuit paused";
    breaker.textContent =
      pool.circuit_state === "open"
        ? `breaker open until ${formatTime(pool.circuit_open_until_seconds)}`
        : "breaker half-open: one probe runs";
    cell.appendChild(breaker);
  }
}

function createRow(name) {
  const tr = document.createElement("tr");
  tr.dataset.pool = name;
  const cells = {};
  for (const key of ["name", "pending", "running", "throughput", "failed", "retried", "age"]) {
    const td = document.createElement("td");
    td.className = key === "name" ? "name" : "num";
    tr.appendChild(td);
    cells[key] = td;
  }
  const link = document.createElement("a");
  link.href = `#pool=${encodeURIComponent(name)}`;
  link.textContent = name;
  cells.name.appendChild(link);

  const chartCell = document.createElement("td");
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `pending and running items of ${name}`);
  chartCell.appendChild(canvas);
  tr.appendChild(chartCell);

  const actions = document.createElement("td");
  const box = document.createElement("div");
  box.className = "actions";
  const input = document.createElement("input");
  input.type = "number";
  input.min = "0";
  input.setAttribute("aria-label", `max parallelism of ${name}`);
  box.append(
    makeButton("Pause", () => setLimit(name, 0), "pause"),
    makeButton("Resume", () => {
      const typed = limitFromInput(input);
      const value = lastLimit.get(name) || (typed > 0 ? typed : DEFAULT_LIMIT);
      setLimit(name, value);
    }, "resume"),
    input,
    makeButton("Set limit", () => {
      const value = limitFromInput(input);
      if (value === null) {
        showMessage($("action-message"), "Enter a whole number, 0 or more.", "error");
        return;
      }
      setLimit(name, value);
    }, "set-limit"),
  );
  actions.appendChild(box);
  tr.appendChild(actions);
  return { tr, cells, canvas, input };
}

function render(pools, now) {
  const tbody = document.querySelector("#pools tbody");
  const names = new Set(pools.map((p) => p.name));
  for (const [name, row] of rows) {
    if (!names.has(name)) {
      row.tr.remove();
      rows.delete(name);
      history.delete(name);
    }
  }
  for (const pool of pools) {
    let row = rows.get(pool.name);
    if (!row) {
      row = createRow(pool.name);
      row.input.value = String(pool.max_parallelism);
      rows.set(pool.name, row);
    }
    // Keep the order the server sends (by name), adding rows as they come.
    tbody.appendChild(row.tr);
    if (pool.max_parallelism > 0) lastLimit.set(pool.name, pool.max_parallelism);
    if (document.activeElement !== row.input && row.input.dataset.shown !== String(pool.max_parallelism)) {
      row.input.value = String(pool.max_parallelism);
    }
    row.input.dataset.shown = String(pool.max_parallelism);

    const points = recordPoll(pool, now);
    const rate = throughput(points);
    row.cells.pending.textContent = pool.pending.toLocaleString();
    row.cells.running.textContent = "";
    row.cells.running.append(`${pool.running.toLocaleString()} / `);
    const limit = document.createElement("span");
    limit.className = "limit";
    if (pool.max_parallelism === 0) {
      limit.classList.add("paused");
      limit.textContent = "0 (paused)";
    } else {
      limit.textContent = pool.max_parallelism.toLocaleString();
    }
    row.cells.running.appendChild(limit);
    appendScheduling(row.cells.running, pool);
    row.cells.throughput.textContent = formatRate(rate);
    row.cells.failed.textContent = formatRate(lastRate(points, "failed"));
    row.cells.retried.textContent = formatRate(lastRate(points, "retried"));
    row.cells.age.textContent = formatAge(pool.oldest_ready_age_seconds);
    drawChart(row.canvas, points, now);
  }
  $("no-pools").hidden = pools.length > 0;
  renderPoolPage(pools, now);
}

// Pool page: shown for the address fragment #pool=NAME.

function selectedPool() {
  const match = /^#pool=(.+)$/.exec(window.location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

const POOL_FIELDS = [
  ["Pending", (p) => p.pending.toLocaleString()],
  ["Running / limit", (p) => `${p.running.toLocaleString()} / ${p.max_parallelism === 0 ? "0 (paused)" : p.max_parallelism.toLocaleString()}`],
  ["Oldest ready", (p) => formatAge(p.oldest_ready_age_seconds)],
  ["Circuit breaker", (p) => p.circuit_state || "none"],
  ["Parent", (p) => p.parent || "none"],
];

function renderPoolPage(pools, now) {
  const name = selectedPool();
  $("pools-section").hidden = name !== null;
  $("pool-page").hidden = name === null;
  if (name === null) return;

  $("pool-heading").textContent = `Pool ${name}`;
  const pool = pools.find((p) => p.name === name);
  $("pool-missing").hidden = pool !== undefined;
  $("pool-body").hidden = pool === undefined;
  if (pool === undefined) return;

  const points = history.get(name) || [];
  const list = $("pool-fields");
  list.textContent = "";
  const fields = [
    ...POOL_FIELDS,
    ["Finished", () => formatRate(lastRate(points, "completed"))],
    ["Failed", () => formatRate(lastRate(points, "failed"))],
    ["Retried", () => formatRate(lastRate(points, "retried"))],
  ];
  for (const [label, read] of fields) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = read(pool);
    dd.dataset.field = label.toLowerCase().replace(/[^a-z]+/g, "-");
    list.append(dt, dd);
  }
  drawChart($("pool-depth-chart"), points, now, DEPTH_SERIES);
  drawChart($("pool-rate-chart"), points, now, RATE_SERIES);
  loadFailures(name);
}

async function loadFailures(name) {
  try {
    const data = await callApi("GET", `/api/pools/${encodeURIComponent(name)}/failures`);
    if (selectedPool() !== name) return;
    showFailures(data.failures);
    showMessage($("pool-message"), "", "");
  } catch (error) {
    showMessage($("pool-message"), error.message, "error");
  }
}

function showFailures(failures) {
  const body = $("pool-failures").querySelector("tbody");
  body.textContent = "";
  for (const failure of failures) {
    const row = document.createElement("tr");
    const idCell = document.createElement("td");
    const link = document.createElement("a");
    link.href = "#work";
    link.textContent = failure.work_id;
    link.addEventListener("click", () => {
      $("work-id").value = failure.work_id;
      lookUp(failure.work_id);
    });
    idCell.appendChild(link);
    row.appendChild(idCell);
    for (const text of [
      failure.function,
      String(failure.attempts),
      formatTime(failure.finished_at_seconds),
      failure.error || "–",
    ]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.appendChild(cell);
    }
    body.appendChild(row);
  }
  $("pool-failures").hidden = failures.length === 0;
  $("no-failures").hidden = failures.length > 0;
}

window.addEventListener("hashchange", () => {
  if (window.location.hash !== "#work") refresh();
});

let refreshing = null;

async function refresh() {
  // One request at a time: an action's refresh joins a poll in flight.
  if (refreshing) return refreshing;
  refreshing = (async () => {
    const status = $("connection");
    try {
      const data = await callApi("GET", "/api/pools");
      render(data.pools, Date.now());
      status.textContent = `updated ${new Date().toLocaleTimeString()}`;
      status.className = "connection";
    } catch (error) {
      status.textContent = `update failed: ${error.message}`;
      status.className = "connection error";
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

// Work items

const WORK_FIELDS = [
  ["Work id", (d) => d.status.work_id],
  ["Pool", (d) => d.status.pool],
  ["Function", (d) => d.status.function],
  ["State", (d) => d.status.state],
  ["Previous attempts", (d) => String(d.status.previous_attempts)],
  ["Enqueued", (d) => formatTime(d.status.enqueued_at_seconds)],
  ["Ready at", (d) => formatTime(d.status.ready_at_seconds)],
  ["Finished", (d) => formatTime(d.status.finished_at_seconds)],
  ["Result", (d) => (d.status.result ? d.status.result.kind : "–")],
  ["Last error", (d) => d.status.last_error || "–"],
  ["Reason", (d) => d.explain.reason],
  ["Detail", (d) => d.explain.detail],
];

function showWork(data) {
  const list = $("work-fields");
  list.textContent = "";
  for (const [label, read] of WORK_FIELDS) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = read(data);
    dd.dataset.field = label.toLowerCase().replace(/ /g, "-");
    list.append(dt, dd);
  }
  showAttempts(data.attempts);
  $("work-result").hidden = false;
}

// One row per attempt, oldest first; a running attempt has no end or outcome.
function showAttempts(attempts) {
  const body = $("work-attempts").querySelector("tbody");
  body.textContent = "";
  for (const attempt of attempts) {
    const worker = attempt.worker_name
      ? `${attempt.worker_name} (${attempt.worker_id})`
      : attempt.worker_id;
    const cells = [
      String(attempt.attempt),
      worker,
      formatTime(attempt.started_at_seconds),
      formatTime(attempt.ended_at_seconds),
      attempt.outcome || "running",
      attempt.error || "–",
    ];
    const row = document.createElement("tr");
    row.dataset.attempt = String(attempt.attempt);
    for (const text of cells) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    body.append(row);
  }
  $("work-attempts").hidden = attempts.length === 0;
}

async function lookUp(workId) {
  const message = $("work-message");
  try {
    const data = await callApi("GET", `/api/work/${encodeURIComponent(workId)}`);
    lookedUpId = workId;
    showWork(data);
    showMessage(message, "", "");
  } catch (error) {
    lookedUpId = null;
    $("work-result").hidden = true;
    showMessage(message, error.message, "error");
  }
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
  $("token").value = "";
  $("token-form").hidden = true;
  refresh();
});

$("work-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const workId = $("work-id").value.trim();
  if (workId) lookUp(workId);
});

$("cancel-work").addEventListener("click", async () => {
  if (!lookedUpId) return;
  const workId = lookedUpId;
  const message = $("work-message");
  try {
    const data = await callApi("POST", `/api/work/${encodeURIComponent(workId)}/cancel`, {});
    await lookUp(workId);
    showMessage(message, `Cancel: ${data.outcome.replace(/_/g, " ")}.`, "ok");
  } catch (error) {
    showMessage(message, error.message, "error");
  }
});

refresh();
setInterval(refresh, POLL_MS);
