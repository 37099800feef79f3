// The SDK's retries on 429: with a tight request limit, the call that meets the empty bucket
// gets 429 with retry-after-ms, the SDK waits at least that long, retries with
// x-stainless-retry-count 1 and succeeds; the mock's /_mock/stats counts the retry.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { check, client, stats, MODEL } from './lib.mjs';

const body = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] };

/** A fetch that records every attempt the SDK makes. */
function recordingFetch(attempts) {
  return async (url, init) => {
    const retryCount = new Headers(init?.headers).get('x-stainless-retry-count');
    const started = performance.now();
    const res = await fetch(url, init);
    attempts.push({
      retryCount,
      started,
      answered: performance.now(),
      status: res.status,
      retryAfterMs: res.headers.get('retry-after-ms'),
    });
    return res;
  };
}

await check('retries', async () => {
  // Empty the bucket: every request until the first 429 (bounded by the limit).
  const drain = client();
  let drained = 0;
  for (;;) {
    assert.ok(drained <= 200, 'a 429 came within 200 requests');
    try {
      await drain.chat.completions.create(body);
      drained += 1;
    } catch (e) {
      assert.ok(e instanceof OpenAI.RateLimitError, `a RateLimitError, got ${e}`);
      assert.equal(e.code, 'rate_limit_exceeded');
      break;
    }
  }
  const before = (await stats()).by_retry_count;

  const attempts = [];
  const openai = client({ maxRetries: 2, fetch: recordingFetch(attempts) });
  const c = await openai.chat.completions.create(body);
  assert.equal(c.object, 'chat.completion', 'the retried call succeeds');
  assert.ok(attempts.length >= 2, `at least one retry: ${JSON.stringify(attempts)}`);
  assert.equal(attempts.at(-1).status, 200);
  for (let i = 0; i + 1 < attempts.length; i++) {
    const [a, next] = [attempts[i], attempts[i + 1]];
    assert.equal(a.status, 429);
    assert.equal(a.retryCount, String(i));
    assert.equal(next.retryCount, String(i + 1));
    const wait = Number(a.retryAfterMs);
    assert.ok(wait > 0, `retry-after-ms is sent: ${a.retryAfterMs}`);
    // Timers may fire up to a millisecond early by rounding.
    const waited = next.started - a.answered;
    assert.ok(waited >= wait - 1, `waited ${waited} ms for retry-after-ms ${wait}`);
  }
  const after = (await stats()).by_retry_count;
  const retries = attempts.length - 1;
  for (let n = 0; n <= retries; n++) {
    assert.equal((after[n] ?? 0) - (before[n] ?? 0), 1, `stats count retry ${n}: ${JSON.stringify(after)}`);
  }
  const waits = attempts.slice(0, -1).map((a) => `${a.retryAfterMs} ms`);
  return `drained ${drained}; ${retries} retry(ies) after waiting ${waits.join(', ')}; stats ${JSON.stringify(after)}`;
});
