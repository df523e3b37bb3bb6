"""Readable on a phone (issue #9): every page type of the demo site in Chromium at 360 x 740.

For one representative page of each page type (the largest built file of its folder: the
worst case for width and length), in the light and in the dark colour scheme:

- no horizontal scrolling: the document is no wider than the screen (a data table may scroll
  inside its own `.scroll` box: the WCAG 1.4.10 exception for data tables);
- every visible piece of text (HTML, and SVG chart text as drawn) is at least 16 px;
- every visible tap target (a, button, input, select, textarea, summary, [role=button]) is at
  least 44 x 44 px, except a link inline in a sentence (WCAG 2.5.8's "inline" exception: its
  height is that of the line of text around it);
- every visible piece of text has a contrast of at least 4.5:1 with the colour it is drawn on
  (3:1 for large text, WCAG 1.4.3), computed from the computed colours;
- the dark scheme is really dark: a dark background, light text, other colours than light.

Then at 200 % text size (Chromium's default font size doubled, which is what a reader's
"font size" setting does; see docs/quality.md): still no horizontal scrolling, no text cut
off by a box that hides its overflow, and every piece of HTML text really doubled (so no
text is set in fixed pixels that ignore the reader's setting).

Every `<details>` is opened before measuring: what a villager sees after a tap counts too.
The rules and the reasons for each exception are in docs/quality.md.
"""
from __future__ import annotations

import pytest

from browser import PHONE, chromium, phone_page, serve_folder

MIN_FONT_PX = 16
MIN_TARGET_PX = 44
MIN_CONTRAST = 4.5
MIN_CONTRAST_LARGE = 3.0  # WCAG "large text": at least 24 px, or 18.66 px bold
TEXT_ZOOM = 2  # 200 %
DEFAULT_FONT_PX = {"standard": 16, "fixed": 13}  # Chromium's defaults
DARK_BACKGROUND_MAX_LUMINANCE = 0.05  # #3b3b3b is about 0.043
LIGHT_BACKGROUND_MIN_LUMINANCE = 0.8
SEARCH_QUERY = "村"  # "village": every demo notice matches, so the result list is full

# One page per page type: a fixed page, or the largest .html file of a folder.
PAGE_TYPES = {
    "home": "index.html",
    "township": "townships/",
    "village": "villages/",
    "notice": "notices/",
    "poster": "posters/",
    "card sheet": "cards/",
    "contacts": "contacts/",
    "data index": "data/index.html",
    "search": "search.html",
    "supervision": "supervision.html",
    "privacy": "privacy.html",
    "not found": "404.html",
}

