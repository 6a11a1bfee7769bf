// lamina toolpath viewer: WebGL lines, one buffer built once; the layer slider only
// changes the range drawn. Data: per-vertex Uint16 x, y (quantised over the print's
// extent) and Uint16 attributes (0xFFFF starts a run; else role | tool << 4 in the
// high byte, a speed step 0..254 in the low byte); per layer Z, height and vertex count.
"use strict";
(function () {
  var D = JSON.parse(document.getElementById("lamina-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var canvas = $("view");

  function fail(msg) {
    var e = $("error");
    e.textContent = msg;
    e.style.display = "block";
  }

  function b64(s) {
    var T = new Uint8Array(128);
    var A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (var i = 0; i < 64; i++) T[A.charCodeAt(i)] = i;
    var n = s.length, pad = 0;
    if (n > 0 && s.charCodeAt(n - 1) === 61) pad++;
    if (n > 1 && s.charCodeAt(n - 2) === 61) pad++;
    var out = new Uint8Array((n / 4) * 3 - pad);
    var o = 0;
    for (var k = 0; k < n; k += 4) {
      var v = (T[s.charCodeAt(k)] << 18) | (T[s.charCodeAt(k + 1)] << 12) |
        (T[s.charCodeAt(k + 2)] << 6) | T[s.charCodeAt(k + 3)];
      if (o < out.length) out[o++] = (v >> 16) & 255;
      if (o < out.length) out[o++] = (v >> 8) & 255;
      if (o < out.length) out[o++] = v & 255;
    }
    return out;
  }

  var gl = canvas.getContext("webgl", { antialias: true }) ||
    canvas.getContext("experimental-webgl");
  if (!gl) {
    fail("This browser cannot show WebGL: the 3D view needs it.");
    return;
  }

  // ---- Data to one vertex buffer (two vertices per segment) ----
  var xy = new Uint16Array(b64(D.xy).buffer);
  var at = new Uint16Array(b64(D.attr).buffer);
  var layers = D.layers; // [z, height, vertex count]
  var nl = layers.length;
  var zmax = Math.max(D.bounds[4], 1e-3);
  var segEnd = new Uint32Array(nl); // segments up to and including layer i
  var nseg = 0, v = 0;
  for (var li = 0; li < nl; li++) {
    for (var k = 0; k < layers[li][2]; k++, v++) if (at[v] !== 65535) nseg++;
    segEnd[li] = nseg;
  }
  var buf = new Uint16Array(nseg * 8);
  var w = 0;
  v = 0;
  for (li = 0; li < nl; li++) {
    var zq = Math.round(layers[li][0] / zmax * 65535);
    for (k = 0; k < layers[li][2]; k++, v++) {
      var a = at[v];
      if (a === 65535) continue;
      buf[w++] = xy[2 * v - 2]; buf[w++] = xy[2 * v - 1]; buf[w++] = zq; buf[w++] = a;
      buf[w++] = xy[2 * v]; buf[w++] = xy[2 * v + 1]; buf[w++] = zq; buf[w++] = a;
    }
  }
  xy = null; at = null;

  var vbo = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, vbo);
  gl.bufferData(gl.ARRAY_BUFFER, buf, gl.STATIC_DRAW);
  buf = null;

  // Bed outline and a 10 mm grid.
  var bed = D.bed || [D.bounds[0], D.bounds[1], D.bounds[2], D.bounds[3]];
  var grid = [];
  var step = 10;
  var gx0 = Math.ceil(bed[0] / step) * step, gy0 = Math.ceil(bed[1] / step) * step;
  for (var x = gx0; x <= bed[2] + 1e-6; x += step) grid.push(x, bed[1], 0, x, bed[3], 0);
  for (var y = gy0; y <= bed[3] + 1e-6; y += step) grid.push(bed[0], y, 0, bed[2], y, 0);
  grid.push(bed[0], bed[1], 0, bed[2], bed[1], 0, bed[2], bed[1], 0, bed[2], bed[3], 0,
    bed[2], bed[3], 0, bed[0], bed[3], 0, bed[0], bed[3], 0, bed[0], bed[1], 0);
  var gbo = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, gbo);
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array(grid), gl.STATIC_DRAW);
  var ngrid = grid.length / 3;

  // ---- Shaders ----
  function shader(type, src) {
    var s = gl.createShader(type);
    gl.shaderSource(s, src);
    gl.compileShader(s);
    if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
    return s;
  }
  function program(vs, fs) {
    var p = gl.createProgram();
    gl.attachShader(p, shader(gl.VERTEX_SHADER, vs));
    gl.attachShader(p, shader(gl.FRAGMENT_SHADER, fs));
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
    return p;
  }
  var FS = "precision mediump float; varying vec3 c; void main() { gl_FragColor = vec4(c, 1.0); }";
  var lines = program(
    "attribute vec4 a; uniform mat4 mvp; uniform vec3 sc; uniform vec3 off;" +
    "uniform float mode; uniform float top; uniform vec3 rp[16]; uniform vec3 tp[16];" +
    "uniform float hid[16]; varying vec3 c;" +
    "vec3 ramp(float t) { t = clamp(t, 0.0, 1.0) * 4.0;" +
    " vec3 s0 = vec3(0.16, 0.31, 0.9), s1 = vec3(0.12, 0.78, 0.86), s2 = vec3(0.24, 0.78, 0.27)," +
    " s3 = vec3(0.96, 0.84, 0.16), s4 = vec3(0.92, 0.2, 0.16);" +
    " if (t < 1.0) return mix(s0, s1, t); if (t < 2.0) return mix(s1, s2, t - 1.0);" +
    " if (t < 3.0) return mix(s2, s3, t - 2.0); return mix(s3, s4, t - 3.0); }" +
    "void main() { float rt = floor(a.w / 256.0); float sp = a.w - rt * 256.0;" +
    " float tool = floor(rt / 16.0); float role = rt - tool * 16.0;" +
    " vec3 col = mode < 0.5 ? rp[int(role)] : (mode < 1.5 ? tp[int(tool)] : ramp(sp / 254.0));" +
    " float isTop = a.z > top - 0.5 ? 1.0 : 0.0;" +
    " c = isTop > 0.5 ? mix(col, vec3(1.0), 0.25) : col * 0.72;" +
    " gl_Position = mvp * vec4(off + a.xyz * sc, 1.0);" +
    " if (hid[int(role)] > 0.5) gl_Position = vec4(2.0, 2.0, 2.0, 1.0); }", FS);
  var plain = program(
    "attribute vec3 p; uniform mat4 mvp; varying vec3 c;" +
    "void main() { c = vec3(0.2, 0.22, 0.26); gl_Position = mvp * vec4(p, 1.0); }", FS);

  var U = {};
  ["mvp", "sc", "off", "mode", "top", "rp", "tp", "hid"].forEach(function (n) {
    U[n] = gl.getUniformLocation(lines, n);
  });
  var aLoc = gl.getAttribLocation(lines, "a");
  var pLoc = gl.getAttribLocation(plain, "p");
  var plainMvp = gl.getUniformLocation(plain, "mvp");

  function hexrgb(h) {
    return [parseInt(h.substr(1, 2), 16) / 255, parseInt(h.substr(3, 2), 16) / 255,
      parseInt(h.substr(5, 2), 16) / 255];
  }
  var rolePal = new Float32Array(48), toolPal = new Float32Array(48), hidden = new Float32Array(16);
  D.roles.forEach(function (r) { rolePal.set(hexrgb(r[2]), r[0] * 3); });
  D.tools.forEach(function (t) { toolPal.set(hexrgb(t[1]), Math.min(t[0], 15) * 3); });

  // ---- Camera ----
  var F = D.focus; // the part, without a prime line along the bed's edge
  var cx = (F[0] + F[2]) / 2, cy = (F[1] + F[3]) / 2;
  var size = Math.max(F[2] - F[0], F[3] - F[1], zmax, 1);
  var cam = {};
  function resetView() {
    cam.target = [cx, cy, zmax / 2];
    cam.yaw = -0.6; cam.pitch = 0.55; cam.dist = size * 1.8;
  }
  resetView();

  function mul(a, b) {
    var o = new Float32Array(16);
    for (var i = 0; i < 4; i++) for (var j = 0; j < 4; j++) {
      var s = 0;
      for (var k = 0; k < 4; k++) s += a[k * 4 + j] * b[i * 4 + k];
      o[i * 4 + j] = s;
    }
    return o;
  }
  function sub(a, b) { return [a[0] - b[0], a[1] - b[1], a[2] - b[2]]; }
  function crs(a, b) { return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]; }
  function nrm(a) { var l = Math.hypot(a[0], a[1], a[2]) || 1; return [a[0] / l, a[1] / l, a[2] / l]; }
  function dt(a, b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
  function axes() {
    var cp = Math.cos(cam.pitch);
    var eye = [cam.target[0] + cam.dist * cp * Math.sin(cam.yaw),
      cam.target[1] - cam.dist * cp * Math.cos(cam.yaw),
      cam.target[2] + cam.dist * Math.sin(cam.pitch)];
    var f = nrm(sub(cam.target, eye));
    var r = nrm(crs(f, [0, 0, 1]));
    var u = crs(r, f);
    return { eye: eye, f: f, r: r, u: u };
  }
  function matrix() {
    var A = axes();
    var view = new Float32Array([A.r[0], A.u[0], -A.f[0], 0, A.r[1], A.u[1], -A.f[1], 0,
      A.r[2], A.u[2], -A.f[2], 0, -dt(A.r, A.eye), -dt(A.u, A.eye), dt(A.f, A.eye), 1]);
    var aspect = canvas.width / Math.max(canvas.height, 1);
    var near = cam.dist / 100, far = cam.dist * 10 + size * 4;
    var t = 1 / Math.tan(0.4);
    var proj = new Float32Array([t / aspect, 0, 0, 0, 0, t, 0, 0, 0, 0, (far + near) / (near - far), -1,
      0, 0, 2 * far * near / (near - far), 0]);
    return mul(proj, view);
  }

  // ---- UI ----
  var slider = $("layer"), only = $("only"), mode = $("mode");
  slider.max = String(nl);
  slider.value = String(Math.min(Math.max(D.initial || nl, 1), nl));
  $("name").textContent = D.title;
  mode.value = String(D.mode || 0);

  function legend() {
    var el = $("legend");
    el.textContent = "";
    var m = +mode.value;
    if (m === 2) {
      var r = document.createElement("div");
      r.id = "ramp";
      r.style.background = "linear-gradient(to right, #2850e6, #1ec8dc, #3cc846, #f5d728, #eb3228)";
      el.appendChild(r);
      var l = document.createElement("div");
      l.id = "rampl";
      l.innerHTML = "<span>" + D.speed[0].toFixed(0) + " mm/s</span><span>" + D.speed[1].toFixed(0) + " mm/s</span>";
      el.appendChild(l);
      return;
    }
    var items = m === 0 ? D.roles.map(function (r) { return [r[0], r[1], r[2]]; })
      : D.tools.map(function (t) { return [t[0], "T" + t[0], t[1]]; });
    items.forEach(function (it) {
      var row = document.createElement("div");
      var sw = document.createElement("span");
      sw.className = "sw";
      sw.style.background = it[2];
      row.appendChild(sw);
      row.appendChild(document.createTextNode(it[1]));
      if (m === 0) {
        if (hidden[it[0]] > 0.5) row.className = "off";
        row.title = "click to hide or show";
        row.onclick = function () {
          hidden[it[0]] = hidden[it[0]] > 0.5 ? 0 : 1;
          row.className = hidden[it[0]] > 0.5 ? "off" : "";
          draw();
        };
      }
      el.appendChild(row);
    });
  }

  function info() {
    var n = +slider.value, L = layers[n - 1];
    $("info").textContent = "Layer " + n + " of " + nl + ", Z " + L[0].toFixed(2) + " mm (" +
      L[1].toFixed(2) + " mm high)";
  }

  var pending = false;
  function draw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(render);
  }

  function resize() {
    var dpr = window.devicePixelRatio || 1;
    var w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    var h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  }

  function render() {
    pending = false;
    resize();
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.clearColor(0.114, 0.125, 0.149, 1);
    gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
    gl.enable(gl.DEPTH_TEST);
    var m = matrix();

    gl.useProgram(plain);
    gl.uniformMatrix4fv(plainMvp, false, m);
    gl.bindBuffer(gl.ARRAY_BUFFER, gbo);
    gl.enableVertexAttribArray(pLoc);
    gl.vertexAttribPointer(pLoc, 3, gl.FLOAT, false, 12, 0);
    gl.drawArrays(gl.LINES, 0, ngrid);
    gl.disableVertexAttribArray(pLoc);

    gl.useProgram(lines);
    gl.uniformMatrix4fv(U.mvp, false, m);
    gl.uniform3f(U.sc, D.q, D.q, zmax / 65535);
    gl.uniform3f(U.off, D.bounds[0], D.bounds[1], 0);
    gl.uniform1f(U.mode, +mode.value);
    var n = +slider.value;
    gl.uniform1f(U.top, Math.round(layers[n - 1][0] / zmax * 65535));
    gl.uniform3fv(U.rp, rolePal);
    gl.uniform3fv(U.tp, toolPal);
    gl.uniform1fv(U.hid, hidden);
    gl.bindBuffer(gl.ARRAY_BUFFER, vbo);
    gl.enableVertexAttribArray(aLoc);
    gl.vertexAttribPointer(aLoc, 4, gl.UNSIGNED_SHORT, false, 8, 0);
    var first = only.checked && n > 1 ? segEnd[n - 2] : 0;
    var last = segEnd[n - 1];
    if (last > first) gl.drawArrays(gl.LINES, first * 2, (last - first) * 2);
    gl.disableVertexAttribArray(aLoc);
  }

  slider.oninput = function () { info(); draw(); };
  only.onchange = draw;
  mode.onchange = function () { legend(); draw(); };
  window.addEventListener("resize", draw);
  window.addEventListener("keydown", function (e) {
    var d = e.key === "ArrowUp" || e.key === "ArrowRight" ? 1 : e.key === "ArrowDown" || e.key === "ArrowLeft" ? -1 : 0;
    if (!d || e.target === mode) return;
    if (e.target !== slider) {
      slider.value = String(Math.min(Math.max(+slider.value + d * (e.shiftKey ? 10 : 1), 1), nl));
      e.preventDefault();
    }
    info(); draw();
  });

  var drag = null;
  canvas.addEventListener("contextmenu", function (e) { e.preventDefault(); });
  canvas.addEventListener("mousedown", function (e) {
    drag = { x: e.clientX, y: e.clientY, pan: e.button !== 0 || e.shiftKey };
    canvas.className = "dragging";
  });
  window.addEventListener("mouseup", function () { drag = null; canvas.className = ""; });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    drag.x = e.clientX; drag.y = e.clientY;
    if (drag.pan) {
      var A = axes(), s = cam.dist * 0.0015;
      for (var i = 0; i < 3; i++) cam.target[i] += (-dx * A.r[i] + dy * A.u[i]) * s;
    } else {
      cam.yaw -= dx * 0.008;
      cam.pitch = Math.min(Math.max(cam.pitch + dy * 0.008, -1.55), 1.55);
    }
    draw();
  });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    cam.dist = Math.min(Math.max(cam.dist * Math.exp(e.deltaY * 0.0015), size * 0.02), size * 20);
    draw();
  }, { passive: false });
  canvas.addEventListener("dblclick", function () { resetView(); draw(); });

  legend();
  info();
  render();
})();
