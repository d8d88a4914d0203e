-- The console's figures for a period, summed inside Redis (one round trip, one small reply).
-- KEYS: six per hour (counts hash; claim, first_reply, duration lists; conversations and
-- handed-off HyperLogLogs), then a scratch key. ARGV: number of buckets, number of hours, then
-- each hour's bucket (1-based). Reply (JSON): b, per bucket: c the summed counters, s three
-- spreads, v conversations, h handed off; then the whole period's s (with the histogram), v, h.
-- A spread: [count, low middle, high middle, 90th percentile, histogram...], the values as
-- "%.17g" strings (exact doubles).
local nb, nh = tonumber(ARGV[1]), tonumber(ARGV[2])
local tmp = KEYS[6 * nh + 1]
local bins = {60, 300, 900, 1800, 3600, 14400}
local counts, vals, conv, handed, all = {}, {}, {}, {}, {{}, {}, {}}
local allconv, allhanded = {}, {}
for b = 1, nb do counts[b] = {}; vals[b] = {{}, {}, {}}; conv[b] = {}; handed[b] = {} end
for i = 1, nh do
  local b, base = tonumber(ARGV[2 + i]), (i - 1) * 6
  local h = redis.call('HGETALL', KEYS[base + 1])
  local c = counts[b]
  for j = 1, #h, 2 do c[h[j]] = (c[h[j]] or 0) + tonumber(h[j + 1]) end
  for f = 1, 3 do
    for _, v in ipairs(redis.call('LRANGE', KEYS[base + 1 + f], 0, -1)) do
      local x = tonumber(v)
      vals[b][f][#vals[b][f] + 1] = x
      all[f][#all[f] + 1] = x
    end
  end
  conv[b][#conv[b] + 1] = KEYS[base + 5]; allconv[#allconv + 1] = KEYS[base + 5]
  handed[b][#handed[b] + 1] = KEYS[base + 6]; allhanded[#allhanded + 1] = KEYS[base + 6]
end
local function s(x) return string.format('%.17g', x) end
local function spread(list, hist)
  local n = #list
  if n == 0 then return {0} end
  table.sort(list)
  local lo, hi = list[math.floor((n + 1) / 2)], list[math.floor(n / 2) + 1]
  local out = {n, s(lo), s(hi), s(list[math.min(n - 1, math.floor(n * 0.9)) + 1])}
  if hist then
    local h = {0, 0, 0, 0, 0, 0, 0}
    for _, x in ipairs(list) do
      local j = 7
      for k = 1, 6 do if x < bins[k] then j = k; break end end
      h[j] = h[j] + 1
    end
    for j = 1, 7 do out[#out + 1] = h[j] end
  end
  return out
end
local function union(keys)
  if #keys == 0 then return 0 end
  if #keys <= 4000 then return redis.call('PFCOUNT', unpack(keys)) end
  redis.call('DEL', tmp)
  for first = 1, #keys, 4000 do
    redis.call('PFMERGE', tmp, unpack(keys, first, math.min(#keys, first + 3999)))
  end
  local n = redis.call('PFCOUNT', tmp)
  redis.call('DEL', tmp)
  return n
end
local buckets = {}
for b = 1, nb do
  local s = {}
  for f = 1, 3 do s[f] = spread(vals[b][f], false) end
  buckets[b] = {c = counts[b], s = s, v = union(conv[b]), h = union(handed[b])}
end
local s = {}
for f = 1, 3 do s[f] = spread(all[f], true) end
-- one JSON string: parsed in C by the client, not element by element
return cjson.encode({b = buckets, s = s, v = union(allconv), h = union(allhanded)})
