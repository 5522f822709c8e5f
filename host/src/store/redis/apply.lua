-- Applies one write set of sessattr atomically (docs/deploy.md).
--
-- KEYS: the keys of the write set, in order (one hash tag: one slot).
-- ARGV: five per key, in the same order:
--   action   'p' put, 'd' delete, 'e' expire, 'c' check only
--   expect   'a' any, 'n' must be absent, 'v' must hold exactly `expected`
--   expected the record the key must hold (expect 'v'), else ''
--   value    the record to store (action 'p'), else ''
--   at       when Redis may forget the key, unix milliseconds; '' = never
--            ('0' or less: the record is already past its expiry)
-- Returns 1 when every expectation held and every write was made, 0 when
-- one did not hold and nothing was written.
for i = 1, #KEYS do
  local base = (i - 1) * 5
  local expect = ARGV[base + 2]
  if expect == 'n' then
    if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
  elseif expect == 'v' then
    if redis.call('GET', KEYS[i]) ~= ARGV[base + 3] then return 0 end
  end
end
for i = 1, #KEYS do
  local base = (i - 1) * 5
  local key, action, at = KEYS[i], ARGV[base + 1], ARGV[base + 5]
  if action == 'p' then
    if at == '' then
      redis.call('SET', key, ARGV[base + 4])
    elseif tonumber(at) <= 0 then
      redis.call('DEL', key)
    else
      redis.call('SET', key, ARGV[base + 4], 'PXAT', at)
    end
  elseif action == 'd' then
    redis.call('DEL', key)
  elseif action == 'e' then
    if at == '' then
      redis.call('PERSIST', key)
    elseif tonumber(at) <= 0 then
      redis.call('DEL', key)
    else
      redis.call('PEXPIREAT', key, at)
    end
  end
end
return 1
