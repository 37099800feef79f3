// The SDK's retries against the proxy's own 429 (`tests/proxy_sdk.rs`): the proxy's limiter holds
// one request and refills one every 3 s, never queueing (`max_wait = "0s"`). The first call takes
// the token; the next, with maxRetries 2, meets the full limiter, gets the proxy's 429 with
// retry-after-ms 3000, waits at least that long, retries with x-stainless-retry-count 1 and
// succeeds. The mock's /_mock/stats shows that only the two admitted requests reached it.
// No upper bound on time is asserted.
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
      outcome: res.headers.get('x-gauntlet-outcome'),
    });
    return res;
  };
}

await check('proxy_retries', async () => {
  const first = await client().chat.completions.create(body);
  assert.equal(first.object, 'chat.completion', 'the first call takes the only token');

  // Without retries, the SDK surfaces the proxy's refusal as OpenAI's rate limit error.
  const refused = await client().chat.completions.create(body).then(
    () => assert.fail('the limiter is empty: a 429 was expected'),
    (e) => e,
  );
  assert.ok(refused instanceof OpenAI.RateLimitError, `a RateLimitError, got ${refused}`);
  assert.equal(refused.status, 429);
  assert.equal(refused.code, 'rate_limit_exceeded');
  assert.equal(refused.headers.get('retry-after-ms'), '3000');
  assert.equal(refused.headers.get('retry-after'), '3');
  assert.equal(refused.headers.get('x-gauntlet-outcome'), 'rejected_limiter');

  const attempts = [];
  const openai = client({ maxRetries: 2, fetch: recordingFetch(attempts) });
  const c = await openai.chat.completions.create(body);
  assert.equal(c.object, 'chat.completion', 'the retried call succeeds');
  assert.ok(c.choices[0].message.content.length > 0);
  // Exactly one retry: the 429 came after the token was taken, and the SDK waited the full
  // retry-after-ms, by which time the limiter has refilled.
  assert.equal(attempts.length, 2, JSON.stringify(attempts));
  const [a, b] = attempts;
  assert.deepEqual(
    [a.status, a.retryCount, a.retryAfterMs, a.outcome],
    [429, '0', '3000', 'rejected_limiter'],
  );
  assert.deepEqual([b.status, b.retryCount], [200, '1']);
  // Timers may fire up to a millisecond early by rounding.
  const waited = b.started - a.answered;
  assert.ok(waited >= 3000 - 1, `waited ${waited} ms for retry-after-ms 3000`);

  // The refused attempts never reached the mock: it saw the first call and the retry.
  const s = await stats();
  assert.equal(s.by_route['/v1/chat/completions'], 2, JSON.stringify(s));
  return `attempts ${JSON.stringify(attempts.map((x) => x.status))}, waited ${Math.round(waited)} ms; mock saw ${s.by_route['/v1/chat/completions']} chat requests`;
});
