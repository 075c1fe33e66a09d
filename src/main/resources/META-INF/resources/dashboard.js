// Graft dashboard: a read-only view of the experiment store over Graft's JSON API
// (/api/experiments, /api/runs with the SearchRuns filter language, /api/runs/{id}).
// Charts are ECharts (served from the org.webjars.npm:echarts jar). Every value from the store
// is inserted as text, never as HTML.
"use strict";

const app = document.getElementById("app");
const charts = [];
let timer = null;

const LEARNING = /loss|accuracy|f1/i;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// --- API key (graft.auth.enabled): kept for this tab only, sent as Authorization: Bearer ----

const KEY_ITEM = "graft.apiKey";
const keyInput = document.getElementById("api-key");
const keyForm = document.getElementById("key-form");

function apiKey() {
  return sessionStorage.getItem(KEY_ITEM) || "";
}

function showKeyState() {
  keyInput.value = "";
  keyInput.placeholder = apiKey() ? "key set for this tab" : "API key";
}

keyForm.addEventListener("submit", ev => {
  ev.preventDefault();
  const key = keyInput.value.trim();
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
  showKeyState();
  route();
});
showKeyState();

async function getJson(url) {
  const headers = { Accept: "application/json" };
  if (apiKey()) headers.Authorization = "Bearer " + apiKey();
  const res = await fetch(url, { headers });
  const body = await res.json().catch(() => ({ error: res.status + " " + res.statusText }));
  if (res.status === 401) {
    keyInput.focus();
    throw new Error(apiKey()
      ? "The API key set for this tab is not known to Graft (401): enter another key above."
      : "Graft needs an API key (401): enter a key with role reader or higher above.");
  }
  if (!res.ok) throw new Error(body.error || res.status + " " + res.statusText);
  return body;
}

function fmt(v, digits = 4) {
  if (v === null || v === undefined || Number.isNaN(v) || v === "NaN") return "";
  if (typeof v === "number") return Number.isInteger(v) ? v.toLocaleString("en") : v.toFixed(digits);
  return String(v);
}

function when(iso) {
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
}

function lastValue(run, key) {
  let best = null;
  for (const m of run.metrics) if (m.key === key && (best === null || m.epoch >= best.epoch)) best = m;
  return best ? best.value : null;
}

function clear() {
  if (timer) { clearTimeout(timer); timer = null; }
  while (charts.length) charts.pop().dispose();
  app.replaceChildren();
}

