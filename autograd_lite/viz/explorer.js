// The explorer page's script (viz.html). Every number and text comes from Python, by the ids
// of the drawing's nodes (leaf0, t3, op3, c3_1) and edges (e3: from op 3 to its output; e3_1:
// into its input 1): this script only puts the chosen pass on the drawing, shows tooltips and
// lights up a parameter's chain-rule paths.
"use strict";

const passes = JSON.parse(document.getElementById("explorer-data").textContent);
const svg = document.querySelector("#graph svg");
const pane = document.getElementById("graph");
const slider = document.getElementById("pass");
const tip = document.getElementById("tip");
let now = 0; // the pass shown
let selected = null; // the leaf whose paths are lit
let zoom = 1;

const byId = (id) => document.getElementById(id);

// An edge with a gradient gets a dark casing under its line (pale colors then show on white)
// and a wide transparent copy on top that is easier to hover than a 3px line.
for (const id of Object.keys(passes[0].edges)) {
  const line = byId(id)?.querySelector("path");
  if (!line) continue;
  const casing = line.cloneNode();
  const hit = line.cloneNode();
  line.setAttribute("class", "line");
  casing.setAttribute("class", "casing");
  hit.setAttribute("class", "hit");
  line.before(casing);
  line.parentNode.append(hit);
}
for (const id of Object.keys(passes[0].leaves)) byId(id)?.classList.add("leaf");

function show(j) {
  now = j;
  const pass = passes[j];
  for (const [id, node] of Object.entries(pass.nodes)) {
    const g = byId(id);
    if (!g) continue;
    const texts = g.querySelectorAll("text");
    node.lines.forEach((line, i) => {
      if (texts[i]) texts[i].textContent = line;
    });
    for (const text of texts) text.setAttribute("fill", node.font || "black");
    if (node.fill) g.querySelector("path, polygon, ellipse").setAttribute("fill", node.fill);
  }
  for (const [id, edge] of Object.entries(pass.edges)) {
    const g = byId(id);
    if (!g) continue;
    g.querySelector("path.line").setAttribute("stroke", edge.color);
    for (const head of g.querySelectorAll("polygon")) {
      head.setAttribute("fill", edge.color);
      head.setAttribute("stroke", "#333");
    }
    const text = g.querySelector("text");
    if (text) text.textContent = edge.label;
  }
  slider.value = j;
  document.querySelectorAll("#ticks button").forEach((b, i) => b.classList.toggle("now", i === j));
  const value = pass.value ? `${pass.root} = ${pass.value}` : pass.root;
  byId("caption").replaceChildren(
    ...[pass.label, value, pass.note].map((text, i) =>
      Object.assign(document.createElement(i ? "span" : "b"), { textContent: text }),
    ),
  );
  leafRows();
  explainLines();
}

// One row per parameter: its gradient's rms in the pass shown, colored as its box.
function leafRows() {
  const pass = passes[now];
  byId("leaves").tBodies[0].replaceChildren(
    ...Object.entries(pass.leaves).map(([id, leaf]) => {
      const row = document.createElement("tr");
      row.dataset.leaf = id;
      row.classList.toggle("selected", id === selected);
      row.insertCell().textContent = leaf.name;
      const rms = row.insertCell();
      rms.textContent = leaf.rms;
      rms.style.background = pass.nodes[id].fill;
      rms.style.color = pass.nodes[id].font || "black";
      return row;
    }),
  );
}

// What explain printed for the selected leaf in the pass shown, one element per line.
function explainLines() {
  const text = selected === null ? "" : passes[now].leaves[selected].explain;
  const lines = text ? text.split("\n") : [];
  byId("explain").replaceChildren(
    ...lines.map((line) => Object.assign(document.createElement("div"), { textContent: line })),
  );
}

function select(id) {
  selected = id;
  for (const e of svg.querySelectorAll(".on-path, .selected")) {
    e.classList.remove("on-path", "selected");
  }
  svg.classList.toggle("focus", id !== null);
  if (id !== null) {
    for (const on of passes[now].leaves[id].ids) byId(on)?.classList.add("on-path");
    byId(id).classList.add("selected");
  }
  leafRows();
  explainLines();
}

function showTip(content, x, y) {
  const title = document.createElement("h2");
  title.textContent = content.title;
  const table = document.createElement("table");
  for (const [key, value] of content.rows) {
    const row = table.insertRow();
    row.insertCell().textContent = key;
    row.insertCell().textContent = value;
  }
  tip.replaceChildren(title, table);
  tip.hidden = false;
  // Below right of the pointer, or left / above it where the window ends.
  const { width, height } = tip.getBoundingClientRect();
  const left = x + 18 + width < innerWidth ? x + 18 : Math.max(0, x - 18 - width);
  const top = y + 18 + height < innerHeight ? y + 18 : Math.max(0, y - 18 - height);
  tip.style.left = `${left}px`;
  tip.style.top = `${top}px`;
}

svg.addEventListener("mousemove", (event) => {
  const g = event.target.closest("g.node, g.edge");
  const item = g && (passes[now].nodes[g.id] || passes[now].edges[g.id]);
  if (item?.tip) showTip(item.tip, event.clientX, event.clientY);
  else tip.hidden = true;
});
svg.addEventListener("mouseleave", () => {
  tip.hidden = true;
});
byId("leaves").addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-leaf]");
  if (row) select(row.dataset.leaf === selected ? null : row.dataset.leaf);
});
svg.addEventListener("click", (event) => {
  const g = event.target.closest("g.node");
  const leaf = g && passes[now].leaves[g.id] ? g.id : null;
  select(leaf === selected ? null : leaf);
});

// Zoom: graphviz sizes the drawing in points (4/3 px each).
const natural = (svg.viewBox.baseVal.width * 4) / 3;
function setZoom(z) {
  zoom = Math.min(3, Math.max(0.1, z));
  svg.style.width = `${natural * zoom}px`;
}
const fitWidth = () => Math.min(1, (pane.clientWidth - 2) / natural);
byId("zoom").addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  const tall = (svg.viewBox.baseVal.height * 4) / 3;
  const fits = { width: fitWidth(), all: Math.min(fitWidth(), (pane.clientHeight - 2) / tall) };
  setZoom(fits[button.dataset.zoom] ?? zoom * Number(button.dataset.zoom));
});

slider.addEventListener("input", () => show(Number(slider.value)));
byId("ticks").addEventListener("click", (event) => {
  const tick = event.target.closest("button");
  if (tick) show(Number(tick.dataset.pass));
});
// A link can open a view: page.html#pass=3&leaf=layers.0.weight (a pass's index, a leaf's name).
const asked = new URLSearchParams(location.hash.slice(1));
const leaf = Object.keys(passes[0].leaves).find((id) => passes[0].leaves[id].name === asked.get("leaf"));
setZoom(Math.max(0.8, fitWidth()));
show(Math.min(passes.length - 1, Math.max(0, Number(asked.get("pass")) || 0)));
if (leaf) select(leaf);
byId(leaf ?? passes[0].rootId)?.scrollIntoView({ block: leaf ? "end" : "start", inline: "center" });
