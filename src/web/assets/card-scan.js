// Member cards in the staff console (an ES module, loaded only by the card pages).
// - [data-print] buttons print the page (the card sheet's own print styles apply).
// - #scan-start opens this phone's camera with the embedded qr-scanner (nimiq,
//   MIT, vendored as /assets/qr-scanner.min.js); a card's code (VGC1:…) fills the
//   hidden form and posts it. The typed card number always works without this.
import QrScanner from './qr-scanner.min.js';

document.querySelectorAll('[data-print]').forEach(function (b) {
  b.addEventListener('click', function () { window.print(); });
});

const start = document.getElementById('scan-start');
const video = document.getElementById('scan-video');
const form = document.getElementById('code-form');
const say = document.getElementById('scan-status');
const KEEP = 'vg-card-camera';
const LAST = 'vg-card-last';

if (start && video && form) {
  const offLabel = start.getAttribute('data-scan-label-off') || '关闭摄像头';
  const onLabel = start.textContent;
  let scanner = null;
  let sent = false;

  function stop() {
    if (scanner) { scanner.stop(); scanner.destroy(); scanner = null; }
    video.hidden = true;
    start.textContent = onLabel;
  }

  function read(result) {
    const text = (result && result.data) || '';
    if (sent || !text) { return; }
    if (text.indexOf('VGC1:') !== 0) {
      say.textContent = '这不是党员卡上的二维码';
      return;
    }
    // The card just taken is still in front of the camera: do not post it again
    // (closing and opening the camera by hand forgets it).
    if (sessionStorage.getItem(LAST) === text) {
      say.textContent = '这张卡刚刚已读过，请换下一张';
      return;
    }
    sent = true;
    sessionStorage.setItem(LAST, text);
    scanner.stop();
    say.textContent = '已读到党员卡，正在签到…';
    document.getElementById('card-code').value = text;
    // The next page opens the camera again, so a queue of cards goes on.
    sessionStorage.setItem(KEEP, '1');
    form.submit();
  }

  async function open() {
    video.hidden = false;
    say.textContent = '正在打开摄像头…';
    scanner = new QrScanner(video, read, {
      returnDetailedScanResult: true,
      preferredCamera: 'environment',
      maxScansPerSecond: 5,
    });
    try {
      await scanner.start();
      start.textContent = offLabel;
      say.textContent = '请把党员卡上的二维码对准画面';
    } catch (e) {
      stop();
      sessionStorage.removeItem(KEEP);
      say.textContent = '无法打开摄像头，请输入卡号';
    }
  }

  start.addEventListener('click', function () {
    sessionStorage.removeItem(LAST);
    if (scanner) { stop(); sessionStorage.removeItem(KEEP); say.textContent = ''; return; }
    open();
  });
  if (sessionStorage.getItem(KEEP) === '1') { open(); }
}
