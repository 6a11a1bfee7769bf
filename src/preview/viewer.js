// lamina toolpath viewer: WebGL lines, one buffer built once; the layer slider only
// changes the range drawn. Data: the JSON block (layers as [z, height, segments], the
// grid step and origin, palettes) and the packed toolpath in the bytes block: the page
// is windows-1252, so each character is one byte (bytes 0x80-0x9f as that code page
// maps them; 0x01 escapes the next byte, shifted by 0x40), zlib-deflated (see
// src/preview/html.rs for the layout).
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

  // The bytes of the windows-1252 characters 0x80-0x9f that are not Latin-1's.
  var CP1252 = { 0x20ac: 0x80, 0x201a: 0x82, 0x192: 0x83, 0x201e: 0x84, 0x2026: 0x85,
    0x2020: 0x86, 0x2021: 0x87, 0x2c6: 0x88, 0x2030: 0x89, 0x160: 0x8a, 0x2039: 0x8b,
    0x152: 0x8c, 0x17d: 0x8e, 0x2018: 0x91, 0x2019: 0x92, 0x201c: 0x93, 0x201d: 0x94,
    0x2022: 0x95, 0x2013: 0x96, 0x2014: 0x97, 0x2dc: 0x98, 0x2122: 0x99, 0x161: 0x9a,
    0x203a: 0x9b, 0x153: 0x9c, 0x17e: 0x9e, 0x178: 0x9f };
  function bytes(text) {
    var out = new Uint8Array(text.length), o = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      if (c > 255) c = CP1252[c];
      if (c === 1) c = text.charCodeAt(++i) - 0x40;
      out[o++] = c;
    }
    return out.subarray(0, o);
  }

  var gl = canvas.getContext("webgl", { antialias: true }) ||
    canvas.getContext("experimental-webgl");
  if (!gl) {
    fail("This browser cannot show WebGL: the 3D view needs it.");
    return;
  }
  if (typeof DecompressionStream !== "function") {
    fail("This browser cannot unpack the toolpath (it needs DecompressionStream: Chrome 80, Firefox 113, Safari 16.4 or later).");
    return;
  }
  var packed = new Blob([bytes($("lamina-bytes").textContent)]);
  new Response(packed.stream().pipeThrough(new DecompressionStream("deflate"))).arrayBuffer()
    .then(function (raw) { show(new Uint8Array(raw)); })
    .catch(function (e) { fail("The toolpath in this page is damaged: " + e); });

  // ---- Packed toolpath to one vertex buffer (two vertices per segment) ----
  // A cursor over part of the unpacked bytes: LEB128 numbers, zig-zag steps, bytes.
  function Reader(raw, at) { this.raw = raw; this.at = at; }
  Reader.prototype.num = function () {
    var v = 0, mul = 1, b;
    do { b = this.raw[this.at++]; v += (b & 127) * mul; mul *= 128; } while (b >= 128);
    return v;
  };
  Reader.prototype.step = function () { var v = this.num(); return v % 2 ? -(v + 1) / 2 : v / 2; };
  Reader.prototype.byte = function () { return this.raw[this.at++]; };

  function build(raw) {
    var head = new Reader(raw, 0);
    var nl = D.layers.length, g, li, k;
    var groups = head.num(), roles = [], runs = [];
    for (g = 0; g < groups; g++) {
      roles.push(head.num());
      var r = new Uint32Array(nl);
      for (li = 0; li < nl; li++) r[li] = head.num();
      runs.push(r);
    }
    var lens = [];
    for (g = 0; g < groups; g++) lens.push([head.num(), head.num()]);
    var attrs = [], coords = [], pos = [], at = head.at;
    for (g = 0; g < groups; g++) {
      attrs.push(new Reader(raw, at));
      coords.push(new Reader(raw, at + lens[g][0]));
      pos.push([0, 0]);
      at += lens[g][0] + lens[g][1];
    }
    var nseg = 0;
    var segEnd = new Uint32Array(nl);
    for (li = 0; li < nl; li++) { nseg += D.layers[li][2]; segEnd[li] = nseg; }
    var buf = new Uint16Array(nseg * 8), w = 0;
    var zmax = Math.max(D.bounds[4], 1e-3);
    var speeds = new Uint8Array(64);
    for (li = 0; li < nl; li++) {
      var zq = Math.round(D.layers[li][0] / zmax * 65535);
      for (g = 0; g < groups; g++) {
        var p = pos[g], A = attrs[g], C = coords[g];
        for (var run = runs[g][li]; run > 0; run--) {
          var n = A.num(), tool = A.byte();
          if (speeds.length < n) speeds = new Uint8Array(2 * n);
          for (var filled = 0; filled < n;) {
            var rep = A.num(), s = A.byte();
            speeds.fill(s, filled, Math.min(filled + rep, n));
            filled += rep;
          }
          var x = p[0] + C.step(), y = p[1] + C.step();
          for (k = 0; k < n; k++) {
            var a = ((roles[g] | tool << 4) << 8) | speeds[k];
            buf[w++] = x; buf[w++] = y; buf[w++] = zq; buf[w++] = a;
            x += C.step(); y += C.step();
            buf[w++] = x; buf[w++] = y; buf[w++] = zq; buf[w++] = a;
          }
          p[0] = x; p[1] = y;
        }
      }
    }
    if (w !== buf.length) throw new Error("the toolpath data does not match its layers");
    return { buf: buf, segEnd: segEnd };
  }

  function show(raw) {
    var layers = D.layers; // [z, height, segments]
    var nl = layers.length;
    var zmax = Math.max(D.bounds[4], 1e-3);
    var built;
    try {
      built = build(raw);
    } catch (e) {
      fail("The toolpath in this page is damaged: " + e.message);
      return;
    }
    var segEnd = built.segEnd;

    var vbo = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, vbo);
    gl.bufferData(gl.ARRAY_BUFFER, built.buf, gl.STATIC_DRAW);
    built = null;
    raw = null;

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
  }
})();
