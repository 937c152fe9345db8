// Live updates for the Wardlink gateway UI: server-sent events from /events.
// No inline script anywhere (the CSP forbids it); this file is all the page runs
// besides htmx.
(function () {
  "use strict";
  function ageText(seconds) {
    if (seconds < 120) return Math.round(seconds) + " s";
    if (seconds < 7200) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }
  function cssEscape(text) { return window.CSS && CSS.escape ? CSS.escape(text) : text; }
  var plots = {};
  function drawPlot(item, key, value) {
    var list = item.parentNode;
    if (!list || !list.hasAttribute("data-plot")) return;
    var points = plots[key] || (plots[key] = []);
    if (value !== null) points.push(value);
    if (points.length > 120) points.shift();
    if (!points.length) return;
    var svg = item.querySelector("svg");
    if (!svg) {
      svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 120 30");
      svg.setAttribute("class", "plot");
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", "recent values of " + item.getAttribute("data-metric"));
      svg.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "polyline"));
      item.appendChild(svg);
    }
    var lo = Math.min.apply(null, points), hi = Math.max.apply(null, points);
    var span = hi - lo || 1;
    var coords = points.map(function (v, i) { return i + "," + (28 - 26 * (v - lo) / span).toFixed(1); });
    svg.firstChild.setAttribute("points", coords.join(" "));
  }
  function onValue(event) {
    var lists = document.querySelectorAll('[data-values-for="' + cssEscape(event.device) + '"]');
    lists.forEach(function (list) {
      var item = list.querySelector('[data-metric="' + cssEscape(event.metric) + '"]');
      if (!item) {
        item = document.createElement("li");
        item.setAttribute("data-device", event.device);
        item.setAttribute("data-metric", event.metric);
        ["metric", "value", "unit", "age"].forEach(function (cls) {
          var span = document.createElement("span");
          span.className = cls;
          item.appendChild(span);
          item.appendChild(document.createTextNode(" "));
        });
        item.querySelector(".metric").textContent = event.metric;
        list.appendChild(item);
      }
      item.querySelector(".value").textContent = event.value === null ? "—" : String(event.value);
      item.querySelector(".unit").textContent = event.unit;
      var age = item.querySelector(".age");
      age.setAttribute("data-received", String(Date.now() / 1000));
      age.textContent = "0 s";
      if (event.value !== null) drawPlot(item, event.device + "/" + event.metric, event.value);
    });
  }
  function onState(event) {
    document.querySelectorAll('[data-state-for="' + cssEscape(event.device) + '"]').forEach(function (el) {
      el.textContent = event.state;
      el.className = "state state-" + event.state;
    });
    document.querySelectorAll('[data-why-for="' + cssEscape(event.device) + '"]').forEach(function (el) {
      el.textContent = event.why;
    });
  }
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll(".age[data-received]").forEach(function (el) {
      var received = parseFloat(el.getAttribute("data-received"));
      if (received) el.textContent = ageText(Math.max(0, now - received));
    });
  }
  function clockVsBrowser() {
    // The gateway stamped its clock while making the page, between the request and the
    // response: compare with the browser's clock at the midpoint of that interval.
    var cell = document.getElementById("clock-vs-browser");
    var timing = window.performance && performance.getEntriesByType
      ? performance.getEntriesByType("navigation")[0] : null;
    if (!cell || !timing) return;
    var gateway = parseFloat(cell.getAttribute("data-gateway-ms"));
    var browser = performance.timeOrigin + (timing.requestStart + timing.responseStart) / 2;
    var offset = (gateway - browser) / 1000;
    if (Math.abs(offset) < 0.05) offset = 0;
    var text = (offset >= 0 ? "+" : "") + offset.toFixed(1) + " s";
    cell.textContent = Math.abs(offset) > 5
      ? text + " - check the gateway's time source (NTP)" : text;
  }
  function seedPlots() {
    // The device page carries each metric's recent values (the gateway keeps the last 120).
    document.querySelectorAll("[data-plot] [data-history]").forEach(function (item) {
      var text = item.getAttribute("data-history");
      if (!text) return;
      var key = item.getAttribute("data-device") + "/" + item.getAttribute("data-metric");
      plots[key] = text.split(" ").map(parseFloat).filter(function (v) { return !isNaN(v); });
      drawPlot(item, key, null);
    });
  }
  function start() {
    clockVsBrowser();
    seedPlots();
    if (!document.body.hasAttribute("data-live") || !window.EventSource) return;
    var source = new EventSource("/events");
    source.onmessage = function (message) {
      var event = JSON.parse(message.data);
      if (event.type === "value") onValue(event);
      else if (event.type === "state") onState(event);
    };
    source.addEventListener("expired", function () {
      source.close();
      window.location.assign("/login?expired=1");
    });
    source.onerror = function () {
      // A refused stream (401: the session is gone) closes for good; a dropped one retries.
      if (source.readyState === EventSource.CLOSED) window.location.assign("/login?expired=1");
    };
    setInterval(tick, 1000);
  }
  document.addEventListener("DOMContentLoaded", start);
})();
