// PayScope console: one ES module, no framework, no inline code (the page's Content-Security-Policy
// allows scripts from this origin only). Every figure comes from the API the page is served by:
// POST /query for the overview, POST /chat/query for questions, with the analyst's bearer token.

const TOKEN_KEY = "payscope.token";
const $ = (id) => document.getElementById(id);

// ---- the API ---------------------------------------------------------------------------------

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Authorization": `Bearer ${token()}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const message = json.error ? json.error.message : `HTTP ${response.status}`;
    throw Object.assign(new Error(message), { status: response.status });
  }
  return json;
}

// The token's claims, for display only (the server verifies it on every call).
function claims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}

// ---- formatting ------------------------------------------------------------------------------

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

function shown(metric) {
  if (metric.value === null || metric.value === undefined) return "—";
  switch (metric.unit) {
    case "ratio": return `${(metric.value * 100).toFixed(2)}%`;
    case "currency": return `${metric.value.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: 2 })} ${metric.currency || ""}`.trim();
    case "hours": return `${metric.value.toFixed(1)} h`;
    default: return integer.format(metric.value);
  }
}

function element(tag, attributes = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- sign-in ---------------------------------------------------------------------------------

async function signIn(jwt) {
  sessionStorage.setItem(TOKEN_KEY, jwt);
  try {
    // A cheap authenticated call proves the token before anything is shown.
    await api("/query", { analysis: "describe", metrics: ["transaction_count"], time: { range: "7d" } });
  } catch (e) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("sign-in-error").textContent = e.status === 401 ? "The token was not accepted: it may have expired or be for another issuer." : e.message;
    return;
  }
  $("sign-in-error").textContent = "";
  showSignedIn();
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  location.hash = "";
  location.reload();
}

function showSignedIn() {
  const c = claims(token()) || {};
  $("who").textContent = `Bank ${c.bank_id || "?"} · ${(c.roles || []).join(", ")}${c.sub ? ` · ${c.sub}` : ""}`;
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  route();
}

async function offerDemo() {
  const response = await fetch("/console/demo-banks");
  if (!response.ok) return;
  const banks = await response.json();
  const holder = $("demo-banks");
  for (const bank of banks) {
    const button = element("button", { type: "button", class: "link" }, `Sign in as ${bank.name}`);
    button.addEventListener("click", () => signIn(bank.token));
    holder.append(button);
  }
  $("demo-sign-in").hidden = banks.length === 0;
}

// ---- pages -----------------------------------------------------------------------------------

