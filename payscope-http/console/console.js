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

// The bank's name, when the sign-in knows it (a demo bank, or a `bank_name` claim).
const BANK_NAME_KEY = "payscope.bank_name";

async function signIn(jwt, bankName) {
  sessionStorage.setItem(TOKEN_KEY, jwt);
  if (bankName) sessionStorage.setItem(BANK_NAME_KEY, bankName); else sessionStorage.removeItem(BANK_NAME_KEY);
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
  sessionStorage.removeItem(BANK_NAME_KEY);
  location.hash = "";
  location.reload();
}

function showSignedIn() {
  const c = claims(token()) || {};
  const bank = sessionStorage.getItem(BANK_NAME_KEY) || c.bank_name || `Bank ${c.bank_id || "?"}`;
  const roles = [...(c.roles || []), ...(c.role ? [c.role] : [])];
  $("who").textContent = `${bank} · ${roles.join(", ")}${c.sub ? ` · ${c.sub}` : ""}`;
  $("who").title = `bank ${c.bank_id || "?"}`;
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
    button.addEventListener("click", () => signIn(bank.token, bank.name));
    holder.append(button);
  }
  $("demo-sign-in").hidden = banks.length === 0;
}

// ---- pages -----------------------------------------------------------------------------------

const PAGES = ["overview", "ask", "reports", "audit"];

