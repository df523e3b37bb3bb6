/* Keeps a notice's posting status right on the day the page is read, not only on the day it
   was built: "N days left", "ended" or "not yet started", from the visitor's clock.
   Every word comes from the page's data-t-* attributes (the site's catalog), so this script
   carries no language. Without JavaScript the page says the status as of the build date. */
(function () {
  "use strict";

  function dayNumber(iso) {
    var parts = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    return parts ? Date.UTC(+parts[1], +parts[2] - 1, +parts[3]) / 86400000 : null;
  }

  /* Fills "{days}" and Python-style "{m:02d}" placeholders of a catalog message. */
  function fill(message, values) {
    return message.replace(/\{(\w+)(?::0(\d+)d)?\}/g, function (whole, name, width) {
      if (!(name in values)) { return whole; }
      var text = String(values[name]);
      while (width && text.length < +width) { text = "0" + text; }
      return text;
    });
  }

  var now = new Date();
  var today = Date.UTC(now.getFullYear(), now.getMonth(), now.getDate()) / 86400000;
  var items = document.querySelectorAll("[data-posted][data-until]");

  for (var i = 0; i < items.length; i++) {
    var status = items[i];
    var posted = dayNumber(status.getAttribute("data-posted"));
    var until = dayNumber(status.getAttribute("data-until"));
    var note = status.parentNode.querySelector("[data-t-as-of]");
    var built = note ? dayNumber(note.getAttribute("data-as-of")) : null;
    /* A clock earlier than the build date is wrong: the build's own status is better. */
    if (posted === null || until === null || (built !== null && today < built)) { continue; }

    var state, message;
    if (today < posted) {
      state = "upcoming";
      message = status.getAttribute("data-t-upcoming");
    } else if (today <= until) {
      state = "posting";
      message = fill(status.getAttribute("data-t-posting") || "", { days: until - today + 1 });
    } else {
      state = "ended";
      message = status.getAttribute("data-t-ended");
    }
    if (!message) { continue; }
    status.textContent = message;
    status.className = status.className.replace(/\b(upcoming|posting|ended)\b/g, "").replace(/\s+/g, " ").trim() + " " + state;

    if (note && note.getAttribute("data-date-format")) {
      var date = fill(note.getAttribute("data-date-format"), { y: now.getFullYear(), m: now.getMonth() + 1, d: now.getDate() });
      note.textContent = fill(note.getAttribute("data-t-as-of"), { date: date });
    }
  }
}());