function route() {
  const page = location.hash === "#ask" ? "ask" : "overview";
  for (const name of ["overview", "ask"]) {
    $(name).hidden = name !== page;
    const link = document.querySelector(`nav a[data-page="${name}"]`);
    if (name === page) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  if (page === "overview") loadOverview();
  else $("question").focus();
}

// The overview's filters as typed-query conditions.
function conditions() {
  const where = [];
  const add = (dimension, id) => { const v = $(id).value; if (v) where.push({ dimension, op: "eq", value: v }); };
  add("network", "f-network");
  add("currency", "f-currency");
  add("entry_mode", "f-entry");
  return where;
}

const KPIS = [
  ["transaction_count", "Authorization attempts"],
  ["transaction_amount", "Approved sales"],
  ["approval_rate", "Approval rate"],
  ["decline_rate", "Decline rate"],
  ["chargeback_rate", "Chargeback rate"],
  ["fraud_rate", "Fraud rate"],
  ["settled_amount", "Settled"],
  ["interchange_fees", "Interchange fees"],
  ["settlement_delay_hours", "Settlement delay"],
  ["reconciliation_rate", "Reconciliation rate"],
];

async function loadOverview() {
  const range = $("f-period").value;
  const where = conditions();
  $("overview-error").textContent = "";
  try {
    const [kpis, volume, approval, chargebacks] = await Promise.all([
      // Against the period before, except for the whole history (which has none).
      api("/query", range === "all"
        ? { analysis: "describe", metrics: KPIS.map(([m]) => m), where, time: { range } }
        : { analysis: "compare", metrics: KPIS.map(([m]) => m), where, time: { range }, compare: { kind: "periods" } }),
      api("/query", { analysis: "trend", metrics: ["transaction_count"], where, time: { range }, granularity: "day" }),
      api("/query", { analysis: "trend", metrics: ["approval_rate"], where, time: { range }, granularity: "day" }),
      api("/query", { analysis: "breakdown", metrics: ["chargeback_count"], where, time: { range }, group_by: ["merchant_id"], top_n: 5 }),
    ]);
    $("period-text").textContent = kpis.interpretation ? `Understood as: ${kpis.interpretation.text}` : "";
    renderKpis(kpis);
    chart($("chart-volume"), volume.series[0], "transaction_count");
    chart($("chart-approval"), approval.series[0], "approval_rate");
    renderTop(chargebacks);
  } catch (e) {
    $("overview-error").textContent = e.message;
  }
}

function renderKpis(answer) {
  const holder = $("kpis");
  holder.replaceChildren();
  for (const [name, label] of KPIS) {
    const now = (m) => m.period === "current" || m.period === undefined || m.period === null;
    const current = answer.metrics.filter((m) => m.name === name && now(m) && Object.keys(m.dimensions).length === 0);
    for (const m of current.length ? current : [{ name, unit: "count", value: null }]) {
      const previous = answer.metrics.find((p) => p.name === name && p.period === "previous" && p.currency === m.currency && Object.keys(p.dimensions).length === 0);
      const card = element("div", { class: "kpi", "data-metric": name, ...(m.currency ? { "data-currency": m.currency } : {}) });
      card.append(element("div", { class: "label" }, m.currency ? `${label} (${m.currency})` : label));
      card.append(element("div", { class: "value" }, shown(m)));
      if (previous && previous.value !== null && m.value !== null && (m.unit === "ratio" || previous.value)) {
        const delta = m.value - previous.value;
        const text = m.unit === "ratio" ? `${delta >= 0 ? "+" : ""}${(delta * 100).toFixed(2)} points` : `${delta >= 0 ? "+" : ""}${((delta / Math.abs(previous.value)) * 100).toFixed(1)}%`;
        card.append(element("div", { class: `delta ${delta > 0 ? "up" : delta < 0 ? "down" : ""}` }, `${text} vs the previous period`));
      }
      holder.append(card);
    }
  }
}

function renderTop(answer) {
  const body = document.querySelector("#top-chargebacks tbody");
  body.replaceChildren();
  const rows = answer.metrics.filter((m) => m.name === "chargeback_count" && m.dimensions.merchant_id);
  if (rows.length === 0) {
    const row = element("tr");
    row.append(element("td", { colspan: "2", class: "muted" }, "No chargebacks in this period."));
    body.append(row);
  }
  for (const m of rows) {
    const row = element("tr");
    row.append(element("td", {}, m.dimensions.merchant_name ? `${m.dimensions.merchant_name} (${m.dimensions.merchant_id})` : m.dimensions.merchant_id));
    row.append(element("td", {}, shown(m)));
    body.append(row);
  }
}

// A line chart of a series (and, for a forecast, its interval band) as SVG.
function chart(figure, series, label) {
  figure.replaceChildren();
  if (!series || series.points.length === 0) {
    figure.append(element("figcaption", { class: "muted" }, "No data for this period."));
    return;
  }
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 600 180");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${label} by day`);
  const points = series.points.filter((p) => p.value !== null);
  const values = points.map((p) => p.value);
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const x = (i) => 40 + (i / Math.max(points.length - 1, 1)) * 550;
  const y = (v) => 165 - ((v - lo) / (hi - lo || 1)) * 150;
  const path = document.createElementNS(ns, "path");
  path.setAttribute("class", "line");
  path.setAttribute("d", points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(" "));
  const axis = document.createElementNS(ns, "line");
  for (const [k, v] of Object.entries({ x1: 40, y1: 166, x2: 590, y2: 166, class: "axis" })) axis.setAttribute(k, v);
  const text = (tx, ty, s) => { const t = document.createElementNS(ns, "text"); t.setAttribute("x", tx); t.setAttribute("y", ty); t.textContent = s; return t; };
  const fmt = (v) => series.unit === "ratio" ? `${(v * 100).toFixed(1)}%` : integer.format(v);
  svg.append(axis, path, text(0, 20, fmt(hi)), text(0, 165, fmt(lo)), text(40, 178, points[0].t.slice(0, 10)), text(520, 178, points[points.length - 1].t.slice(0, 10)));
  figure.append(svg);
}

// ---- ask -------------------------------------------------------------------------------------

async function ask(question) {
  $("question").value = question;
  const answerBox = $("answer");
  try {
    const a = await api("/chat/query", { query: question });
    answerBox.hidden = false;
    $("answer-summary").textContent = a.summary;
    $("answer-interpretation").textContent = a.interpretation ? `Understood as: ${a.interpretation.text}` : a.intent === "clarify" ? "Not understood: rephrase the question or pick a suggestion below." : "";
    $("answer-confidence").textContent = `Confidence ${Math.round(a.confidence * 100)}% · ${a.intent}`;
    const body = document.querySelector("#answer-metrics tbody");
    body.replaceChildren();
    for (const m of a.metrics.slice(0, 40)) {
      const row = element("tr");
      row.append(element("td", {}, m.name), element("td", {}, Object.entries(m.dimensions).map(([k, v]) => `${k}=${v}`).join(", ")), element("td", {}, m.period || ""), element("td", {}, shown(m)));
      body.append(row);
    }
    const series = a.forecast ? { unit: a.forecast.unit, points: a.forecast.points } : a.series[0];
    $("answer-chart").hidden = !series;
    if (series) chart($("answer-chart"), series, a.forecast ? a.forecast.metric : series.metric);
    $("answer-warnings").replaceChildren(...a.warnings.map((w) => element("li", {}, w)));
    const followups = $("answer-followups");
    followups.replaceChildren();
    for (const f of a.followups) {
      const b = element("button", { type: "button", class: "link" }, f);
      b.addEventListener("click", () => ask(f));
      followups.append(b);
    }
    const item = element("li");
    const again = element("button", { type: "button", class: "link" }, question);
    again.addEventListener("click", () => ask(question));
    item.append(again);
    $("history").prepend(item);
  } catch (e) {
    answerBox.hidden = false;
    $("answer-summary").textContent = e.message;
  }
}

// ---- start -----------------------------------------------------------------------------------

$("token-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
$("sign-out").addEventListener("click", signOut);
$("filters").addEventListener("change", loadOverview);
$("ask-form").addEventListener("submit", (e) => { e.preventDefault(); ask($("question").value.trim()); });
window.addEventListener("hashchange", () => { if (token()) route(); });

if (token()) showSignedIn(); else offerDemo();