function route() {
  const page = PAGES.find((p) => `#${p}` === location.hash) || "overview";
  for (const name of PAGES) {
    $(name).hidden = name !== page;
    const link = document.querySelector(`nav a[data-page="${name}"]`);
    if (name === page) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  if (page === "overview") loadOverview();
  else if (page === "ask") $("question").focus();
  else if (page === "reports") loadReports();
  else loadAudit();
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
    const [kpis, volume, approval, chargebacks, networks, codes, declines, unusual, forecast, codesDaily] = await Promise.all([
      // Against the period before, except for the whole history (which has none).
      api("/query", range === "all"
        ? { analysis: "describe", metrics: KPIS.map(([m]) => m), where, time: { range } }
        : { analysis: "compare", metrics: KPIS.map(([m]) => m), where, time: { range }, compare: { kind: "periods" } }),
      api("/query", { analysis: "trend", metrics: ["transaction_count"], where, time: { range }, granularity: "day" }),
      api("/query", { analysis: "trend", metrics: ["approval_rate"], where, time: { range }, granularity: "day" }),
      api("/query", { analysis: "breakdown", metrics: ["chargeback_count"], where, time: { range }, group_by: ["merchant_id"], top_n: 5 }),
      api("/query", { analysis: "trend", metrics: ["approval_rate"], where, time: { range }, granularity: "day", group_by: ["network"] }),
      api("/query", { analysis: "breakdown", metrics: ["declined_count"], where, time: { range }, group_by: ["response_code"], top_n: 5 }),
      api("/query", { analysis: "breakdown", metrics: ["declined_count"], where, time: { range }, group_by: ["merchant_id"], top_n: 5 }),
      // Anomalies are judged day by day: over the last 30 days when the period is everything.
      api("/query", { analysis: "anomaly", metrics: ["decline_rate"], where, time: { range: range === "all" ? "30d" : range } }),
      api("/query", { analysis: "forecast", metrics: ["transaction_count"], where, time: nextDays(14) }),
      api("/query", { analysis: "trend", metrics: ["declined_count"], where, time: { range }, granularity: "day", group_by: ["response_code"] }),
    ]);
    $("period-text").textContent = kpis.interpretation ? `Understood as: ${kpis.interpretation.text}` : "";
    renderKpis(kpis);
    chart($("chart-volume"), volume.series[0], "transaction_count");
    chart($("chart-approval"), approval.series[0], "approval_rate");
    chart($("chart-networks"), networks.series, "approval_rate by network");
    // The four codes with the most declines, one line each.
    const total = (s) => s.points.reduce((a, p) => a + (p.value || 0), 0);
    chart($("chart-codes"), [...codesDaily.series].sort((a, b) => total(b) - total(a)).slice(0, 4), "declined_count by response code");
    $("anomalies").textContent = unusual.summary;
    const f = forecast.forecast;
    chart($("chart-forecast"), f ? { unit: f.unit, metric: f.metric, dimensions: {}, points: f.points } : null, "forecast", true);
    $("forecast-text").textContent = forecast.summary;
    renderTop("top-chargebacks", chargebacks, "chargeback_count", "merchant_id", "No chargebacks in this period.");
    renderTop("top-codes", codes, "declined_count", "response_code", "No declines in this period.");
    renderTop("top-declines", declines, "declined_count", "merchant_id", "No declines in this period.");
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

// A ranking's rows in a two-column table.
function renderTop(table, answer, metric, dimension, empty) {
  const body = document.querySelector(`#${table} tbody`);
  body.replaceChildren();
  const rows = answer.metrics.filter((m) => m.name === metric && m.dimensions[dimension]);
  if (rows.length === 0) {
    const row = element("tr");
    row.append(element("td", { colspan: "2", class: "muted" }, empty));
    body.append(row);
  }
  for (const m of rows) {
    const row = element("tr");
    const name = m.dimensions.merchant_name ? `${m.dimensions.merchant_name} (${m.dimensions[dimension]})` : m.dimensions[dimension];
    row.append(element("td", {}, name), element("td", {}, shown(m)));
    body.append(row);
  }
}

// The next `n` days from today (UTC), as a typed query's period.
function nextDays(n) {
  const day = (d) => d.toISOString().slice(0, 10);
  const from = new Date();
  const to = new Date(from.getTime() + (n - 1) * 86400000);
  return { from: day(from), to: day(to) };
}

// A line chart of one series or several (one line each, with a legend), as SVG; a forecast's
// points carry `lower` and `upper`, drawn as a band when `band` is set.
function chart(figure, data, label, band = false) {
  figure.replaceChildren();
  const all = (Array.isArray(data) ? data : [data]).filter((s) => s && s.points.some((p) => p.value !== null));
  if (all.length === 0) {
    figure.append(element("figcaption", { class: "muted" }, "No data for this period."));
    return;
  }
  const series = all[0];
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 600 180");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${label} by day`);
  const points = series.points.filter((p) => p.value !== null);
  const values = all.flatMap((s) => s.points.filter((p) => p.value !== null).flatMap((p) => band ? [p.value, p.lower, p.upper] : [p.value]));
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const times = series.points.map((p) => p.t);
  const x = (t) => 40 + (Math.max(times.indexOf(t), 0) / Math.max(times.length - 1, 1)) * 550;
  const y = (v) => 165 - ((v - lo) / (hi - lo || 1)) * 150;
  const paths = all.map((s, k) => {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("class", `line line-${k % 4}`);
    const drawn = s.points.filter((p) => p.value !== null);
    path.setAttribute("d", drawn.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.value).toFixed(1)}`).join(" "));
    return path;
  });
  const axis = document.createElementNS(ns, "line");
  for (const [k, v] of Object.entries({ x1: 40, y1: 166, x2: 590, y2: 166, class: "axis" })) axis.setAttribute(k, v);
  const text = (tx, ty, s) => { const t = document.createElementNS(ns, "text"); t.setAttribute("x", tx); t.setAttribute("y", ty); t.textContent = s; return t; };
  const fmt = (v) => series.unit === "ratio" ? `${(v * 100).toFixed(1)}%` : integer.format(v);
  if (band) {
    const area = document.createElementNS(ns, "path");
    area.setAttribute("class", "band");
    const upper = points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.upper).toFixed(1)}`);
    const lower = [...points].reverse().map((p) => `L${x(p.t).toFixed(1)},${y(p.lower).toFixed(1)}`);
    area.setAttribute("d", `${upper.join(" ")} ${lower.join(" ")} Z`);
    svg.append(area);
  }
  svg.append(axis, ...paths, text(0, 20, fmt(hi)), text(0, 165, fmt(lo)), text(40, 178, points[0].t.slice(0, 10)), text(520, 178, points[points.length - 1].t.slice(0, 10)));
  figure.append(svg);
  if (all.length > 1) {
    const legend = element("figcaption", { class: "legend" });
    all.forEach((s, k) => legend.append(element("span", { class: `key key-${k % 4}` }, Object.values(s.dimensions).join(" ") || s.metric)));
    figure.append(legend);
  }
}

// ---- ask -------------------------------------------------------------------------------------

async function ask(question) {
  $("question").value = question;
  const answerBox = $("answer");
  try {
    const a = await api("/chat/query", { query: question });
    answerBox.hidden = false;
    $("answer-summary").textContent = a.summary;
    $("answer-interpretation").textContent = a.interpretation ? `Understood as: ${a.interpretation.text}` : "";
    $("answer-confidence").textContent = `Confidence ${Math.round(a.confidence * 100)}% · ${a.intent}`;
    const body = document.querySelector("#answer-metrics tbody");
    body.replaceChildren();
    for (const m of a.metrics.slice(0, 40)) {
      const row = element("tr");
      row.append(element("td", {}, m.name), element("td", {}, Object.entries(m.dimensions).map(([k, v]) => `${k}=${v}`).join(", ")), element("td", {}, m.period || ""), element("td", {}, shown(m)));
      body.append(row);
    }
    const series = a.forecast ? { unit: a.forecast.unit, metric: a.forecast.metric, dimensions: {}, points: a.forecast.points } : a.series[0];
    $("answer-chart").hidden = !series;
    if (series) chart($("answer-chart"), series, series.metric, Boolean(a.forecast));
    $("answer-evidence").replaceChildren(...a.evidence.map((e) => element("li", {}, `${e.agent} · ${e.source} · ${integer.format(e.facts_scanned)} facts${e.detail ? ` · ${e.detail}` : ""}`)));
    $("answer-warnings").replaceChildren(...a.warnings.map((w) => element("li", {}, w)));
    // Not understood: no number, the closest questions to pick from, or rephrase.
    const unsure = a.intent === "clarify" || a.intent === "unsupported";
    $("clarify").hidden = !unsure;
    const followups = unsure ? $("clarify-options") : $("answer-followups");
    $("clarify-options").replaceChildren();
    $("answer-followups").replaceChildren();
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

// ---- reports ---------------------------------------------------------------------------------

// Roles that may save mapping profiles (the server decides; the page only avoids asking in vain).
const PROFILE_ROLES = ["bank_admin", "admin"];

// A preview reads a text file's first 4 MiB: a larger one is sent only as far as that (the
// server cuts it at its last whole line). An XLSX is read whole (a zip's index is at its end).
const PREVIEW_BYTES = 4 << 20;

// The file being previewed, its latest preview, and what each column was read as.
const pending = { file: null, preview: null, original: new Map() };

async function loadReports() {
  $("reports-error").textContent = "";
  try {
    const page = await api("/reports?limit=100");
    const body = document.querySelector("#report-list tbody");
    body.replaceChildren();
    for (const r of page.reports) body.append(reportRow(r));
  } catch (e) {
    $("reports-error").textContent = e.message;
  }
}

function reportRow(r) {
  const row = element("tr", { "data-report": r.report_id });
  const status = element("td");
  if ((r.errors || []).length) {
    // The status opens onto the rows that were refused and why.
    const details = element("details");
    details.append(element("summary", {}, `${r.status}, ${r.errors.length} error${r.errors.length === 1 ? "" : "s"}`));
    const list = element("ul", { class: "warnings" });
    for (const e of r.errors.slice(0, 20)) list.append(element("li", {}, e.row ? `row ${e.row}${e.column ? ` (${e.column})` : ""}: ${e.message}` : e.message));
    details.append(list);
    status.append(details);
  } else {
    status.textContent = r.status;
  }
  row.append(
    element("td", {}, r.filename || r.report_id),
    element("td", {}, r.report_type || ""),
    status,
    element("td", {}, integer.format(r.rows_total || 0)),
    element("td", {}, integer.format(r.facts_loaded || 0)),
    element("td", {}, integer.format(r.rows_rejected || 0)),
    element("td", {}, integer.format(r.rows_skipped || 0)),
    element("td", {}, (r.created_at || "").slice(0, 19).replace("T", " ")),
    element("td", {}, r.uploaded_by ? r.uploaded_by.subject : ""),
  );
  return row;
}

// A file chosen or dropped: preview it before anything is stored.
function choose(file) {
  pending.file = file;
  pending.preview = null;
  pending.original = new Map();
  $("upload-name").textContent = file.name;
  $("upload-result").textContent = "";
  $("profile-result").textContent = "";
  $("upload-form").hidden = false;
  const roles = (claims(token()) || {}).roles || [];
  $("profile-save").hidden = !roles.some((r) => PROFILE_ROLES.includes(r));
  preview();
}

// The upload's query string: the report type, when one is chosen.
function uploadQuery(extra = {}) {
  const query = new URLSearchParams(extra);
  if ($("upload-type").value) query.set("report_type", $("upload-type").value);
  return query;
}

// The body of a preview or an upload: the mapping overrides (when there are any) before the file.
function uploadForm(file) {
  const form = new FormData();
  const mapping = overrides();
  if (mapping) form.append("mapping", JSON.stringify(mapping));
  form.append("file", file, pending.file.name);
  return form;
}

async function preview() {
  const file = pending.file;
  const head = new Uint8Array(await file.slice(0, 2).arrayBuffer());
  const zip = head[0] === 0x50 && head[1] === 0x4b;
  const sent = !zip && file.size > PREVIEW_BYTES ? file.slice(0, PREVIEW_BYTES + 1) : file;
  $("preview-status").textContent = "Reading the file…";
  try {
    const response = await fetch(`/reports/preview?${uploadQuery()}`, {
      method: "POST",
      headers: { "Authorization": `Bearer ${token()}` },
      body: uploadForm(sent),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(json.error ? json.error.message : `HTTP ${response.status}`);
    renderPreview(json);
  } catch (e) {
    $("preview-status").textContent = `The preview failed: ${e.message}`;
  }
}

// The table shown: the first table that holds transactions, unless another is chosen.
function shownSection(p) {
  const sections = (p.structure && p.structure.sections) || [];
  const chosen = sections.find((s) => String(s.line) === $("preview-section").value);
  return chosen || sections.find((s) => s.role === "detail") || sections[0] || null;
}

function renderPreview(p) {
  pending.preview = p;
  const sections = (p.structure && p.structure.sections) || [];
  const pick = $("preview-section");
  if (pick.options.length !== sections.length) {
    pick.replaceChildren(...sections.map((s) => element("option", { value: String(s.line) }, `line ${s.line}: ${s.name || s.role}, ${integer.format(s.rows)} rows`)));
  }
  $("preview-section-label").hidden = sections.length < 2;
  const section = shownSection(p);
  const read = `${integer.format(p.rows_read)} rows read, ${integer.format(p.rows_rejected)} rejected, ${integer.format(p.rows_skipped)} skipped${p.truncated ? " (from the file's first 4 MiB)" : ""}`;
  $("preview-status").textContent = p.would_load
    ? `Would load as ${p.report_type}: ${read}; mapping confidence ${Math.round(p.confidence * 100)}%.`
    : `Would not load: ${p.error || "see the notes below"}`;
  $("preview-status").className = p.would_load ? "" : "error";
  renderColumns(p, section);
  const notes = [
    ...p.mapping.filter((d) => !section || !section.columns.includes(d.column) || d.field.endsWith(".convention")).map((d) => `${d.field}: ${d.rule}`),
    ...p.warnings,
    ...p.skipped.map((s) => `${integer.format(s.rows)} rows skipped: ${s.reason}`),
    ...p.controls.filter((c) => !c.ok).flatMap((c) => c.differences.map((d) => `${c.source}: ${d}`)),
    ...p.errors.slice(0, 10).map((e) => `row ${e.row}${e.column ? ` (${e.column})` : ""}: ${e.message}`),
  ];
  $("preview-notes").replaceChildren(...notes.map((n) => element("li", {}, n)));
  const facts = document.querySelector("#preview-facts tbody");
  facts.replaceChildren(...p.facts.slice(0, 5).map(factRow));
  $("upload-button").disabled = false;
}

// One row per column of the table: a choice of field, preset to what it was read as.
function renderColumns(p, section) {
  const body = document.querySelector("#preview-columns tbody");
  const kept = new Map([...body.querySelectorAll("select")].map((s) => [s.dataset.column, s.value]));
  body.replaceChildren();
  if (!section) return;
  const fields = [...document.querySelectorAll("#mapping-fields option")].map((o) => o.value);
  for (const column of section.columns) {
    const decision = p.mapping.find((d) => d.column === column && (d.section === undefined || d.section === section.line) && !d.field.endsWith(".convention"));
    const readAs = decision && fields.includes(decision.field) ? decision.field : "";
    if (!pending.original.has(column)) pending.original.set(column, readAs);
    const select = element("select", { "data-column": column, "aria-label": `${column} is read as` });
    select.append(element("option", { value: "" }, "not used"), ...fields.map((f) => element("option", { value: f }, f)));
    select.value = kept.has(column) ? kept.get(column) : readAs;
    const row = element("tr");
    row.append(
      element("td", {}, column),
      element("td"),
      element("td", {}, decision && readAs ? `${Math.round(decision.confidence * 100)}%` : "—"),
      element("td", { class: "muted" }, decision ? decision.rule : ""),
    );
    row.children[1].append(select);
    body.append(row);
  }
}

function factRow(f) {
  const row = element("tr");
  row.append(
    element("td", {}, f.transaction_id),
    element("td", {}, f.stage),
    element("td", {}, f.occurred_at.slice(0, 19).replace("T", " ")),
    element("td", {}, money(f.amount)),
    element("td", {}, f.network || ""),
    element("td", {}, f.merchant_id || ""),
  );
  return row;
}

// An exact amount in minor units, shown in its currency's own decimals.
function money(amount) {
  try {
    const format = new Intl.NumberFormat("en-US", { style: "currency", currency: amount.currency });
    const digits = format.resolvedOptions().maximumFractionDigits;
    return format.format(amount.minor / 10 ** digits);
  } catch {
    return `${amount.minor} ${amount.currency} (minor units)`;
  }
}

// The person's choices as mapping overrides (docs/ingestion.md), or null when there are none:
// a column given a field maps it; a field whose column was set to "not used" is absent.
function overrides() {
  const columns = {};
  for (const select of document.querySelectorAll("#preview-columns select")) {
    const before = pending.original.get(select.dataset.column) || "";
    if (select.value === before) continue;
    if (before && !(before in columns)) columns[before] = null;
  }
  for (const select of document.querySelectorAll("#preview-columns select")) {
    const before = pending.original.get(select.dataset.column) || "";
    if (select.value && select.value !== before) columns[select.value] = select.dataset.column;
  }
  const mapping = {};
  if (Object.keys(columns).length) mapping.columns = columns;
  if ($("upload-date-order").value) mapping.date_order = $("upload-date-order").value;
  return Object.keys(mapping).length ? mapping : null;
}

// Uploads with XMLHttpRequest: fetch reports no upload progress.
function upload() {
  const file = pending.file;
  const bar = $("upload-progress");
  bar.hidden = false;
  bar.value = 0;
  $("upload-button").disabled = true;
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/reports?${uploadQuery({ wait: "true" })}`);
  xhr.setRequestHeader("Authorization", `Bearer ${token()}`);
  xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total; });
  xhr.addEventListener("load", () => {
    bar.hidden = true;
    const r = JSON.parse(xhr.responseText || "{}");
    $("upload-result").textContent = xhr.status < 300
      ? `${file.name}: ${r.status}${r.duplicate ? " (these bytes were uploaded before)" : ""}, ${integer.format(r.facts_loaded || 0)} facts loaded, ${integer.format(r.rows_rejected || 0)} rows rejected, ${integer.format(r.rows_skipped || 0)} skipped`
      : `${file.name}: ${r.error ? r.error.message : `HTTP ${xhr.status}`}`;
    if (xhr.status < 300) $("upload-form").hidden = true;
    $("upload-button").disabled = false;
    loadReports();
  });
  xhr.addEventListener("error", () => {
    bar.hidden = true;
    $("upload-button").disabled = false;
    $("upload-result").textContent = `${file.name}: the upload failed (the connection broke); nothing was stored, try again`;
  });
  xhr.send(uploadForm(file));
}

// Saves the choices as a profile for the shown table's header.
async function saveProfile() {
  const section = pending.preview && shownSection(pending.preview);
  const mapping = overrides();
  const name = $("profile-name").value.trim();
  const say = (text) => { $("profile-result").textContent = text; };
  if (!section) return say("The file has no table to save a profile for.");
  if (!mapping) return say("Nothing to save: change how a column is read first.");
  if (!name) return say("Give the profile a name.");
  try {
    const saved = await api("/mapping-profiles", { name, fingerprint: section.fingerprint, mapping });
    say(`Saved “${saved.name}”: files with this header (fingerprint ${saved.fingerprint}) will be read this way.`);
  } catch (e) {
    say(e.status === 409 ? `A profile for this header exists already: ${e.message}` : e.message);
  }
}

function dropZone() {
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const file = e.dataTransfer.files[0];
    if (file) choose(file);
  });
}

// ---- audit -----------------------------------------------------------------------------------

// Roles that may read the audit trail (the server decides; the page only avoids asking in vain).
const AUDIT_ROLES = ["auditor", "bank_admin", "admin"];

async function loadAudit() {
  $("audit-error").textContent = "";
  const roles = (claims(token()) || {}).roles || [];
  if (!roles.some((r) => AUDIT_ROLES.includes(r))) {
    $("audit-status").textContent = "";
    $("audit-export").hidden = true;
    $("audit-trail-box").hidden = true;
    $("audit-error").textContent = "Your token has no auditor role: the audit trail is for auditors and bank administrators.";
    return;
  }
  $("audit-export").hidden = false;
  $("audit-trail-box").hidden = false;
  try {
    const v = await api("/audit/verify");
    $("audit-status").textContent = v.ok ? `The audit chain verifies: ${integer.format(v.records)} records, every link intact.` : `The audit chain is broken: ${JSON.stringify(v)}`;
  } catch (e) {
    $("audit-error").textContent = e.status === 403 ? "Your token has no auditor role." : e.message;
    return;
  }
  loadTrail();
}

// The trail, newest first; `cursor` continues it with older entries.
async function loadTrail(cursor) {
  const query = new URLSearchParams({ limit: "50" });
  const subject = $("audit-subject").value.trim();
  if (subject) query.set("subject", subject);
  if (cursor) query.set("cursor", cursor);
  try {
    const page = await api(`/audit/answers?${query}`);
    const body = document.querySelector("#audit-trail tbody");
    if (!cursor) body.replaceChildren();
    for (const a of page.answers) {
      const row = element("tr", { "data-answer": a.answer_id });
      row.append(
        element("td", {}, String(a.created_at).slice(0, 19).replace("T", " ")),
        element("td", {}, a.asked_by ? a.asked_by.subject : "—"),
        element("td", {}, a.question || a.event || ""),
        element("td", {}, a.interpretation || (a.intent ? `not answered (${a.intent})` : "")),
        element("td", {}, typeof a.confidence === "number" ? `${Math.round(a.confidence * 100)}%` : ""),
      );
      body.append(row);
    }
    if (!body.children.length) {
      const row = element("tr");
      row.append(element("td", { colspan: "5", class: "muted" }, subject ? `Nothing asked by ${subject}.` : "No answers yet."));
      body.append(row);
    }
    const more = $("audit-more");
    more.hidden = !page.next_cursor;
    more.dataset.cursor = page.next_cursor || "";
  } catch (e) {
    $("audit-error").textContent = e.message;
  }
}

async function exportAudit() {
  try {
    const r = await api("/audit/export", {});
    $("audit-export-result").textContent = `Exported ${integer.format(r.records)} records to ${r.object} (chain ${r.chain_ok ? "intact" : "broken"}).`;
  } catch (e) {
    $("audit-error").textContent = e.message;
  }
}

// ---- start -----------------------------------------------------------------------------------

$("token-form").addEventListener("submit", (e) => { e.preventDefault(); signIn($("token").value.trim()); });
$("sign-out").addEventListener("click", signOut);
$("filters").addEventListener("change", loadOverview);
$("ask-form").addEventListener("submit", (e) => { e.preventDefault(); ask($("question").value.trim()); });
$("upload-file").addEventListener("change", () => { const f = $("upload-file").files[0]; if (f) choose(f); });
$("upload-form").addEventListener("submit", (e) => { e.preventDefault(); upload(); });
$("preview-again").addEventListener("click", preview);
$("upload-type").addEventListener("change", preview);
$("upload-date-order").addEventListener("change", preview);
$("preview-section").addEventListener("change", () => { pending.original = new Map(); renderPreview(pending.preview); });
$("upload-cancel").addEventListener("click", () => { $("upload-form").hidden = true; $("upload-file").value = ""; });
$("profile-save-button").addEventListener("click", saveProfile);
$("profile-name").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); saveProfile(); } });
$("clarify-rephrase").addEventListener("click", () => { $("question").focus(); $("question").select(); });
$("audit-filter").addEventListener("submit", (e) => { e.preventDefault(); loadTrail(); });
$("audit-more").addEventListener("click", () => loadTrail($("audit-more").dataset.cursor));
dropZone();
$("audit-export").addEventListener("click", exportAudit);
window.addEventListener("hashchange", () => { if (token()) route(); });

if (token()) showSignedIn(); else offerDemo();
