"use strict";
(function () {
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const names = { p: "pass", f: "fail", w: "warn", i: "info", u: "unsupported", e: "error" };
  const state = { profile: data.profiles[0], area: "", verdicts: new Set(Object.values(names)), targets: new Set(data.targets.map((_, t) => t)) };
  const cache = new Map();
  let lines = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  // Filters: areas and targets come from the data.
  const areaSelect = document.getElementById("area");
  for (const area of [...new Set(data.cases.map((c) => c[1]))]) areaSelect.append(el("option", { value: area }, area));
  const targetFilter = document.getElementById("target-filter");
  data.targets.forEach(([name], t) => {
    const box = el("input", { type: "checkbox", name: "target", value: String(t) });
    box.checked = true;
    targetFilter.append(el("label", { class: "tchip" }, box, " " + name));
  });

  function render() {
    const codes = data.verdicts[state.profile] || [];
    const shown = data.targets.map((_, t) => t).filter((t) => state.targets.has(t));
    const head = document.getElementById("matrix-head");
    head.replaceChildren(el("th", { scope: "col" }, "case"));
    for (const t of shown) {
      const [name, versions] = data.targets[t];
      head.append(el("th", { scope: "col", title: versions[state.profile] || "" }, name, el("span", { class: "ver" }, versions[state.profile] || "not run")));
    }
    const body = document.createDocumentFragment();
    let area = null, req = null, rows = 0;
    data.cases.forEach(([id, caseArea, requirement, level], c) => {
      if (state.area && caseArea !== state.area) return;
      const cells = shown.map((t) => (codes[t] || "")[c] || ".");
      if (!cells.some((code) => code !== "." && state.verdicts.has(names[code.toLowerCase()]))) return;
      if (caseArea !== area) {
        area = caseArea; req = null;
        body.append(el("tr", { class: "area" }, el("td", { colspan: String(shown.length + 1) }, caseArea)));
      }
      if (requirement !== req) {
        req = requirement;
        const rule = data.rules[requirement];
        body.append(el("tr", { class: "req" }, el("td", { colspan: String(shown.length + 1) },
          el("code", null, requirement || "no requirement"), rule ? " " + rule[2] : "")));
      }
      const row = el("tr", { class: "case", "data-c": String(c) }, el("th", { scope: "row" }, el("span", { class: "mono" }, id), el("span", { class: "lvl" }, level)));
      cells.forEach((code, i) => {
        // A capital marks a case the target's known-failures file lists.
        const lower = code.toLowerCase();
        const kind = names[lower];
        const known = code !== lower;
        const cell = el("td", { class: "c " + (kind ? "v-" + kind : "none") + (known ? " known" : ""), "data-t": String(shown[i]), tabindex: "0",
          title: kind ? kind + (known ? " (known failure)" : "") : "not run" }, kind ? data.symbols[lower] : "·");
        row.append(cell);
      });
      body.append(row);
      rows++;
    });
    document.getElementById("matrix-body").replaceChildren(body);
    document.getElementById("empty").hidden = rows > 0;
    for (const section of document.querySelectorAll("section.summary")) section.hidden = section.dataset.profile !== state.profile;
  }

  function details(t) {
    const key = state.profile + "-" + t;
    if (!cache.has(key)) {
      const blob = document.getElementById("cells-" + key);
      cache.set(key, blob ? JSON.parse(blob.textContent) : []);
    }
    if (lines === null) lines = JSON.parse(document.getElementById("lines").textContent);
    return cache.get(key);
  }

  function table(head, rows) {
    return el("table", null, el("thead", null, el("tr", null, ...head.map((h) => el("th", null, h)))),
      el("tbody", null, ...rows.map((r) => el("tr", null, ...r.map((v) => el("td", null, v === null || v === undefined ? "" : String(v)))))));
  }

  function open(c, t) {
    const [id, , , level] = data.cases[c];
    const d = details(t)[c];
    const [name, versions] = data.targets[t];
    const panel = document.getElementById("panel-body");
    const parts = [el("h2", null, id), el("p", { class: "meta" }, name + " " + (versions[state.profile] || "") + " · " + state.profile + " · level " + level)];
    if (!d) {
      parts.push(el("p", null, "Not run for this target under this profile."));
    } else {
      parts.push(el("p", null, el("span", { class: "badge v-" + d.v }, data.symbols[Object.keys(names).find((k) => names[k] === d.v)] + " " + d.v), " ", d.d));
      if (d.o) parts.push(el("p", { class: "meta" }, "outcome: " + d.o));
      if (d.k) parts.push(el("p", { class: "meta" }, "known failure: " + d.k));
      if (d.e && d.e.length) {
        parts.push(el("h3", null, "Expected and seen"));
        parts.push(table(["where", "field", "expected", "seen", "rule", "section"], d.e.map(([hop, step, field, expected, seen, rule, section]) =>
          [hop ? "hop " + hop : step ? "step " + step : "", field, expected, seen, rule, section])));
      }
      if (d.s && d.s.length) {
        parts.push(el("h3", null, "What the client reported"));
        parts.push(table(["step", "status", "url", "error"], d.s.map(([status, url, error], i) => [i + 1, status, url, error])));
      }
      parts.push(el("h3", { id: "transcript" }, "Transcript (" + d.h.length + " hops)"));
      for (const [index, method, url, status, headers, bodyText] of d.h) {
        parts.push(el("div", { class: "hop" },
          el("div", { class: "line mono" }, "#" + index + " " + method + " " + url + " → " + (status || "no answer")),
          el("pre", { class: "mono" }, headers.map((h) => lines[h]).join("\n")),
          el("div", { class: "body" }, "body: " + bodyText)));
      }
      parts.push(el("h3", null, "Rules"));
      const cited = [...new Set(d.r.concat((d.e || []).map((e) => e[5])))];
      for (const rid of cited) {
        const rule = data.rules[rid];
        parts.push(el("p", null, el("code", null, rid), rule ? " (" + rule[0] + ", " + rule[1] + ") " + rule[2] : ""));
        if (rule) parts.push(el("blockquote", null, rule[3]));
      }
      if (d.x) parts.push(el("h3", null, "stderr"), el("pre", { class: "stderr mono" }, d.x));
      parts.push(el("p", { class: "meta" }, d.ms + " ms"));
    }
    panel.replaceChildren(...parts);
    showPanel(true);
    // The address names the open cell, so that it can be copied as a link.
    history.replaceState(null, "", "#" + link(state.profile, name, id));
  }

  // A cell's link: #<profile>/<target>/<case id>, each part URI-encoded but
  // for the case id's slashes (profiles and target names hold none).
  function link(profile, target, id) {
    return [profile, target, ...id.split("/")].map(encodeURIComponent).join("/");
  }

  // Opens the cell the fragment names (see link): its profile, with the
  // filters widened so that its row and column show, scrolled into view.
  // A fragment that names no cell is left alone.
  function openFromFragment() {
    const parts = location.hash.slice(1).split("/").map((part) => { try { return decodeURIComponent(part); } catch (e) { return ""; } });
    if (parts.length < 3) return;
    const [profile, target, ...rest] = parts;
    const t = data.targets.findIndex(([name]) => name === target);
    const c = data.cases.findIndex(([id]) => id === rest.join("/"));
    if (!data.profiles.includes(profile) || t < 0 || c < 0) return;
    state.profile = profile;
    for (const radio of document.querySelectorAll("input[name=profile]")) radio.checked = radio.value === profile;
    if (state.area && state.area !== data.cases[c][1]) { state.area = ""; areaSelect.value = ""; }
    if (!state.targets.has(t)) {
      state.targets.add(t);
      document.querySelector("input[name=target][value='" + t + "']").checked = true;
    }
    const kind = names[((data.verdicts[profile] || [])[t] || "")[c]?.toLowerCase()];
    if (kind && !state.verdicts.has(kind)) {
      state.verdicts.add(kind);
      document.querySelector("input[name=verdict][value='" + kind + "']").checked = true;
    }
    render();
    const cell = document.querySelector("tr.case[data-c='" + c + "'] td.c[data-t='" + t + "']");
    if (cell) {
      cell.classList.add("sel");
      cell.scrollIntoView({ block: "center" });
    }
    open(c, t);
  }

  function showPanel(shown) {
    document.getElementById("panel").hidden = !shown;
    document.body.classList.toggle("panel-open", shown);
  }

  const matrix = document.getElementById("matrix-body");
  function cellEvent(event) {
    const cell = event.target.closest("td.c");
    if (!cell) return;
    for (const old of document.querySelectorAll("td.c.sel")) old.classList.remove("sel");
    cell.classList.add("sel");
    open(Number(cell.parentElement.dataset.c), Number(cell.dataset.t));
  }
  matrix.addEventListener("click", cellEvent);
  matrix.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); cellEvent(event); } });
  document.getElementById("panel-close").addEventListener("click", () => showPanel(false));
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") showPanel(false); });

  for (const radio of document.querySelectorAll("input[name=profile]")) radio.addEventListener("change", () => { state.profile = radio.value; showPanel(false); render(); });
  areaSelect.addEventListener("change", () => { state.area = areaSelect.value; render(); });
  for (const box of document.querySelectorAll("input[name=verdict]")) box.addEventListener("change", () => { box.checked ? state.verdicts.add(box.value) : state.verdicts.delete(box.value); render(); });
  for (const box of document.querySelectorAll("input[name=target]")) box.addEventListener("change", () => { const t = Number(box.value); box.checked ? state.targets.add(t) : state.targets.delete(t); render(); });

  render();
  openFromFragment();
  window.addEventListener("hashchange", openFromFragment);
  document.body.dataset.ready = "true";
})();
