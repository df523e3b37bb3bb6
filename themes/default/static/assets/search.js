/* Gongshi search: runs in the browser over the index the build wrote under search/.
 *
 * Same rules as generator/search_analysis.py (how text becomes terms) and whoosh's BM25F
 * (how results are ranked), so the order equals `gongshi search`. Index files are scripts
 * that call window.gongshiSearch.<kind>(key, data), so they load from a web server and
 * from disk (file://). Only the files holding the query's terms are fetched, then the
 * records of the results shown. No framework, no WebAssembly.
 */
(function () {
  "use strict";

  var FINAL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz+/!#$%&()*,.";
  var CONTINUE = "-:;<=>?@[]^_`{|}~'";
  var CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff";
  var RUNS = new RegExp("([" + CJK + "]+)|([0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|(?:(?![" + CJK + "])[\\p{L}\\p{N}])+(?:\\.[0-9]+)*)", "gu");
  var IS_CJK = new RegExp("^[" + CJK + "]$");

  // -- loading index files --------------------------------------------------------------
  var base = "search/";
  var files = {};  // key -> data, once its script has run
  var loading = {};  // key -> Promise
  function deliver(key, data) { files[key] = data; }
  var api = window.gongshiSearch = {
    meta: deliver, shard: deliver, page: deliver, records: deliver, villages: deliver
  };
  function load(key) {
    if (files[key]) return Promise.resolve(files[key]);
    if (!loading[key]) {
      loading[key] = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = base + key + ".js";
        script.async = true;
        script.onload = function () {
          script.remove();
          if (files[key]) resolve(files[key]); else reject(new Error("empty " + key));
        };
        script.onerror = function () { script.remove(); delete loading[key]; reject(new Error("cannot load " + key)); };
        document.head.appendChild(script);
      });
    }
    return loading[key];
  }

  // -- analysis (search_analysis.py) ------------------------------------------------------
  var normalCache = new Map();
  function normalChar(ch) {
    var v = normalCache.get(ch);
    if (v === undefined) { v = ch.normalize("NFKC").toLowerCase(); normalCache.set(ch, v); }
    return v;
  }
  // The normalised text and, for each of its code units, the offset in the original.
  function normalized(text) {
    var out = "", origin = [], i = 0;
    for (var ch of text) {
      var n = normalChar(ch);
      out += n;
      for (var k = 0; k < n.length; k++) origin.push(i);
      i += ch.length;
    }
    origin.push(i);
    return { text: out, origin: origin };
  }
  function queryParts(query) {
    var parts = [], seen = {}, m, text = normalized(query).text;
    RUNS.lastIndex = 0;
    while ((m = RUNS.exec(text))) {
      var run = m[0], part;
      if (m[1] && run.length > 1) {
        var pairs = [];
        for (var i = 0; i + 1 < run.length; i++) pairs.push(run.slice(i, i + 2));
        part = { text: run, terms: pairs, chars: false };
      } else if (m[1]) {
        part = { text: run, terms: [run], chars: true };
      } else {
        run = run.replace(/,/g, "");
        part = { text: run, terms: [run], chars: false };
      }
      if (!seen[part.text]) { seen[part.text] = true; parts.push(part); }
    }
    return parts;
  }
  function termHash(term) {
    var h = 0x811c9dc5;
    for (var i = 0; i < term.length; i++) { h ^= term.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
    return h >>> 0;
  }
  function hex(term) { return ("0000000" + termHash(term).toString(16)).slice(-8); }
  function isPair(term) { return term.length === 2 && IS_CJK.test(term[0]) && IS_CJK.test(term[1]); }

  // -- postings ---------------------------------------------------------------------------
  function decode(text) {
    var out = [], acc = 0;
    for (var i = 0; i < text.length; i++) {
      var c = text[i], at = FINAL.indexOf(c);
      if (at >= 0) { out.push(acc * 64 + at); acc = 0; } else { acc = acc * 18 + CONTINUE.indexOf(c) + 1; }
    }
    return out;
  }
  var meta, bigTerms = {};
  var parsed = {};
  function fileOf(term) {
    return bigTerms[term] ? "b/" + hex(term) : "t/" + (termHash(term) % meta.shards);
  }
  // {field: Map(doc -> {tf, code, at})}, or for a facet: a Set of documents. A posting's
  // positions are decoded only when a phrase needs them (`at`: where they start in `nums`).
  function postings(term) {
    if (parsed[term] !== undefined) return parsed[term];
    var text = files[fileOf(term)].terms[term];
    if (text === undefined) return (parsed[term] = null);
    var nums = decode(text), i = 0, fields = {}, facetField = meta.fields.length;
    var withPositions = isPair(term);
    while (i < nums.length) {
      var f = nums[i++], n = nums[i++], doc = -1;
      if (f === facetField) {
        var set = new Set();
        for (var k = 0; k < n; k++) { doc += nums[i++] + 1; set.add(doc); }
        return (parsed[term] = set);
      }
      var map = new Map(), list = [];
      for (var j = 0; j < n; j++) {
        doc += nums[i++] + 1;
        var posting = { tf: nums[i++], code: nums[i++], at: -1, nums: nums };
        map.set(doc, posting);
        list.push(posting);
      }
      if (withPositions) {
        for (j = 0; j < n; j++) { list[j].at = i; i += list[j].tf; }
      }
      fields[f] = map;
    }
    return (parsed[term] = fields);
  }
  function positionsOf(posting) {
    var out = [], p = -1;
    for (var k = 0; k < posting.tf; k++) { p += posting.nums[posting.at + k] + 1; out.push(p); }
    return out;
  }

  // -- ranking: whoosh's BM25F, summed in the order of whoosh's matcher trees ---------------
  function bm25(idf, tf, fl, avgfl) {
    var K1 = meta.k1, B = meta.b;
    return idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)));
  }
  function treeSum(values) {  // whoosh.util.make_binary_tree of UnionMatchers; null: no match
    if (values.length === 1) return values[0];
    var half = Math.floor(values.length / 2);
    var a = treeSum(values.slice(0, half)), b = treeSum(values.slice(half));
    if (a === null) return b;
    if (b === null) return a;
    return a + b;
  }
  function termScorer(term, f) {
    var map = postings(term) && postings(term)[f];
    if (!map) return null;
    var n = meta.docs, idf = Math.log(n / (map.size + 1)) + 1, avgfl = meta.lengths[f] / n || 1;
    return function (doc) { var p = map.get(doc); return bm25(idf, p.tf, meta.lengthTable[p.code], avgfl); };
  }
  // {doc: score} of one query part.
  function partScores(part) {
    var out = new Map();
    if (part.chars) {
      var scorer = termScorer(part.text, meta.fields.length - 1);
      if (scorer) postings(part.text)[meta.fields.length - 1].forEach(function (_, doc) { out.set(doc, scorer(doc) * 1.0); });
      return out;
    }
    var perField = [];
    for (var f = 0; f < meta.fields.length - 1; f++) perField.push(phraseScores(part.terms, f));
    var docs = new Set();
    perField.forEach(function (m) { if (m) m.forEach(function (_, doc) { docs.add(doc); }); });
    docs.forEach(function (doc) {
      out.set(doc, treeSum(perField.map(function (m) { return m && m.has(doc) ? m.get(doc) : null; })));
    });
    return out;
  }
  function phraseScores(terms, f) {
    var maps = [], scorers = [];
    for (var i = 0; i < terms.length; i++) {
      var s = termScorer(terms[i], f);
      if (!s) return null;  // whoosh: a word missing from the field, no match in it
      scorers.push(s);
      maps.push(postings(terms[i])[f]);
    }
    var smallest = maps.reduce(function (a, b) { return a.size <= b.size ? a : b; });
    var out = new Map(), boost = meta.boosts[f];
    smallest.forEach(function (_, doc) {
      for (var i = 0; i < maps.length; i++) if (!maps[i].has(doc)) return;
      if (terms.length > 1 && !adjacent(maps, doc)) return;
      out.set(doc, treeSum(scorers.map(function (s) { return s(doc); })) * boost);
    });
    return out;
  }
  function adjacent(maps, doc) {  // the pairs at consecutive positions: the query as a substring
    var lists = maps.map(function (m) { return positionsOf(m.get(doc)); });
    return lists[0].some(function (p) {
      for (var i = 1; i < lists.length; i++) if (lists[i].indexOf(p + i) < 0) return false;
      return true;
    });
  }

  // Every match of `query` (with filters), best first: [{doc, score}].
  function rank(parts, filters) {
    var keys = {};
    parts.forEach(function (part) { part.terms.forEach(function (t) { keys[fileOf(t)] = true; }); });
    var facets = facetTerms(filters);
    facets.forEach(function (t) { keys[fileOf(t)] = true; });
    return Promise.all(Object.keys(keys).sort().map(load)).then(function (loaded) {
      loaded.forEach(function (file) { keep(file.docs); });
      if (!parts.length) return [];
      var scores = parts.map(partScores), total = scores[scores.length - 1];
      for (var i = scores.length - 2; i >= 0; i--) {  // nested two-way Ands: p1 + (p2 + ...)
        var next = new Map(), inner = total;
        scores[i].forEach(function (s, doc) { if (inner.has(doc)) next.set(doc, s + inner.get(doc)); });
        total = next;
      }
      var results = [];
      total.forEach(function (score, doc) {
        for (var k = 0; k < facets.length; k++) { var set = postings(facets[k]); if (!set || !set.has(doc)) return; }
        results.push({ doc: doc, score: score });
      });
      results.sort(function (a, b) { return b.score - a.score || a.doc - b.doc; });
      return results;
    });
  }
  function facetTerms(filters) {
    var out = [];
    if (filters.kind) out.push("k:" + filters.kind);
    if (filters.village) out.push("v:" + filters.village);
    if (filters.township) out.push("t:" + filters.township);
    if (filters.year) out.push("y:" + filters.year);
    return out;
  }

  // -- records of the results shown -------------------------------------------------------
  var records = {};
  function keep(docs) { if (docs) Object.keys(docs).forEach(function (n) { if (!records[n]) records[n] = docs[n]; }); }
  function hasPage(term) {  // big terms carry their first page themselves
    var shard = files[fileOf(term)];
    return !bigTerms[term] && shard.pages && shard.pages.indexOf(term) >= 0;
  }
  function frequency(term) {
    var p = postings(term), n = 0;
    if (p) Object.keys(p).forEach(function (f) { n = Math.max(n, p[f].size); });
    return n;
  }
  function recordsFor(docs, parts, firstPage) {
    var missing = docs.filter(function (d) { return !records[d]; });
    var pages = [];
    if (missing.length && firstPage) {
      // The first page of the query's rarest term is the likeliest to hold the results.
      var best = null;
      parts.forEach(function (part) {
        part.terms.forEach(function (t) {
          if (hasPage(t) && (best === null || frequency(t) < frequency(best))) best = t;
        });
      });
      if (best !== null) pages.push("p/" + hex(best));
    }
    return Promise.all(pages.map(load)).then(function (loaded) {
      loaded.forEach(function (p) { keep(p.docs); });
      var groups = {};
      docs.forEach(function (d) { if (!records[d]) groups[Math.floor(d / meta.group)] = true; });
      return Promise.all(Object.keys(groups).map(function (g) {
        return load("r/" + g).then(function (list) {
          list.forEach(function (r, i) { var n = g * meta.group + i; if (!records[n] || records[n][5].charAt(0) === "…") records[n] = r; });
        });
      }));
    });
  }

  // -- showing results ----------------------------------------------------------------------
  var app, strings, form, list, status, pager, filterEls = {}, current = 0, state = {};
  function t(key, values) {
    return strings[key].replace(/\{(\w+)\}/g, function (_, name) { return values[name]; });
  }
  function ranges(text, parts) {  // [start, end) in `text` of every occurrence of a part
    var norm = normalized(text), out = [];
    parts.forEach(function (part) {
      var from = 0, at;
      while (part.text && (at = norm.text.indexOf(part.text, from)) >= 0) {
        out.push([norm.origin[at], norm.origin[at + part.text.length]]);
        from = at + 1;
      }
    });
    out.sort(function (a, b) { return a[0] - b[0]; });
    return out;
  }
  function marked(el, text, parts) {
    var last = 0;
    ranges(text, parts).forEach(function (r) {
      if (r[0] < last) { if (r[1] > last) { el.lastChild.textContent += text.slice(last, r[1]); last = r[1]; } return; }
      el.appendChild(document.createTextNode(text.slice(last, r[0])));
      var mark = document.createElement("mark");
      mark.textContent = text.slice(r[0], r[1]);
      el.appendChild(mark);
      last = r[1];
    });
    el.appendChild(document.createTextNode(text.slice(last)));
    return el;
  }
  function snippet(text, parts) {
    var found = ranges(text, parts), r = meta.radius;
    if (!found.length) return text.length > 2 * r ? text.slice(0, 2 * r) + "…" : text;
    var start = Math.max(0, found[0][0] - r), end = Math.min(text.length, found[0][1] + r);
    return (start > 0 ? "…" : "") + text.slice(start, end) + (end < text.length ? "…" : "");
  }
  function formatDate(iso) {
    if (!iso) return "";
    var p = iso.split("-");
    return t("date", { y: +p[0], m: +p[1], d: +p[2] });
  }
  function kindLabel(kind) {
    for (var i = 0; i < meta.kinds.length; i++) if (meta.kinds[i][0] === kind) return meta.kinds[i][1];
    return kind;
  }
  function render(run, query, parts, results, page) {
    var pages = Math.max(1, Math.ceil(results.length / meta.page));
    page = Math.min(Math.max(1, page), pages);
    var shown = results.slice((page - 1) * meta.page, page * meta.page);
    return recordsFor(shown.map(function (r) { return r.doc; }), parts, page === 1 && !state.filtered).then(function () {
      if (run !== current) return;  // a newer query or page has been asked for meanwhile
      list.textContent = "";
      pager.textContent = "";
      if (!results.length) { status.textContent = t("none", { query: query }); done(query); return; }
      status.textContent = pages > 1 ? t("results_page", { count: results.length, page: page, pages: pages }) : t("results", { count: results.length });
      shown.forEach(function (r) {
        var rec = records[r.doc], li = document.createElement("li"), a = document.createElement("a");
        li.setAttribute("data-doc", r.doc);
        a.href = rec[0];
        marked(a, rec[1], parts);
        li.appendChild(a);
        var info = document.createElement("span");
        info.className = "meta";
        info.textContent = [rec[4], kindLabel(rec[2]), formatDate(rec[3])].filter(Boolean).join(" · ");
        li.appendChild(info);
        li.appendChild(marked(document.createElement("p"), snippet(rec[5], parts), parts));
        list.appendChild(li);
      });
      if (pages > 1) {
        if (page > 1) pager.appendChild(pageButton(t("previous", {}), page - 1));
        if (page < pages) pager.appendChild(pageButton(t("next", {}), page + 1));
      }
      done(query);
    });
  }
  function pageButton(label, page) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", function () { state.page = page; search(true); window.scrollTo(0, app.offsetTop); });
    return b;
  }
  function done(query) { app.setAttribute("data-state", "done"); app.setAttribute("data-query", query); }

  function filters() {
    var out = {};
    ["township", "village", "kind", "year"].forEach(function (name) { if (filterEls[name].value) out[name] = filterEls[name].value; });
    return out;
  }
  function search(keepPage) {
    var query = form.q.value.trim(), chosen = filters(), parts = queryParts(query), run = ++current;
    if (!keepPage) state.page = 1;
    state.query = query;
    state.filtered = Object.keys(chosen).length > 0;
    remember(query, chosen, state.page);
    if (!parts.length) {
      list.textContent = ""; pager.textContent = "";
      status.textContent = query ? t("none", { query: query }) : t("prompt", {});
      done(query);
      return Promise.resolve();
    }
    app.setAttribute("data-state", "loading");
    status.textContent = t("loading", {});
    return rank(parts, chosen).then(function (results) {
      if (run !== current) return;
      return render(run, query, parts, results, state.page);
    }).catch(function () {
      if (run !== current) return;
      status.textContent = t("error", {});
      app.setAttribute("data-state", "error");
    });
  }
  function remember(query, chosen, page) {
    if (!window.history || !history.replaceState) return;
    var params = new URLSearchParams();
    if (query) params.set("q", query);
    Object.keys(chosen).forEach(function (k) { params.set(k, chosen[k]); });
    if (page > 1) params.set("page", page);
    try { history.replaceState(null, "", "?" + params.toString()); } catch (e) { /* file:// in some browsers */ }
  }

  // -- filters ------------------------------------------------------------------------------
  function option(select, value, label) {
    var o = document.createElement("option");
    o.value = value; o.textContent = label;
    select.appendChild(o);
  }
  var villageList = null;
  function fillVillages(selected) {
    var select = filterEls.village, township = filterEls.township.value;
    select.textContent = "";
    option(select, "", strings.all);
    (villageList || []).forEach(function (v) { if (!township || v[2] === township) option(select, v[0], v[1]); });
    select.value = selected || "";
  }
  function wantVillages(selected) {
    if (villageList) { fillVillages(selected); return Promise.resolve(); }
    return load("v").then(function (v) { villageList = v; fillVillages(selected || filterEls.village.value); });
  }

  function start() {
    app = document.getElementById("search-app");
    if (!app) return;
    base = app.getAttribute("data-index");
    strings = JSON.parse(document.getElementById("search-strings").textContent);
    form = document.getElementById("search-form");
    list = document.getElementById("search-results");
    status = document.getElementById("search-status");
    pager = document.getElementById("search-pager");
    ["township", "village", "kind", "year"].forEach(function (name) { filterEls[name] = form.elements[name]; });
    var directory = document.getElementById("search-directory");
    if (directory) directory.hidden = true;
    app.hidden = false;
    load("meta").then(function (m) {
      meta = m;
      meta.big.split(" ").forEach(function (term) { if (term) bigTerms[term] = true; });
      meta.townships.forEach(function (tw) { option(filterEls.township, tw[0], tw[1]); });
      meta.kinds.forEach(function (k) { option(filterEls.kind, k[0], k[1]); });
      meta.years.forEach(function (y) { option(filterEls.year, y, t("year_value", { year: y })); });
      var params = new URLSearchParams(location.search);
      form.q.value = params.get("q") || "";
      ["township", "kind", "year"].forEach(function (name) { filterEls[name].value = params.get(name) || ""; });
      state.page = parseInt(params.get("page"), 10) || 1;
      form.addEventListener("submit", function (e) { e.preventDefault(); search(); });
      form.q.addEventListener("input", function () { search(); });
      ["kind", "year", "village"].forEach(function (name) { filterEls[name].addEventListener("change", function () { search(); }); });
      filterEls.township.addEventListener("change", function () { wantVillages("").then(function () { search(); }); });
      filterEls.village.addEventListener("focus", function () { wantVillages(); }, { once: true });
      app.setAttribute("data-ready", "1");
      var village = params.get("village");
      (village ? wantVillages(village) : Promise.resolve()).then(function () { search(true); });
    }).catch(function () {
      // Without the index, the plain directory is the way to every page (JavaScript is on,
      // so its "JavaScript is off" line would be wrong: the status says what went wrong).
      status.textContent = t("error_directory", {});
      app.setAttribute("data-state", "error");
      var noScript = document.getElementById("search-no-js");
      if (noScript) noScript.hidden = true;
      if (directory) directory.hidden = false;
    });
  }

  // For tests and tools: the full ranked list of a query, as [{url, score}].
  api.run = function (query, chosen) {
    var parts = queryParts(query);
    return rank(parts, chosen || {}).then(function (results) {
      return recordsFor(results.map(function (r) { return r.doc; }), parts, false).then(function () {
        return results.map(function (r) { return { url: records[r.doc][0], score: r.score, doc: r.doc }; });
      });
    });
  };
  api.parts = queryParts;

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
