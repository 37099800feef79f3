//! The fault file's `models` over real HTTP: `GET /v1/models/{id}`, OpenAI's 404
//! `model_not_found` for a model the file does not list, and models with their own limits
//! and latency.

mod common;

use common::{client, start};
use serde_json::{json, Value};

async fn chat_model(url: &str, key: &str, model: &str) -> reqwest::Response {
    client()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
}

async fn get(url: &str) -> (u16, Value) {
    let r = client().get(url).bearer_auth("k").send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_listed_model_is_served_and_another_gets_openais_404() {
    let m = start("models = [\"free-model\", { id = \"gpt-4o\", requests_per_minute = 5 }]").await;
    let (status, b) = get(&format!("{}/v1/models/gpt-4o", m.url)).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["id"], "gpt-4o");
    assert_eq!(b["object"], "model");
    assert_eq!(b["owned_by"], "mock-upstream");
    let (_, list) = get(&format!("{}/v1/models", m.url)).await;
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["free-model", "gpt-4o"]);

    let (status, b) = get(&format!("{}/v1/models/gpt-5", m.url)).await;
    assert_eq!(status, 404, "{b}");
    let want = json!({"error": {
        "message": "The model `gpt-5` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }});
    assert_eq!(b, want);
    let r = chat_model(&m.url, "k", "gpt-5").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap(), want);
    assert_eq!(chat_model(&m.url, "k", "free-model").await.status(), 200);
    // The 404 costs nothing from the key's limits and counts as its own fault.
    assert_eq!(m.state.key_usage()[0].requests, 1);
    assert_eq!(m.state.stats().by_fault["model_not_found"], 2);
}

#[tokio::test]
async fn every_route_with_a_model_refuses_an_unlisted_one() {
    let m = start("models = [\"gpt-4o-mini\", \"claude-sonnet-4-5\"]").await;
    let post = |path: &str, body: Value| {
        client()
            .post(format!("{}{path}", m.url))
            .bearer_auth("k")
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
    };
    let r = post("/v1/responses", json!({"model": "gpt-5", "input": "hi"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "model_not_found", "{b}");
    let ok = post(
        "/v1/responses",
        json!({"model": "gpt-4o-mini", "input": "hi"}),
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    let messages = |model: &str| json!({"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});
    let r = post("/v1/messages", messages("claude-opus-9"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["type"], "error", "{b}");
    assert_eq!(b["error"]["type"], "not_found_error", "{b}");
    let ok = post("/v1/messages", messages("claude-sonnet-4-5"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // The legacy route names no model, so the list does not apply to it.
    let legacy = post("/v1/chat", json!({"prompt": "hi"})).await.unwrap();
    assert_eq!(legacy.status(), 200);
}

#[tokio::test]
async fn without_a_list_every_model_is_served() {
    let m = start("").await;
    assert_eq!(
        chat_model(&m.url, "k", "any-model-at-all").await.status(),
        200
    );
    let (status, b) = get(&format!("{}/v1/models/any-model-at-all", m.url)).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["id"], "any-model-at-all");
    let (_, list) = get(&format!("{}/v1/models", m.url)).await;
    assert_eq!(list["data"][0]["id"], "gpt-4o-mini");
}

#[tokio::test]
async fn models_get_the_routes_refusals_too() {
    let m = start(
        "[[keys]]\nkey = \"sk-a\"\n[[timeline]]\nat = \"0s\"\nkind = \"outage\"\nstatus = 503",
    )
    .await;
    let r = client()
        .get(format!("{}/v1/models/gpt-4o-mini", m.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .get(format!("{}/v1/models/gpt-4o-mini", m.url))
        .bearer_auth("sk-a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn a_model_with_its_own_rpm_has_its_own_buckets_per_key() {
    let m = start(
        "models = [\"roomy\", { id = \"tight\", requests_per_minute = 2 }]\n\
         [limits]\nrequests_per_minute = 100\n",
    )
    .await;
    for _ in 0..2 {
        let r = chat_model(&m.url, "sk-a", "tight").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ratelimit-limit-requests"], "2");
    }
    let r = chat_model(&m.url, "sk-a", "tight").await;
    assert_eq!(r.status(), 429);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["type"], "requests");
    let message = b["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("for tight") && message.contains("Limit 2"),
        "{message}"
    );
    // The other model is not limited by it, and its own requests did not spend the key's 100.
    for _ in 0..5 {
        let r = chat_model(&m.url, "sk-a", "roomy").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ratelimit-limit-requests"], "100");
    }
    let r = chat_model(&m.url, "sk-a", "roomy").await;
    assert_eq!(r.headers()["x-ratelimit-remaining-requests"], "94");
    // Another key has buckets of its own for the same model.
    assert_eq!(chat_model(&m.url, "sk-b", "tight").await.status(), 200);
    // Embeddings naming the model count against the same buckets.
    let r = client()
        .post(format!("{}/v1/embeddings", m.url))
        .bearer_auth("sk-a")
        .json(&json!({"model": "tight", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn a_models_latency_replaces_the_files() {
    let m = start(
        "models = [\"slow\", { id = \"fast\", latency = { distribution = \"fixed\", value = \"0s\" } }]\n\
         [latency]\ndistribution = \"fixed\"\nvalue = \"1d\"\n",
    )
    .await;
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap();
    let send = |model: &str| {
        impatient
            .post(format!("{}/v1/chat/completions", m.url))
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    // `fast` answers at once; `slow` gets [latency]'s day, far past the client's patience.
    assert_eq!(send("fast").await.unwrap().status(), 200);
    assert!(send("slow").await.unwrap_err().is_timeout());
}

#[tokio::test]
async fn a_bad_models_entry_is_refused_at_its_line_and_column() {
    let m = start("").await;
    let put = |body: &'static str| {
        client()
            .put(format!("{}/_mock/faults", m.url))
            .header("content-type", "application/toml")
            .body(body)
            .send()
    };
    for (body, want) in [
        (
            "seed = 1\nmodels = [\"a\", { id = \"b\", rpm = 3 }]\n",
            "request body:2:28: unknown field `rpm`",
        ),
        (
            "models = [\"a\",\n  \"a\"]\n",
            "request body:1:10: models: \"a\" is listed twice",
        ),
        (
            "models = [{ id = \"a\", requests_per_minute = -1 }]\n",
            "request body:1:45: invalid value: integer `-1`",
        ),
    ] {
        let r = put(body).await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let b: Value = r.json().await.unwrap();
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(want), "{body}: {message}");
    }
    // A good one round-trips through GET /_mock/faults as written.
    let r = put("models = [\"a\", { id = \"b\", requests_per_day = 9 }]\n")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, faults) = get(&format!("{}/_mock/faults", m.url)).await;
    assert_eq!(
        faults["models"],
        json!(["a", {"id": "b", "requests_per_day": 9}])
    );
}
