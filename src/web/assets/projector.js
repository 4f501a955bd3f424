// The projector page of a check-in session (and its compact phone view).
// Everything comes from the API with the secretary's bearer token, kept in
// sessionStorage for this window only. No external resources; text is written
// with textContent only.
(function () {
  'use strict';

  var body = document.body;
  var sid = body.getAttribute('data-session');
  var compact = body.getAttribute('data-compact') === '1';
  var KEY = 'vanguard.projector.' + sid;
  var RECENT = compact ? 8 : 10;

  function $(id) { return document.getElementById(id); }

  var st = {
    session: null,
    activity: null,
    base: null,      // the last `counts` event (from the database)
    extra: {},       // person_id -> class, check-ins announced since that event
    skew: 0,         // server clock minus ours, in ms (from the Date header)
    qrUrl: null,
    qrTimer: null,
    liveCtl: null,
    backoff: 1000,
    lastData: 0,
    missingAt: 0,
    stopped: true
  };

  function AuthError() { this.name = 'AuthError'; }
  AuthError.prototype = Object.create(Error.prototype);

  // ---------------------------------------------------------------- tokens

  function tokens() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || 'null'); } catch (e) { return null; }
  }
  function saveTokens(t) {
    sessionStorage.setItem(KEY, JSON.stringify({ access: t.access_token, refresh: t.refresh_token }));
  }
  function clearTokens() { sessionStorage.removeItem(KEY); }

  // One refresh at a time: a refresh token works once (a reused one ends the login).
  var refreshing = null;
  function refresh() {
    if (refreshing) { return refreshing; }
    var t = tokens();
    if (!t || !t.refresh) { return Promise.resolve(false); }
    refreshing = fetch('/api/v1/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: t.refresh })
    }).then(function (r) {
      if (!r.ok) { return false; }
      return r.json().then(function (pair) { saveTokens(pair); return true; });
    }).catch(function () { return false; }).then(function (ok) {
      refreshing = null;
      return ok;
    });
    return refreshing;
  }

  async function api(path, opts) {
    opts = opts || {};
    for (var attempt = 0; attempt < 2; attempt++) {
      var t = tokens();
      if (!t) { throw new AuthError(); }
      var headers = Object.assign({}, opts.headers || {}, { Authorization: 'Bearer ' + t.access });
      var r = await fetch(path, Object.assign({}, opts, { headers: headers, cache: 'no-store' }));
      if (r.status === 401) {
        if (attempt === 0 && await refresh()) { continue; }
        throw new AuthError();
      }
      var date = r.headers.get('Date');
      if (date && !isNaN(Date.parse(date))) { st.skew = Date.parse(date) - Date.now(); }
      return r;
    }
    throw new AuthError();
  }

  function serverNow() { return Date.now() + st.skew; }

  // ---------------------------------------------------------------- display helpers

  // Times are shown in the branch's time zone (the organization's), not the browser's.
  var tz = 'Asia/Shanghai';
  function parts(t) {
    var out = {};
    try {
      new Intl.DateTimeFormat('en-GB', {
        timeZone: tz, year: 'numeric', month: 'numeric', day: 'numeric',
        hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'
      }).formatToParts(new Date(t)).forEach(function (p) { out[p.type] = p.value; });
    } catch (e) {
      var d = new Date(t);
      out = { month: d.getMonth() + 1, day: d.getDate(), hour: two(d.getHours()), minute: two(d.getMinutes()), second: two(d.getSeconds()) };
    }
    return out;
  }
  function two(n) { return (n < 10 ? '0' : '') + n; }
  function hm(t) { var p = parts(t); return p.hour + ':' + p.minute; }
  function hms(t) { var p = parts(t); return p.hour + ':' + p.minute + ':' + p.second; }
  function md(t) { var p = parts(t); return Number(p.month) + '月' + Number(p.day) + '日'; }

  function setConn(ok, text) {
    var el = $('conn');
    el.textContent = text || (ok ? '实时连接正常' : '连接中断，正在重连…');
    el.className = ok ? '' : 'bad';
  }

  function showLogin(message) {
    stop();
    clearTokens();
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('username').focus();
  }

  function closesAt() {
    if (!st.session) { return Infinity; }
    var c = Date.parse(st.session.closes_at);
    if (st.session.closed_at) { c = Math.min(c, Date.parse(st.session.closed_at)); }
    return c;
  }
  function isClosed() { return serverNow() > closesAt(); }

  function showClosed() {
    clearTimeout(st.qrTimer);
    $('qr-box').className = 'closed';
    $('qr').hidden = true;
    $('qr-hint').hidden = true;
    $('qr-note').hidden = true;
    $('qr-closed').hidden = false;
  }

  // ---------------------------------------------------------------- counts and arrivals

  var CLASS = { on_time: '按时', late: '迟到', present: '已签到' };

  function renderCounts() {
    var b = st.base || { on_time: 0, late: 0, present: 0, missing: 0, expected: 0 };
    var onTime = b.on_time || 0, late = b.late || 0, present = b.present || 0, missing = b.missing || 0;
    Object.keys(st.extra).forEach(function (k) {
      var c = st.extra[k];
      if (c === 'on_time') { onTime++; } else if (c === 'late') { late++; } else { present++; }
      if (missing > 0) { missing--; }
    });
    $('arrived').textContent = String(onTime + late + present);
    $('expected').textContent = String(b.expected || 0);
    $('on-time').textContent = String(onTime);
    $('late').textContent = String(late);
    $('missing').textContent = String(missing);
  }

  function addRecent(ev, at, fresh) {
    var list = $('recent');
    var li = document.createElement('li');
    var who = document.createElement('b');
    who.textContent = ev.name || '';
    var what = document.createElement('span');
    what.textContent = (CLASS[ev.class] || '已签到') + ' ' + hms(at || serverNow());
    li.appendChild(who);
    li.appendChild(what);
    if (fresh !== false) {
      li.className = 'fresh';
      setTimeout(function () { li.className = ''; }, 3000);
    }
    list.insertBefore(li, list.firstChild);
    while (list.children.length > RECENT) { list.removeChild(list.lastChild); }
  }

  function dispatch(block) {
    var ev = 'message';
    var data = [];
    block.split('\n').forEach(function (line) {
      if (line.indexOf('event:') === 0) { ev = line.slice(6).trim(); }
      else if (line.indexOf('data:') === 0) { data.push(line.slice(5).replace(/^ /, '')); }
    });
    if (!data.length) { return; }
    var obj;
    try { obj = JSON.parse(data.join('\n')); } catch (e) { return; }
    if (!obj) { return; }
    if (ev === 'recent') {
      // The stream's first word: who already arrived (after a reload), oldest first.
      $('recent').textContent = '';
      obj.forEach(function (i) { addRecent({ name: i.name, class: i.class }, Date.parse(i.at), false); });
    } else if (ev === 'counts') {
      st.base = obj;
      st.extra = {};
      renderCounts();
      if (compact) { loadMissing(false); }
    } else if (ev === 'checkin') {
      if (!Object.prototype.hasOwnProperty.call(st.extra, obj.person_id)) {
        st.extra[obj.person_id] = obj.class;
      }
      addRecent(obj);
      renderCounts();
      if (compact) { dropMissing(obj.person_id); }
    }
  }

  // Server-sent events behind a bearer token: EventSource cannot send headers,
  // so read the stream with fetch() and a reader; reconnect with back-off.
  async function live() {
    if (st.stopped) { return; }
    if (st.liveCtl) { st.liveCtl.abort(); }
    var ctl = new AbortController();
    st.liveCtl = ctl;
    try {
      var r = await api('/api/v1/sessions/' + sid + '/live', {
        headers: { Accept: 'text/event-stream' },
        signal: ctl.signal
      });
      if (!r.ok || !r.body) { throw new Error('live ' + r.status); }
      setConn(true);
      st.backoff = 1000;
      st.lastData = Date.now();
      var reader = r.body.getReader();
      var dec = new TextDecoder();
      var buf = '';
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) { break; }
        st.lastData = Date.now();
        buf += dec.decode(chunk.value, { stream: true }).replace(/\r\n/g, '\n');
        var i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          dispatch(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } catch (e) {
      if (e instanceof AuthError) { showLogin('登录已过期，请重新登录。'); return; }
    }
    if (st.stopped || st.liveCtl !== ctl) { return; }
    setConn(false);
    setTimeout(live, st.backoff);
    st.backoff = Math.min(st.backoff * 2, 5000);
  }

  // The server sends counts every 5 s: a silent stream is a dead one.
  function watchdog() {
    if (!st.stopped && st.liveCtl && st.lastData && Date.now() - st.lastData > 15000) {
      st.lastData = 0;
      st.liveCtl.abort();
    }
  }

  // ---------------------------------------------------------------- QR code

  // The server hands out the current slot's code; the previous slot's code is still
  // accepted for one more slot, so fetching just as the slot turns over (server
  // time) keeps a valid code on screen at every moment.
  async function loadQr() {
    clearTimeout(st.qrTimer);
    if (st.stopped || compact) { return; }
    if (isClosed()) { showClosed(); return; }
    try {
      var r = await api('/api/v1/sessions/' + sid + '/qr');
      if (r.status === 409) { await loadSession(); showClosed(); return; }
      if (!r.ok) { throw new Error('qr ' + r.status); }
      var q = await r.json();
      var img = await api('/api/v1/sessions/' + sid + '/qr.svg');
      if (!img.ok) { throw new Error('qr.svg ' + img.status); }
      var url = URL.createObjectURL(await img.blob());
      var el = $('qr');
      el.src = url;
      el.hidden = false;
      if (st.qrUrl) { URL.revokeObjectURL(st.qrUrl); }
      st.qrUrl = url;
      $('qr-note').textContent = '二维码每分钟自动更新，请扫描屏幕上最新的二维码';
      var wait = Date.parse(q.expires_at) - serverNow() + 300;
      st.qrTimer = setTimeout(loadQr, Math.max(500, Math.min(wait, 600000)));
    } catch (e) {
      if (e instanceof AuthError) { showLogin('登录已过期，请重新登录。'); return; }
      $('qr-note').textContent = '二维码刷新失败，正在重试…';
      st.qrTimer = setTimeout(loadQr, 2000);
    }
  }

  // ---------------------------------------------------------------- missing list (phone view)

  async function loadMissing(force) {
    if (!force && Date.now() - st.missingAt < 5000) { return; }
    st.missingAt = Date.now();
    try {
      var r = await api('/api/v1/sessions/' + sid + '/attendance?status=missing&limit=1000');
      if (!r.ok) { return; }
      var page = await r.json();
      var list = $('missing-list');
      while (list.firstChild) { list.removeChild(list.firstChild); }
      (page.items || []).forEach(function (it) {
        var li = document.createElement('li');
        li.textContent = it.name;
        li.setAttribute('data-id', String(it.person_id));
        list.appendChild(li);
      });
      $('missing-n').textContent = String(page.counts ? page.counts.missing : list.children.length);
      var more = $('missing-more');
      more.hidden = !page.next;
      more.textContent = page.next ? '名单较长，仅显示前 1000 人' : '';
    } catch (e) {
      if (e instanceof AuthError) { showLogin('登录已过期，请重新登录。'); }
    }
  }

  function dropMissing(personId) {
    var li = document.querySelector('#missing-list li[data-id="' + String(Number(personId)) + '"]');
    if (li) {
      li.parentNode.removeChild(li);
      var n = $('missing-n');
      n.textContent = String(Math.max(0, Number(n.textContent) - 1));
    }
  }

  // ---------------------------------------------------------------- start and stop

  async function loadSession() {
    var r = await api('/api/v1/sessions/' + sid);
    if (r.status === 403 || r.status === 404) {
      var p = await r.json().catch(function () { return {}; });
      throw new Error(p.detail || '无权查看此签到');
    }
    if (!r.ok) { throw new Error('签到信息读取失败（' + r.status + '）'); }
    st.session = await r.json();
  }

  async function loadActivity() {
    var t = tokens();
    if (t && t.projector) {
      // A projector credential reads no activity: what it shows came with the credential.
      st.activity = { title: t.projector.activity_title, starts_at: t.projector.activity_starts_at, place: t.projector.activity_place, kind_label: '签到' };
    } else {
      var r = await api('/api/v1/activities/' + st.session.activity_id);
      if (!r.ok) { throw new Error('活动信息读取失败（' + r.status + '）'); }
      st.activity = await r.json();
    }
    var a = st.activity;
    if (t && t.projector) {
      tz = t.projector.timezone || tz;
    } else {
      var o = await api('/api/v1/orgs/' + a.org_id);
      if (o.ok) { tz = (await o.json()).timezone || tz; }
    }
    $('title').textContent = a.title;
    document.title = (compact ? '签到情况：' : '签到：') + a.title;
    var meta = (a.kind_label || '') + ' · ' + md(Date.parse(a.starts_at)) + ' ' + hm(Date.parse(a.starts_at)) + ' 开始';
    if (a.place) { meta += ' · ' + a.place; }
    meta += ' · 签到至 ' + hm(closesAt());
    $('meta').textContent = meta;
  }

  async function start() {
    $('login').hidden = true;
    $('app').hidden = false;
    st.stopped = false;
    try {
      await loadSession();
      await loadActivity();
    } catch (e) {
      if (e instanceof AuthError) { showLogin(); return; }
      showLogin(e.message);
      return;
    }
    renderCounts();
    if (!compact) { loadQr(); }
    if (compact) { loadMissing(true); }
    live();
  }

  // A close from the secretary's phone takes the QR down within seconds.
  async function watchClose() {
    if (st.stopped || compact || !st.session || isClosed()) { return; }
    try {
      await loadSession();
      if (isClosed()) { showClosed(); }
    } catch (e) { /* the stream's reconnects report trouble */ }
  }

  function stop() {
    st.stopped = true;
    clearTimeout(st.qrTimer);
    if (st.liveCtl) { st.liveCtl.abort(); st.liveCtl = null; }
  }

  $('login-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    $('login-error').textContent = '';
    try {
      var r = await fetch('/api/v1/auth/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: $('username').value.trim(), password: $('password').value })
      });
      var p = await r.json().catch(function () { return {}; });
      if (!r.ok) {
        $('login-error').textContent = p.detail || p.title || '登录失败';
        return;
      }
      $('password').value = '';
      if (!compact) {
        // The projector keeps only a credential for this session's QR and live count;
        // the secretary's own login ends on the server at once.
        var x = await fetch('/api/v1/sessions/' + sid + '/projector', { method: 'POST', headers: { Authorization: 'Bearer ' + p.access_token } });
        var pt = await x.json().catch(function () { return {}; });
        fetch('/api/v1/auth/end', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh_token: p.refresh_token }) }).catch(function () {});
        if (!x.ok) {
          $('login-error').textContent = pt.detail || pt.title || '无法打开投屏';
          return;
        }
        sessionStorage.setItem(KEY, JSON.stringify({ access: pt.token, refresh: null, projector: pt }));
      } else {
        saveTokens(p);
      }
      start();
    } catch (e) {
      $('login-error').textContent = '无法连接服务器，请检查网络后重试。';
    }
  });

  $('logout').addEventListener('click', function () {
    var t = tokens();
    if (t && t.projector) {
      fetch('/api/v1/projector/end', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: t.access }) }).catch(function () {});
    } else if (t) {
      // By the refresh token: ends the login on the server even if the access token expired.
      fetch('/api/v1/auth/end', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh_token: t.refresh }) }).catch(function () {});
    }
    showLogin();
  });

  setInterval(function () {
    $('clock').textContent = hms(serverNow());
    if (!st.stopped && st.session && !compact && isClosed() && $('qr-closed').hidden) { showClosed(); }
  }, 1000);
  setInterval(watchdog, 5000);
  setInterval(watchClose, 3000);

  if (tokens()) { start(); } else { showLogin(); }
})();
