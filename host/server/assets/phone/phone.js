// madoguchi softphone: JsSIP over the host's SIP WebSocket listener, media through the
// host's WebRTC leg (G.711, DTLS-SRTP). Japanese first, English on request.
'use strict';
(function () {
  const T = {
    ja: {
      title: '窓口 ソフトフォン', login: 'ログイン', extension: '内線番号', password: 'SIP パスワード',
      signin: 'ログイン', signout: 'ログアウト', incoming: '着信', answer: '応答', decline: '拒否',
      talking: '通話中', onhold: '保留中', hangup: '終話', mute: 'ミュート', unmute: 'ミュート解除',
      hold: '保留', unhold: '保留解除', transfer: '転送', tocc: 'コールセンターへ転送', call: '発信',
      queue: 'コールキュー', qlogin: 'ログイン / ログアウト (*45)', qpause: '一時停止 / 再開 (*46)',
      waiting: '待ち呼', registered: '登録済み', unregistered: '未登録', failed: '登録失敗',
      connecting: '接続中', nows: 'WebSocket の SIP 受付がありません', lang: 'English',
      ivr: '音声案内の経路',
    },
    en: {
      title: 'madoguchi softphone', login: 'Sign in', extension: 'Extension', password: 'SIP password',
      signin: 'Sign in', signout: 'Sign out', incoming: 'Incoming call', answer: 'Answer', decline: 'Decline',
      talking: 'In call', onhold: 'On hold', hangup: 'Hang up', mute: 'Mute', unmute: 'Unmute',
      hold: 'Hold', unhold: 'Resume', transfer: 'Transfer', tocc: 'Transfer to call center', call: 'Call',
      queue: 'Call queue', qlogin: 'Log in / out (*45)', qpause: 'Pause / resume (*46)',
      waiting: 'Callers waiting', registered: 'Registered', unregistered: 'Not registered', failed: 'Registration failed',
      connecting: 'Connecting', nows: 'no SIP WebSocket listener', lang: '日本語',
      ivr: 'IVR path',
    },
  };
  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem('madoguchi.lang') || 'ja';
  let ua = null;
  let session = null;
  let regState = 'unregistered';
  let config = null;
  const phone = { state: 'idle', registered: false, lastError: '', path: '', caller: '' };
  window.phone = phone;

  function t(k) { return (T[lang] && T[lang][k]) || k; }
  function applyLang() {
    document.documentElement.lang = lang;
    document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
    $('lang').textContent = t('lang');
    $('reg').textContent = t(regState);
    document.title = t('title');
    const way = phone.path ? `${t('ivr')}: ${phone.path}` : '';
    $('path').textContent = way;
    $('inpath').textContent = way;
    if (session) {
      $('mute').textContent = session.isMuted().audio ? t('unmute') : t('mute');
      $('hold').textContent = session.isOnHold().local ? t('unhold') : t('hold');
    }
  }
  function setReg(s) { regState = s; phone.registered = s === 'registered'; $('reg').dataset.state = s; $('reg').textContent = t(s); }
  function error(msg) { phone.lastError = msg; $('error').textContent = msg; }
  function show(state) {
    phone.state = state;
    $('incoming').hidden = state !== 'ringing';
    $('incall').hidden = state !== 'talking';
  }

  // The IVR path the caller took, from the host's header (e.g. 「1 → 2 カードの受け取り」).
  function pathOf(req) {
    const raw = req && req.getHeader && req.getHeader('X-Madoguchi-Path');
    if (!raw) return '';
    try { return decodeURIComponent(raw); } catch (e) { return raw; }
  }

  function attach(s) {
    session = s;
    window.phone.session = s;
    s.on('peerconnection', (e) => trackAudio(e.peerconnection));
    if (s.connection) trackAudio(s.connection);
    s.on('accepted', () => { show('talking'); applyLang(); });
    s.on('confirmed', () => { show('talking'); applyLang(); });
    s.on('hold', () => { $('held').hidden = false; phone.held = true; applyLang(); });
    s.on('unhold', () => { $('held').hidden = true; phone.held = false; applyLang(); });
    const end = (e) => {
      phone.ended = (e && e.cause) || 'ended';
      session = null; window.phone.session = null;
      $('held').hidden = true; show('idle');
    };
    s.on('ended', end);
    s.on('failed', end);
  }
  function trackAudio(pc) {
    pc.addEventListener('track', (e) => { $('remote').srcObject = e.streams[0] || new MediaStream([e.track]); });
  }

  // Inbound audio as WebRTC sees it (for people and for the browser tests).
  phone.inboundStats = async function () {
    if (!session || !session.connection) return null;
    const stats = await session.connection.getStats();
    let r = null;
    stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') r = { packets: s.packetsReceived, energy: s.totalAudioEnergy, lost: s.packetsLost }; });
    return r;
  };

  // `phone.rawAudio` turns the browser's voice processing off (tests compare the audio).
  const raw = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
  const mediaOptions = () => ({ mediaConstraints: { audio: phone.rawAudio ? raw : true, video: false }, pcConfig: { iceServers: [] }, rtcOfferConstraints: { offerToReceiveAudio: true } });

  function start(ext, pw) {
    const host = location.hostname;
    const url = config.ws.replace('0.0.0.0', host);
    const socket = new JsSIP.WebSocketInterface(url);
    ua = new JsSIP.UA({ sockets: [socket], uri: `sip:${ext}@${host}`, password: pw, register: true, session_timers: false, register_expires: 300, user_agent: 'madoguchi-phone (JsSIP 3.13.8)' });
    phone.ua = ua;
    setReg('connecting');
    ua.on('registered', () => setReg('registered'));
    ua.on('unregistered', () => setReg('unregistered'));
    ua.on('registrationFailed', (e) => { setReg('failed'); error(e.cause || 'registration failed'); });
    ua.on('newRTCSession', (e) => {
      if (session && e.originator === 'remote') { e.session.terminate({ status_code: 486 }); return; }
      attach(e.session);
      if (e.originator === 'remote') {
        const from = e.request.from;
        phone.caller = (from.uri && from.uri.user) || '';
        phone.path = pathOf(e.request);
        $('caller').textContent = (from.display_name ? from.display_name + ' ' : '') + phone.caller;
        applyLang();
        $('peer').textContent = phone.caller;
        show('ringing');
      } else {
        $('peer').textContent = e.request.ruri.user;
        phone.path = '';
        applyLang();
        show('calling');
      }
    });
    ua.start();
    $('me').textContent = ext;
    $('login').hidden = true; $('phone').hidden = false;
  }

  function dial(target) {
    if (!ua || !target) return;
    ua.call(`sip:${target}@${location.hostname}`, mediaOptions());
  }
  phone.dial = dial;

  function buildPad() {
    for (const k of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#']) {
      const b = document.createElement('button');
      b.type = 'button'; b.textContent = k; b.dataset.key = k;
      b.addEventListener('click', () => {
        if (session && phone.state === 'talking') session.sendDTMF(k, { transportType: 'INFO', duration: 160 });
        else $('dial').value += k;
      });
      $('pad').appendChild(b);
    }
  }

  async function pollWaiting() {
    if (!ua || !config.status) return;
    try {
      const r = await fetch('status.json', { headers: { Authorization: 'Basic ' + btoa(`${$('me').textContent}:${phone.pw}`) } });
      if (r.ok) { const j = await r.json(); $('waiting').textContent = String(j.waiting); phone.waiting = j.waiting; }
    } catch (e) { /* next poll */ }
  }

  async function init() {
    applyLang();
    buildPad();
    $('lang').addEventListener('click', () => { lang = lang === 'ja' ? 'en' : 'ja'; localStorage.setItem('madoguchi.lang', lang); applyLang(); });
    try { config = await (await fetch('config.json')).json(); } catch (e) { config = { ws: null }; }
    $('signin').addEventListener('click', () => {
      if (!config.ws) { error(t('nows')); return; }
      phone.pw = $('pw').value;
      start($('ext').value.trim(), $('pw').value);
    });
    $('signout').addEventListener('click', () => { if (ua) ua.stop(); ua = null; setReg('unregistered'); $('login').hidden = false; $('phone').hidden = true; });
    $('answer').addEventListener('click', () => session && session.answer(mediaOptions()));
    $('decline').addEventListener('click', () => session && session.terminate({ status_code: 603 }));
    $('hangup').addEventListener('click', () => session && session.terminate());
    $('mute').addEventListener('click', () => { if (!session) return; if (session.isMuted().audio) session.unmute({ audio: true }); else session.mute({ audio: true }); applyLang(); });
    $('hold').addEventListener('click', () => { if (!session) return; if (session.isOnHold().local) session.unhold(); else session.hold(); });
    $('transfer').addEventListener('click', () => { const x = $('xfer').value.trim(); if (session && x) session.refer(`sip:${x}@${location.hostname}`); });
    $('tocc').addEventListener('click', () => { if (session) session.refer(`sip:${config.callcenter || '1003'}@${location.hostname}`); });
    $('call').addEventListener('click', () => dial($('dial').value.trim()));
    $('qlogin').addEventListener('click', () => dial('*45'));
    $('qpause').addEventListener('click', () => dial('*46'));
    setInterval(pollWaiting, 3000);
  }
  init();
})();
