//! The faults that strike a stream part-way (`stream_error`, `stall`, `unfinished`,
//! `early_length`), from `[[failures]]` and from a timeline burst, read as raw SSE over real
//! HTTP on 127.0.0.1; and what a request that was not streamed gets when it draws one.

mod common;

use std::time::Duration;

use common::{chat_body, client, start};
use serde_json::Value;
use tokio::time::Instant;

/// Every reply is 10 tokens long, so a cut after N is visible.
const TEN_TOKENS: &str = "[reply]\ntokens = { distribution = \"fixed\", value = 10 }\n";

/// A fault file with ten-token replies and one `[[failures]]` entry that always strikes.
fn always(entry: &str) -> String {
    format!("{TEN_TOKENS}[[failures]]\nprobability = 1.0\n{entry}\n")
}

/// One SSE event as the client saw it: its `data:` payload, and when it arrived.
#[derive(Debug)]
struct Event {
    data: String,
    at: Instant,
}

impl Event {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }

    fn content(&self) -> Option<String> {
        let v = self.json();
        v["choices"][0]["delta"]["content"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_string)
    }
}

/// A streamed chat request's status and events, read to the body's end; `Err` when the body
/// broke off (or the client gave up) rather than ending cleanly, with the events read till then.
async fn stream(c: &reqwest::Client, url: &str) -> (u16, Instant, Result<Vec<Event>, Vec<Event>>) {
    let mut body = chat_body("tell me");
    body["stream"] = Value::Bool(true);
    body["stream_options"] = serde_json::json!({"include_usage": true});
    let sent = Instant::now();
    let mut resp = c
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("k")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut buf = String::new();
    let mut events = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(bytes)) => {
                buf.push_str(std::str::from_utf8(&bytes).unwrap());
                while let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    let data = event
                        .trim()
                        .strip_prefix("data: ")
                        .unwrap_or("")
                        .to_string();
                    events.push(Event {
                        data,
                        at: Instant::now(),
                    });
                }
            }
            Ok(None) => {
                assert!(buf.is_empty(), "the body ended inside an event: {buf:?}");
                return (status, sent, Ok(events));
            }
            Err(_) => return (status, sent, Err(events)),
        }
    }
}

fn contents(events: &[Event]) -> Vec<String> {
    events.iter().filter_map(Event::content).collect()
}