function route() {
  const hash = location.hash || "#/";
  const run = hash.match(/^#\/runs\/(\d+)/);
  const comparison = hash.match(/^#\/comparisons\/(\d+)/);
  clear();
  if (run) showRun(Number(run[1]));
  else if (comparison) showComparison(Number(comparison[1]));
  else showRuns(new URLSearchParams(hash.split("?")[1] || ""));
}

// --- runs table ---------------------------------------------------------------------------

const COLUMNS = [
  { title: "id", order: "id", value: r => r.id, num: true },
  { title: "name", order: "name", value: r => r.name },
  { title: "strategy", order: "strategy", value: r => r.strategy },
  { title: "status", order: "status", value: r => r.status, cls: r => "status-" + r.status },
  { title: "base model", order: "base_model", value: r => r.baseModel },
  { title: "dataset", order: "dataset", value: r => r.dataset },
  { title: "val acc (last)", order: "metrics.val_accuracy", value: r => lastValue(r, "val_accuracy"), num: true },
  { title: "val loss (last)", order: "metrics.val_loss", value: r => lastValue(r, "val_loss"), num: true },
  { title: "test acc", order: "test.test_accuracy", value: r => r.testMetrics.test_accuracy, num: true },
  { title: "trainable params", order: "trainable_parameters", value: r => r.trainableParameters, num: true },
  { title: "created", order: "created", value: r => when(r.createdAt) },
];

async function showRuns(params) {
  const state = {
    filter: params.get("filter") || "",
    orderBy: params.get("orderBy") || "created DESC",
    experiment: params.get("experiment") || "",
  };
  const input = el("input", { type: "text", id: "filter", value: state.filter, spellcheck: "false",
    placeholder: "e.g. strategy IN ('TRANSFER_LEARNING','GRADUAL') AND metrics.val_accuracy.max > 0.9" });
  const select = el("select", { id: "experiment" }, el("option", { value: "" }, "all experiments"));
  const error = el("div", { class: "error", id: "filter-error" });
  const apply = () => {
    const q = new URLSearchParams();
    if (input.value.trim()) q.set("filter", input.value.trim());
    if (state.orderBy !== "created DESC") q.set("orderBy", state.orderBy);
    if (select.value) q.set("experiment", select.value);
    location.hash = "#/?" + q.toString();
  };
  input.addEventListener("keydown", e => { if (e.key === "Enter") apply(); });
  select.addEventListener("change", apply);
  const count = el("span", { class: "muted", id: "run-count" });
  const table = el("table", { id: "runs" });
  const more = el("button", { id: "more", style: "display:none" }, "load more");
  app.append(
    el("h2", {}, "Runs"),
    el("div", { class: "panel" },
      el("div", { class: "filters" }, select, input, el("button", { id: "apply", onclick: apply }, "filter"), count),
      error),
    table, more);

  getJson("/api/experiments?pageSize=1000").then(page => {
    for (const e of page.experiments) {
      const o = el("option", { value: String(e.id) }, e.name + " (" + e.runCount + " runs)");
      if (String(e.id) === state.experiment) o.selected = true;
      select.append(o);
    }
  }).catch(e => { error.textContent = e.message; });

  const [orderField, orderDir] = state.orderBy.split(/\s+/);
  const head = el("tr");
  for (const c of COLUMNS) {
    const sorted = c.order === orderField ? (orderDir === "DESC" ? " sorted-desc" : " sorted-asc") : "";
    head.append(el("th", { class: sorted.trim(), onclick: () => {
      const desc = c.order === orderField ? orderDir !== "DESC" : c.num === true;
      state.orderBy = c.order + (desc ? " DESC" : " ASC");
      apply();
    } }, c.title));
  }
  const body = el("tbody");
  table.append(el("thead", {}, head), body);

  let token = "";
  let rows = 0;
  const load = async (replace) => {
    const q = new URLSearchParams({ filter: state.filter, orderBy: state.orderBy, pageSize: "50" });
    if (state.experiment) q.set("experimentId", state.experiment);
    if (!replace && token) q.set("pageToken", token);
    try {
      const page = await getJson("/api/runs?" + q.toString());
      if (replace) { body.replaceChildren(); rows = 0; }
      error.textContent = "";
      for (const r of page.runs) {
        const tr = el("tr", { "data-run": String(r.id) });
        for (const c of COLUMNS) {
          const v = c.value(r);
          const cell = el("td", { class: (c.num ? "num " : "") + (c.cls ? c.cls(r) : "") }, fmt(v));
          if (c.title === "name") cell.replaceChildren(el("a", { href: "#/runs/" + r.id }, r.name));
          tr.append(cell);
        }
        body.append(tr);
        rows++;
      }
      token = page.nextPageToken;
      more.style.display = token ? "" : "none";
      count.textContent = rows + (token ? "+" : "") + " runs";
      if (page.runs.some(r => r.status === "RUNNING" || r.status === "QUEUED") && !token) {
        timer = setTimeout(() => load(true), 3000);
      }
    } catch (e) {
      body.replaceChildren();
      count.textContent = "";
      error.textContent = e.message;
    }
  };
  more.addEventListener("click", () => load(false));
  load(true);

  const list = el("ul", { id: "comparisons" });
  app.append(el("h2", {}, "Strategy comparisons"), el("div", { class: "panel" }, list));
  const cq = state.experiment ? "?experimentId=" + encodeURIComponent(state.experiment) : "";
  getJson("/api/comparisons" + cq).then(items => {
    if (!items.length) list.append(el("li", { class: "muted" }, "none yet (ComparisonService.CompareStrategies)"));
    for (const c of items) {
      list.append(el("li", {}, el("a", { href: "#/comparisons/" + c.id }, c.name),
        " · " + c.baseModel + " on " + c.dataset + " · " + c.status + " (" + c.runsDone + "/" + c.runsTotal + " runs)"));
    }
  }).catch(e => list.append(el("li", { class: "error" }, e.message)));
}

// --- one comparison -----------------------------------------------------------------------

async function showComparison(id) {
  let c;
  try {
    c = await getJson("/api/comparisons/" + id);
  } catch (e) {
    app.append(el("p", { class: "error" }, e.message), el("a", { href: "#/" }, "all runs"));
    return;
  }
  const live = c.status === "RUNNING";
  app.append(
    el("p", {}, el("a", { href: "#/" }, "← all runs")),
    el("h2", {}, "Comparison " + c.id + " · " + c.name + " ",
      el("span", { id: "comparison-status" }, c.status + " (" + c.runsDone + "/" + c.runsTotal + " runs)"),
      live ? el("span", { class: "live" }, " · live") : null),
    el("p", { id: "recommendation" }, c.recommendation));
  const curve = el("div", { class: "chart", id: "efficiency" });
  app.append(el("div", { class: "panel" }, el("h2", {}, "Test accuracy vs training examples"), curve));
  const head = el("tr", {}, ["training examples", "strategy", "test accuracy", "± std", "macro-F1",
    "training s", "examples/s", "trainable params", "peak MiB", "runs"].map(t => el("th", {}, t)));
  const body = el("tbody");
  for (const cell of c.cells) {
    body.append(el("tr", {},
      el("td", { class: "num" }, fmt(cell.trainingExamples)), el("td", {}, cell.strategy),
      el("td", { class: "num" }, fmt(cell.testAccuracy)), el("td", { class: "num" }, fmt(cell.testAccuracyStd)),
      el("td", { class: "num" }, fmt(cell.testMacroF1)), el("td", { class: "num" }, fmt(cell.trainingSeconds, 1)),
      el("td", { class: "num" }, fmt(cell.examplesPerSecond, 0)), el("td", { class: "num" }, fmt(cell.trainableParameters)),
      el("td", { class: "num" }, cell.peakMemoryBytes ? (cell.peakMemoryBytes / 1048576).toFixed(0) : ""),
      el("td", {}, cell.runIds.map((r, i) => [i ? " " : "", el("a", { href: "#/runs/" + r }, "#" + r)]))));
  }
  app.append(el("div", { class: "panel" }, el("h2", {}, "Table"), el("table", { id: "cells" }, el("thead", {}, head), body)));
  const chart = echarts.init(curve);
  charts.push(chart);
  const strategies = [...new Set(c.cells.map(x => x.strategy))];
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 50, right: 30, top: 40, bottom: 40 },
    xAxis: { type: "log", name: "training examples", logBase: 10 },
    yAxis: { type: "value", name: "test accuracy", min: 0, max: 1 },
    series: strategies.map(s => ({
      name: s, type: "line", showSymbol: true,
      data: c.cells.filter(x => x.strategy === s && x.runsSucceeded > 0)
        .map(x => [x.trainingExamples, x.testAccuracy]),
    })),
  });
  if (c.probeStatus) showProbes(c);
  if (live) timer = setTimeout(route, 3000);
}

