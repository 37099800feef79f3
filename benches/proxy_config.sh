# Sourced by benches/proxy_vs_gateway.sh and benches/proxy_cpu.sh: the `gauntlet proxy` config both
# measure, every layer that has a LiteLLM counterpart (the same retries, rate limit, an in-memory
# response cache and timeouts) and its own breaker and fallback.
#   proxy_config PROXY_PORT MOCK_PORT > proxy.toml
proxy_config() {
  cat <<CONFIG
[proxy]
listen = "127.0.0.1:$1"
upstream = "http://127.0.0.1:$2"

[client.cache]
ttl = "5m"
max_entries = 10000

[client.limiter]
rate = "10000/s"
burst = 1000
max_wait = "1s"
queue_size = 100000

[client.retry]
max_attempts = 3

[client.breaker]

[client.timeout]
attempt = "30s"
total = "60s"

[client.fallback]
CONFIG
}
