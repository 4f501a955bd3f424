// The staff console's only script. Pages work without it; it adds:
// - data-poll="URL": the element's content is replaced by the fragment at URL every
//   data-every ms (live counts, missing list); a lost sign-in reloads the page, which
//   then goes to the login and back.
// - data-reload="ms" on an <img>: the image is fetched again (the rotating QR code).
// - data-confirm="text" on a form: asks before posting (what the change does).
// - every form's submit buttons are disabled once it is posted (one record per click).
(function () {
  'use strict';

  function poll(el) {
    var url = el.getAttribute('data-poll');
    var every = parseInt(el.getAttribute('data-every') || '3000', 10);
    function tick() {
      fetch(url, { credentials: 'same-origin', cache: 'no-store', redirect: 'manual' })
        .then(function (r) {
          if (r.type === 'opaqueredirect' || r.status === 401) { location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (html !== null && html !== undefined) { el.innerHTML = html; }
        })
        .catch(function () { /* offline for a moment: try again next tick */ })
        .then(function () { setTimeout(tick, every); });
    }
    setTimeout(tick, every);
  }

  function reload(img) {
    var every = parseInt(img.getAttribute('data-reload'), 10);
    var base = img.getAttribute('src').split('?')[0];
    setInterval(function () { img.setAttribute('src', base + '?t=' + Date.now()); }, every);
  }

  document.querySelectorAll('[data-poll]').forEach(poll);
  document.querySelectorAll('img[data-reload]').forEach(reload);
  document.querySelectorAll('form').forEach(function (form) {
    form.addEventListener('submit', function (ev) {
      var ask = form.getAttribute('data-confirm');
      if (ask && !window.confirm(ask)) { ev.preventDefault(); return; }
      setTimeout(function () {
        form.querySelectorAll('button[type=submit]').forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });
})();
