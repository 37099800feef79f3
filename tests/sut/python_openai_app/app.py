"""A small service on the official `openai` Python SDK, as a team would write one: an
OpenAI-compatible `POST /v1/chat/completions` that forwards every request to the upstream
through `OpenAI(base_url=os.environ["OPENAI_BASE_URL"], max_retries=N)` and relays the answer
(streamed or not). `gauntlet grade` starts it as a `[system] command` and grades what the SDK's
built-in retries do to the upstream.

    python app.py --port 8080 [--max-retries 2] [--timeout 600]

Environment: OPENAI_BASE_URL (the upstream's /v1; Gauntlet points it at its mock),
OPENAI_API_KEY. Errors the SDK raises are relayed as OpenAI error objects with the upstream's
status (502 for a connection error, 504 for a timeout); an error part-way through a stream is
sent to the caller as an `error` event and the stream ends without `[DONE]`.
"""

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai

ARGS = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ARGS.add_argument("--port", type=int, required=True)
ARGS.add_argument("--max-retries", type=int, default=openai.DEFAULT_MAX_RETRIES)
ARGS.add_argument("--timeout", type=float, default=600.0)
OPTS = ARGS.parse_args()

CLIENT = openai.OpenAI(
    base_url=os.environ["OPENAI_BASE_URL"],
    api_key=os.environ.get("OPENAI_API_KEY", "sk-app"),
    max_retries=OPTS.max_retries,
    timeout=OPTS.timeout,
)

# The request fields forwarded to the SDK (what a chat app sends).
FIELDS = ("model", "messages", "max_tokens", "temperature", "stream", "user", "tools", "tool_choice")


def error_object(e: Exception) -> tuple[int, dict]:
    """The status and OpenAI error object to relay for an SDK error."""
    if isinstance(e, openai.APIStatusError):
        body = e.body if isinstance(e.body, dict) else {"message": str(e), "type": "api_error"}
        return e.status_code, body
    if isinstance(e, openai.APITimeoutError):
        return 504, {"message": "upstream timed out", "type": "timeout"}
    if isinstance(e, openai.APIConnectionError):
        return 502, {"message": f"upstream connection failed: {e}", "type": "api_connection_error"}
    return 500, {"message": f"{type(e).__name__}: {e}", "type": "server_error"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet: one line per error only
        pass

    def send_json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self.send_json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return
        if self.path != "/v1/chat/completions":
            self.send_json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        params = {k: request[k] for k in FIELDS if k in request}
        if params.get("stream"):
            self.stream(params)
            return
        try:
            completion = CLIENT.chat.completions.create(**params)
        except Exception as e:  # every SDK error is relayed to the caller
            status, body = error_object(e)
            self.send_json(status, {"error": body})
            return
        self.send_json(200, completion.model_dump(mode="json", exclude_unset=True))

    def stream(self, params: dict) -> None:
        try:
            chunks = CLIENT.chat.completions.create(**params)
        except Exception as e:  # failed before the first chunk: an ordinary error answer
            status, body = error_object(e)
            self.send_json(status, {"error": body})
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for chunk in chunks:
                data = chunk.model_dump_json(exclude_unset=True)
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()
        except Exception as e:  # part-way: tell the caller, and do not send [DONE]
            _, body = error_object(e)
            self.wfile.write(f"data: {json.dumps({'error': body})}\n\n".encode())
            return
        self.wfile.write(b"data: [DONE]\n\n")


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", OPTS.port), Handler)
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{OPTS.port} (max_retries={OPTS.max_retries})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
