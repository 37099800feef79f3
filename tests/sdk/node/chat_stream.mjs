// chat.completions.create with stream: true, and the SDK's stream helper: the deltas add up to
// the same text as the unstreamed answer to the same prompt (the mock is deterministic), the
// last choice says stop, and include_usage brings a usage chunk.
import assert from 'node:assert/strict';
import { check, client, MODEL } from './lib.mjs';

const messages = [{ role: 'user', content: 'Stream something about retries.' }];

await check('chat_stream', async () => {
  const openai = client();
  const stream = await openai.chat.completions.create({
    model: MODEL,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let chunks = 0;
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    chunks += 1;
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? '';
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.ok(text.length > 0, 'the deltas carry text');
  assert.equal(finish, 'stop');
  assert.ok(usage, 'include_usage brought a usage chunk');
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);

  const plain = await openai.chat.completions.create({ model: MODEL, messages });
  assert.equal(text, plain.choices[0].message.content, 'streamed and plain answers agree');

  // The SDK's accumulating helper builds the same message from the same events.
  const helper = openai.chat.completions.stream({ model: MODEL, messages });
  const final = await helper.finalChatCompletion();
  assert.equal(final.choices[0].message.content, text);
  assert.equal(final.choices[0].finish_reason, 'stop');
  return `${chunks} chunks, ${text.length} characters, equal to the plain answer and the helper's`;
});