# Runs in the page: everything measured at once, returned as plain data.
MEASURE = r"""
() => {
  const TARGETS = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]';
  const out = {scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
               overflowX: [getComputedStyle(document.documentElement).overflowX, getComputedStyle(document.body).overflowX],
               texts: [], targets: [], clipped: [], background: null, colour: getComputedStyle(document.body).color};
  const visible = el => el.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true, opacityProperty: true})
    && el.getClientRects().length > 0;
  const describe = el => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += '#' + el.id;
    if (typeof el.className === 'string' && el.className.trim()) name += '.' + el.className.trim().split(/\s+/).join('.');
    const text = (el.textContent || el.value || el.getAttribute('aria-label') || '').replace(/\s+/g, ' ').trim().slice(0, 40);
    return name + ' "' + text + '"';
  };
  const rgba = value => {
    const m = /^rgba?\(([\d.]+),?\s*([\d.]+),?\s*([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\)$/.exec(value.trim());
    if (!m) return null;  // a colour this test cannot read fails it (see the contrast test)
    const a = m[4] === undefined ? 1 : (m[4].endsWith('%') ? parseFloat(m[4]) / 100 : parseFloat(m[4]));
    return [parseFloat(m[1]), parseFloat(m[2]), parseFloat(m[3]), a];
  };
  const over = (top, below) => [0, 1, 2].map(i => top[i] * top[3] + below[i] * (1 - top[3])).concat([1]);
  const backgroundOf = el => {  // the opaque colour behind el: its own and its ancestors' backgrounds
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const c = rgba(getComputedStyle(node).backgroundColor);
      if (c === null) return null;
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let colour = layers.length && layers[layers.length - 1][3] >= 1 ? layers.pop() : [255, 255, 255, 1];
    while (layers.length) colour = over(layers.pop(), colour);
    return colour;
  };
  const luminance = c => {
    const lin = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  };
  const contrast = (a, b) => {
    const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };
  const ownText = el => Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim() !== '');
  const inSvg = el => el instanceof SVGElement;

  document.querySelectorAll('details').forEach(d => { d.open = true; });
  out.background = backgroundOf(document.body);
  out.backgroundLuminance = out.background && luminance(out.background);
  const body = rgba(out.colour);
  out.colourLuminance = body && luminance(body);

  const all = Array.from(document.body.querySelectorAll('*'));
  for (const el of all) {
    if (!ownText(el) || !visible(el)) continue;
    if (inSvg(el) && !['text', 'tspan'].includes(el.tagName)) continue;
    const style = getComputedStyle(el);
    let size = parseFloat(style.fontSize);
    const colourText = inSvg(el) ? style.fill : style.color;
    const colour = rgba(colourText);
    if (inSvg(el)) size *= el.getScreenCTM().a;  // SVG text is drawn at its drawing's scale
    const background = backgroundOf(el);
    const large = size >= 24 || (parseInt(style.fontWeight, 10) >= 700 && size >= 18.66);
    const ratio = colour && background ? contrast(over(colour, background), background) : null;
    out.texts.push({el: describe(el), index: all.indexOf(el), size: Math.round(size * 100) / 100,
                    ratio: ratio && Math.round(ratio * 100) / 100, colour: colourText,
                    background: background && 'rgb(' + background.slice(0, 3).map(Math.round).join(', ') + ')',
                    large, svg: inSvg(el)});
  }
  const targets = new Set(document.querySelectorAll(TARGETS));
  for (const el of targets) {
    if (!visible(el)) continue;
    const box = el.getBoundingClientRect();
    if (box.right <= 0 || box.bottom <= 0) continue;  // parked off screen (the skip link until focused)
    const style = getComputedStyle(el);
    let inline = false;
    if (style.display === 'inline') {
      // WCAG 2.5.8 inline exception: the link sits in a sentence, among text that is no target.
      let block = el.parentElement;
      while (block && getComputedStyle(block).display.startsWith('inline')) block = block.parentElement;
      const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
      let rest = '';
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        let inTarget = false;
        for (let p = n.parentElement; p && p !== block.parentElement; p = p.parentElement) {
          if (targets.has(p)) { inTarget = true; break; }
        }
        if (!inTarget) rest += n.textContent;
      }
      inline = rest.replace(/[\s·、，,。：:;；|–—()（）]/g, '') !== '';
    }
    out.targets.push({el: describe(el), width: Math.round(box.width * 10) / 10, height: Math.round(box.height * 10) / 10,
                      display: style.display, inline});
  }
  const hides = v => v === 'hidden' || v === 'clip';
  for (const el of all) {
    if (!visible(el) || inSvg(el)) continue;
    const style = getComputedStyle(el);
    const cutX = hides(style.overflowX) && el.scrollWidth > el.clientWidth + 1;
    const cutY = hides(style.overflowY) && el.scrollHeight > el.clientHeight + 1;
    if ((cutX || cutY) && (el.textContent || '').trim() !== '') {
      out.clipped.push({el: describe(el), scroll: [el.scrollWidth, el.scrollHeight], client: [el.clientWidth, el.clientHeight]});
    }
  }
  return out;
}
"""


def representative_pages(site) -> dict[str, str]:
    pages = {}
    for kind, where in PAGE_TYPES.items():
        if where.endswith("/"):
            files = sorted((site / where).glob("*.html"), key=lambda p: (-p.stat().st_size, p.name))
            assert files, f"the demo build has no {kind} page under {where}"
            pages[kind] = files[0].relative_to(site).as_posix()
        else:
            assert (site / where).is_file(), f"the demo build has no {where}"
            pages[kind] = where
    return pages


def set_font_sizes(cdp, factor: float) -> None:
    """The reader's font-size setting: Chromium's default sizes, which rem and em follow."""
    cdp.send("Page.setFontSizes", {"fontSizes": {k: round(v * factor) for k, v in DEFAULT_FONT_PX.items()}})


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def measured(demo_build, browser):
    """{(page type, scheme, zoom): measurements}; zoom 1 in light and dark, 2 in light."""
    results = {}
    with serve_folder(demo_build) as base:
        for scheme in ("light", "dark"):
            page = phone_page(browser, color_scheme=scheme)
            cdp = page.context.new_cdp_session(page)
            for kind, path in representative_pages(demo_build).items():
                if kind == "search":
                    page.goto(base + path + "?q=" + SEARCH_QUERY)
                    page.wait_for_selector("#search-results li")  # the results are measured too
                else:
                    page.goto(base + path)
                results[kind, scheme, 1] = page.evaluate(MEASURE)
                if scheme == "light":
                    set_font_sizes(cdp, TEXT_ZOOM)
                    results[kind, scheme, TEXT_ZOOM] = page.evaluate(MEASURE)
                    set_font_sizes(cdp, 1)
            assert page.problems == []
            page.context.close()
    return results


def normal(measured):
    return {(kind, scheme): m for (kind, scheme, zoom), m in measured.items() if zoom == 1}


