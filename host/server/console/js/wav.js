// Reads a PCM WAV (the server's recordings: 8 kHz, 16-bit, stereo: caller left, the other
// side right) and draws a seekable waveform of both channels on a canvas.

/// → { channels, rate, bits, frames, data: DataView over the samples }; throws on non-PCM.
export function parseWav(buffer) {
  const v = new DataView(buffer);
  const tag = (o) => String.fromCharCode(v.getUint8(o), v.getUint8(o + 1), v.getUint8(o + 2), v.getUint8(o + 3));
  if (buffer.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a WAV file');
  let pos = 12;
  let fmt = null;
  let data = null;
  while (pos + 8 <= buffer.byteLength) {
    const id = tag(pos);
    const size = v.getUint32(pos + 4, true);
    if (id === 'fmt ') {
      fmt = { format: v.getUint16(pos + 8, true), channels: v.getUint16(pos + 10, true), rate: v.getUint32(pos + 12, true), bits: v.getUint16(pos + 22, true) };
    } else if (id === 'data') {
      const len = Math.min(size, buffer.byteLength - pos - 8);
      data = new DataView(buffer, pos + 8, len);
      break;
    }
    pos += 8 + size + (size & 1);
  }
  if (!fmt || !data) throw new Error('WAV without fmt or data chunk');
  if (fmt.format !== 1 || fmt.bits !== 16) throw new Error(`unsupported WAV (format ${fmt.format}, ${fmt.bits} bits)`);
  const frames = Math.floor(data.byteLength / (2 * fmt.channels));
  return { ...fmt, frames, data };
}

/// Per-column [min, max] of each channel, for `columns` columns.
export function peaks(wav, columns) {
  const out = [];
  for (let ch = 0; ch < wav.channels; ch += 1) {
    const col = new Float32Array(columns * 2);
    const per = Math.max(1, Math.floor(wav.frames / columns));
    for (let c = 0; c < columns; c += 1) {
      let min = 0;
      let max = 0;
      const start = Math.floor((c * wav.frames) / columns);
      const end = Math.min(wav.frames, start + per);
      for (let f = start; f < end; f += 1) {
        const x = wav.data.getInt16((f * wav.channels + ch) * 2, true) / 32768;
        if (x < min) min = x;
        if (x > max) max = x;
      }
      col[c * 2] = min;
      col[c * 2 + 1] = max;
    }
    out.push(col);
  }
  return out;
}

/// Draws both channels (top: channel 1, bottom: channel 2) with the played part highlighted
/// and a playhead at `position` (0..1).
export function draw(canvas, pk, position, labels = []) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 800;
  const hgt = canvas.clientHeight || 160;
  if (canvas.width !== Math.round(w * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
  }
  const g = canvas.getContext('2d');
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, hgt);
  const lanes = pk.length || 1;
  const laneH = hgt / lanes;
  const colors = [['#6fb3ff', '#2e5f99'], ['#7ee0a6', '#2f7a52']];
  const head = position * w;
  pk.forEach((col, lane) => {
    const mid = laneH * lane + laneH / 2;
    const n = col.length / 2;
    for (let x = 0; x < w; x += 1) {
      const c = Math.min(n - 1, Math.floor((x / w) * n));
      const min = col[c * 2];
      const max = col[c * 2 + 1];
      g.fillStyle = x <= head ? colors[lane % 2][0] : colors[lane % 2][1];
      const y1 = mid - max * (laneH / 2 - 4);
      const y2 = mid - min * (laneH / 2 - 4);
      g.fillRect(x, y1, 1, Math.max(1, y2 - y1));
    }
    g.fillStyle = 'rgba(255,255,255,.75)';
    g.font = '12px sans-serif';
    if (labels[lane]) g.fillText(labels[lane], 6, laneH * lane + 15);
    if (lane > 0) {
      g.fillStyle = 'rgba(255,255,255,.2)';
      g.fillRect(0, laneH * lane, w, 1);
    }
  });
  g.fillStyle = '#ffcc4d';
  g.fillRect(Math.min(w - 2, head), 0, 2, hgt);
}
