// Joins one camera over WHEP from headless Chromium again and again and
// reads what the browser saw (getStats): the first painted frame after the
// offer, freezes, packets lost, NACKs, PLIs and the jitter buffer.
// node shaped.mjs ORIGIN CAMERA STREAM JOINS WATCH_S   (SE_TOKEN: a token with video)
// WHEP_PATH, when set, is the endpoint's path on ORIGIN instead of the
// gateway's (another server measured the same way, e.g. /cam1/whep).
// Prints one JSON line: {"joins": [{first_frame_ms, freezes, freeze_s, lost, nacks, plis, jitter_ms}, ...]}.
import { launch, sleep } from './lib.mjs';

const [origin, camera, stream, joins = '10', watch = '6'] = process.argv.slice(2);
const b = await launch();
const out = { joins: [] };
let code = 0;
try {
  await b.page.goto(`${origin}/healthz`);
  for (let i = 0; i < +joins; i++) {
    await sleep(500 + Math.random() * 2000); // land anywhere in a 2 s GOP
    const r = await b.page.evaluate(async ([camera, stream, token, watchS, path]) => {
      const video = document.createElement('video');
      video.muted = true; video.autoplay = true; video.playsInline = true;
      document.body.replaceChildren(video);
      const pc = new RTCPeerConnection();
      pc.addTransceiver('video', { direction: 'recvonly' });
      pc.ontrack = (e) => { video.srcObject = e.streams[0] || new MediaStream([e.track]); };
      await pc.setLocalDescription(await pc.createOffer());
      const t0 = performance.now();
      const auth = token ? { Authorization: `Bearer ${token}` } : {};
      const res = await fetch(path || `/api/v1/whep/${camera}?stream=${stream}`, { method: 'POST',
        headers: { 'Content-Type': 'application/sdp', ...auth }, body: pc.localDescription.sdp });
      if (res.status !== 201) return { error: res.status };
      const location = res.headers.get('Location');
      await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
      const first = await new Promise(resolve => {
        video.requestVideoFrameCallback(() => resolve(performance.now() - t0));
        setTimeout(() => resolve(-1), 10000);
      });
      await new Promise(r => setTimeout(r, watchS * 1000));
      let s = {};
      (await pc.getStats()).forEach(x => { if (x.type === 'inbound-rtp' && x.kind === 'video') s = x; });
      await fetch(location, { method: 'DELETE', headers: auth });
      pc.close();
      video.remove();
      return { first_frame_ms: Math.round(first), freezes: s.freezeCount || 0, freeze_s: +(s.totalFreezesDuration || 0).toFixed(3),
        lost: s.packetsLost || 0, nacks: s.nackCount || 0, plis: s.pliCount || 0, frames: s.framesDecoded || 0,
        jitter_ms: s.jitterBufferEmittedCount ? Math.round(1000 * s.jitterBufferDelay / s.jitterBufferEmittedCount) : 0 };
    }, [camera, stream, process.env.SE_TOKEN, +watch, process.env.WHEP_PATH || '']);
    out.joins.push(r);
    console.error(`join ${i + 1}: ${JSON.stringify(r)}`);
  }
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  console.log(JSON.stringify(out));
  await b.close();
}
process.exit(code);