async fn plain(c: &reqwest::Client, url: &str) -> reqwest::Response {
    c.post(format!("{url}/v1/chat/completions"))
        .bearer_auth("k")
        .json(&chat_body("tell me"))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stream_error_comes_after_exactly_n_content_chunks_and_ends_the_body_cleanly() {
    let m = start(&always("kind = \"stream_error\"\nafter = 3\nstatus = 503")).await;
    let (status, _, events) = stream(&client(), &m.url).await;
    let events = events.expect("the body ends cleanly");
    assert_eq!(status, 200);
    assert_eq!(events[0].json()["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(contents(&events).len(), 3, "{events:?}");
    // The role chunk, three pieces, the error object: nothing after it, no [DONE].
    assert_eq!(events.len(), 5, "{events:?}");
    let error = events[4].json();
    assert_eq!(error["error"]["type"], "server_error", "{error}");
    assert_eq!(
        error["error"]["message"],
        "The server is overloaded or not ready yet."
    );
    assert!(error["error"].as_object().unwrap().contains_key("code"));
    assert!(events.iter().all(|e| e.data != "[DONE]"));
    assert_eq!(m.state.stats().by_fault["stream_error"], 1);
}

#[tokio::test]
async fn a_stream_error_after_zero_chunks_comes_before_any_content() {
    let m = start(&always("kind = \"stream_error\"\nafter = 0\nstatus = 429")).await;
    let (_, _, events) = stream(&client(), &m.url).await;
    let events = events.unwrap();
    assert!(contents(&events).is_empty(), "{events:?}");
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].json()["error"]["code"], "rate_limit_exceeded");
}

#[tokio::test]
async fn a_stall_is_silence_after_n_chunks_and_then_the_stream_goes_on() {
    let pause = Duration::from_millis(300);
    let m = start(&always("kind = \"stall\"\nafter = 2\nfor = \"300ms\"")).await;
    let (_, sent, events) = stream(&client(), &m.url).await;
    let events = events.unwrap();
    let content: Vec<&Event> = events.iter().filter(|e| e.content().is_some()).collect();
    assert_eq!(content.len(), 10, "the whole answer comes");
    assert_eq!(events.last().unwrap().data, "[DONE]");
    // The third piece cannot leave the mock before the pause has passed since the request (a
    // lower bound only: that the first two came at once is the read-timeout test's to show).
    let third = content[2].at.duration_since(sent);
    let gap = content[2].at.duration_since(content[1].at);
    assert!(
        third >= pause,
        "third piece {third:?} after the request, {gap:?} after the second"
    );
    assert_eq!(m.state.stats().by_fault["stall"], 1);
}

#[tokio::test]
async fn a_client_with_a_read_timeout_gives_up_in_the_stall() {
    let m = start(&always("kind = \"stall\"\nafter = 2\nfor = \"3s\"")).await;
    let c = reqwest::Client::builder()
        .read_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let (_, _, events) = stream(&c, &m.url).await;
    let events = events.expect_err("the read timeout ends the body");
    assert_eq!(contents(&events).len(), 2, "{events:?}");
}

#[tokio::test]
async fn an_unfinished_stream_has_its_pieces_and_no_final_events() {
    let m = start(&always("kind = \"unfinished\"")).await;
    let (status, _, events) = stream(&client(), &m.url).await;
    let events = events.expect("the body ends cleanly");
    assert_eq!(status, 200);
    assert_eq!(contents(&events).len(), 10);
    // The role chunk and the ten pieces: no finish_reason, no usage, no [DONE].
    assert_eq!(events.len(), 11, "{events:?}");
    assert!(events
        .iter()
        .all(|e| e.json()["choices"][0]["finish_reason"].is_null() && e.data != "[DONE]"));

    let m = start(&always("kind = \"unfinished\"\nafter = 4")).await;
    let (_, _, events) = stream(&client(), &m.url).await;
    let events = events.unwrap();
    assert_eq!((contents(&events).len(), events.len()), (4, 5));
    assert_eq!(m.state.stats().by_fault["unfinished"], 1);
}

#[tokio::test]
async fn early_length_cuts_the_answer_at_n_tokens_streamed_or_not() {
    let m = start(&always("kind = \"early_length\"\nafter = 3")).await;
    let c = client();
    let (_, _, events) = stream(&c, &m.url).await;
    let events = events.unwrap();
    assert_eq!(contents(&events).concat().len(), 12);
    let finish: Vec<Value> = events
        .iter()
        .map(|e| e.json()["choices"][0]["finish_reason"].clone())
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, ["length"]);
    let usage = &events[events.len() - 2].json()["usage"];
    assert_eq!(usage["completion_tokens"], 3, "{events:?}");
    assert_eq!(events.last().unwrap().data, "[DONE]");

    let body: Value = plain(&c, &m.url).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(text.len(), 12, "{text:?}");
    assert_eq!(body["usage"]["completion_tokens"], 3);
    assert_eq!(m.state.stats().by_fault["early_length"], 2);
}

#[tokio::test]
async fn a_request_not_streamed_gets_the_nearest_json_answer() {
    let c = client();
    let m = start(&always("kind = \"stream_error\"\nafter = 3\nstatus = 502")).await;
    let r = plain(&c, &m.url).await;
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");

    let m = start(&always("kind = \"stall\"\nafter = 3\nfor = \"200ms\"")).await;
    let sent = Instant::now();
    let r = plain(&c, &m.url).await;
    assert!(sent.elapsed() >= Duration::from_millis(200));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["choices"][0]["finish_reason"], "stop");

    let m = start(&always("kind = \"unfinished\"")).await;
    let r = plain(&c, &m.url).await;
    assert_eq!(r.status(), 200);
    let declared: usize = r.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = r.bytes().await.expect("the short body ends cleanly");
    assert_eq!(bytes.len(), declared);
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
    assert!(bytes.starts_with(b"{\"id\":\"chatcmpl-"));
}

