// The rewards counter (/console/redeem, an ES module): #scan-start opens this phone's
// camera with the embedded qr-scanner (nimiq, MIT); a member's code (10 digits, shown as
// a QR on their 积分超市 page) fills #code and posts the check. Typing always works.
import QrScanner from './qr-scanner.min.js';

const start = document.getElementById('scan-start');
const video = document.getElementById('scan-video');
const input = document.getElementById('code');
const say = document.getElementById('scan-status');

if (start && video && input && input.form) {
  const onLabel = start.textContent;
  let scanner = null;

  function stop() {
    if (scanner) { scanner.stop(); scanner.destroy(); scanner = null; }
    video.hidden = true;
    start.textContent = onLabel;
  }

  function read(result) {
    const digits = ((result && result.data) || '').replace(/[\s-]/g, '');
    if (!/^[0-9]{10}$/.test(digits)) {
      say.textContent = '这不是积分兑换码';
      return;
    }
    stop();
    input.value = digits;
    say.textContent = '已读到兑换码，正在查询…';
    input.form.submit();
  }

  start.addEventListener('click', async function () {
    if (scanner) { stop(); say.textContent = ''; return; }
    video.hidden = false;
    say.textContent = '正在打开摄像头…';
    scanner = new QrScanner(video, read, {
      returnDetailedScanResult: true,
      preferredCamera: 'environment',
      maxScansPerSecond: 5,
    });
    try {
      await scanner.start();
      start.textContent = '关闭摄像头';
      say.textContent = '请把党员手机上的兑换码二维码对准画面';
    } catch (e) {
      stop();
      say.textContent = '无法打开摄像头，请输入兑换码';
    }
  });
}
