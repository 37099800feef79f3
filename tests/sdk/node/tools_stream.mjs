// A streamed tool call: the chunks' delta.tool_calls fragments, accumulated by index as OpenAI's
// docs show, give the same calls as the unstreamed answer (the mock is deterministic), with the
// arguments split over several chunks; and the SDK's stream helper assembles the same calls.
import assert from 'node:assert/strict';
import { check, client, MODEL } from './lib.mjs';

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
        required: ['city', 'unit'],
      },
    },
  },
];
const messages = [{ role: 'user', content: 'What is the weather in Lisbon?' }];
const ask = { model: MODEL, messages, tools, tool_choice: 'required' };

await check('tools_stream', async () => {
  const openai = client();
  const stream = await openai.chat.completions.create({ ...ask, stream: true });
  const calls = [];
  const fragments = [];
  let finish = null;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      for (const d of choice.delta.tool_calls ?? []) {
        const call = (calls[d.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
        if (d.id) call.id = d.id;
        if (d.function?.name) call.function.name = d.function.name;
        if (d.function?.arguments) {
          call.function.arguments += d.function.arguments;
          fragments[d.index] = (fragments[d.index] ?? 0) + 1;
        }
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.ok(calls.length >= 1, 'the stream carried tool calls');
  assert.ok(fragments[0] > 1, `the arguments came in ${fragments[0]} fragment(s)`);

  const plain = await openai.chat.completions.create(ask);
  const want = plain.choices[0].message.tool_calls.map((c) => ({
    id: c.id,
    type: c.type,
    function: { name: c.function.name, arguments: c.function.arguments },
  }));
  assert.deepEqual(calls, want, 'streamed and plain calls agree');
  for (const call of calls) assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');

  const helper = openai.chat.completions.stream(ask);
  const final = await helper.finalChatCompletion();
  const got = final.choices[0].message.tool_calls.map((c) => [c.id, c.function.name, c.function.arguments]);
  assert.deepEqual(got, want.map((c) => [c.id, c.function.name, c.function.arguments]));
  return `${calls.length} call(s), arguments in ${fragments[0]} fragments, equal to the plain answer and the helper's`;
});
