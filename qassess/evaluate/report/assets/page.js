"use strict";
// qassess report: everything below builds the DOM with textContent and createElement, never with
// innerHTML, so text from files or the model is shown as text whatever it holds.
async function readBlob(id) {
  // Plain JSON, or for large runs gzip + base64 inflated by the browser itself (no library, no network).
  const node = document.getElementById(id);
  if (node.dataset.encoding !== "gzip+base64") return JSON.parse(node.textContent);
  if (typeof DecompressionStream === "undefined") {
    throw new Error("this browser cannot inflate the report's data (DecompressionStream: Chrome 80+, Firefox 113+, Safari 16.4+)");
  }
  const text = node.textContent.trim();
  let bytes;
  if (typeof Uint8Array.fromBase64 === "function") bytes = Uint8Array.fromBase64(text);
  else {
    const bin = atob(text);
    bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  }
  node.textContent = "";  // the base64 copy is not needed any more
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(stream).text());
}

readBlob("qassess-data").then(main, (err) => {
  const box = document.getElementById("summary");
  box.textContent = "";
  box.append(Object.assign(document.createElement("p"), {textContent: "The report's data cannot be read: " + err.message}));
  document.body.dataset.ready = "error";
});

function main(D) {
  document.body.dataset.dataMs = String(Math.round(performance.now()));  // data read (bench: where the time goes)
  const T = JSON.parse(document.getElementById("qassess-thumbs").textContent);
  const C = D.columns, N = C.id.length, PAGE = 60;
  const thumbOf = new Map();
  T.row.forEach((r, k) => thumbOf.set(r, k));

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  }
  const fmt = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v)) ? "n/a" : Number(v).toFixed(d);
  const signed = (v, d = 2) => (v === null || v === undefined) ? "n/a" : (v > 0 ? "+" : "") + Number(v).toFixed(d);
  const num = (v) => Number(v).toLocaleString("en");
  const has = (col) => C[col] && C[col].some((v) => v !== null && v !== "");

  // ---- summary -------------------------------------------------------------------------------
  const S = D.summary;
  document.getElementById("meta").textContent = [
    `${num(N)} rows from ${S.source}`, S.models && S.models.length ? `model ${S.models.join(", ")}` : "",
    S.templates && S.templates.length ? `template ${S.templates.join(", ")}` : "",
    S.backends && S.backends.length ? `backend ${S.backends.join(", ")}` : "",
    `report made ${D.generated} by qassess ${D.version}`].filter(Boolean).join(" · ");
  if (S.manifest) document.getElementById("meta").append(el("br"), `manifest: ${S.manifest}`);
  const summary = document.getElementById("summary");
  summary.textContent = "";

  function panel(title, ...kids) {
    const p = el("div", {class: "panel"}, el("h3", {text: title}), ...kids);
    summary.append(p);
    return p;
  }
  function table(rows) {
    return el("table", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) =>
      el("td", {class: i && typeof c === "number" ? "num" : "", text: typeof c === "number" ? num(c) : String(c)})))));
  }
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function histogram(h, label) {
    const W = 300, H = 120, L = 34, B = 20, n = h.counts.length, max = Math.max(1, ...h.counts);
    const s = svg("svg", {width: W, height: H + B, viewBox: `0 0 ${W} ${H + B}`, role: "img", "aria-label": label});
    const bw = (W - L) / n;
    h.counts.forEach((c, i) => {
      const bh = (c / max) * (H - 8);
      const r = svg("rect", {class: "bar", x: L + i * bw + 1, y: H - bh, width: Math.max(1, bw - 2), height: bh});
      r.append(svg("title", {}, `${h.edges[i]}–${h.edges[i + 1]}: ${num(c)}`));
      s.append(r);
    });
    s.append(svg("text", {x: 0, y: 10}, num(max)), svg("text", {x: 0, y: H}, "0"));
    const ticks = [0, Math.floor(n / 2), n];
    for (const t of ticks) s.append(svg("text", {x: L + t * bw - 6, y: H + 14}, String(h.edges[t])));
    return s;
  }
  function stats(h) {
    return el("p", {class: "note", text: h.n ? `n ${num(h.n)}, mean ${fmt(h.mean)}, median ${fmt(h.median)}, ` +
      `min ${fmt(h.min)}, max ${fmt(h.max)}` : "no values"});
  }
  function scatter(sc) {
    const W = 320, H = 260, L = 36, B = 26, cv = el("canvas", {width: W, height: H, role: "img",
      "aria-label": "rating against MOS"});
    const ctx = cv.getContext("2d"), xs = sc.rating, ys = sc.mos;
    const lo = (a) => a.reduce((m, v) => (v !== null && v < m ? v : m), Infinity);
    const hi = (a) => a.reduce((m, v) => (v !== null && v > m ? v : m), -Infinity);
    const [x0, x1, y0, y1] = [Math.min(1, lo(xs)), Math.max(5, hi(xs)), lo(ys), hi(ys)];
    const TOP = 18;
    const px = (v) => L + ((v - x0) / (x1 - x0 || 1)) * (W - L - 8), py = (v) => H - B - ((v - y0) / (y1 - y0 || 1)) * (H - B - TOP - 4);
    ctx.strokeStyle = "#9aa5ad"; ctx.strokeRect(L, TOP, W - L - 4, H - B - TOP);
    ctx.fillStyle = "#5f6b73"; ctx.font = "10px sans-serif";
    for (const v of [x0, (x0 + x1) / 2, x1]) ctx.fillText(v.toFixed(1), px(v) - 8, H - B + 12);
    for (const v of [y0, (y0 + y1) / 2, y1]) ctx.fillText(v.toPrecision(3), 0, py(v) + 3);
    ctx.fillText("rating →", W - 60, H - 2); ctx.fillText("MOS ↑", 0, 10);
    const alpha = Math.max(0.05, Math.min(0.8, 200 / xs.length)), palette = ["31,95,168", "214,96,20", "46,140,60", "150,60,170"];
    const groups = sc.group ? [...new Set(sc.group)] : [""];
    const jitter = (i) => (((i * 2654435761) % 1000) / 1000 - 0.5) * 4;  // fixed, so ties show as a cloud
    groups.forEach((g, k) => {
      ctx.fillStyle = `rgba(${palette[k % palette.length]},${alpha})`;
      for (let i = 0; i < xs.length; i++) if (!sc.group || sc.group[i] === g) ctx.fillRect(px(xs[i]) + jitter(i) - 1.5, py(ys[i]) - 1.5, 3, 3);
    });
    const wrap = el("div", {}, cv);
    if (sc.group) wrap.append(el("p", {class: "note", text: "colours: " + groups.map((g, k) => `${g} ${["blue", "orange", "green", "purple"][k % 4]}`).join(", ")}));
    return wrap;
  }

  const counts = Object.entries(S.statuses).sort((a, b) => b[1] - a[1]);
  panel("Rows by status", table([...counts, ["total", N]]));
  panel("Rating (all rows with one)", histogram(S.rating, "rating histogram"), stats(S.rating));
  const cmp = S.compare;
  if (cmp && cmp.overall && cmp.overall.n !== undefined) {
    const o = cmp.overall, rows = [["rows used", o.n], ["PLCC", fmt(o.plcc, 3)], ["SRCC", fmt(o.srcc, 3)],
      ["KRCC", fmt(o.krcc, 3)], ["RMSE", fmt(o.rmse, 3)], ["PLCC mapping", o.plcc_mapping]];
    if (o.self_check) rows.push(["self-check SRCC", fmt(o.self_check.srcc, 3)]);
    if (o.rouge1) rows.push(["ROUGE-1 F1", fmt(o.rouge1.f1, 3)]);
    const groups = Object.keys(cmp.groups || {});
    const p = panel("Against ground truth (qassess compare)", table(rows));
    if (groups.length > 1) p.append(table([["group", "n", "PLCC", "SRCC"], ...groups.map((g) =>
      [g, cmp.groups[g].n, fmt(cmp.groups[g].plcc, 3), fmt(cmp.groups[g].srcc, 3)])]));
    for (const [g, m] of Object.entries(S.error_mapping || {})) p.append(el("p", {class: "note", text: `error (${g}): rating on the MOS scale by ${m}, minus MOS`}));
  } else if (cmp && cmp.overall && cmp.overall.rouge1) {
    panel("Against references", table([["ROUGE-1 F1", fmt(cmp.overall.rouge1.f1, 3)], ["rows", cmp.overall.rouge1.n]]));
  }
  if (S.scatter && S.scatter.rating.length) panel(`Rating vs MOS (${num(S.scatter.rating.length)} rows)`, scatter(S.scatter));
  if (S.gap) {
    const c = S.consistency;
    panel("Self-check: caption-only minus image rating", histogram(S.gap, "self-check gap histogram"), stats(S.gap),
      c ? el("p", {class: "note", text: `image vs caption-only: PLCC ${fmt(c.plcc, 3)}, SRCC ${fmt(c.srcc, 3)}, mean |gap| ${fmt(c.mean_abs_gap)}`}) : null);
  }
  if (S.spread) panel("Rating spread over samples", histogram(S.spread, "spread histogram"), stats(S.spread));
  if (D.warnings.length) {
    const p = panel("Notes", el("ul", {}, ...D.warnings.map((w) => el("li", {class: "note", text: w}))));
    p.classList.add("warn");
  }

  // ---- failures ------------------------------------------------------------------------------
  const failed = [];
  for (let i = 0; i < N; i++) if (C.status[i] !== "ok") failed.push(i);
  if (failed.length) {
    const box = document.getElementById("failures"), MAX = 500;
    box.hidden = false;
    box.append(el("h2", {text: `Failures (${num(failed.length)})`}),
      table([["id", "status", "error"], ...failed.slice(0, MAX).map((i) => [C.name[i], C.status[i], C.error[i] || "(no message)"])]));
    if (failed.length > MAX) box.append(el("p", {class: "note", text: `First ${MAX} shown; filter the gallery by status for all.`}));
  }

  // ---- gallery -------------------------------------------------------------------------------
  const SORTS = [  // [value, label, column, key of a non-null value (ascending); rows without a value go last]
    ["file", "file order", null, null],
    ["rating-desc", "rating, high to low", "rating", (v) => -v],
    ["rating-asc", "rating, low to high", "rating", (v) => v],
    ["error", "error against MOS, largest first", "err", (v) => -Math.abs(v)],
    ["gap", "self-check gap, largest first", "gap", (v) => -Math.abs(v)],
    ["spread", "rating spread, largest first", "spread", (v) => -v],
  ];
  const sortSel = document.getElementById("sort"), statusSel = document.getElementById("status");
  for (const [key, label, col] of SORTS) {
    const o = el("option", {value: key, text: label});
    if (col && !has(col)) { o.disabled = true; o.textContent += " (no data)"; }
    sortSel.append(o);
  }
  statusSel.append(el("option", {value: "", text: `all (${num(N)})`}));
  for (const [s, n] of counts) statusSel.append(el("option", {value: s, text: `${s} (${num(n)})`}));
  document.getElementById("thumbnote").textContent = D.thumb_note;
  const withpic = document.getElementById("withpic"), search = document.getElementById("search");
  let order = [], page = 0;

  function refresh() {
    const status = statusSel.value, q = search.value.trim().toLowerCase(), pic = withpic.checked;
    const keep = [];
    for (let i = 0; i < N; i++) {
      if (status && C.status[i] !== status) continue;
      if (pic && !thumbOf.has(i)) continue;
      if (q && !C.name[i].toLowerCase().includes(q) && !C.id[i].toLowerCase().includes(q)) continue;
      keep.push(i);
    }
    const sort = SORTS.find((s) => s[0] === sortSel.value);
    if (sort && sort[2]) {
      const key = new Float64Array(N), col = C[sort[2]];
      for (const i of keep) key[i] = col[i] === null ? Infinity : sort[3](col[i]);
      keep.sort((a, b) => key[a] - key[b] || a - b);  // rows without a value go last, ties in file order
    }
    order = keep; page = 0; render();
  }

  function render() {
    const grid = document.getElementById("grid"), pages = Math.max(1, Math.ceil(order.length / PAGE));
    page = Math.min(Math.max(0, page), pages - 1);
    grid.textContent = "";
    const start = page * PAGE, end = Math.min(order.length, start + PAGE);
    for (let k = start; k < end; k++) grid.append(card(order[k]));
    document.getElementById("shown").textContent = order.length ?
      `Showing ${num(start + 1)}–${num(end)} of ${num(order.length)} rows` + (order.length < N ? ` (filtered from ${num(N)})` : "") :
      "No row matches.";
    document.getElementById("page").textContent = `page ${page + 1} of ${pages}`;
    document.getElementById("prev").disabled = page === 0;
    document.getElementById("next").disabled = page >= pages - 1;
  }

  function picture(i, cls) {
    const k = thumbOf.get(i);
    if (k !== undefined) {
      return el("img", {class: cls, src: T.uri[k], width: T.w[k], height: T.h[k], alt: `image ${C.id[i]}`});
    }
    const why = C.why[i] || (C.mode[i] === "caption" ? "caption-only row: no image" : "no picture: not among the rows pictured");
    return el("div", {class: "nothumb", text: why});
  }

  function badges(i) {
    const b = el("div", {class: "badges"});
    const ok = C.status[i] === "ok";
    b.append(el("span", {class: "badge " + (ok ? "status-ok" : "failed"), text: C.status[i]}));
    if (C.rating[i] !== null) b.append(el("span", {class: "badge rating", text: `rating ${fmt(C.rating[i])}`}));
    if (C.mos[i] !== null) b.append(el("span", {class: "badge", text: `MOS ${fmt(C.mos[i], 3)}`}));
    if (C.err[i] !== null) b.append(el("span", {class: "badge", text: `err ${signed(C.err[i])}`}));
    if (C.gap[i] !== null) b.append(el("span", {class: "badge", text: `gap ${signed(C.gap[i], 1)}`}));
    if (C.spread[i] !== null) b.append(el("span", {class: "badge", text: `± ${fmt(C.spread[i])}`}));
    return b;
  }

  function card(i) {
    const ok = C.status[i] === "ok";
    const c = el("div", {class: "card", tabindex: "0", role: "button", "data-row": String(i)},
      picture(i, "thumb"), el("div", {class: "id", title: C.id[i], text: C.name[i]}), badges(i),
      el("div", {class: "text" + (ok ? "" : " error"), text: ok ? C.caption[i] : (C.error[i] || C.status[i])}));
    c.addEventListener("click", () => openDetail(i));
    c.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openDetail(i); } });
    return c;
  }

  let current = -1;  // the row in the detail; the arrow keys step through the gallery's order
  function step(delta) {
    const pos = order.indexOf(current) + delta;
    if (pos >= 0 && pos < order.length) openDetail(order[pos]);
  }

  function openDetail(i) {
    current = i;
    const body = document.getElementById("detail-body"), k = thumbOf.get(i);
    body.textContent = "";
    body.append(picture(i, "large"));
    const dl = el("dl");
    const add = (name, value) => { if (value !== null && value !== undefined && value !== "") dl.append(el("dt", {text: name}), el("dd", {text: String(value)})); };
    add("id", C.name[i]); if (C.id[i] !== C.name[i] && C.id[i] !== C.path[i]) add("joined by", C.id[i]);
    add("path", C.path[i]); add("status", C.status[i]); add("error", C.error[i]);
    add("rating", C.rating[i] === null ? null : fmt(C.rating[i], 3));
    add("sample ratings", C.ratings[i] ? C.ratings[i].map((r) => r === null ? "unparsed" : r).join(", ") : null);
    add("spread", C.spread[i] === null ? null : fmt(C.spread[i], 3));
    add("expected rating", C.expected[i] === null ? null : fmt(C.expected[i], 3) + " (from token probabilities)");
    add("caption-only rating", C.sc[i] === null ? null : fmt(C.sc[i], 2));
    add("self-check gap", C.gap[i] === null ? null : signed(C.gap[i], 2) + " (caption-only minus image)");
    add("self-check error", C.sc_error[i]);
    add("MOS", C.mos[i] === null ? null : fmt(C.mos[i], 4) + (C.group[i] ? ` (${C.group[i]})` : ""));
    add("error", C.err[i] === null ? null : signed(C.err[i], 3));
    add("ROUGE-1 F1", C.rouge[i] === null ? null : fmt(C.rouge[i], 3));
    add("caption", C.caption[i]); add("reasoning", C.reasoning[i]); add("generated text", C.raw[i]);
    if (k !== undefined) {
      add("picture", `${T.w[k]}×${T.h[k]} px, downscaled for this page`);
      if (T.file[k] && T.file[k].startsWith("file:")) {
        dl.append(el("dt", {text: "original"}), el("dd", {}, el("a", {href: T.file[k], target: "_blank", rel: "noopener", text: "open the file"})));
      }
    }
    body.append(dl);
    const dialog = document.getElementById("detail");
    if (!dialog.open) dialog.showModal();
  }

  document.getElementById("close").addEventListener("click", () => document.getElementById("detail").close());
  document.getElementById("detail-prev").addEventListener("click", () => step(-1));
  document.getElementById("detail-next").addEventListener("click", () => step(1));
  document.getElementById("detail").addEventListener("keydown", (e) => {
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") { e.preventDefault(); step(e.key === "ArrowLeft" ? -1 : 1); }
  });
  document.getElementById("prev").addEventListener("click", () => { page--; render(); });
  document.getElementById("next").addEventListener("click", () => { page++; render(); });
  for (const c of [sortSel, statusSel, withpic]) c.addEventListener("change", refresh);
  search.addEventListener("input", refresh);
  refresh();
  document.body.dataset.readyMs = String(Math.round(performance.now()));
  document.body.dataset.ready = "1";  // for tests and the benchmark: the page is interactive
}
