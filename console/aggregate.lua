-- The console's figures for a period, summed inside Redis (one round trip, one small reply).
-- KEYS: six per hour (counts hash; claim, first_reply, duration lists; conversations and
-- handed-off HyperLogLogs), then a scratch key. ARGV: number of buckets, number of hours, then
-- each hour's bucket (1-based). Reply, per bucket: the summed counters (flat field/value list),
-- three spreads, conversations, handed off; then the whole period's three spreads (with the
-- histogram) and its conversations and handed off. A spread: {count, low middle, high middle,
-- 90th percentile, histogram...}, the values as "%.17g" strings (exact doubles).
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
local out = {}
for b = 1, nb do
  local flat = {}
  for f, n in pairs(counts[b]) do flat[#flat + 1] = f; flat[#flat + 1] = n end
  out[#out + 1] = flat
  for f = 1, 3 do out[#out + 1] = spread(vals[b][f], false) end
  out[#out + 1] = union(conv[b])
  out[#out + 1] = union(handed[b])
end
for f = 1, 3 do out[#out + 1] = spread(all[f], true) end
out[#out + 1] = union(allconv)
out[#out + 1] = union(allhanded)
return out