// The probe sweep of a comparison: validation accuracy of a linear probe at every cut point.
function showProbes(c) {
  const panel = el("div", { class: "panel", id: "probes" }, el("h2", {}, "Linear probes by cut point"));
  app.append(panel);
  if (c.probeStatus !== "SUCCEEDED") {
    panel.append(el("p", { class: c.probeStatus === "FAILED" ? "error" : "muted", id: "probe-status" },
      c.probeStatus === "FAILED" ? c.probeError : "probe sweep running…"));
    return;
  }
  const sweep = c.probeSweep;
  panel.append(el("p", { class: "muted", id: "probe-status" },
    sweep.trainExamples + " training, " + sweep.validationExamples + " validation examples · features " +
    fmt(sweep.featureSeconds, 2) + " s, whole sweep " + fmt(sweep.totalSeconds, 2) + " s · best: " + sweep.bestCutPoint));
  const plot = el("div", { class: "chart", id: "probe-chart" });
  const rows = el("tbody");
  for (const p of sweep.probes) {
    rows.append(el("tr", { class: p.name === sweep.bestCutPoint ? "best" : "" },
      el("td", {}, p.name + (p.featureTensor ? " (feature tensor)" : "")), el("td", {}, p.tensor),
      el("td", { class: "num" }, fmt(p.featureSize)), el("td", { class: "num" }, fmt(p.valAccuracy)),
      el("td", { class: "num" }, fmt(p.valLoss)), el("td", { class: "num" }, p.l2.toExponential(0)),
      el("td", { class: "num" }, fmt(p.trainSeconds, 2))));
  }
  const head = el("tr", {}, ["cut point", "tensor", "features", "val accuracy", "val loss", "L2", "solver s"]
    .map(t => el("th", {}, t)));
  panel.append(plot, el("table", { id: "probe-table" }, el("thead", {}, head), rows));
  const chart = echarts.init(plot);
  charts.push(chart);
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    grid: { left: 50, right: 30, top: 20, bottom: 60 },
    xAxis: { type: "category", name: "cut point", nameLocation: "middle", nameGap: 40,
      data: sweep.probes.map(p => p.name) },
    yAxis: { type: "value", name: "val accuracy", min: 0, max: 1 },
    series: [{ name: "val accuracy", type: "bar",
      data: sweep.probes.map(p => ({ value: p.valAccuracy,
        itemStyle: p.name === sweep.bestCutPoint ? { color: "#d9822b" } : undefined })) }],
  });
}