#[tokio::test]
async fn a_timeline_burst_strikes_only_in_its_window_under_its_own_label() {
    let m = start(&format!(
        "{TEN_TOKENS}\
         [[timeline]]\nat = \"0s\"\nfor = \"1h\"\nkind = \"failures\"\nprobability = 1.0\n\
         failure = {{ kind = \"stream_error\", after = 2 }}\n\
         [[timeline]]\nat = \"1h\"\nkind = \"failures\"\nprobability = 1.0\n\
         failure = {{ kind = \"unfinished\" }}\n"
    ))
    .await;
    let (_, _, events) = stream(&client(), &m.url).await;
    let events = events.unwrap();
    assert_eq!(contents(&events).len(), 2);
    assert_eq!(
        events.last().unwrap().json()["error"]["type"],
        "server_error"
    );
    let stats = m.state.stats();
    assert_eq!(stats.by_fault.get("stream_error"), Some(&1));
    assert_eq!(stats.by_fault.get("unfinished"), None);
}

#[tokio::test]
async fn a_bad_stream_fault_is_refused_at_its_line_and_column() {
    let text = format!(
        "{TEN_TOKENS}\n[[timeline]]\nat = \"0s\"\nkind = \"failures\"\nprobability = 1.0\n\
         failure = {{ kind = \"stall\", after = 2, for = \"2d\" }}\n"
    );
    let e = mock_upstream::faults::parse_toml(&text, "f.toml")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("f.toml:8:11: "), "{e}");
    assert!(e.contains("longer than 1 day"), "{e}");
}

/// The named events (`event: <name>`) of a streamed answer on `path`, read to the body's clean
/// end: the Responses API and Anthropic's Messages frame theirs so.
async fn named_events(url: &str, path: &str, body: Value) -> Vec<(String, Value)> {
    let r = client()
        .post(format!("{url}{path}"))
        .bearer_auth("k")
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("the body ends cleanly");
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("")
                .to_string();
            let data = e
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or("");
            (name, serde_json::from_str(data).unwrap_or(Value::Null))
        })
        .collect()
}

fn count(events: &[(String, Value)], name: &str) -> usize {
    events.iter().filter(|(n, _)| n == name).count()
}

fn responses_body() -> Value {
    serde_json::json!({"model": "gpt-4.1-mini", "input": "tell me", "stream": true})
}

fn messages_body() -> Value {
    serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
        "messages": [{"role": "user", "content": "tell me"}]})
}

#[tokio::test]
async fn the_responses_api_ends_a_broken_stream_with_its_own_error_event() {
    let m = start(&always("kind = \"stream_error\"\nafter = 3\nstatus = 503")).await;
    let events = named_events(&m.url, "/v1/responses", responses_body()).await;
    assert_eq!(
        count(&events, "response.output_text.delta"),
        3,
        "{events:?}"
    );
    assert_eq!(count(&events, "response.completed"), 0);
    let (last, _) = events.last().unwrap();
    assert!(last == "error" || last == "response.failed", "{events:?}");
    assert_eq!(count(&events, "error"), 1, "{events:?}");

    let m = start(&always("kind = \"unfinished\"\nafter = 4")).await;
    let events = named_events(&m.url, "/v1/responses", responses_body()).await;
    assert_eq!(count(&events, "response.output_text.delta"), 4);
    assert_eq!(count(&events, "response.completed"), 0, "{events:?}");
    assert_eq!(count(&events, "error"), 0);
    assert_eq!(m.state.stats().by_fault["unfinished"], 1);
}

#[tokio::test]
async fn the_messages_api_ends_a_broken_stream_with_its_own_error_event() {
    let m = start(&always("kind = \"stream_error\"\nafter = 2\nstatus = 503")).await;
    let events = named_events(&m.url, "/v1/messages", messages_body()).await;
    assert_eq!(count(&events, "content_block_delta"), 2, "{events:?}");
    assert_eq!(count(&events, "message_stop"), 0);
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "error", "{events:?}");
    assert_eq!(data["type"], "error");
    assert!(data["error"]["type"].is_string(), "{data}");

    let m = start(&always("kind = \"unfinished\"")).await;
    let events = named_events(&m.url, "/v1/messages", messages_body()).await;
    assert_eq!(count(&events, "content_block_delta"), 10, "{events:?}");
    assert_eq!(count(&events, "message_stop"), 0);

    let m = start(&always("kind = \"early_length\"\nafter = 3")).await;
    let events = named_events(&m.url, "/v1/messages", messages_body()).await;
    assert_eq!(count(&events, "content_block_delta"), 3, "{events:?}");
    let delta = events.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "max_tokens", "{delta:?}");
    assert_eq!(count(&events, "message_stop"), 1);
}
