/*
 * RiskdCharts: small SVG charts for riskd's pages, with no dependencies and nothing loaded
 * from elsewhere. Load it as a classic script; it defines window.RiskdCharts:
 *
 *   RiskdCharts.line(container, points, options)
 *     points: [[time_ms, number], ...] in time order. Draws a line chart in an SVG that fills
 *     the container's width (viewBox), labelled with the lowest and highest value and the
 *     first and last time (UTC).
 *
 *   RiskdCharts.bars(container, items, options)
 *     items: [{label, value}, ...]. Draws a bar per item from a zero line: positive values
 *     green, negative red, each labelled (labels are thinned out when there are many).
 *
 *   options (both, optional): {title, unit}: a title above the chart, a unit after values.
 *
 * Each call replaces the container's children; with no points or items it shows "no data".
 * Values must be finite numbers (others are left out). Text is set with textContent only, so
 * labels and titles from anywhere are shown as text, never parsed as markup.
 */
(function (global) {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg"; // the SVG namespace name, not a resource
  var WIDTH = 640;
  var HEIGHT = 220;
  var PAD = { left: 96, right: 16, top: 28, bottom: 34 };
  var FONT = 11;
  var COLOURS = { line: "#1565c0", up: "#2e7d32", down: "#c62828", axis: "#9e9e9e", text: "#424242" };
  var MAX_LABELS = 16;

  function node(name, attributes, text) {
    var element = document.createElementNS(SVG_NS, name);
    Object.keys(attributes || {}).forEach(function (key) {
      element.setAttribute(key, String(attributes[key]));
    });
    if (text !== undefined) {
      element.textContent = String(text);
    }
    return element;
  }

  function label(svg, x, y, text, anchor) {
    svg.appendChild(node("text", {
      x: x, y: y, "font-size": FONT, fill: COLOURS.text, "text-anchor": anchor || "start",
      "font-family": "sans-serif"
    }, text));
  }

  /* An empty SVG in *container* (its children replaced), titled as *options* say. */
  function frame(container, options) {
    while (container.firstChild) {
      container.removeChild(container.firstChild);
    }
    var svg = node("svg", {
      viewBox: "0 0 " + WIDTH + " " + HEIGHT, width: "100%", role: "img",
      preserveAspectRatio: "xMidYMid meet"
    });
    var title = (options && options.title) || "";
    if (title) {
      svg.appendChild(node("title", {}, title));
      label(svg, PAD.left, 16, title);
    }
    container.appendChild(svg);
    return svg;
  }

  function noData(svg) {
    label(svg, WIDTH / 2, HEIGHT / 2, "no data", "middle");
  }

  function finite(value) {
    return typeof value === "number" && isFinite(value);
  }

  function shown(value, options) {
    var rounded = Math.abs(value) >= 1000 ? value.toFixed(0) : String(+value.toPrecision(6));
    var unit = options && options.unit;
    return unit ? rounded + " " + unit : rounded;
  }

  function utc(ms) {
    return new Date(ms).toISOString().slice(0, 16).replace("T", " ") + "Z";
  }

  /* y of *value* on a scale from *low* (bottom) to *high* (top). */
  function scale(low, high) {
    var span = high - low || 1;
    var height = HEIGHT - PAD.top - PAD.bottom;
    return function (value) {
      return PAD.top + height - ((value - low) / span) * height;
    };
  }

  function line(container, points, options) {
    var svg = frame(container, options);
    var kept = (points || []).filter(function (point) {
      return point && finite(point[0]) && finite(point[1]);
    });
    if (!kept.length) {
      noData(svg);
      return svg;
    }
    var values = kept.map(function (point) { return point[1]; });
    var low = Math.min.apply(null, values);
    var high = Math.max.apply(null, values);
    var first = kept[0][0];
    var last = kept[kept.length - 1][0];
    var y = scale(low, high);
    var width = WIDTH - PAD.left - PAD.right;
    var x = function (ms) {
      return PAD.left + (last === first ? width / 2 : ((ms - first) / (last - first)) * width);
    };
    var path = kept.map(function (point, index) {
      return (index ? "L" : "M") + x(point[0]).toFixed(1) + " " + y(point[1]).toFixed(1);
    }).join(" ");
    svg.appendChild(node("path", { d: path, fill: "none", stroke: COLOURS.line, "stroke-width": 2 }));
    if (kept.length === 1) {
      svg.appendChild(node("circle", { cx: x(first), cy: y(kept[0][1]), r: 3, fill: COLOURS.line }));
    }
    label(svg, PAD.left - 6, y(high) + 4, shown(high, options), "end");
    if (low !== high) {
      label(svg, PAD.left - 6, y(low) + 4, shown(low, options), "end");
    }
    label(svg, PAD.left, HEIGHT - 8, utc(first));
    if (last !== first) {
      label(svg, WIDTH - PAD.right, HEIGHT - 8, utc(last), "end");
    }
    return svg;
  }

  function bars(container, items, options) {
    var svg = frame(container, options);
    var kept = (items || []).filter(function (item) { return item && finite(item.value); });
    if (!kept.length) {
      noData(svg);
      return svg;
    }
    var values = kept.map(function (item) { return item.value; });
    var low = Math.min(0, Math.min.apply(null, values));
    var high = Math.max(0, Math.max.apply(null, values));
    var y = scale(low, high);
    var slot = (WIDTH - PAD.left - PAD.right) / kept.length;
    var every = Math.ceil(kept.length / MAX_LABELS);
    svg.appendChild(node("line", {
      x1: PAD.left, x2: WIDTH - PAD.right, y1: y(0), y2: y(0), stroke: COLOURS.axis
    }));
    kept.forEach(function (item, index) {
      var top = Math.min(y(item.value), y(0));
      var bar = node("rect", {
        x: (PAD.left + index * slot + slot * 0.1).toFixed(1), y: top.toFixed(1),
        width: Math.max(slot * 0.8, 1).toFixed(1),
        height: Math.max(Math.abs(y(item.value) - y(0)), 1).toFixed(1),
        fill: item.value < 0 ? COLOURS.down : COLOURS.up
      });
      bar.appendChild(node("title", {}, String(item.label) + ": " + shown(item.value, options)));
      svg.appendChild(bar);
      if (index % every === 0) {
        label(svg, PAD.left + (index + 0.5) * slot, HEIGHT - 8, item.label, "middle");
      }
    });
    label(svg, PAD.left - 6, y(high) + 4, shown(high, options), "end");
    if (low !== high) {
      label(svg, PAD.left - 6, y(low) + 4, shown(low, options), "end");
    }
    return svg;
  }

  global.RiskdCharts = { line: line, bars: bars };
})(typeof window !== "undefined" ? window : this);