// --- one run ------------------------------------------------------------------------------

async function showRun(id) {
  let detail;
  try {
    detail = await getJson("/api/runs/" + id);
  } catch (e) {
    app.append(el("p", { class: "error" }, e.message), el("a", { href: "#/" }, "all runs"));
    return;
  }
  const run = detail.run;
  const live = run.status === "RUNNING" || run.status === "QUEUED";
  app.append(
    el("p", {}, el("a", { href: "#/" }, "← all runs")),
    el("h2", {}, "Run " + run.id + " · " + run.name + " ",
      el("span", { class: "status-" + run.status, id: "run-status" }, run.status),
      live ? el("span", { class: "live" }, " · live") : null));
  if (run.error) app.append(el("p", { class: "error" }, run.error));

  const curves = el("div", { class: "chart", id: "curves" });
  const confusion = el("div", { class: "chart", id: "confusion" });
  app.append(el("div", { class: "grid" },
    el("div", { class: "panel" }, el("h2", {}, "Learning curves"), curves),
    el("div", { class: "panel" }, el("h2", {}, "Confusion matrix (test split)"), confusion)));

  const kv = (pairs) => el("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, fmt(v))]));
  const tests = Object.entries(run.testMetrics).map(([k, v]) => [k, v]);
  app.append(el("div", { class: "grid" },
    el("div", { class: "panel" }, el("h2", {}, "Run"), kv([
      ["strategy", run.strategy], ["base model", run.baseModel], ["dataset", run.dataset],
      ["device", run.device], ["seed", run.seed], ["split sha256", run.splitHash],
      ["trainable / total parameters", fmt(run.trainableParameters) + " / " + fmt(run.totalParameters)],
      ["feature cache", run.featureCache ? "yes" : "no"],
      ["peak memory", run.peakMemoryBytes ? (run.peakMemoryBytes / 1048576).toFixed(0) + " MiB" : ""],
      ["created", when(run.createdAt)], ["started", when(run.startedAt)], ["finished", when(run.finishedAt)],
      ...tests])),
    el("div", { class: "panel" }, el("h2", {}, "Configuration"), el("pre", { id: "config" }, JSON.stringify(run.spec, null, 2)))));

  const lineage = el("div", { class: "lineage", id: "lineage" },
    el("span", { class: "node" }, "base model " + (run.baseModel || "—")),
    run.parentRunId ? [el("span", { class: "arrow" }, "→"), el("a", { class: "node", href: "#/runs/" + run.parentRunId }, "parent run " + run.parentRunId)] : null,
    el("span", { class: "arrow" }, "→"), el("span", { class: "node" }, "run " + run.id),
    run.onnxSha256 ? [el("span", { class: "arrow" }, "→"), el("span", { class: "node" }, "ONNX sha256 " + run.onnxSha256.slice(0, 16) + "…")] : null,
    detail.modelVersions.map(v => [el("span", { class: "arrow" }, "→"),
      el("span", { class: "node" }, v.modelName + " v" + v.version + (v.aliases.length ? " [" + v.aliases.join(", ") + "]" : "") +
        " · parity " + v.parityMaxAbsDiff.toExponential(1))]));
  app.append(el("div", { class: "panel" }, el("h2", {}, "Artifacts and lineage"), lineage));

  const curvesChart = echarts.init(curves);
  charts.push(curvesChart);
  drawCurves(curvesChart, run);
  const confusionChart = echarts.init(confusion);
  charts.push(confusionChart);
  drawConfusion(confusionChart, run, confusion);

  if (live) {
    const poll = async () => {
      try {
        const next = (await getJson("/api/runs/" + id)).run;
        drawCurves(curvesChart, next);
        document.getElementById("run-status").textContent = next.status;
        if (next.status === "RUNNING" || next.status === "QUEUED") timer = setTimeout(poll, 2000);
        else route();
      } catch (e) {
        timer = setTimeout(poll, 5000);
      }
    };
    timer = setTimeout(poll, 2000);
  }
}

function drawCurves(chart, run) {
  const byKey = new Map();
  for (const m of run.metrics) {
    if (!LEARNING.test(m.key)) continue;
    if (!byKey.has(m.key)) byKey.set(m.key, []);
    byKey.get(m.key).push([m.epoch, m.value]);
  }
  const series = [...byKey.entries()].sort().map(([key, points]) => ({
    name: key, type: "line", showSymbol: true, yAxisIndex: /loss/i.test(key) ? 0 : 1,
    data: points.sort((a, b) => a[0] - b[0]),
  }));
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 50, right: 50, top: 40, bottom: 40 },
    xAxis: { type: "value", name: "epoch", minInterval: 1 },
    yAxis: [{ type: "value", name: "loss" }, { type: "value", name: "accuracy / F1", min: 0, max: 1 }],
    series,
  }, true);
}

