// A tool-call round trip: tools with tool_choice "required" bring tool_calls whose arguments are
// JSON with the tool's required keys; the tool's result sent back brings a final answer.
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
        required: ['city'],
      },
    },
  },
];

await check('tools', async () => {
  const openai = client();
  const messages = [{ role: 'user', content: 'What is the weather in Lisbon?' }];
  const first = await openai.chat.completions.create({
    model: MODEL,
    messages,
    tools,
    tool_choice: 'required',
  });
  const [choice] = first.choices;
  assert.equal(choice.finish_reason, 'tool_calls');
  const calls = choice.message.tool_calls;
  assert.ok(Array.isArray(calls) && calls.length >= 1, JSON.stringify(choice.message));
  for (const call of calls) {
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.match(call.id, /^call_/);
    const args = JSON.parse(call.function.arguments);
    assert.equal(typeof args, 'object');
    assert.equal(typeof args.city, 'string', call.function.arguments);
  }

  messages.push(choice.message);
  for (const call of calls) {
    messages.push({ role: 'tool', tool_call_id: call.id, content: '{"celsius": 21}' });
  }
  const second = await openai.chat.completions.create({ model: MODEL, messages, tools });
  const [answer] = second.choices;
  assert.equal(answer.finish_reason, 'stop');
  assert.ok(!answer.message.tool_calls?.length, 'no further tool calls');
  assert.equal(typeof answer.message.content, 'string');
  assert.ok(answer.message.content.length > 0, 'the final answer has text');
  return `${calls.length} call(s) to get_weather with ${calls[0].function.arguments}, then a text answer`;
});