def test_every_page_type_is_measured(demo_build):
    """A new kind of page must be added to PAGE_TYPES (and so measured), not slip past."""
    tops = {p.relative_to(demo_build).parts[0] for p in demo_build.rglob("*.html")}
    known = {where.split("/")[0] for where in PAGE_TYPES.values()}
    assert tops - known == set()


def test_the_measurements_see_the_pages(measured):
    # Guards the checks below against passing on nothing: each page has text and targets.
    for key, m in normal(measured).items():
        assert len(m["texts"]) >= 5, key
        assert len(m["targets"]) >= 1, key


def test_no_horizontal_scrolling_at_360px(measured):
    wide = {key: m["scrollWidth"] for key, m in normal(measured).items() if m["scrollWidth"] > PHONE["width"]}
    assert wide == {}
    # Hiding the overflow would only cut the page off instead: it must stay scrollable.
    hidden = {key: m["overflowX"] for key, m in normal(measured).items() if {"hidden", "clip"} & set(m["overflowX"])}
    assert hidden == {}


def test_text_is_at_least_16px(measured):
    small = [(kind, scheme, t["el"], t["size"]) for (kind, scheme), m in normal(measured).items()
             for t in m["texts"] if t["size"] < MIN_FONT_PX]
    assert small == []


def test_tap_targets_are_at_least_44px(measured):
    small = [(kind, scheme, t["el"], t["width"], t["height"]) for (kind, scheme), m in normal(measured).items()
             for t in m["targets"]
             if not t["inline"] and (t["width"] < MIN_TARGET_PX or t["height"] < MIN_TARGET_PX)]
    assert small == []


def test_inline_links_are_only_links_in_sentences(measured):
    # The exception is narrow: on every page most targets are full size, inline ones are rare.
    for key, m in normal(measured).items():
        inline = [t for t in m["targets"] if t["inline"]]
        assert len(inline) <= len(m["targets"]) // 2, (key, inline)


def test_text_contrast(measured):
    poor = []
    for (kind, scheme), m in normal(measured).items():
        for t in m["texts"]:
            need = MIN_CONTRAST_LARGE if t["large"] else MIN_CONTRAST
            if t["ratio"] is None or t["ratio"] < need:
                poor.append((kind, scheme, t["el"], t["colour"], t["background"], t["ratio"]))
    assert poor == []


def test_dark_scheme_is_dark_and_light_is_light(measured):
    wrong = []
    for kind in PAGE_TYPES:
        light, dark = measured[kind, "light", 1], measured[kind, "dark", 1]
        if not light["backgroundLuminance"] >= LIGHT_BACKGROUND_MIN_LUMINANCE:
            wrong.append((kind, "light background", light["background"]))
        if not dark["backgroundLuminance"] <= DARK_BACKGROUND_MAX_LUMINANCE:
            wrong.append((kind, "dark background", dark["background"]))
        if not dark["colourLuminance"] > dark["backgroundLuminance"]:
            wrong.append((kind, "dark text is not lighter than its background", dark["colour"]))
    assert wrong == []


def test_200_percent_text_still_fits(measured):
    zoomed = {kind: m for (kind, scheme, zoom), m in measured.items() if zoom == TEXT_ZOOM}
    assert set(zoomed) == set(PAGE_TYPES)
    wide = {kind: m["scrollWidth"] for kind, m in zoomed.items() if m["scrollWidth"] > PHONE["width"]}
    assert wide == {}
    clipped = {kind: m["clipped"] for kind, m in zoomed.items() if m["clipped"]}
    assert clipped == {}
    # At normal size nothing is clipped either (a box too small for its text even at 100 %).
    assert {key: m["clipped"] for key, m in normal(measured).items() if m["clipped"]} == {}


def test_200_percent_text_really_doubles_every_html_text(measured):
    """Text in fixed pixels would ignore the reader's setting: every HTML text must follow it.

    SVG chart labels are drawings in their own units (their numbers are also in the table
    under each chart, which does grow); docs/quality.md.
    """
    stuck = []
    for kind in PAGE_TYPES:
        before = {t["index"]: t for t in measured[kind, "light", 1]["texts"] if not t["svg"]}
        after = {t["index"]: t for t in measured[kind, "light", TEXT_ZOOM]["texts"] if not t["svg"]}
        assert before, kind
        for index, t in before.items():
            grown = after.get(index)
            if grown is None or grown["size"] < t["size"] * TEXT_ZOOM * 0.95:
                stuck.append((kind, t["el"], t["size"], grown and grown["size"]))
    assert stuck == []


def test_every_page_follows_the_readers_text_size(demo_build):
    """`<meta name="text-scale" content="scale">` makes a phone's own text-size setting set the
    root font size (instead of Chrome's text-autosizing guesses), the 200 % case measured above."""
    missing = [p.relative_to(demo_build).as_posix() for p in sorted(demo_build.rglob("*.html"))
               if '<meta name="text-scale" content="scale">' not in p.read_text(encoding="utf-8")]
    assert missing == []