function drawConfusion(chart, run, node) {
  const labels = run.labels;
  const n = labels.length;
  if (!n || run.confusionMatrix.length !== n * n) {
    chart.dispose();
    charts.pop();
    node.replaceChildren(el("p", { class: "muted" }, "no test results yet"));
    return;
  }
  const data = [];
  let max = 1;
  for (let t = 0; t < n; t++) {
    for (let p = 0; p < n; p++) {
      const v = run.confusionMatrix[t * n + p];
      max = Math.max(max, v);
      data.push([p, t, v]);
    }
  }
  chart.setOption({
    animation: false,
    tooltip: { formatter: p => "true " + labels[p.value[1]] + ", predicted " + labels[p.value[0]] + ": " + p.value[2] },
    grid: { left: 80, right: 20, top: 10, bottom: 70 },
    xAxis: { type: "category", data: labels, name: "predicted", nameLocation: "middle", nameGap: 45, axisLabel: { rotate: 45 } },
    yAxis: { type: "category", data: labels, name: "true", inverse: true },
    visualMap: { min: 0, max, calculable: false, orient: "horizontal", left: "center", bottom: 0, show: false },
    series: [{ type: "heatmap", data, label: { show: n <= 12 } }],
  });
}

window.addEventListener("hashchange", route);
window.addEventListener("resize", () => charts.forEach(c => c.resize()));
route();
