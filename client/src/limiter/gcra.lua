-- GCRA with reservations, atomic inside Redis, on the server's clock (TIME), so the nodes'
-- clocks never matter. One key per quota holds the theoretical arrival time (TAT) in µs.
--
-- KEYS[1]  the quota's key
-- ARGV[1]  emission interval, µs (1 / rate)
-- ARGV[2]  burst tolerance, µs ((burst - 1) × interval)
-- ARGV[3]  longest wait the caller accepts, µs
--
-- Returns {1, wait_us}: a slot is reserved and the caller goes after wait_us;
--         {0, wait_us}: refused, the next slot is wait_us away (longer than it accepts).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local wait = tat - tolerance - now
if wait < 0 then
  wait = 0
end
if wait > max_wait then
  return {0, wait}
end
local new_tat = tat + interval
-- The key lives until its TAT has passed (plus a second); an idle quota leaves nothing behind.
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return {1, wait}
