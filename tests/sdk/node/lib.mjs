// What every check shares: a client pointed at the mock the Rust test started, and the mock's
// own counters. The base URL always comes from the test (a 127.0.0.1 port), never a default.
import OpenAI from 'openai';

/** The mock's root (`http://127.0.0.1:PORT`), from `MOCK_URL`. */
export const MOCK_URL = process.env.MOCK_URL;
if (!MOCK_URL || !MOCK_URL.startsWith('http://127.0.0.1:')) {
  throw new Error(`MOCK_URL must be the mock's http://127.0.0.1:PORT address, got ${MOCK_URL}`);
}

/**
 * The mock's own root when `MOCK_URL` is a proxy in front of it (`tests/proxy_sdk.rs`), so that
 * `stats()` still asks the mock; unset, the mock is `MOCK_URL` itself.
 */
export const UPSTREAM_URL = process.env.UPSTREAM_URL ?? MOCK_URL;
if (!UPSTREAM_URL.startsWith('http://127.0.0.1:')) {
  throw new Error(`UPSTREAM_URL must be the mock's http://127.0.0.1:PORT address, got ${UPSTREAM_URL}`);
}

/** The model the mock lists by default. */
export const MODEL = 'gpt-4o-mini';

/** An SDK client for the mock's `/v1`; no retries unless a check asks for them. */
export function client(options = {}) {
  return new OpenAI({
    baseURL: `${MOCK_URL}/v1`,
    apiKey: 'sk-sdk-check',
    maxRetries: 0,
    timeout: 20_000,
    ...options,
  });
}

/** `GET /_mock/stats`: what the mock saw (requests by route, status, retry count). */
export async function stats() {
  const res = await fetch(`${UPSTREAM_URL}/_mock/stats`);
  if (!res.ok) throw new Error(`/_mock/stats answered ${res.status}`);
  return res.json();
}

/** Runs a check: prints what it proved, or the failure, and sets the exit code. */
export async function check(name, body) {
  try {
    const proved = await body();
    console.log(`ok ${name}: ${proved}`);
  } catch (e) {
    console.error(`FAIL ${name}:`, e);
    process.exitCode = 1;
  }
}
