// The page's self-check, read by tests from headless Chromium's DOM: how many plots are
// present and drawn, which texts of a plot overlap (their boxes on screen, rotation
// included), each plot's box on the page, and script errors.
// A plot is drawn when its SVG holds at least as many data vertices as the plot has points
// (figure's data-points): vertices of polylines, circles and bars in a data colour (body's
// data-colours) inside the plotting area (figure's data-area, legends lie outside it). A few
// such vertices per plot are recorded (page coordinates) for the screenshot check.
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    errors.push(String(e.message));
    document.body.setAttribute('data-errors', errors.join(' | '));
  });
  var data = (document.body.getAttribute('data-colours') || '').toUpperCase().split(' ');
  function isData(el) {
    // Opaque marks only: a baseline band (translucent) is no data point.
    var op = parseFloat(el.getAttribute('opacity') || '1');
    if (!(op >= 0.9)) return false;
    return ['stroke', 'fill'].some(function (a) {
      var v = el.getAttribute(a);
      return v && data.indexOf(v.toUpperCase()) >= 0;
    });
  }
  // The vertices an element draws, in SVG pixels.
  function vertices(el) {
    var tag = el.tagName.toLowerCase();
    var n = function (a) { return parseFloat(el.getAttribute(a)); };
    if (tag === 'polyline' || tag === 'polygon') {
      return (el.getAttribute('points') || '').trim().split(/\s+/).filter(Boolean)
        .map(function (p) { var c = p.split(','); return [parseFloat(c[0]), parseFloat(c[1])]; });
    }
    if (tag === 'circle') return [[n('cx'), n('cy')]];
    if (tag === 'rect') return [[n('x') + n('width') / 2, n('y') + n('height') / 2]];
    return [];
  }
  function box(el) {
    var r = el.getBoundingClientRect();
    return { l: r.left + window.scrollX, t: r.top + window.scrollY,
             r: r.right + window.scrollX, b: r.bottom + window.scrollY };
  }
  function check() {
  var figs = document.querySelectorAll('figure.plot');
  var ok = [], overlaps = [], boxes = [], counts = [], samples = [];
  figs.forEach(function (f) {
    var svg = f.querySelector('svg');
    if (!svg) return;
    var want = parseInt(f.getAttribute('data-points') || '0', 10);
    var a = (f.getAttribute('data-area') || '0,0,0,0').split(',').map(parseFloat);
    var inside = [];
    svg.querySelectorAll('polyline, polygon, rect, circle').forEach(function (el) {
      if (!isData(el)) return;
      vertices(el).forEach(function (v) {
        if (v[0] >= a[0] - 1 && v[0] <= a[2] + 1 && v[1] >= a[1] - 1 && v[1] <= a[3] + 1) inside.push(v);
      });
    });
    if (want > 0 && inside.length >= want) ok.push(f.id);
    counts.push(f.id + ':' + inside.length + '/' + want);
    var s0 = box(svg);
    var step = Math.max(1, Math.floor(inside.length / 12));
    for (var k = 0; k < inside.length; k += step) {
      samples.push([f.id, Math.round(s0.l + inside[k][0]), Math.round(s0.t + inside[k][1])].join(','));
    }
    var texts = Array.prototype.slice.call(svg.querySelectorAll('text'))
      .filter(function (t) { return t.textContent.trim() !== ''; })
      .map(function (t) { return { text: t.textContent.trim(), b: box(t) }; });
    for (var i = 0; i < texts.length; i++) {
      for (var j = i + 1; j < texts.length; j++) {
        var a = texts[i].b, c = texts[j].b;
        // Boxes that share more than half a pixel each way overlap.
        if (Math.min(a.r, c.r) - Math.max(a.l, c.l) > 0.5 &&
            Math.min(a.b, c.b) - Math.max(a.t, c.t) > 0.5) {
          overlaps.push(f.id + ': "' + texts[i].text + '" / "' + texts[j].text + '"');
        }
      }
    }
    var s = box(svg);
    boxes.push([f.id, Math.round(s.l), Math.round(s.t), Math.round(s.r - s.l), Math.round(s.b - s.t)].join(','));
  });
  document.body.setAttribute('data-plots', String(figs.length));
  document.body.setAttribute('data-plots-ok', ok.join(' '));
  document.body.setAttribute('data-overlaps', overlaps.join(' | '));
  document.body.setAttribute('data-boxes', boxes.join(' '));
  document.body.setAttribute('data-marks', counts.join(' '));
  document.body.setAttribute('data-samples', samples.join(' '));
  document.body.setAttribute('data-height', String(Math.ceil(document.documentElement.scrollHeight)));
  document.body.setAttribute('data-errors', errors.join(' | '));
  }
  // Text is measured once the bundled font is in use.
  if (document.fonts && document.fonts.ready) {
    document.fonts.ready.then(function () {
      var loaded = false;
      document.fonts.forEach(function (f) {
        if (f.family.replace(/['"]/g, '') === 'BenchFS DejaVu Sans' && f.status === 'loaded') loaded = true;
      });
      document.body.setAttribute('data-font', loaded ? 'loaded' : 'missing');
      check();
    });
  } else {
    check();
  }
})();
