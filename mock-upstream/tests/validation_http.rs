//! Values a fault config may hold, over real HTTP: a number validation accepts must be one the
//! handlers can run with, and a refused one is named with its line and column in the body.

mod common;

use common::{chat, client, start};
use serde_json::Value;

async fn put_toml(c: &reqwest::Client, url: &str, body: &str) -> (u16, Value) {
    let r = c
        .put(format!("{url}/_mock/faults"))
        .header("content-type", "application/toml")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn message(b: &Value) -> &str {
    b["error"]["message"].as_str().unwrap()
}

#[tokio::test]
async fn numbers_that_would_panic_a_handler_are_refused_and_the_mock_keeps_serving() {
    let m = start("").await;
    let c = client();
    let cases = [
        (
            "[[timeline]]\nat = \"0s\"\nkind = \"latency\"\nmultiplier = 1e300\n",
            "request body:4:14: multiplier = 1e300 is outside 0..=1000",
        ),
        (
            "[concurrency]\nlimit = 4\nmode = \"queue\"\nqueue_slowdown = nan\n",
            "request body:4:18: queue_slowdown = NaN is outside 0..=100",
        ),
        (
            "[reply]\ntokens = { distribution = \"uniform\", min = 1, max = inf }\n",
            "request body:2:10: max = inf is outside 0..=1000000",
        ),
        (
            "[latency]\ndistribution = \"fixed\"\nvalue = \"3d\"\n",
            "value = 259200 is outside 0..=86400",
        ),
        (
            "max_body_bytes = 1073741824\n",
            "request body:1:18: max_body_bytes: must be at most 67108864",
        ),
    ];
    for (body, expected) in cases {
        let (status, b) = put_toml(&c, &m.url, body).await;
        assert_eq!(status, 400, "{body}: {b}");
        assert!(message(&b).contains(expected), "{body}: {b}");
        // The old config stays, and it still answers.
        assert_eq!(chat(&c, &m.url, "k", "x").await.unwrap().status(), 200);
    }
    // The bounds themselves are accepted, and run.
    let (status, b) = put_toml(
        &c,
        &m.url,
        "[latency]\ndistribution = \"fixed\"\nvalue = \"0s\"\n\
         [[timeline]]\nat = \"0s\"\nkind = \"latency\"\nmultiplier = 1000.0\n\
         [reply]\ntokens = { distribution = \"uniform\", min = 1, max = 1000000 }\n",
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let r = chat(&c, &m.url, "k", "x").await.unwrap();
    assert_eq!(r.status(), 200);
    let reply: Value = r.json().await.unwrap();
    assert!(reply["usage"]["completion_tokens"].as_u64().unwrap() <= 8192);
}

#[tokio::test]
async fn a_refused_json_body_names_the_line_and_column_of_the_field() {
    let m = start("").await;
    let c = client();
    let body = "{\n  \"seed\": 1,\n  \"max_body_bytes\": 3\n}";
    let r = c
        .put(format!("{}/_mock/faults", m.url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert!(
        message(&b).starts_with("request body:3:3: max_body_bytes: must be at least 64"),
        "{b}"
    );
    let body = "{\"keys\": [{\"key\": \"a\"}],\n\"timeline\": [{\"at\": \"1s\", \"kind\": \"set\",\n  \"key\": \"zz\", \"limits\": {}}]}";
    let r = c
        .put(format!("{}/_mock/faults", m.url))
        .body(body)
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    assert!(
        message(&b).starts_with("request body:3:10: timeline[0]: key \"zz\""),
        "{b}"
    );
    let r = c
        .put(format!("{}/_mock/faults", m.url))
        .header("content-type", "application/toml")
        .body("seed = 1\n\n[[keys]]\nkey = \"a\"\n[[keys]]\nkey = \"a\"\n")
        .send()
        .await
        .unwrap();
    let b: Value = r.json().await.unwrap();
    let msg = message(&b);
    assert!(msg.starts_with("request body:3:"), "{b}");
    assert!(msg.contains("key \"a\" is listed twice"), "{b}");
}
