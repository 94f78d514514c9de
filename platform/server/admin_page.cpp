// The /admin page: one self-contained document (no CDN, no build step).
// Without a login it shows only the token form; logged in, it follows
// /admin/events (server-sent events, one snapshot a second) and redraws.
// A token in the URL fragment (/admin#token=...) logs in without typing it;
// the fragment never reaches the server or its logs.

#include "platform/server/admin.hpp"

namespace gamestore::server {

const char* const kAdminPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gamestore admin</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header .stat b { font-size: 18px; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; padding: 16px; }
  section { background: #fff; border-radius: 6px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #e3e5ea; vertical-align: top; }
  th { font-weight: 600; color: #555; }
  .state { font-weight: 600; padding: 1px 6px; border-radius: 3px; background: #e3e5ea; }
  .IN_GAME, .END { background: #d4f5dd; } .STARTING { background: #fff3c4; }
  .CRASHED, .ERROR, .TIMEOUT, .LAUNCH_FAILED { background: #fbd5d5; } .ABORTED, .ENDING { background: #e3e5ea; }
  pre { margin: 2px 0 0; max-height: 90px; overflow: auto; background: #f4f5f7; font-size: 11px; }
  button { cursor: pointer; }
  #login { max-width: 420px; margin: 80px auto; }
  #login input { width: 100%; box-sizing: border-box; padding: 6px; margin: 8px 0; }
  svg text { font-size: 10px; fill: #555; }
  .muted { color: #888; }
</style>
</head>
<body data-updates="0">
<header><h1>gamestore admin</h1>
  <span class="stat">players online <b id="players-online">-</b></span>
  <span class="stat">rooms <b id="room-count">-</b></span>
  <span class="stat">running matches <b id="running-count">-</b></span>
  <span class="stat muted" id="updated">not connected</span>
</header>
<div id="login" hidden>
  <section>
    <h2>Admin token</h2>
    <p>The token is in <code>admin_token</code> in the server's data directory, or set with <code>--admin-token</code>.</p>
    <form method="post" action="/admin/login">
      <input type="password" name="token" autocomplete="current-password" autofocus>
      <button type="submit">Sign in</button>
    </form>
  </section>
</div>
<main id="dashboard" hidden>
  <section id="cluster" hidden><h2>Cluster nodes</h2><table><thead><tr><th>node</th><th>lobby address</th><th>state</th><th>rooms</th><th>running matches</th><th>generation</th></tr></thead><tbody id="nodes"></tbody></table></section>
  <section><h2>Rooms</h2><table><thead><tr><th>room</th><th class="node-column" hidden>node</th><th>game</th><th>state</th><th>members</th><th>match</th><th></th></tr></thead><tbody id="rooms"></tbody></table></section>
  <section><h2>Players online</h2><table><thead><tr><th>player</th><th>where</th><th></th></tr></thead><tbody id="players"></tbody></table></section>
  <section><h2>Last ended matches</h2><table><thead><tr><th>match</th><th>game</th><th>status</th><th>reason and log</th></tr></thead><tbody id="ended"></tbody></table></section>
  <section><h2>Launch latency (room.start to IN_GAME)</h2><svg id="latency-chart" width="100%" height="160" viewBox="0 0 540 160"></svg></section>
  <section><h2>Matches per minute by status (last 30 min)</h2><svg id="minute-chart" width="100%" height="160" viewBox="0 0 540 160"></svg></section>
  <section><h2>Publishes</h2><table><thead><tr><th>game</th><th>version</th><th>bytes</th><th>when</th><th></th></tr></thead><tbody id="publishes"></tbody></table></section>
</main>
<script>
"use strict";
const colors = { END: "#3aa55d", ERROR: "#d64545", CRASHED: "#a33", TIMEOUT: "#e08a2e", ABORTED: "#888", LAUNCH_FAILED: "#7a3fbf" };
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}
function svgEl(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function when(ms) { return new Date(ms).toLocaleTimeString(); }
function seconds(s) { return s < 60 ? s.toFixed(1) + " s" : Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s"; }
async function act(path, body, question) {
  if (!confirm(question)) return;
  const reply = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), credentials: "same-origin" });
  const text = await reply.text();
  if (!reply.ok) alert(path + ": " + reply.status + " " + text);
}
function bars(svg, columns, series) {
  svg.replaceChildren();
  const max = Math.max(1, ...columns.map(c => series.reduce((sum, s) => sum + (c.values[s] || 0), 0)));
  const width = 520 / columns.length;
  columns.forEach((c, i) => {
    let y = 140;
    for (const s of series) {
      const h = 125 * (c.values[s] || 0) / max;
      if (h > 0) { svg.append(svgEl("rect", { x: 10 + i * width, y: y - h, width: Math.max(1, width - 2), height: h, fill: colors[s] || "#4a7bd0" }, undefined)); y -= h; }
    }
    if (c.label) svg.append(svgEl("text", { x: 10 + i * width, y: 155 }, c.label));
  });
  svg.append(svgEl("text", { x: 10, y: 10 }, "max " + max));
}
function render(state) {
  document.body.dataset.updates = String(Number(document.body.dataset.updates) + 1);
  document.getElementById("updated").textContent = "updated " + when(state.time_ms);
  const players = state.players;
  document.getElementById("players-online").textContent = players.length;
  document.getElementById("room-count").textContent = state.rooms.length;
  document.getElementById("running-count").textContent = state.rooms.filter(r => r.match || (r.remote && r.match_id && r.state !== "WAITING")).length;
  const cluster = state.cluster;
  document.getElementById("cluster").hidden = !cluster;
  if (cluster) {
    document.getElementById("nodes").replaceChildren(...cluster.nodes.map(n => el("tr", { "data-node": n.node_id },
      el("td", {}, n.node_id + (n.self ? " (this node" + (cluster.fenced ? ", lost the cluster" : "") + ")" : "")),
      el("td", {}, n.lobby_address),
      el("td", {}, el("span", { class: "state " + (n.alive ? "IN_GAME" : "ENDING") }, n.alive ? "alive" : "dead, silent " + seconds(n.silent_seconds))),
      el("td", {}, n.rooms), el("td", {}, n.running_matches), el("td", {}, n.generation))));
  }
  document.getElementById("players").replaceChildren(...players.map(p => {
    const button = el("button", {}, "sign out");
    button.onclick = () => act("/admin/revoke", { player: p.name }, "Sign " + p.name + " out of every session?");
    return el("tr", { "data-player": p.name }, el("td", {}, p.name), el("td", {}, p.room_id ? p.state + " (room " + p.room_id + ")" : p.state), el("td", {}, button));
  }));
  for (const th of document.querySelectorAll(".node-column")) th.hidden = !cluster;
  document.getElementById("rooms").replaceChildren(...state.rooms.map(r => {
    const m = r.match;
    const cells = [el("td", {}, r.room_id)];
    if (cluster) cells.push(el("td", { class: "node" }, r.node || ""));
    cells.push(el("td", {}, r.game + " " + r.version), el("td", {}, el("span", { class: "state " + r.state }, r.state)),
      el("td", {}, r.members.map(x => x.name + (x.ready ? " (ready)" : "")).join(", ")));
    if (r.remote) {
      cells.push(el("td", { class: "match muted" }, r.match_id && r.state !== "WAITING" ? r.match_id : "none"),
        el("td", { class: "muted" }, "on node " + r.node + ": stop it from that node's dashboard"));
    } else if (m) {
      const hb = m.last_heartbeat_seconds !== undefined ? ", heartbeat " + seconds(m.last_heartbeat_seconds) + " ago" : "";
      cells.push(el("td", { class: "match", "data-match-id": m.match_id }, m.match_id + " pid " + m.pid + ", age " + seconds(m.age_seconds) + hb));
      const stop = el("button", {}, "stop match");
      stop.onclick = () => act("/admin/stop-match", { room_id: r.room_id }, "Stop match " + m.match_id + " in room " + r.room_id + "? Its players are told.");
      cells.push(el("td", {}, stop));
    } else { cells.push(el("td", { class: "muted" }, "none"), el("td", {})); }
    return el("tr", { "data-room-id": r.room_id, "data-state": r.state, "data-node": r.node || "" }, ...cells);
  }));
  document.getElementById("ended").replaceChildren(...state.ended.map(e => el("tr", { "data-match-id": e.match_id, "data-status": e.status },
    el("td", {}, e.match_id, el("br"), el("span", { class: "muted" }, when(e.ended_at_ms))), el("td", {}, e.game + " " + e.version),
    el("td", {}, el("span", { class: "state " + e.status }, e.status)), el("td", {}, e.reason, el("pre", {}, e.log_tail || "(no output)")))));
  document.getElementById("publishes").replaceChildren(...state.publishes.map(p => {
    const delist = el("button", {}, "delist game");
    delist.onclick = () => act("/admin/delist", { game: p.game }, "Delist " + p.game + " from the store? Players can no longer start new rooms of it.");
    return el("tr", {}, el("td", {}, p.game), el("td", {}, p.version), el("td", {}, p.bytes), el("td", {}, when(p.at_ms)), el("td", {}, delist));
  }));
  const lat = state.launch_latency;
  bars(document.getElementById("latency-chart"),
    lat.buckets.map((n, i) => ({ label: i < lat.bounds.length ? "\u2264" + lat.bounds[i] + "s" : "more", values: { count: n } })), ["count"]);
  const statuses = Object.keys(colors);
  bars(document.getElementById("minute-chart"),
    state.per_minute.map((m, i) => ({ label: i % 5 === 0 ? new Date(m.minute_ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "", values: m.counts })), statuses);
}
async function start() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    history.replaceState(null, "", "/admin");
    await fetch("/admin/login", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "token=" + encodeURIComponent(fragment.get("token")), credentials: "same-origin", redirect: "manual" });
  }
  const first = await fetch("/admin/state", { credentials: "same-origin" });
  if (first.status === 401) { document.getElementById("login").hidden = false; return; }
  document.getElementById("dashboard").hidden = false;
  render(await first.json());
  const events = new EventSource("/admin/events");
  events.onmessage = message => render(JSON.parse(message.data));
  events.onerror = () => { document.getElementById("updated").textContent = "reconnecting..."; };
}
start();
</script>
</body>
</html>
)HTML";

}  // namespace gamestore::server
